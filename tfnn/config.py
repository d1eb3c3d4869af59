"""Model configuration: one typed value that describes a model fully.

A :class:`ModelConfig` round-trips through a dict and JSON, so experiments,
the CLI (``tfnn train --config model.json``) and exported metadata share it.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

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


def dataclass_from_dict(cls, d: dict[str, Any], where: str | None = None):
    """``cls(**d)`` after :func:`check_fields`: unknown keys and values of
    the wrong type are a ValueError naming the key (``where`` says where
    the dict came from, e.g. a config file's section)."""
    check_fields(cls, d, where)
    return cls(**d)


def check_fields(cls, d, where: str | None = None) -> None:
    """Check the mapping ``d`` against the dataclass ``cls``'s fields and
    type hints: every key a field, every value of the field's type.

    The schema is the type hints themselves, so a new field is checked
    with no change here: ``int`` takes an int (not a bool), ``float`` an
    int or a float, ``str`` a string, ``tuple[int, ...]`` a list of ints,
    ``dict[str, Any]`` a mapping with string keys, ``X | None`` also null.

    Raises:
        ValueError: one line naming ``where`` (defaults to the class's
            name), the key, the expected type and the received value.
    """
    where = where or cls.__name__
    if not isinstance(d, dict):
        raise ValueError(
            f"{where}: must be a mapping of {cls.__name__} fields. "
            f"Received: {_shown(d)}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    for key, value in d.items():
        if key not in known:
            near = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(
                f"{where}: unknown key {key!r}{hint}; valid fields of "
                f"{cls.__name__} are {sorted(known)}")
        if not _is_instance(value, hints[key]):
            raise ValueError(
                f"{where}: {key!r} must be {_type_name(hints[key])}. "
                f"Received: {key}={_shown(value)}"
                f"{_quoted_hint(value, hints[key])}")


def _is_instance(value, hint) -> bool:
    """Whether ``value`` (as JSON/YAML gives it) fits the type ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_is_instance(value, a) for a in args)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return (isinstance(value, (int, float))
                and not isinstance(value, bool))
    if origin in (tuple, list):
        item = args[0] if args else Any
        return (isinstance(value, (list, tuple))
                and all(_is_instance(v, item) for v in value))
    if origin is dict or hint is dict:
        key, item = args if args else (Any, Any)
        return isinstance(value, dict) and all(
            _is_instance(k, key) and _is_instance(v, item)
            for k, v in value.items())
    return isinstance(value, origin or hint)


def _type_name(hint) -> str:
    """``hint`` as a config file's author reads it: 'an int', 'a list of
    int', 'a mapping', 'a string or null' …"""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin in (tuple, list):
        return f"a list of {_type_name(args[0]).split(' ', 1)[-1]}"
    if origin is dict or hint is dict:
        return "a mapping (a JSON object)"
    names = {bool: "true or false", int: "an int", float: "a number",
             str: "a string", type(None): "null"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _shown(value) -> str:
    """``value`` and its type, short: ``'abc' (str)``."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _quoted_hint(value, hint) -> str:
    """For a number written as a string: how to write it as a number."""
    expected = _type_name(hint)
    if not isinstance(value, str) or not ("an int" in expected
                                          or "a number" in expected):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    yaml = (" (YAML reads 1e-3 as a string: write 1.0e-3)"
            if "e" in value.lower() and "." not in value else "")
    return f"; write the number without quotes{yaml}"


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(
            f"Unknown {name} {value!r}; choose from {list(choices)}"
        )


def load_config_file(path: str, schema: dict[str, type] | None = None
                     ) -> dict[str, Any]:
    """Read a JSON or YAML file (YAML by extension) into a dict.

    Args:
        path: the file.
        schema: section name -> dataclass, e.g. ``{"model": ModelConfig,
            "train": TrainConfig}``. When given, the file must be a mapping
            of these sections only, each checked by :func:`check_fields`.

    Raises:
        ValueError: one line naming the file and what is wrong with it
            (unreadable, not JSON/YAML, an unknown section or key, a value
            of the wrong type).
    """
    try:
        with open(path) as fh:
            text = fh.read()
        if str(path).endswith((".yaml", ".yml")):
            import yaml

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as err:
                raise ValueError(
                    f"not valid YAML: {' '.join(str(err).split())}") from err
        else:
            data = json.loads(text)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{path}: config file not found") from err
    except (OSError, ValueError) as err:  # JSON / Unicode errors too
        reason = getattr(err, "strerror", None) or str(err)
        if isinstance(err, json.JSONDecodeError):
            reason = f"not valid JSON: {err}"
        raise ValueError(f"{path}: {reason}") from err
    if data is None:  # an empty file: every default
        data = {}
    if schema is not None:
        check_sections(data, schema, path)
    return data


def check_sections(data, schema: dict[str, type], where: str) -> None:
    """``data`` is a mapping of ``schema``'s sections, each a mapping of
    its dataclass's fields (:func:`check_fields`); else a ValueError
    naming ``where``."""
    if not isinstance(data, dict):
        raise ValueError(
            f"{where}: a config file is a mapping with the sections "
            f"{sorted(schema)}. Received: {_shown(data)}")
    for name, section in data.items():
        if name not in schema:
            near = difflib.get_close_matches(str(name), list(schema), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(
                f"{where}: unknown section {name!r}{hint}; valid sections "
                f"are {sorted(schema)}")
        check_fields(schema[name], section, f"{where}: section {name!r}")
