"""What the benchmark trains, shared by all its parts: its models (sizes
and the tfnn ``ModelConfig``), their training FLOPs per example, and
:class:`TrainingPath`, one way to train them (tfnn's, Keras fit's,
PyTorch's …)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tfnn.config import ModelConfig

# The training paths, in the reports' order: tfnn's default (the fast
# path), the prototype technique (a minimal Keras model and one whole-epoch
# XLA function, no tfnn code: MLPs only), the readable loop, Keras fit,
# PyTorch.
PATHS = ("tfnn", "prototype", "readable", "fit", "torch")
# The benchmark's models: the MLP, the MLP with BatchNorm and dropout (the
# recommended recipe's layers) and the CNN.
ARCHS = ("mlp", "mlp_bn_dropout", "cnn")
BN_DROPOUT = 0.2

MLP_HIDDEN = (256, 256)
CNN_FILTERS = (32, 64)
CNN_HIDDEN = (128,)


def tfnn_config(arch: str, seed: int = 0) -> ModelConfig:
    """The benchmark's MLP (784-256-256-10), the same MLP with Linear → BN
    → ReLU → dropout 0.2 blocks ("mlp_bn_dropout") or CNN (32/64 conv,
    dense 128), He-normal init seeded with ``seed``."""
    mlp = arch.startswith("mlp")
    extra = ({"batch_norm": True, "dropout": BN_DROPOUT}
             if arch == "mlp_bn_dropout" else {})
    return ModelConfig(arch="mlp" if mlp else arch,
                       hidden=MLP_HIDDEN if mlp else CNN_HIDDEN,
                       filters=CNN_FILTERS, initializer="he_normal",
                       initializer_kwargs={"seed": seed}, **extra)


def mlp_flops_per_example(hidden=MLP_HIDDEN, inputs=784, classes=10):
    """Training FLOPs per example: 6 × multiply-adds of the dense layers
    (forward 2 FLOPs per multiply-add, backward twice the forward)."""
    sizes = (inputs, *hidden, classes)
    return 6 * sum(a * b for a, b in zip(sizes, sizes[1:]))


def cnn_flops_per_example(filters=CNN_FILTERS, hidden=CNN_HIDDEN, side=28,
                          k=3, classes=10):
    """Training FLOPs per example of the benchmark CNN (same-padded 3×3
    convs, 2×2 max-pool after each), 6 × multiply-adds."""
    macs, c_in = 0, 1
    for c_out in filters:
        macs += side * side * k * k * c_in * c_out
        side //= 2
        c_in = c_out
    sizes = (side * side * c_in, *hidden, classes)
    macs += sum(a * b for a, b in zip(sizes, sizes[1:]))
    return 6 * macs


@dataclass
class TrainingPath:
    """One way to train: ``epoch(e)`` trains an epoch, ``accuracy()`` tests;
    ``examples``: the examples an epoch trains (None: the whole training
    set; a path that drops the last partial batch trains fewer)."""

    name: str
    epoch: Callable[[int], None]
    accuracy: Callable[[], float]
    examples: int | None = None
    seconds: list[float] = field(default_factory=list)
    rss_growth_mb: float = 0.0
