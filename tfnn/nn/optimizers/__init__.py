"""Optimizers of note 003, keyed by the names users type.

Note 003 draws the optimizers as a family tree grown out of gradient descent,
``w = w - lr * dE/dw``. Its successors change one of the two factors: the
*direction* (the gradient, "momentum-type"), the *step size* (the learning
rate, "learning-rate-type"), or both::

    gradient descent ........... gd, sgd            w -= lr * g
    |-- momentum-type .......... momentum, nag      change the direction
    |-- learning-rate-type ..... adagrad, rmsprop,  change the step size,
    |                            adadelta, ftrl,    coordinate by coordinate
    |                            proximal_gd,
    |                            proximal_adagrad,
    |                            adagrad_da
    `-- both ................... adam, adamax,      momentum + adaptive step
                                 nadam

``FAMILIES`` holds this tree and ``family(key)`` reads it. The last four
learning-rate-type keys come from the ``tf.train`` optimizer list that note
003 quotes (``FtrlOptimizer``, ``ProximalGradientDescentOptimizer``,
``ProximalAdagradOptimizer``, ``AdagradDAOptimizer``). ``proximal_gd`` keeps a
fixed step size; it is filed with the other three because all four share the
l1/l2 proximal step that shrinks weights to exact zeros.

Keras built-ins are used where they exist. Keras 3 has no proximal
optimizers and no AdagradDA, so :class:`ProximalGradientDescent`,
:class:`ProximalAdagrad` and :class:`AdagradDA` port TF1's kernels
(``tensorflow/core/kernels/training_ops.cc``) as Keras optimizers, one
module each on a shared base (``proximal``: the l1/l2 arguments and the
proximal step), and :class:`Adam` (``adam``) is Keras's with its update in
TensorFlow's fused kernel. This module is the registry: the keys, their
factories and families, and :func:`get`.

Default learning rates (any keyword overrides them; every other keyword goes
to the optimizer, e.g. ``get("nag", learning_rate=0.1, momentum=0.5)``):

| key | class | learning_rate | Keras's own default |
|---|---|---|---|
| gd, sgd, momentum, nag | ``SGD`` | 0.01 | 0.01 |
| adagrad | ``Adagrad`` | 0.01 | 0.001 |
| rmsprop | ``RMSprop`` | 0.001 | 0.001 |
| adadelta | ``Adadelta`` (``epsilon=1e-6``) | 1.0 (Zeiler, 2012) | 0.001 |
| adam, adamax, nadam | :class:`Adam`, ``Adamax``, ``Nadam`` | 0.001 | 0.001 |
| ftrl | ``Ftrl`` | 0.01 | 0.001 |
| proximal_gd | :class:`ProximalGradientDescent` | 0.01 | - |
| proximal_adagrad | :class:`ProximalAdagrad` | 0.01 | - |
| adagrad_da | :class:`AdagradDA` | 0.01 | - |

Example:

```python
opt = optimizers.get("nag", learning_rate=0.1)
model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
optimizers.family("nag")  # "momentum-type"
```
"""

from __future__ import annotations

import inspect

import keras

from tfnn.nn.optimizers.adagrad_da import AdagradDA
from tfnn.nn.optimizers.adam import Adam
from tfnn.nn.optimizers.proximal_adagrad import ProximalAdagrad
from tfnn.nn.optimizers.proximal_gradient_descent import (
    ProximalGradientDescent,
)
from tfnn.registry import Registry, check_key

__all__ = [
    "CLASSES",
    "FAMILIES",
    "OPTIMIZERS",
    "AdagradDA",
    "Adam",
    "ProximalAdagrad",
    "ProximalGradientDescent",
    "arguments",
    "family",
    "get",
    "names",
]

OPTIMIZERS = Registry("optimizer")

GRADIENT_DESCENT = "gradient descent"
MOMENTUM_TYPE = "momentum-type"
LEARNING_RATE_TYPE = "learning-rate-type"
BOTH = "both"

# Note 003's family tree: key -> family.
FAMILIES: dict[str, str] = {
    "gd": GRADIENT_DESCENT,
    "sgd": GRADIENT_DESCENT,
    "momentum": MOMENTUM_TYPE,
    "nag": MOMENTUM_TYPE,
    "adagrad": LEARNING_RATE_TYPE,
    "rmsprop": LEARNING_RATE_TYPE,
    "adadelta": LEARNING_RATE_TYPE,
    "ftrl": LEARNING_RATE_TYPE,
    "proximal_gd": LEARNING_RATE_TYPE,
    "proximal_adagrad": LEARNING_RATE_TYPE,
    "adagrad_da": LEARNING_RATE_TYPE,
    "adam": BOTH,
    "adamax": BOTH,
    "nadam": BOTH,
}


def get(identifier, **kwargs):
    """Build the optimizer named ``identifier`` (an optimizer passes through).

    Args:
        identifier: a key of ``names()`` (case-insensitive, ``-`` or ``_``),
            or an already-built optimizer, returned unchanged.
        **kwargs: ``learning_rate`` and any argument of the optimizer class.

    Returns:
        A fresh ``keras.optimizers.Optimizer``.

    Raises:
        ValueError: for an unknown key; the message lists the valid keys.
    """
    return OPTIMIZERS.get(identifier, **kwargs)


def names() -> list[str]:
    """The valid optimizer keys, sorted."""
    return OPTIMIZERS.names()


def family(key: str) -> str:
    """The family of note 003's tree that ``key`` belongs to.

    Returns:
        One of ``"gradient descent"``, ``"momentum-type"``,
        ``"learning-rate-type"``, ``"both"``.
    """
    return FAMILIES[check_key(key, FAMILIES, "optimizer")]


# --- gradient descent ------------------------------------------------------


@OPTIMIZERS.register("gd")
def gradient_descent(learning_rate=0.01, **kwargs):
    """Full-batch gradient descent: ``w -= lr * g`` (``keras.optimizers.SGD``).

    The rule is SGD's; what makes it *full-batch* is the data side: the
    training code feeds the whole training set as one batch, so ``g`` is the
    exact gradient of the loss over all examples.
    """
    return keras.optimizers.SGD(learning_rate=learning_rate, **kwargs)


@OPTIMIZERS.register("sgd")
def sgd(learning_rate=0.01, **kwargs):
    """Stochastic (mini-batch) gradient descent: ``w -= lr * g``.

    ``g`` is the gradient over one mini-batch (``keras.optimizers.SGD``).
    """
    return keras.optimizers.SGD(learning_rate=learning_rate, **kwargs)


# --- momentum-type ---------------------------------------------------------


@OPTIMIZERS.register("momentum")
def momentum(learning_rate=0.01, momentum=0.9, **kwargs):
    """SGD with momentum: ``v = mu*v - lr*g; w += v`` (``v`` starts at 0).

    Keras's ``SGD(momentum=mu)``; ``mu`` defaults to 0.9.
    """
    return keras.optimizers.SGD(
        learning_rate=learning_rate, momentum=float(momentum), **kwargs
    )


@OPTIMIZERS.register("nag")
def nag(learning_rate=0.01, momentum=0.9, **kwargs):
    """Nesterov momentum: ``v = mu*v - lr*g; w += mu*v - lr*g``.

    Keras's ``SGD(momentum=mu, nesterov=True)``, the look-ahead written for
    the current weights (Sutskever et al., 2013); ``mu`` defaults to 0.9.
    """
    return keras.optimizers.SGD(
        learning_rate=learning_rate,
        momentum=float(momentum),
        nesterov=True,
        **kwargs,
    )


# --- learning-rate-type ----------------------------------------------------


@OPTIMIZERS.register("adagrad")
def adagrad(learning_rate=0.01, **kwargs):
    """Adagrad: ``accum += g**2; w -= lr * g / sqrt(accum + eps)``.

    ``keras.optimizers.Adagrad``: ``accum`` starts at
    ``initial_accumulator_value=0.1`` and ``eps=1e-7`` sits *inside* the
    square root.
    """
    return keras.optimizers.Adagrad(learning_rate=learning_rate, **kwargs)


@OPTIMIZERS.register("rmsprop")
def rmsprop(learning_rate=0.001, **kwargs):
    """RMSprop: ``ms = rho*ms + (1-rho)*g**2; w -= lr*g / sqrt(ms + eps)``.

    ``keras.optimizers.RMSprop``: ``rho=0.9``, ``eps=1e-7`` inside the square
    root, ``ms`` starts at 0; ``momentum`` and ``centered`` are off.
    """
    return keras.optimizers.RMSprop(learning_rate=learning_rate, **kwargs)


@OPTIMIZERS.register("adadelta")
def adadelta(learning_rate=1.0, epsilon=1e-6, **kwargs):
    """Adadelta: a step in the units of ``w`` from two running averages.

    ``keras.optimizers.Adadelta`` (``rho=0.95``)::

        Eg2 = rho*Eg2 + (1-rho)*g**2
        dw = -sqrt(Edw2 + eps) / sqrt(Eg2 + eps) * g
        Edw2 = rho*Edw2 + (1-rho)*dw**2
        w += lr * dw

    ``learning_rate=1.0`` and ``epsilon=1e-6`` are Zeiler's (2012) values
    (the paper has no learning rate at all); Keras's defaults are 0.001 and
    1e-7.
    """
    return keras.optimizers.Adadelta(
        learning_rate=learning_rate, epsilon=epsilon, **kwargs
    )


@OPTIMIZERS.register("ftrl")
def ftrl(learning_rate=0.01, **kwargs):
    """FTRL-Proximal (``keras.optimizers.Ftrl``, TF1's ``ApplyFtrl``).

    With ``p = learning_rate_power = -0.5``, ``n`` starting at 0.1::

        n_new = n + g**2
        z += g - (n_new**(-p) - n**(-p)) / lr * w
        w = (clip(z, -l1, l1) - z) / (n_new**(-p) / lr + 2*l2)
        n = n_new

    so ``w = 0`` exactly wherever ``|z| <= l1``.
    """
    return keras.optimizers.Ftrl(learning_rate=learning_rate, **kwargs)


@OPTIMIZERS.register("proximal_gd")
def proximal_gd(learning_rate=0.01, **kwargs):
    """Proximal gradient descent with l1/l2 (:class:`ProximalGradientDescent`).

    ``prox_v = w - lr*g; w = sign(prox_v)*max(|prox_v| - lr*l1, 0)/(1+lr*l2)``
    """
    return ProximalGradientDescent(learning_rate=learning_rate, **kwargs)


@OPTIMIZERS.register("proximal_adagrad")
def proximal_adagrad(learning_rate=0.01, **kwargs):
    """Proximal Adagrad with l1/l2 (:class:`ProximalAdagrad`).

    ``accum += g**2; lr_t = lr/sqrt(accum)``, then proximal GD with ``lr_t``.
    """
    return ProximalAdagrad(learning_rate=learning_rate, **kwargs)


@OPTIMIZERS.register("adagrad_da")
def adagrad_da(learning_rate=0.01, **kwargs):
    """Adagrad dual averaging (:class:`AdagradDA`).

    ``w = sign(-G)*max(|G| - l1*t, 0)*lr / (l2*t*lr + sqrt(GG))`` with
    ``G = sum(g)``, ``GG = 0.1 + sum(g**2)``.
    """
    return AdagradDA(learning_rate=learning_rate, **kwargs)


# --- both: momentum + adaptive learning rate -------------------------------


@OPTIMIZERS.register("adam")
def adam(learning_rate=0.001, **kwargs):
    """Adam: momentum on ``g`` and RMSprop on ``g**2``, bias-corrected.

    Keras's Adam (``b1=0.9, b2=0.999, eps=1e-7``) with its update fused
    per variable (:class:`Adam`), step ``t`` from 1, the bias correction
    folded into the step size and ``eps`` *outside* the square root::

        m = b1*m + (1-b1)*g
        v = b2*v + (1-b2)*g**2
        lr_t = lr * sqrt(1 - b2**t) / (1 - b1**t)
        w -= lr_t * m / (sqrt(v) + eps)
    """
    return Adam(learning_rate=learning_rate, **kwargs)


@OPTIMIZERS.register("adamax")
def adamax(learning_rate=0.001, **kwargs):
    """Adamax: Adam with the infinity norm in place of ``sqrt(v)``.

    ``keras.optimizers.Adamax`` (``b1=0.9, b2=0.999, eps=1e-7``)::

        m = b1*m + (1-b1)*g
        u = max(b2*u, |g|)
        w -= lr * m / ((1 - b1**t) * (u + eps))
    """
    return keras.optimizers.Adamax(learning_rate=learning_rate, **kwargs)


@OPTIMIZERS.register("nadam")
def nadam(learning_rate=0.001, **kwargs):
    """Nadam: Adam with a Nesterov look-ahead on the momentum.

    ``keras.optimizers.Nadam`` (Dozat, 2016, with his momentum schedule
    ``mu_t = b1*(1 - 0.5*0.96**t)`` and ``prod_t = mu_1*...*mu_t``)::

        m = b1*m + (1-b1)*g
        v = b2*v + (1-b2)*g**2
        m_hat = (mu_{t+1}*m / (1 - prod_t*mu_{t+1})
                 + (1-mu_t)*g / (1 - prod_t))
        v_hat = v / (1 - b2**t)
        w -= lr * m_hat / (sqrt(v_hat) + eps)
    """
    return keras.optimizers.Nadam(learning_rate=learning_rate, **kwargs)


# --- the arguments each key takes --------------------------------------------

# key -> the class its factory builds (tests check it against get(key)).
CLASSES: dict[str, type] = {
    "gd": keras.optimizers.SGD,
    "sgd": keras.optimizers.SGD,
    "momentum": keras.optimizers.SGD,
    "nag": keras.optimizers.SGD,
    "adagrad": keras.optimizers.Adagrad,
    "rmsprop": keras.optimizers.RMSprop,
    "adadelta": keras.optimizers.Adadelta,
    "ftrl": keras.optimizers.Ftrl,
    "proximal_gd": ProximalGradientDescent,
    "proximal_adagrad": ProximalAdagrad,
    "adagrad_da": AdagradDA,
    "adam": Adam,
    "adamax": keras.optimizers.Adamax,
    "nadam": keras.optimizers.Nadam,
}
# Set by the factory itself: not a keyword a user may pass.
FIXED_ARGUMENTS = {"nag": ("nesterov",)}


def arguments(key: str) -> list[str]:
    """The keyword arguments the optimizer ``key`` takes besides
    ``learning_rate``: its class's constructor's, through the class's
    bases (``beta_1``, ``clipnorm``, ``weight_decay`` …), read from the
    signatures, so nothing is built (no TensorFlow variable is made).

    Raises:
        ValueError: for an unknown key; the message lists the valid keys.
    """
    key = OPTIMIZERS.key(key)
    names = set()
    for cls in CLASSES[key].__mro__:
        init = cls.__dict__.get("__init__")
        if init is not None and cls is not object:
            names.update(
                name for name, p in inspect.signature(init).parameters.items()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    names -= {"self", "learning_rate", *FIXED_ARGUMENTS.get(key, ())}
    return sorted(names)
