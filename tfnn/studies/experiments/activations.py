"""Experiment 1: the activation functions of the notes and their derivatives.

Note 003 (and 000, 004): sigmoid squashes to (0, 1) and saturates; tanh is
zero-centred but still saturates; ReLU's derivative is exactly 1 for every
x > 0. Ours, not the notes': sigmoid's derivative σ(x)(1 − σ(x)) is at most
0.25 (at x = 0) and vanishes for |x| ≳ 5. Each curve comes from the
Keras layer the registry builds, and the derivative from autodiff
(``tf.GradientTape``), so the figure shows what training uses.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfnn.nn import activations
from tfnn.studies.figures import figure

TITLE = "Activation functions and their derivatives"
CLAIM = ("Sigmoid and tanh saturate: their gradients vanish for large |x|; "
         "ReLU passes a gradient of 1 for all x > 0 (notes 000, 003, 004). "
         "The bound \"sigmoid's derivative never exceeds 0.25\" is ours, from "
         "σ'(x) = σ(x)(1 − σ(x)); no note states it.")
KEYS = ("sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "softplus",
        "softsign", "relu6", "relu_x", "linear")
QUICK = {"keys": list(KEYS), "x_min": -6.0, "x_max": 6.0, "points": 241,
         "leaky_alpha": 0.1}
FULL = dict(QUICK, points=1201)


def run(config):
    x = np.linspace(config["x_min"], config["x_max"], config["points"],
                    dtype="float32")
    curves = {}
    for key in config["keys"]:
        kwargs = {"alpha": config["leaky_alpha"]} if key == "leaky_relu" else {}
        layer = activations.get(key, **kwargs)
        xv = tf.Variable(x[None, :])
        with tf.GradientTape() as tape:
            y = layer(xv)
            total = tf.reduce_sum(y)
        dy = tape.gradient(total, xv)
        curves[key] = {"y": y.numpy()[0], "dy": dy.numpy()[0]}
    saturated = {  # share of the grid where the gradient is below 1 %
        key: float(np.mean(np.abs(c["dy"]) < 0.01)) for key, c in curves.items()
    }
    return {
        "x": x,
        "curves": curves,
        "max_derivative": {k: float(np.max(c["dy"])) for k, c in
                           curves.items()},
        "saturated_fraction": saturated,
    }


FAMILIES = {
    "saturating": ("sigmoid", "tanh", "softsign", "linear"),
    "ReLU family": ("relu", "leaky_relu", "prelu", "elu", "softplus"),
    "capped ReLUs": ("relu6", "relu_x"),
}


def plot(result):
    curves = result["curves"]
    fig, axes = figure(ncols=2, nrows=len(FAMILIES), width=5.0, height=2.8,
                       title=TITLE)
    x = np.asarray(result["x"])
    for row, (family, keys) in enumerate(FAMILIES.items()):
        for key in keys:
            if key in curves:
                axes[row, 0].plot(x, np.asarray(curves[key]["y"]), label=key)
                axes[row, 1].plot(x, np.asarray(curves[key]["dy"]),
                                  label=key)
        axes[row, 0].set(ylabel="f(x)", title=f"{family}: f(x)")
        axes[row, 1].set(ylabel="f'(x)", title=f"{family}: f'(x) (autodiff)",
                         ylim=(-0.1, 1.15))
        axes[row, 0].legend(fontsize=7)
        for ax in axes[row]:
            ax.set_xlabel("x")
            ax.grid(alpha=0.3)
    return fig


def summarize(result):
    m, s = result["max_derivative"], result["saturated_fraction"]
    held = m["sigmoid"] <= 0.25 + 1e-6 and m["relu"] == 1.0
    return (
        f"Sigmoid's largest derivative on the grid is {m['sigmoid']:.4f} "
        f"(the formula's bound is 0.25) and tanh's {m['tanh']:.4f}; "
        f"on x ∈ [{result['x'][0]:g}, {result['x'][-1]:g}] sigmoid's "
        f"gradient is below 0.01 on {100 * s['sigmoid']:.0f} % of the grid, "
        f"tanh's on {100 * s['tanh']:.0f} %, ReLU's only where x ≤ 0 "
        f"({100 * s['relu']:.0f} %), where it is exactly 0 (dead units). "
        f"Claim {'holds' if held else 'does NOT hold'}."
    )
