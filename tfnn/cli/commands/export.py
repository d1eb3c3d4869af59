"""``tfnn export --run DIR``: a training run → ``saved_models/<name>/<v>/``.

The SavedModel is scored on the run's test set before it is published and
must reproduce the run's accuracy (see ``tfnn.shipping.export_run``).
"""

from __future__ import annotations

import argparse
import logging

from tfnn import shipping
from tfnn.shipping.versions import version_number

logger = logging.getLogger(__name__)


def version_arg(text: str) -> int:
    """``--version``: a version number in ASCII digits
    (``tfnn.shipping.versions.version_number``)."""
    version = version_number(text)
    if version is None:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer in ASCII digits. Received: "
            f"{text!r}")
    return version


def add_arguments(parser):
    parser.add_argument("--run", required=True,
                        help="run folder (model.keras + summary.json)")
    parser.add_argument("--name", default="mnist",
                        help="model name (default: mnist)")
    parser.add_argument("--base", default="saved_models",
                        help="folder of all models (default: saved_models)")
    parser.add_argument("--version", type=version_arg, default=None,
                        help="version number (default: highest + 1)")
    parser.add_argument("--manual-dir", default=None)
    parser.add_argument("--data-dir", default=None)


def run(args) -> int:
    # TensorFlow and the models load with shipping's first name used
    # (tfnn.lazy): here, not at ``tfnn export --help``.
    try:
        path = shipping.export_run(args.run, base_dir=args.base, name=args.name,
                          version=args.version, manual_dir=args.manual_dir,
                          data_dir=args.data_dir)
    except (shipping.ExportError, FileExistsError) as err:
        logger.error("export failed: %s", err)
        return 1
    meta = shipping.read_metadata(path)
    print(f"exported {path}")
    print(f"{meta['dataset']} test accuracy: {meta['test_accuracy']:.4f} "
          f"({meta['test_correct']}/{meta['test_examples']})")
    return 0
