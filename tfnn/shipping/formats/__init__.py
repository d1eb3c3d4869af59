"""The model in every format a Keras user deploys to, each verified by the
runtime that will run it.

    catalog       the formats, their files, extras and bounds:
                  parse_formats, require, check_bounds, FormatError
    calibration   int8 calibration images from the training split only
    graph         the SavedModel's serving_default with a [None, 28, 28]
                  input: what every converter starts from
    litert        LiteRT files: float32 and full-integer int8
    onnx_convert  ONNX files (tf2onnx)
    runners       each format in its own runtime: load_runner
    scoring       accuracy, agreement, size and SHA-256; verify_formats,
                  verify_version (tfnn verify)
    build         converting and scoring inside a version being exported
    existing      adding formats to a published version, atomically
    latency       in-process latency of every format, batch 1 and 100

The names load on first use (``tfnn.lazy``); the converters and runtimes
(the ``export`` extra: ``pip install 'tfnn[export]'``) are imported when a
format needs them.
"""

from tfnn.lazy import lazy_exports

_EXPORTS = {
    "FORMATS": "tfnn.shipping.formats.catalog",
    "FormatError": "tfnn.shipping.formats.catalog",
    "parse_formats": "tfnn.shipping.formats.catalog",
    "require": "tfnn.shipping.formats.catalog",
    "calibration_set": "tfnn.shipping.formats.calibration",
    "add_formats": "tfnn.shipping.formats.build",
    "add_formats_to_version": "tfnn.shipping.formats.existing",
    "load_runner": "tfnn.shipping.formats.runners",
    "run_batches": "tfnn.shipping.formats.runners",
    "verify_formats": "tfnn.shipping.formats.scoring",
    "verify_version": "tfnn.shipping.formats.scoring",
    "format_line": "tfnn.shipping.formats.scoring",
    "format_latency": "tfnn.shipping.formats.latency",
    "latency_table": "tfnn.shipping.formats.latency",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
