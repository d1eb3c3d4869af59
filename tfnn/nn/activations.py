"""Activations of the notes, by the names users type.

Every key builds a fresh Keras layer, so a model can hold one per hidden
layer (``prelu`` learns its own α per layer) and every model serializes.

| key          | f(x)                                   | note            |
|--------------|----------------------------------------|-----------------|
| linear       | x                                      | 003, 004        |
| sigmoid      | 1 / (1 + e^−x)                         | 000, 003, 004   |
| tanh         | tanh x                                 | 003, 004        |
| relu         | max(0, x)                              | 000, 002, 003   |
| leaky_relu   | max(αx, x), α = 0.01 (0.1 in 003)      | 003, 004        |
| prelu        | max(αx, x), α learned                  | 003             |
| elu          | x if x ≥ 0 else α(e^x − 1)             | 003, 004        |
| maxout       | max_j (w_jᵀx + b_j), k = 2 pieces      | 003, 004        |
| softmax      | e^x_i / Σ_j e^x_j                      | 000             |
| relu6        | min(max(0, x), 6)                      | 003 (tf.nn)     |
| crelu        | [relu(x), relu(−x)] (twice as wide)    | 003 (tf.nn)     |
| softplus     | ln(1 + e^x)                            | 003 (tf.nn)     |
| softsign     | x / (1 + |x|)                          | 003 (tf.nn)     |
| relu_x       | min(max(0, x), max_value)              | 003 (tf.nn)     |

Stacking ``linear`` layers collapses to one linear map (003, 004): a
non-linear activation is what lets depth add expressive power.
"""

from __future__ import annotations

import keras

from tfnn.nn.layers import CReLU, LeakyReLU, Maxout, ReLUX
from tfnn.registry import Registry

ACTIVATIONS = Registry("activation")


def _builtin(name, doc):
    def factory(**kwargs):
        return keras.layers.Activation(name, **kwargs)

    factory.__doc__ = doc
    ACTIVATIONS.add(name, factory, doc)


_builtin("linear", "f(x) = x: no non-linearity; stacked, it collapses.")
_builtin("sigmoid", "f(x) = 1/(1+e^-x): saturates, not zero-centred.")
_builtin("tanh", "f(x) = tanh x: zero-centred, still saturates.")
_builtin("relu", "f(x) = max(0, x): no saturation for x > 0; dead for x < 0.")
_builtin("softplus", "f(x) = ln(1+e^x): a smooth ReLU.")
_builtin("softsign", "f(x) = x/(1+|x|): a tanh with polynomial tails.")
_builtin("relu6", "f(x) = min(max(0, x), 6).")


@ACTIVATIONS.register("softmax")
def _softmax(axis=-1, **kwargs):
    """f(x)_i = e^x_i / sum_j e^x_j: class probabilities that sum to 1."""
    return keras.layers.Softmax(axis=axis, **kwargs)


@ACTIVATIONS.register("leaky_relu")
def _leaky_relu(alpha=None, negative_slope=None, **kwargs):
    """f(x) = max(alpha*x, x), alpha = 0.01 by default (0.1 in note 003)."""
    return LeakyReLU(alpha=alpha, negative_slope=negative_slope, **kwargs)


@ACTIVATIONS.register("prelu")
def _prelu(alpha=0.25, shared_axes=None, **kwargs):
    """f(x) = max(alpha*x, x) with alpha learned by backprop (one per unit).

    ``shared_axes=[1, 2]`` after a convolution shares α across space, so a
    layer with C channels learns C slopes (not H·W·C). α starts at 0.25
    (He et al., 2015).
    """
    return keras.layers.PReLU(
        alpha_initializer=keras.initializers.Constant(alpha),
        shared_axes=shared_axes,
        **kwargs,
    )


@ACTIVATIONS.register("elu")
def _elu(alpha=1.0, **kwargs):
    """f(x) = x if x >= 0 else alpha*(e^x - 1)."""
    return keras.layers.ELU(alpha=alpha, **kwargs)


@ACTIVATIONS.register("maxout")
def _maxout(pieces=2, **kwargs):
    """f = max_j (w_j^T x + b_j) over k pieces (k = 2): k x the parameters."""
    return Maxout(pieces=pieces, **kwargs)


@ACTIVATIONS.register("crelu")
def _crelu(axis=-1, **kwargs):
    """f(x) = [relu(x), relu(-x)]: twice as wide as its input."""
    return CReLU(axis=axis, **kwargs)


@ACTIVATIONS.register("relu_x")
def _relu_x(max_value=1.0, **kwargs):
    """f(x) = min(max(0, x), max_value): a ReLU capped at a given max."""
    return ReLUX(max_value=max_value, **kwargs)


def get(identifier, **kwargs):
    """A new activation layer for a registry key; objects pass through.

    Args:
        identifier: a key of :func:`names` (``"leaky_relu"`` …) or a
            Keras layer / callable, returned unchanged.
        **kwargs: the activation's own arguments (``alpha``, ``pieces``,
            ``max_value``, ``shared_axes`` …) and Keras layer arguments
            such as ``name``.

    Returns:
        A ``keras.layers.Layer``.
    """
    return ACTIVATIONS.get(identifier, **kwargs)


def names():
    """The activation keys, sorted."""
    return ACTIVATIONS.names()


def input_multiplier(layer) -> int:
    """How many times wider the linear layer before ``layer`` must be.

    Maxout with k pieces turns ``k·units`` linear outputs into ``units``;
    every other activation keeps the width (1).
    """
    return int(getattr(layer, "input_multiplier", 1))
