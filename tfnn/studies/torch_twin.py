"""PyTorch twins of tfnn's models, for the comparisons of the benchmark
and the speedrun: the same layers from the same config. PyTorch is an
optional extra, imported when a twin is built; nothing here imports
TensorFlow (a PyTorch process stays free of it)."""

from __future__ import annotations

import math


def torch_model(model: dict):
    """A ``ModelConfig``'s fields (``config.to_dict()``, or a recipe's
    ``model`` dict) as a PyTorch ``nn.Sequential``: NCHW convolutions
    padded to keep Keras's "same" sizes, Linear/Conv → BN → ReLU →
    dropout blocks with Keras's BN momentum (PyTorch's ``1 − m``) and ε,
    He-normal weights and zero biases, the output layer ``small_normal``
    (0.01·N(0, 1)) when the config says so. Supports what the benchmark
    and the speedrun train (ReLU, BN before the activation, pool or stride
    downsampling); anything else raises ``ValueError``."""
    from torch import nn

    unsupported = {k: model[k] for k, ok in (
        ("activation", "relu"), ("bn_placement", "before_activation"),
        ("convs_per_block", 1), ("input_dropout", 0.0), ("reg", 0.0),
        ("augment_shift", 0.0), ("augment_rotation", 0.0),
        ("output", "logits")) if model.get(k, ok) != ok}
    if unsupported:
        raise ValueError(f"no PyTorch twin for {unsupported}")
    drop = model.get("dropout", 0.0)
    momentum = 1.0 - model.get("bn_momentum", 0.99)
    eps = model.get("bn_epsilon", 1e-3)
    bn = model.get("batch_norm", False)
    layers, c_in = [], 1
    if model["arch"] == "cnn":
        layers.append(nn.Unflatten(1, (1, 28)))
        side = 28
        k = model.get("kernel_size", 3)
        stride = model.get("downsample", "pool") == "stride"
        for c_out in model.get("filters", (32, 64)):
            layers += [nn.Conv2d(c_in, c_out, k, stride=2 if stride else 1,
                                 padding=k // 2, bias=not bn)]
            layers += [nn.BatchNorm2d(c_out, eps=eps, momentum=momentum)
                       ] if bn else []
            layers += [nn.ReLU()] + ([] if stride else [nn.MaxPool2d(2)])
            c_in, side = c_out, math.ceil(side / 2)
        width = c_in * side * side
    else:
        width = 784
    layers.append(nn.Flatten())
    for units in model.get("hidden", ()):
        layers.append(nn.Linear(width, units, bias=not bn))
        layers += [nn.BatchNorm1d(units, eps=eps, momentum=momentum)
                   ] if bn else []
        layers.append(nn.ReLU())
        layers += [nn.Dropout(drop)] if drop else []
        width = units
    out = nn.Linear(width, 10)
    net = nn.Sequential(*layers, out)
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    if model.get("output_initializer") == "small_normal":
        nn.init.normal_(out.weight, std=0.01)
    return net
