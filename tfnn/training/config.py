"""How to train: :class:`TrainConfig`, one typed value with commented
defaults that the CLI turns into flags.

It lives in the training package, not beside ``ModelConfig`` in
:mod:`tfnn.config`: its validation needs the optimizer and schedule
registries (:mod:`tfnn.nn`) and the data choices (:mod:`tfnn.data`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tfnn import data as tfnn_data
from tfnn.config_files import dataclass_from_dict
from tfnn.nn import optimizers as tfnn_optimizers
from tfnn.nn import schedules as tfnn_schedules
from tfnn.training.callbacks import LOSS_GUARDS

STRATEGIES = ("default", "mirrored", "multiworker")
# "auto": :func:`tfnn.training.choose_loop` picks; the others force a loop.
LOOPS = ("auto", "fast", "custom", "fit")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: data, optimizer, batches, epochs and run options."""

    dataset: str = "mnist"  # "mnist" or "fashion_mnist"
    preprocessing: str = "standardize"  # "raw", "minmax", "standardize"
    validation_size: int = 5000  # carved from the 60,000 training images
    train_limit: int | None = None  # keep only N training examples
    optimizer: str = "adam"  # a key of tfnn.nn.optimizers.names()
    optimizer_kwargs: dict[str, Any] = field(default_factory=dict)
    learning_rate: float = 1e-3  # pick it on a log scale (001)
    schedule: str = "constant"  # "constant", "step", "cosine", "one_cycle"
    schedule_kwargs: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 128  # 0: the whole set (gd); 1: SGD
    drop_remainder: bool = False  # PyTorch's drop_last
    epochs: int = 5
    seed: int = 0  # Python, NumPy, TF and Keras seeds
    deterministic: bool = False  # tf.config.experimental op determinism
    mixed_precision: bool = False  # mixed_float16 with loss scaling
    jit: bool = False  # XLA-compile the train step
    strategy: str = "default"  # "default", "mirrored", "multiworker"
    loop: str = "auto"  # "auto" (choose_loop decides), "fast" (whole-epoch
    #                     function), "custom" (the readable per-step
    #                     GradientTape loop) or "fit" (Keras's own fit)
    histograms: bool = False  # TensorBoard histograms of acts and grads
    overfit_check: int = 0  # first train on N examples to 100 % (004)
    collective_timeout: float = 60.0  # multiworker: seconds one collective
    #                     (all-reduce) may wait for the other workers
    startup_timeout: float = 120.0  # multiworker: seconds to wait for every
    #                     worker of TF_CONFIG to join at startup
    loss_guard: str = "stop"  # a loss above loss_guard_factor × the
    #                     initial loss: "stop", "warn" (once) or "off"
    loss_guard_factor: float = 3.0  # note 004: above 3× the initial loss,
    #                     the learning rate is too high

    def __post_init__(self):
        if self.optimizer == "gd" and self.batch_size != 0:
            # Gradient descent proper: one step per epoch on the whole set.
            object.__setattr__(self, "batch_size", 0)
        if self.batch_size < 0:
            raise ValueError(
                "batch_size must be >= 0 (0 = whole set). "
                f"Received: batch_size={self.batch_size}"
            )
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1. Received: {self.epochs}")
        for name in ("collective_timeout", "startup_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 seconds. Received: "
                                 f"{name}={getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ValueError(
                f"learning_rate must be > 0. Received: {self.learning_rate}"
            )
        if not self.loss_guard_factor > 1:
            raise ValueError(
                "loss_guard_factor must be > 1. Received: "
                f"loss_guard_factor={self.loss_guard_factor}")
        for name, value, choices in (
            ("strategy", self.strategy, STRATEGIES),
            ("loop", self.loop, LOOPS),
            ("loss_guard", self.loss_guard, LOSS_GUARDS),
            ("dataset", self.dataset, tfnn_data.DATASETS),
            ("preprocessing", self.preprocessing, tfnn_data.PREPROCESSING),
        ):
            if value not in choices:
                raise ValueError(
                    f"Unknown {name} {value!r}; choose from {list(choices)}"
                )
        check_kwargs("optimizer", self.optimizer, self.optimizer_kwargs,
                     tfnn_optimizers.arguments(self.optimizer))
        check_kwargs("schedule", self.schedule, self.schedule_kwargs,
                     tfnn_schedules.arguments(self.schedule))

    def replace(self, **changes) -> TrainConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        return dataclass_from_dict(cls, d)


def check_kwargs(kind: str, name: str, kwargs, valid) -> None:
    """``kwargs`` (``optimizer_kwargs``, ``schedule_kwargs``) is a mapping
    of arguments that the ``kind`` ``name`` takes (``valid``, read from
    its factory's signature), so a typo fails before any data is loaded.

    Raises:
        ValueError: naming the unknown arguments and the valid ones.
    """
    field_name = f"{kind}_kwargs"
    if not isinstance(kwargs, dict):
        raise ValueError(
            f"{field_name} must be a mapping of argument names to values. "
            f"Received: {field_name}={kwargs!r}")
    unknown = sorted(map(str, set(kwargs) - set(valid)))
    if unknown:
        takes = (f"its arguments are {list(valid)}" if valid
                 else "it takes none")
        rate = ("; the learning rate is the learning_rate field"
                if "learning_rate" in unknown else "")
        raise ValueError(
            f"{field_name}: {kind} {name!r} takes no argument "
            f"{', '.join(map(repr, unknown))}; {takes}{rate}")
