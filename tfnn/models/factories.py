"""Model factories: the notes' MLPs and a small CNN, built from registry keys.

A hidden block follows the notes' order (002, 003, 004)::

    Linear → BatchNorm → activation → Dropout (bn_placement="before_activation")
    Linear → activation → BatchNorm → Dropout (bn_placement="after_activation")

The Linear layer before BatchNorm has no bias: BN subtracts the batch mean,
which cancels any bias, and β takes its place. BatchNorm normalizes per
feature after a Dense layer and per channel (over batch, height and width)
after a convolution (note 004), with tfnn's
:class:`~tfnn.nn.batch_norm.BatchNormalization` (Keras's layer, one fused
kernel for images in training).

A CNN block halves the image with a 2×2 max-pool after its convolutions
(``downsample="pool"``, the notes' convnet) or with a stride of 2 in its
last convolution (``"stride"``: that convolution computes 4× fewer
outputs, the speedrun's recipe).

``maxout`` with k pieces makes the Linear layer k times wider (k·units
outputs → units), so it carries k times the parameters. ``crelu`` doubles
the width of its output; the next layer's fan-in follows.

The output layer takes the hidden layers' initializer unless
``output_initializer`` names its own. Note 004's first check wants the
initial loss ≈ ln C: every class near 1/C, so the logits near 0. A hidden
scheme such as He (σ² = 2/fan_in, the 2 making up for the ReLU that halves
the signal) gives logits of unit scale instead, confident guesses and a
loss well above ln C; a small output layer (``small_normal``) keeps the
logits near 0 while its random weights still break the symmetry of the
hidden units' gradients.

Outputs: ``logits`` (default; trained with softmax cross-entropy on logits,
note 002), ``softmax`` (probabilities), or note 000's ``sigmoid`` (the
PyTorch model ``Linear → Sigmoid`` trained with CrossEntropyLoss, which
treats the sigmoid scores as logits).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras

from tfnn.config import ModelConfig
from tfnn.nn import activations, initializers
from tfnn.nn import batch_norm as tfnn_batch_norm
from tfnn.nn import dropout as tfnn_dropout


def _activation(spec, kwargs: dict[str, Any] | None, name: str):
    """A fresh activation layer per use (``prelu`` keeps its own α)."""
    if isinstance(spec, str):
        return activations.get(spec, name=name, **(kwargs or {}))
    if isinstance(spec, keras.layers.Layer):
        config = {**spec.get_config(), "name": name}
        return type(spec).from_config(config)
    if callable(spec):
        return keras.layers.Activation(spec, name=name)
    raise ValueError(
        "`activation` must be a key of tfnn.nn.activations.names(), a Keras "
        f"layer or a callable. Received: activation={spec!r}"
    )


def _initializer(spec, kwargs: dict[str, Any] | None, index: int):
    """A fresh initializer per layer; a given seed becomes seed + index so
    layers differ from each other and the model is reproducible."""
    kwargs = dict(kwargs or {})
    if isinstance(spec, str):
        if kwargs.get("seed") is not None:
            kwargs["seed"] = int(kwargs["seed"]) + index
        return initializers.get(spec, **kwargs)
    if isinstance(spec, keras.initializers.Initializer):
        return keras.initializers.deserialize(
            keras.initializers.serialize(spec)
        )
    raise ValueError(
        "`initializer` must be a key of tfnn.nn.initializers.names() or a "
        f"Keras initializer. Received: initializer={spec!r}"
    )


def _regularizer(reg: float):
    return keras.regularizers.L2(reg) if reg > 0 else None


class _Blocks:
    """Appends the notes' hidden blocks to a list of layers."""

    def __init__(self, cfg: ModelConfig, activation, initializer):
        self.cfg = cfg
        self.activation = activation
        self.initializer = initializer
        self.index = 0

    def output_initializer(self):
        """The output layer's initializer: ``cfg.output_initializer``
        (seeded with the hidden seed + the layer's index, except ``zeros``,
        which draws nothing), or the hidden layers' when that is None."""
        cfg = self.cfg
        if cfg.output_initializer is None:
            return _initializer(self.initializer, cfg.initializer_kwargs,
                                self.index)
        seed = cfg.initializer_kwargs.get("seed")
        kwargs = ({} if seed is None or cfg.output_initializer == "zeros"
                  else {"seed": int(seed)})
        return _initializer(cfg.output_initializer, kwargs, self.index)

    def _bn(self, i, axis=-1):
        return tfnn_batch_norm.BatchNormalization(
            axis=axis,
            momentum=self.cfg.bn_momentum,
            epsilon=self.cfg.bn_epsilon,
            name=f"bn_{i}",
        )

    def block(self, make_linear, units: int, act_kwargs=None):
        """Linear → [BN] → act (or Linear → act → [BN]), returns layers."""
        cfg, i = self.cfg, self.index
        self.index += 1
        act = _activation(
            self.activation,
            {**cfg.activation_kwargs, **(act_kwargs or {})}
            if isinstance(self.activation, str)
            else None,
            name=f"act_{i}",
        )
        bn_first = cfg.batch_norm and cfg.bn_placement == "before_activation"
        linear = make_linear(
            units * activations.input_multiplier(act),
            use_bias=not bn_first,
            kernel_initializer=_initializer(
                self.initializer, cfg.initializer_kwargs, i
            ),
            kernel_regularizer=_regularizer(cfg.reg),
            name=f"linear_{i}",
        )
        layers = [linear]
        if bn_first:
            layers += [self._bn(i), act]
        elif cfg.batch_norm:
            layers += [act, self._bn(i)]
        else:
            layers += [act]
        return layers

    def head(self, layers):
        """Dense hidden blocks with dropout, then the output layer."""
        cfg = self.cfg
        for units in cfg.hidden:
            layers += self.block(keras.layers.Dense, units)
            if cfg.dropout > 0:
                layers.append(
                    tfnn_dropout.Dropout(
                        cfg.dropout, name=f"dropout_{self.index - 1}"
                    )
                )
        layers.append(
            keras.layers.Dense(
                cfg.num_classes,
                kernel_initializer=self.output_initializer(),
                kernel_regularizer=_regularizer(cfg.reg),
                # float32 even under mixed precision: the loss needs it.
                dtype="float32",
                name="logits",
            )
        )
        if cfg.output == "softmax":
            layers.append(keras.layers.Softmax(name="probabilities",
                                               dtype="float32"))
        elif cfg.output == "sigmoid":
            layers.append(keras.layers.Activation("sigmoid", name="sigmoid",
                                                  dtype="float32"))
        return layers


def build_model(
    config: ModelConfig, activation=None, initializer=None, name=None
) -> keras.Model:
    """Build the model ``config`` describes.

    Args:
        config: a :class:`~tfnn.config.ModelConfig`.
        activation: overrides ``config.activation`` with an object (a Keras
            layer, copied per hidden layer, or a callable). Optional.
        initializer: overrides ``config.initializer`` with a Keras
            initializer object. Optional.
        name: the model's name. Defaults to ``config.arch``.

    Returns:
        A ``keras.Sequential`` taking ``config.input_shape`` images.
    """
    act = activation if activation is not None else config.activation
    init = initializer if initializer is not None else config.initializer
    blocks = _Blocks(config, act, init)
    layers = [keras.Input(shape=config.input_shape, name="images")]
    side = int(round(math.sqrt(math.prod(config.input_shape))))
    if config.augments:
        layers.append(keras.layers.Reshape((side, side, 1), name="to_nhwc"))
        layers += augmentation_layers(config)
    if config.arch == "mlp":
        layers.append(keras.layers.Flatten(name="flatten"))
        if config.input_dropout > 0:
            layers.append(
                tfnn_dropout.Dropout(config.input_dropout, name="dropout_in")
            )
    else:
        if not config.augments:
            layers.append(
                keras.layers.Reshape((side, side, 1), name="to_nhwc"))
        if config.input_dropout > 0:
            layers.append(
                tfnn_dropout.Dropout(config.input_dropout, name="dropout_in")
            )
        stride = config.downsample == "stride"
        for filters in config.filters:
            # PReLU after a convolution shares α across space by default.
            shared = (
                {"shared_axes": [1, 2]}
                if act == "prelu"
                and "shared_axes" not in config.activation_kwargs
                else None
            )
            for j in range(config.convs_per_block):
                last = j == config.convs_per_block - 1
                layers += blocks.block(
                    _conv(config.kernel_size, 2 if stride and last else 1),
                    filters, act_kwargs=shared)
            if not stride:
                layers.append(keras.layers.MaxPooling2D(
                    2, name=f"pool_{blocks.index - 1}"))
        layers.append(keras.layers.Flatten(name="flatten"))
    layers = blocks.head(layers)
    return keras.Sequential(layers, name=name or config.arch)


def _conv(kernel_size: int, strides: int):
    """A ``make_linear`` for :meth:`_Blocks.block`: a same-padded
    ``kernel_size``² convolution (``strides`` 2 halves the image)."""

    def conv(units, **kw):
        return keras.layers.Conv2D(units, kernel_size, strides=strides,
                                   padding="same", **kw)

    return conv


def augmentation_layers(config: ModelConfig) -> list:
    """Random shifts and rotations of the training images (note 003's
    assignment: more data for free). Keras's random image layers transform
    in training only; at inference (and in an export) they pass the images
    through. Uncovered pixels repeat the nearest edge pixel, the background
    whatever the preprocessing made of it."""
    seed = config.initializer_kwargs.get("seed")
    layers = []
    if config.augment_shift > 0:
        layers.append(keras.layers.RandomTranslation(
            config.augment_shift, config.augment_shift, fill_mode="nearest",
            seed=seed, name="random_shift"))
    if config.augment_rotation > 0:
        layers.append(keras.layers.RandomRotation(
            config.augment_rotation / 360.0, fill_mode="nearest",
            seed=None if seed is None else seed + 1, name="random_rotation"))
    return layers


def build_mlp(
    hidden: Sequence[int] = (256, 256),
    activation="relu",
    initializer="he_normal",
    **kwargs,
) -> keras.Model:
    """An MLP: ``Flatten → [Linear → BN → act → Dropout] × n → Linear``.

    Args:
        hidden: hidden layer widths, e.g. note 000's ``(64,)`` or
            ``(128, 64)``. Defaults to ``(256, 256)``.
        activation: a key of ``tfnn.nn.activations.names()`` or a layer.
        initializer: a key of ``tfnn.nn.initializers.names()`` or an
            object: the hidden layers' (and the output layer's unless
            ``output_initializer`` is given).
        **kwargs: any other :class:`~tfnn.config.ModelConfig` field
            (``batch_norm``, ``dropout``, ``reg``, ``output``,
            ``output_initializer`` …).
    """
    return _build("mlp", hidden, activation, initializer, kwargs)


def build_cnn(
    filters: Sequence[int] = (32, 64),
    hidden: Sequence[int] = (128,),
    activation="relu",
    initializer="he_normal",
    **kwargs,
) -> keras.Model:
    """A small CNN: ``[Conv3×3 → BN(per channel) → act → MaxPool] × n →
    Flatten → [Dense → BN → act → Dropout] × m → Linear``.

    Args:
        filters: channels of each conv block. Defaults to ``(32, 64)``.
        hidden: widths of the dense head. Defaults to ``(128,)``.
        activation, initializer, **kwargs: as in :func:`build_mlp`.
    """
    kwargs["filters"] = tuple(filters)
    return _build("cnn", hidden, activation, initializer, kwargs)


def _build(arch, hidden, activation, initializer, kwargs):
    act_obj = None if isinstance(activation, str) else activation
    init_obj = None if isinstance(initializer, str) else initializer
    config = ModelConfig(
        arch=arch,
        hidden=tuple(hidden),
        activation=activation if act_obj is None else "custom",
        initializer=initializer if init_obj is None else "custom",
        **kwargs,
    )
    return build_model(config, activation=act_obj, initializer=init_obj)
