"""Model configuration: one typed value that describes a model fully.

A :class:`ModelConfig` round-trips through a dict and JSON, so experiments,
the CLI (``tfnn train --config model.json``) and exported metadata share it;
:mod:`tfnn.config_files` reads and checks the files.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from tfnn.config_files import dataclass_from_dict

ARCHS = ("mlp", "cnn")
OUTPUTS = ("logits", "softmax", "sigmoid")
BN_PLACEMENTS = ("before_activation", "after_activation")
# How a CNN block halves the image: a 2×2 max-pool after its convolutions,
# or its last convolution with stride 2 (4× fewer multiply-adds there).
DOWNSAMPLING = ("pool", "stride")


@dataclass(frozen=True)
class ModelConfig:
    """Everything :func:`tfnn.models.build_model` needs.

    Defaults give the MLP that ``tfnn train`` trains with no flags.
    """

    arch: str = "mlp"  # "mlp" or "cnn"
    hidden: tuple[int, ...] = (256, 256)  # MLP hidden widths / CNN head
    filters: tuple[int, ...] = (32, 64)  # CNN: conv blocks' channels
    kernel_size: int = 3  # CNN: conv kernel side
    convs_per_block: int = 1  # CNN: Conv → BN → act repeated before a pool
    downsample: str = "pool"  # CNN: "pool" (MaxPool 2×2) or "stride" (2)
    activation: str = "relu"  # a key of tfnn.nn.activations.names()
    activation_kwargs: dict[str, Any] = field(default_factory=dict)
    # The hidden layers' initializer (a key of tfnn.nn.initializers.names())
    # and its arguments; the output layer's too unless output_initializer
    # names another (then it gets only the seed, seed + layer index).
    initializer: str = "he_normal"
    initializer_kwargs: dict[str, Any] = field(default_factory=dict)
    output_initializer: str | None = None  # None: as the hidden layers
    batch_norm: bool = False  # BatchNorm after every hidden linear layer
    bn_placement: str = "before_activation"  # notes: Linear → BN → act
    bn_momentum: float = 0.99  # Keras: fraction of the old average kept
    bn_epsilon: float = 1e-3  # ε in (x − μ_B) / sqrt(σ²_B + ε)
    dropout: float = 0.0  # rate of dropping a hidden unit (torch's p)
    input_dropout: float = 0.0  # rate of dropping an input pixel
    reg: float = 0.0  # L2: loss += reg · Σ W² over kernels (note 004)
    # Data augmentation, in training only (inference passes images through):
    augment_shift: float = 0.0  # random shift, a fraction of the side
    augment_rotation: float = 0.0  # random rotation, up to ± degrees
    output: str = "logits"  # "logits", "softmax" or note 000's "sigmoid"
    input_shape: tuple[int, ...] = (28, 28)
    num_classes: int = 10

    def __post_init__(self):
        # JSON gives lists; keep tuples so configs compare and hash alike.
        for name in ("hidden", "filters", "input_shape"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        _check_choice("arch", self.arch, ARCHS)
        _check_choice("output", self.output, OUTPUTS)
        _check_choice("bn_placement", self.bn_placement, BN_PLACEMENTS)
        _check_choice("downsample", self.downsample, DOWNSAMPLING)
        for name in ("dropout", "input_dropout"):
            rate = getattr(self, name)
            if not 0.0 <= rate < 1.0:
                raise ValueError(
                    f"`{name}` is a drop probability in [0, 1). "
                    f"Received: {name}={rate}"
                )
        if not 0.0 <= self.augment_shift < 0.5:
            raise ValueError(
                "`augment_shift` is a fraction of the image side in "
                f"[0, 0.5). Received: augment_shift={self.augment_shift}")
        if not 0.0 <= self.augment_rotation <= 180.0:
            raise ValueError(
                "`augment_rotation` is in degrees, [0, 180]. Received: "
                f"augment_rotation={self.augment_rotation}")
        if self.convs_per_block < 1:
            raise ValueError(
                "`convs_per_block` must be >= 1. Received: "
                f"convs_per_block={self.convs_per_block}")
        if self.reg < 0:
            raise ValueError(f"`reg` must be >= 0. Received: reg={self.reg}")
        if not 0.0 <= self.bn_momentum <= 1.0:
            raise ValueError(
                "`bn_momentum` must be in [0, 1]. "
                f"Received: bn_momentum={self.bn_momentum}"
            )
        if any(w < 1 for w in self.hidden + self.filters):
            raise ValueError(
                "Layer widths must be positive. Received: "
                f"hidden={self.hidden}, filters={self.filters}"
            )

    @property
    def augments(self) -> bool:
        """Whether the model augments its training images."""
        return self.augment_shift > 0 or self.augment_rotation > 0

    @property
    def loss_from_logits(self) -> bool:
        """Whether the model's output is fed to softmax cross-entropy as
        logits. True for ``logits`` and for note 000's ``sigmoid`` output
        (PyTorch's CrossEntropyLoss after nn.Sigmoid treats the sigmoid
        scores as logits); False for ``softmax`` probabilities."""
        return self.output != "softmax"

    def replace(self, **changes) -> ModelConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for name in ("hidden", "filters", "input_shape"):
            d[name] = list(d[name])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        return dataclass_from_dict(cls, d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        return cls.from_dict(json.loads(text))


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(
            f"Unknown {name} {value!r}; choose from {list(choices)}"
        )
