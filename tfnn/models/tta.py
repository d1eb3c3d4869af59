"""Test-time augmentation (TTA) by small shifts, as Keras layers.

The assignment's models are trained on randomly shifted digits (note 003's
assignment, stage ``augment``); at test time the same model sees each image
at every offset of a (2r+1)×(2r+1) grid of whole-pixel shifts and the
prediction is the mean of its softmax outputs over those copies:

    p̄(y|x) = 1/S · Σ_{(dy,dx)} softmax(z(shift(x, dy, dx))),  S = (2r+1)²

A shift moves the content by ``dy`` rows down and ``dx`` columns right;
pixels that move in from outside are ``fill`` (the background value of the
preprocessed images: 0 raw, (0 − mean)/std standardized).

:class:`ShiftCopies` stacks the S copies along the batch axis (one forward
pass of the model over S·n images) and :class:`MeanOverCopies` averages
the model's S·n outputs back to n. Both are registered Keras layers, so a
model with them saves, loads and exports like any other.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def offsets(max_shift: int) -> list:
    """The (dy, dx) grid, ``(0, 0)`` first: ``(2·max_shift + 1)²`` pairs."""
    if int(max_shift) != max_shift or max_shift < 0:
        raise ValueError(
            f"max_shift must be a non-negative integer. Received: {max_shift}")
    r = range(-int(max_shift), int(max_shift) + 1)
    grid = [(dy, dx) for dy in r for dx in r]
    grid.remove((0, 0))
    return [(0, 0)] + grid


def shift_images(x, dy: int, dx: int, fill: float = 0.0) -> np.ndarray:
    """NumPy reference: ``x`` (n, H, W[, C]) moved ``dy`` rows down and
    ``dx`` columns right, ``fill`` where nothing moved in."""
    x = np.asarray(x)
    out = np.full_like(x, fill)
    h, w = x.shape[1], x.shape[2]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        x[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


@keras.saving.register_keras_serializable(package="tfnn")
class ShiftCopies(keras.layers.Layer):
    """(n, H, W, …) → (S·n, H, W, …): the S shifted copies of the batch,
    copy k (offset ``offsets(max_shift)[k]``) at rows ``k·n … (k+1)·n − 1``.

    Args:
        max_shift: r, the largest shift in pixels (each axis).
        fill: the value of the pixels that move in from outside.
    """

    def __init__(self, max_shift=1, fill=0.0, **kwargs):
        super().__init__(**kwargs)
        self.offsets = offsets(max_shift)
        self.max_shift = int(max_shift)
        self.fill = float(fill)

    @property
    def copies(self) -> int:
        return len(self.offsets)

    def call(self, inputs):
        r = self.max_shift
        if r == 0:
            return inputs
        h, w = inputs.shape[1], inputs.shape[2]
        pad = [[0, 0], [r, r], [r, r]] + [[0, 0]] * (len(inputs.shape) - 3)
        padded = ops.pad(inputs, pad, constant_values=self.fill)
        # out[i, j] = x[i − dy, j − dx] = padded[i − dy + r, j − dx + r]
        return ops.concatenate(
            [padded[:, r - dy:r - dy + h, r - dx:r - dx + w]
             for dy, dx in self.offsets], axis=0)

    def compute_output_shape(self, input_shape):
        n = input_shape[0]
        return (None if n is None else n * self.copies, *input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "max_shift": self.max_shift,
                "fill": self.fill}


@keras.saving.register_keras_serializable(package="tfnn")
class MeanOverCopies(keras.layers.Layer):
    """(S·n, …) → (n, …): the mean over the S copies that
    :class:`ShiftCopies` stacked.

    Args:
        copies: S.
    """

    def __init__(self, copies, **kwargs):
        super().__init__(**kwargs)
        if int(copies) != copies or copies < 1:
            raise ValueError(
                f"copies must be a positive integer. Received: {copies}")
        self.copies = int(copies)

    def call(self, inputs):
        if self.copies == 1:
            return inputs
        stacked = ops.reshape(inputs, (self.copies, -1, *inputs.shape[1:]))
        return ops.mean(stacked, axis=0)

    def compute_output_shape(self, input_shape):
        n = input_shape[0]
        return (None if n is None else n // self.copies, *input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "copies": self.copies}
