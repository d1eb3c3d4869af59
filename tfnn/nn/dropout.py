"""Inverted dropout whose mask is a counter-based hash, cheap under XLA.

Note 002's dropout (PyTorch's ``nn.Dropout(p)``) in training::

    keep = u >= p,  u ~ U[0, 1) per unit     # drop each unit w.p. p
    y    = x · keep / (1 − p)                # E[y] = x: inference is x

Keras's ``Dropout`` draws ``u`` with TensorFlow's Philox generator. Under
XLA on a CPU that generator is expanded into many integer operations per
number, and XLA recomputes the expansion in every fusion that reads the
mask (the forward product and its gradient): a whole-epoch XLA loop of a
784-1024-10 MLP with dropout 0.5 ran several times slower than the same
loop without XLA (docs/performance.md has the figures). :class:`Dropout`
draws the same kind of mask from a hash of the unit's position and the
step's seed instead (Murmur3's 32-bit finalizer, ``fmix32``, applied
twice): a handful of integer multiplies and shifts per unit that XLA
fuses into the product it feeds, in graph mode as under XLA. The seed
comes from the layer's ``SeedGenerator`` as Keras's does (one draw per
call), so runs are seeded, resume exactly and every loop draws the same
masks.
"""

from __future__ import annotations

import keras
import tensorflow as tf

_GOLDEN = 0x9E3779B9  # 2³² / φ: spreads consecutive counters apart
_M1, _M2 = 0x85EBCA6B, 0xC2B2AE35  # Murmur3's fmix32 multipliers


def fmix32(h):
    """Murmur3's 32-bit finalizer, a bijection of ``uint32`` whose every
    output bit depends on every input bit::

        h ^= h >> 16; h *= 0x85ebca6b; h ^= h >> 13; h *= 0xc2b2ae35;
        h ^= h >> 16
    """
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, 16))
    h = h * tf.constant(_M1, tf.uint32)
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, 13))
    h = h * tf.constant(_M2, tf.uint32)
    return tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, 16))


def uniform_bits(shape, seed):
    """``uint32`` values, one per position of ``shape``, that look
    independent and uniform: ``fmix32(fmix32(i·φ + k₀) ^ k₁)`` for the
    flat position ``i``, with the keys ``k = fmix32(seed)``.

    Args:
        shape: the output shape (a list or a 1-D int tensor).
        seed: two integers (a ``SeedGenerator`` draw).
    """
    seed = tf.cast(tf.reshape(seed, [2]), tf.int64)
    keys = fmix32(tf.cast(tf.bitwise.bitwise_and(seed, 0xFFFFFFFF),
                          tf.uint32) + tf.constant([1, 2], tf.uint32))
    shape = tf.cast(shape, tf.int32)
    i = tf.cast(tf.reshape(tf.range(tf.reduce_prod(shape)), shape),
                tf.uint32)
    h = fmix32(i * tf.constant(_GOLDEN, tf.uint32) + keys[0])
    return fmix32(tf.bitwise.bitwise_xor(h, keys[1]))


def keep_mask(shape, seed, rate):
    """A boolean mask of ``shape``: each entry True (kept) with
    probability ``1 − rate``, i.e. ``bits ≥ rate·2³²``."""
    threshold = min(int(round(float(rate) * 2**32)), 2**32 - 1)
    return uniform_bits(shape, seed) >= tf.constant(threshold, tf.uint32)


@keras.saving.register_keras_serializable(package="tfnn")
class Dropout(keras.layers.Dropout):
    """Inverted dropout (note 002) with :func:`keep_mask`'s hashed mask.

    ``y = x · keep / (1 − rate)`` in training, ``y = x`` at inference; the
    arguments and the saved config are Keras's ``Dropout``'s.

    Args:
        rate: the probability of dropping a unit (PyTorch's ``p``).
        noise_shape: the mask's shape, ``None`` entries taken from the
            input (e.g. ``(None, 1, 1, C)`` drops whole channels).
            Defaults to the input's shape.
        seed: seeds the layer's ``SeedGenerator``. Optional.

    Call arguments:
        inputs: a tensor.
        training: drop units (True) or pass the input through.
    """

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        if self.rate == 1:
            return tf.zeros_like(inputs)
        shape = tf.shape(inputs)
        if self.noise_shape is not None:
            shape = tf.stack([shape[i] if d is None else d
                              for i, d in enumerate(self.noise_shape)])
        keep = keep_mask(shape, self.seed_generator.next(), self.rate)
        scale = tf.cast(1.0 / (1.0 - self.rate), inputs.dtype)
        return inputs * tf.cast(keep, inputs.dtype) * scale
