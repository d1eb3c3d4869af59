"""Writing the extra formats into a version folder, each one scored.

From the SavedModel already written in ``version_dir`` (the export's
hidden temporary folder): its ``serving_default`` with a ``[None, 28, 28]``
input (``graph``) is converted to each requested format (``litert``,
``onnx_convert``; int8 calibrated on training images, ``calibration``),
then every file is scored on the test set by its own runtime against the
SavedModel's classes and checked against its bounds (``scoring``). The
caller publishes the folder only when this returns.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from tfnn.data import load_arrays
from tfnn.shipping.formats.calibration import calibration_set
from tfnn.shipping.formats.catalog import (
    EXTRA_FORMATS,
    FORMATS,
    parse_formats,
    require,
)
from tfnn.shipping.formats.graph import conversion_module
from tfnn.shipping.formats.litert import convert_tflite, convert_tflite_int8
from tfnn.shipping.formats.onnx_convert import convert_onnx
from tfnn.shipping.formats.scoring import score_formats
from tfnn.shipping.verification import predict_saved

logger = logging.getLogger(__name__)


def add_formats(version_dir, formats, dataset: str = "mnist",
                manual_dir=None, data_dir=None) -> dict[str, Any]:
    """Converts the SavedModel in ``version_dir`` to ``formats`` (names of
    ``catalog.FORMATS`` or "all", as ``parse_formats`` reads them;
    "saved_model" is already there) and scores them.

    Returns:
        The ``formats`` section of ``metadata.json`` (empty when only the
        SavedModel is asked for).

    Raises:
        FormatError: a missing extra, or a format outside its bounds.
    """
    extra = [f for f in parse_formats(formats) if f in EXTRA_FORMATS]
    if not extra:
        return {}
    require(extra)
    module = conversion_module(version_dir)
    calibration = None
    for fmt in extra:
        path = os.path.join(version_dir, FORMATS[fmt])
        if fmt == "tflite":
            convert_tflite(module, path)
        elif fmt == "tflite_int8":
            images, calibration = calibration_set(
                dataset, manual_dir=manual_dir, data_dir=data_dir)
            convert_tflite_int8(module, path, images)
        else:
            convert_onnx(module, path)
        logger.info("converted %s (%d bytes)", FORMATS[fmt],
                    os.path.getsize(path))
    images, labels = load_arrays(dataset, "test", manual_dir, data_dir)
    images = images.astype(np.float32)
    saved_classes, _ = predict_saved(
        module.loaded.signatures["serving_default"], images)
    section = score_formats(version_dir, extra, images, labels,
                            saved_classes)
    if calibration is not None:
        section["tflite_int8"]["calibration"] = calibration
    for rec in section.values():
        logger.info("%s: accuracy %.4f, agreement %.4f, %d bytes",
                    rec["file"], rec["accuracy"], rec["agreement"],
                    rec["size_bytes"])
    return section
