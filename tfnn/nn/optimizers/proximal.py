"""What the three l1/l2 optimizers of TF1 share: the regularization
strengths and FOBOS's proximal step.

:class:`~tfnn.nn.optimizers.ProximalGradientDescent`,
:class:`~tfnn.nn.optimizers.ProximalAdagrad` and
:class:`~tfnn.nn.optimizers.AdagradDA` all take
``l1_regularization_strength`` and ``l2_regularization_strength``; this
base validates and stores them, returns them (and each subclass's own
arguments, ``CONFIG``) from ``get_config``, and builds the per-variable
slots. Keras 3 has none of these optimizers (note 003 quotes their TF1
names).
"""

from __future__ import annotations

import keras
from keras import ops

# The arguments every subclass shares, documented once.
L1_L2_ARGS = """l1_regularization_strength: ``l1 >= 0``. Defaults to ``0.0``.
        l2_regularization_strength: ``l2 >= 0``. Defaults to ``0.0``.
        **kwargs: the base optimizer's arguments (``name``, ``clipnorm``,
            ``weight_decay``, ...)."""


def fill_l1_l2_args(doc: str | None) -> str | None:
    """``doc`` with ``{{l1_l2_args}}`` replaced by :data:`L1_L2_ARGS`."""
    return doc and doc.replace("{{l1_l2_args}}", L1_L2_ARGS)


def check_non_negative(**values) -> None:
    """ValueError naming the first argument below 0."""
    for name, value in values.items():
        if value < 0:
            raise ValueError(
                f"`{name}` must be >= 0. Received: {name}={value}"
            )


def positive_float(name: str, value) -> float:
    """``value`` as a float; a ValueError naming it unless it is > 0."""
    if value <= 0:
        raise ValueError(f"`{name}` must be > 0. Received: {name}={value}")
    return float(value)


def proximal_l1_l2(prox_v, lr, l1, l2):
    """FOBOS's closed-form step for the l1 + l2 penalties (TF1's kernels).

    ``sign(prox_v) * max(|prox_v| - lr*l1, 0) / (1 + lr*l2)``; when
    ``l1 == 0`` this is ``prox_v / (1 + lr*l2)``. ``lr`` may be a tensor
    (per-coordinate, as in ProximalAdagrad); ``l1`` is a Python float, so the
    branch is taken when the graph is traced, as in the kernel.
    """
    denominator = ops.add(1.0, ops.multiply(lr, l2))
    if l1 > 0:
        shrunk = ops.maximum(
            ops.subtract(ops.abs(prox_v), ops.multiply(lr, l1)), 0.0
        )
        return ops.divide(ops.multiply(ops.sign(prox_v), shrunk), denominator)
    return ops.divide(prox_v, denominator)


class ProximalOptimizer(keras.optimizers.Optimizer):
    """Base of the optimizers with TF1's l1/l2 regularization arguments.

    A subclass's docstring lists these arguments through a placeholder,
    ``l1_l2_args`` in double braces, filled in when the class is defined
    (as Keras documents its base optimizer's arguments).

    Args:
        learning_rate: a float, a ``LearningRateSchedule`` or a callable.
            Defaults to ``0.01``.
        {{l1_l2_args}}
    """

    # A subclass's own constructor arguments, stored as attributes of the
    # same name: get_config returns them after l1 and l2.
    CONFIG: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__doc__ = fill_l1_l2_args(cls.__doc__)

    def __init__(
        self,
        learning_rate=0.01,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, **kwargs)
        check_non_negative(
            l1_regularization_strength=l1_regularization_strength,
            l2_regularization_strength=l2_regularization_strength,
        )
        self.l1_regularization_strength = float(l1_regularization_strength)
        self.l2_regularization_strength = float(l2_regularization_strength)

    def slots(self, var_list, name: str, initial_value: float = 0.0):
        """One slot per variable of ``var_list``, each filled with
        ``initial_value`` (Keras's ``add_optimizer_variables``)."""
        return self.add_optimizer_variables(
            var_list, name,
            initializer=keras.initializers.Constant(initial_value))

    def get_config(self):
        config = super().get_config()
        for name in ("l1_regularization_strength",
                     "l2_regularization_strength", *self.CONFIG):
            config[name] = getattr(self, name)
        return config


ProximalOptimizer.__doc__ = fill_l1_l2_args(ProximalOptimizer.__doc__)
