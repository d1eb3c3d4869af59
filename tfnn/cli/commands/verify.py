"""``tfnn verify PATH``: a SavedModel's accuracy on the real test set.

Loads with ``tf.saved_model.load`` only and exits 1 when the accuracy is
not the one recorded in ``metadata.json`` (see ``tfnn.shipping.verify``).
Every other format recorded (``model.tflite``, ``model_int8.tflite``,
``model.onnx``) is checked by its SHA-256, then scored by its own runtime
and printed one line each; a damaged file, or one that scores otherwise,
exits 2 naming it (``tfnn.shipping.formats.verify_version``).
"""

from __future__ import annotations

import logging

from tfnn import shipping
from tfnn.shipping import formats

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
        result, rows = formats.verify_version(
            args.path, manual_dir=args.manual_dir, data_dir=args.data_dir)
    except (shipping.VerificationError, FileNotFoundError) as err:
        logger.error("verification FAILED: %s", err)
        return 1
    print(f"{result['path']}: {result['dataset']} test accuracy "
          f"{result['accuracy']:.4f} ({result['correct']}/{result['n']}) "
          f"== recorded {result['recorded_accuracy']:.4f}: OK")
    for row in rows:
        print(f"{formats.format_line(row)}: OK")
    return 0
