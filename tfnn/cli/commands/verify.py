"""``tfnn verify PATH``: a SavedModel's accuracy on the real test set.

Loads with ``tf.saved_model.load`` only and exits 1 when the accuracy is
not the one recorded in ``metadata.json`` (see ``tfnn.shipping.verify``).
"""

from __future__ import annotations

import logging

from tfnn import shipping

logger = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("path",
                        help="version folder, or model folder (newest)")
    parser.add_argument("--manual-dir", default=None)
    parser.add_argument("--data-dir", default=None)


def run(args) -> int:
    # TensorFlow loads with shipping's first name used (tfnn.lazy): here,
    # not at ``tfnn verify --help``.
    try:
        result = shipping.verify(args.path, manual_dir=args.manual_dir,
                        data_dir=args.data_dir)
    except (shipping.VerificationError, FileNotFoundError) as err:
        logger.error("verification FAILED: %s", err)
        return 1
    print(f"{result['path']}: {result['dataset']} test accuracy "
          f"{result['accuracy']:.4f} ({result['correct']}/{result['n']}) "
          f"== recorded {result['recorded_accuracy']:.4f}: OK")
    return 0
