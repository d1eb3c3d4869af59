"""LiteRT (TensorFlow Lite) files: float32 and full-integer int8.

float: the graph's weights and arithmetic as they are (float32).

int8: post-training full-integer quantization. Every weight and activation
tensor ``x`` is stored as an 8-bit integer ``q`` with a scale ``s`` and a
zero point ``z`` (affine quantization)::

    q = clamp(round(x / s) + z, -128, 127)      x ≈ s · (q − z)

weights per output channel (symmetric, ``z = 0``), activations per tensor
with ``s, z`` from the ranges the representative dataset (training images,
``tfnn.shipping.formats.calibration``) produces. The input stays float32
raw pixels and the outputs float32 / int64 (quantize and dequantize at the
edges), the same contract as every format.

Reference: LiteRT, "Post-training integer quantization",
https://ai.google.dev/edge/litert/models/post_training_integer_quant, and
Jacob et al., "Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference" (2018), eq. (1).
"""

from __future__ import annotations

import os

import tensorflow as tf

from tfnn.shipping.formats.calibration import representative_dataset


def _converter(module) -> tf.lite.TFLiteConverter:
    concrete = module.serve.get_concrete_function()
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)


def _write(data: bytes, path) -> str:
    with open(path, "wb") as fh:
        fh.write(data)
    return os.fspath(path)


def convert_tflite(module, path) -> str:
    """Writes ``module.serve`` (``tfnn.shipping.formats.graph``) as a
    float32 LiteRT file at ``path``; returns the path."""
    return _write(_converter(module).convert(), path)


def convert_tflite_int8(module, path, calibration_images) -> str:
    """Writes ``module.serve`` as a full-integer int8 LiteRT file at
    ``path``, its ranges calibrated on ``calibration_images`` (float32
    raw pixels, training images only) and on nothing else; returns the
    path."""
    converter = _converter(module)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset(
        calibration_images)
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return _write(converter.convert(), path)
