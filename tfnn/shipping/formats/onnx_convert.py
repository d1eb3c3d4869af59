"""ONNX files, converted by tf2onnx from the same function as LiteRT's.

tf2onnx freezes ``module.serve``'s variables into initializers and maps
each TensorFlow op to ONNX ops of opset ``OPSET``; the input is
``images`` float32 ``[N, 28, 28]`` raw pixels, the outputs
``probabilities`` float32 ``[N, 10]`` and ``classes`` int64 ``[N]``.

Reference: tf2onnx, ``tf2onnx.convert.from_function``,
https://github.com/onnx/tensorflow-onnx#python-api-reference.
"""

from __future__ import annotations

import logging
import os

from tfnn.shipping.formats.graph import input_spec

OPSET = 17  # supported by onnxruntime 1.14 and later


def convert_onnx(module, path, opset: int = OPSET) -> str:
    """Writes ``module.serve`` (``tfnn.shipping.formats.graph``) as an
    ONNX model at ``path``; returns the path."""
    # Optional (the `export` extra): imported when a model is converted.
    import tf2onnx

    # tf2onnx logs each step of a conversion at INFO; its warnings stay.
    chatty = logging.getLogger("tf2onnx")
    level = chatty.level
    chatty.setLevel(max(level, logging.WARNING))
    try:
        tf2onnx.convert.from_function(
            module.serve, input_signature=[input_spec()], opset=opset,
            output_path=os.fspath(path))
    finally:
        chatty.setLevel(level)
    return os.fspath(path)
