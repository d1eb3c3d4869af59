"""``tfnn export --run DIR``: a training run → ``saved_models/<name>/<v>/``.

The SavedModel is scored on the run's test set before it is published and
must reproduce the run's accuracy (see ``tfnn.shipping.export_run``).
``--formats tflite,tflite_int8,onnx`` (or ``all``) adds LiteRT, int8 and
ONNX files to the version, each scored by its own runtime within its
bounds (``tfnn.shipping.formats``); ``--from-saved-model DIR`` adds them
to a published version from its SavedModel. A format outside its bounds
or without its extra exits 2 with one line; nothing is published.
"""

from __future__ import annotations

import argparse
import logging

from tfnn import shipping
from tfnn.shipping import formats
from tfnn.shipping.formats.catalog import FORMATS
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
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run",
                        help="run folder (model.keras + summary.json)")
    source.add_argument("--from-saved-model", metavar="DIR",
                        help="a published version folder: add --formats to "
                        "it from its SavedModel")
    parser.add_argument("--formats", default="saved_model",
                        help=f"comma-separated: {','.join(FORMATS)}, or all "
                        "(default: saved_model)")
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
    wanted = formats.parse_formats(args.formats)
    formats.require(wanted)  # a missing extra, before anything is loaded
    if args.from_saved_model and wanted == ["saved_model"]:
        raise ValueError("--from-saved-model adds formats: give --formats "
                         "tflite,tflite_int8,onnx or all")
    try:
        if args.from_saved_model:
            path = formats.add_formats_to_version(
                args.from_saved_model, wanted, manual_dir=args.manual_dir,
                data_dir=args.data_dir)
        else:
            path = shipping.export_run(
                args.run, base_dir=args.base, name=args.name,
                version=args.version, manual_dir=args.manual_dir,
                data_dir=args.data_dir, formats=wanted)
    except (shipping.ExportError, shipping.VerificationError,
            FileExistsError) as err:
        logger.error("export failed: %s", err)
        return 1
    meta = shipping.read_metadata(path)
    print(f"exported {path}")
    print(f"{meta['dataset']} test accuracy: {meta['test_accuracy']:.4f} "
          f"({meta['test_correct']}/{meta['test_examples']})")
    for fmt, rec in (meta.get("formats") or {}).items():
        if fmt in wanted:
            print(formats.format_line(rec))
    return 0
