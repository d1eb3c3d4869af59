"""The export formats, their files, their runtimes and their bounds.

One version folder holds every format of the same model (TF Serving reads
``saved_model.pb`` and skips the others)::

    saved_model   saved_model.pb + variables/   TensorFlow (TF Serving)
    tflite        model.tflite                  LiteRT, float32
    tflite_int8   model_int8.tflite             LiteRT, full-integer int8
    onnx          model.onnx                    ONNX Runtime

A format is published only inside its bounds, measured on the N test
images by its own runtime against the SavedModel (classes ``c``, accuracy
``a``)::

    float formats   agreement = Σ[c_i == c_saved_i] / N >= 0.999
                    |a − a_saved| <= 0.0005   (0.05 points)
    int8            a_saved − a <= 0.005      (0.5 points)

Plain Python: ``tfnn export --help`` and the checks of a command line load
nothing else.
"""

from __future__ import annotations

import importlib

FORMATS = {  # format -> its file in the version folder
    "saved_model": "saved_model.pb",
    "tflite": "model.tflite",
    "tflite_int8": "model_int8.tflite",
    "onnx": "model.onnx",
}
EXTRA_FORMATS = ("tflite", "tflite_int8", "onnx")
# The modules a format needs beyond TensorFlow: its converter, its runtime.
NEEDS = {
    "tflite": ("ai_edge_litert",),
    "tflite_int8": ("ai_edge_litert",),
    "onnx": ("tf2onnx", "onnxruntime"),
}
INSTALL_EXTRA = "pip install 'tfnn[export]'"

MIN_FLOAT_AGREEMENT = 0.999  # of the SavedModel's classes
MAX_FLOAT_ACCURACY_DIFF = 0.0005  # 0.05 points
MAX_INT8_ACCURACY_DROP = 0.005  # 0.5 points below the float model


class FormatError(ValueError):
    """A format cannot be made, is missing its extra, is damaged, or scores
    outside its bounds; the message (one line) names the file or the
    format."""


def parse_formats(text) -> list[str]:
    """``--formats``: "saved_model,tflite", "all" or a list of names.

    The SavedModel is always made (every other format is converted from
    it and checked against it).

    Returns:
        The formats in ``FORMATS`` order, "saved_model" first.

    Raises:
        ValueError: an unknown format, named with the valid ones.
    """
    names = text.split(",") if isinstance(text, str) else list(text)
    names = [n.strip().lower() for n in names if n.strip()]
    if "all" in names:
        return list(FORMATS)
    unknown = sorted(set(names) - set(FORMATS))
    if unknown:
        raise ValueError(
            f"unknown format {', '.join(map(repr, unknown))}; choose from "
            f"{', '.join(FORMATS)} or all"
        )
    return [f for f in FORMATS if f in names or f == "saved_model"]


def require(formats) -> None:
    """Imports the converter and runtime of each format.

    Raises:
        FormatError: one is not installed: names the format, the module
            and the extra to install.
    """
    for fmt in formats:
        for module in NEEDS.get(fmt, ()):
            try:
                importlib.import_module(module)
            except ImportError:
                raise FormatError(
                    f"format {fmt} needs {module}, which is not installed: "
                    f"{INSTALL_EXTRA}") from None


def check_bounds(fmt: str, accuracy: float, agreement: float,
                 saved_accuracy: float) -> None:
    """Raises ``FormatError`` when a format is outside its bounds (see the
    module docstring), naming its file and the numbers."""
    file = FORMATS[fmt]
    if fmt == "tflite_int8":
        if saved_accuracy - accuracy > MAX_INT8_ACCURACY_DROP + 1e-12:
            raise FormatError(
                f"{file}: int8 accuracy {accuracy:.4f} is more than "
                f"{MAX_INT8_ACCURACY_DROP * 100:.1f} points below the float "
                f"model's {saved_accuracy:.4f}")
        return
    if agreement < MIN_FLOAT_AGREEMENT:
        raise FormatError(
            f"{file}: agrees with the SavedModel on {agreement:.2%} of the "
            f"test images (bound {MIN_FLOAT_AGREEMENT:.1%})")
    if abs(accuracy - saved_accuracy) > MAX_FLOAT_ACCURACY_DIFF + 1e-12:
        raise FormatError(
            f"{file}: accuracy {accuracy:.4f} differs from the SavedModel's "
            f"{saved_accuracy:.4f} by more than "
            f"{MAX_FLOAT_ACCURACY_DIFF * 100:.2f} points")
