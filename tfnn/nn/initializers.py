"""Weight initialization schemes of the notes, by the names users type.

| key            | rule                                                   |
|----------------|--------------------------------------------------------|
| zeros          | W = 0: every unit stays identical (no symmetry break)  |
| small_normal   | W = 0.01·N(0, 1): activations shrink to 0 with depth   |
| unit_normal    | W = 1.0·N(0, 1): tanh saturates at ±1                  |
| xavier_normal  | W ~ N(0, σ²), σ = gain·sqrt(2 / (fan_in + fan_out))    |
| xavier_uniform | W ~ U(−a, a), a = gain·sqrt(6 / (fan_in + fan_out))    |
| he_normal      | W ~ N(0, σ²), σ = gain·sqrt(2 / fan_in)                |
| he_uniform     | W ~ U(−a, a), a = gain·sqrt(6 / fan_in)                |
| lecun_normal   | W ~ N(0, σ²), σ = gain·sqrt(1 / fan_in)                |
| rbm            | RBM pre-training layer by layer, then fine-tuning (002) |

Notes 001, 002, 003 and 004. Fan-in and fan-out follow Keras: a Dense kernel
``(fan_in, fan_out)``; a conv kernel ``(kh, kw, c_in, c_out)`` has
``fan_in = kh·kw·c_in`` and ``fan_out = kh·kw·c_out``.

Where this differs from Keras's built-ins: ``keras.initializers.GlorotNormal``,
``HeNormal`` and ``LecunNormal`` draw from a *truncated* normal (rescaled so
the std still matches). The notes' formulas use the plain normal, and so do
these classes (``distribution="untruncated_normal"``): the sample std equals
the formula and the tails are Gaussian.

Slips in the notes, fixed here: note 002 writes
``Var(W) = sqrt(2 / (n_in + n_out))``; that expression is the standard
deviation. Note 003's "Xavier" row, ``randn / sqrt(n_in)``, is the fan-in-only
LeCun variant (``lecun_normal``); Glorot's uses ``fan_in + fan_out``.
"""

from __future__ import annotations

import math

import keras

from tfnn.registry import Registry

INITIALIZERS = Registry("initializer")


class _Scheme(keras.initializers.VarianceScaling):
    """A named variance-scaling scheme: Var(W) = gain² · factor / fan."""

    factor = 1.0
    mode = "fan_in"
    distribution = "untruncated_normal"

    def __init__(self, gain=1.0, seed=None):
        if gain <= 0:
            raise ValueError(f"`gain` must be positive. Received: gain={gain}")
        self.gain = float(gain)
        super().__init__(
            scale=self.factor * self.gain**2,
            mode=type(self).mode,
            distribution=type(self).distribution,
            seed=seed,
        )

    def get_config(self):
        # The base config holds the seed as given (None stays None): an
        # unseeded initializer must not come back seeded from its config.
        return {"gain": self.gain, "seed": super().get_config()["seed"]}


@keras.saving.register_keras_serializable(package="tfnn")
class XavierNormal(_Scheme):
    """Glorot/Xavier normal: ``σ = gain·sqrt(2 / (fan_in + fan_out))``.

    Plain (untruncated) normal. Notes 001, 002, 004.

    Args:
        gain: multiplies σ. Defaults to 1.0.
        seed: an int for reproducible draws. Defaults to None.

    Reference: Glorot & Bengio, 2010.
    """

    mode = "fan_avg"


@keras.saving.register_keras_serializable(package="tfnn")
class XavierUniform(_Scheme):
    """Glorot/Xavier uniform: ``U(−a, a)``, ``a = gain·sqrt(6/(n_in+n_out))``.

    Note 002 (``a = sqrt(3)·std``).
    """

    mode = "fan_avg"
    distribution = "uniform"


@keras.saving.register_keras_serializable(package="tfnn")
class HeNormal(_Scheme):
    """He/Kaiming normal: ``σ = gain·sqrt(2 / fan_in)``, plain normal.

    For the ReLU family (notes 001, 002, 004). Reference: He et al., 2015.
    """

    factor = 2.0


@keras.saving.register_keras_serializable(package="tfnn")
class HeUniform(_Scheme):
    """He/Kaiming uniform: ``U(−a, a)``, ``a = gain·sqrt(6 / fan_in)``."""

    factor = 2.0
    distribution = "uniform"


@keras.saving.register_keras_serializable(package="tfnn")
class LecunNormal(_Scheme):
    """LeCun normal: ``σ = gain·sqrt(1 / fan_in)`` (note 003's "Xavier")."""


@INITIALIZERS.register("zeros")
def _zeros():
    """W = 0: all units of a layer compute the same thing forever."""
    return keras.initializers.Zeros()


@INITIALIZERS.register("small_normal")
def _small_normal(scale=0.01, seed=None):
    """W = 0.01·N(0, 1): activations collapse toward 0 with depth (004)."""
    return keras.initializers.RandomNormal(stddev=scale, seed=seed)


@INITIALIZERS.register("unit_normal")
def _unit_normal(scale=1.0, seed=None):
    """W = 1.0·N(0, 1), like torch.nn.init.normal_: tanh saturates (004)."""
    return keras.initializers.RandomNormal(stddev=scale, seed=seed)


@INITIALIZERS.register("rbm")
def _rbm(seed=None, **pretraining):
    """W pre-trained layer by layer as RBMs, then fine-tuned by backprop (002).

    The draw here is only the RBMs' starting point, 0.01·N(0, 1):
    :func:`tfnn.training.whole_run.train` then pre-trains the hidden layers
    greedily with contrastive divergence (:func:`tfnn.nn.rbm.pretrain_model`,
    on ``minmax`` inputs in [0, 1]) and copies the RBMs' weights in before
    fine-tuning. ``pretraining`` (``epochs``, ``k``, ``learning_rate``,
    ``batch_size``) is read by the runner, not by this initializer.
    """
    return keras.initializers.RandomNormal(stddev=0.01, seed=seed)


INITIALIZERS.add("xavier_normal", XavierNormal)
INITIALIZERS.add("xavier_uniform", XavierUniform)
INITIALIZERS.add("he_normal", HeNormal)
INITIALIZERS.add("he_uniform", HeUniform)
INITIALIZERS.add("lecun_normal", LecunNormal)


def get(identifier, **kwargs):
    """A new initializer for a registry key; objects pass through.

    Args:
        identifier: a key of :func:`names` or a Keras initializer.
        **kwargs: ``seed`` (all but ``zeros``), ``gain`` (the variance
            scaling schemes), ``scale`` (``small_normal``/``unit_normal``).

    Returns:
        A ``keras.initializers.Initializer``.
    """
    return INITIALIZERS.get(identifier, **kwargs)


def names():
    """The initializer keys, sorted."""
    return INITIALIZERS.names()


def fans(shape):
    """``(fan_in, fan_out)`` of a kernel shape, as the schemes compute them.

    Dense ``(n_in, n_out)`` → ``(n_in, n_out)``; conv ``(kh, kw, c_in,
    c_out)`` → ``(kh·kw·c_in, kh·kw·c_out)``.
    """
    shape = tuple(int(d) for d in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])  # kh·kw for a conv kernel
    return shape[-2] * receptive, shape[-1] * receptive
