"""Experiment 2: activation statistics layer by layer (note 004, CS231n 6).

Note 004 repeats CS231n's experiment: a stack of 10 fully connected layers of
500 units, no biases, fed standard-normal inputs (1000 × 500)::

    h_0 = x,  x_ij ~ N(0, 1)
    h_l = f(h_{l−1} W_l),  W_l ∈ R^{500×500},  l = 1 … 10

and looks at each layer's histogram of ``h_l``. With tanh:

* ``small_normal`` (W = 0.01·N): ``Var(h_l) ≈ 500·10⁻⁴·Var(h_{l−1}) =
  0.05·Var(h_{l−1})``: the std shrinks ~4.5× per layer and every activation
  collapses to 0 (gradients w.r.t. W vanish with it);
* ``unit_normal`` (W = 1.0·N): pre-activations have std ≈ sqrt(500) ≈ 22,
  tanh saturates and the histogram piles up at ±1 (local gradient ≈ 0);
* ``xavier`` (σ = sqrt(2/(fan_in+fan_out)) = sqrt(1/500) here): the
  pre-activation variance stays ≈ the previous activation variance, a
  well-spread bell in every layer (it still shrinks slowly: tanh is
  contractive).

With ReLU, half of each layer is zeroed, so Xavier's variance halves every
layer (``Var(h_l) ≈ ½·Var(h_{l−1})``) while He's ``σ = sqrt(2/fan_in)``
restores the factor 2 and keeps the scale.

The layers are Keras ``Dense(use_bias=False)`` layers with kernels from
``tfnn.nn.initializers``; no training is involved. The same five settings run on
the 5 × 100 variant (5 layers of 100 units, inputs 1000 × 100) for
comparison.
"""

from __future__ import annotations

import keras
import numpy as np
from matplotlib.colors import LogNorm

from tfnn.nn import activations, initializers
from tfnn.studies.figures import figure
from tfnn.studies.measures import ratio

TITLE = "Activation histograms per layer (10 × 500, tanh and ReLU)"
CLAIM = ("Note 004 (CS231n lecture 6): with tanh, 0.01·N weights make the "
         "activations collapse to 0 with depth and 1.0·N weights saturate "
         "them at ±1, while Xavier keeps a spread distribution in all 10 "
         "layers; with ReLU, Xavier's activations shrink layer by layer and "
         "He initialization keeps them.")

# name -> (activation, initializer key)
SETTINGS = {
    "tanh_small_normal": ("tanh", "small_normal"),
    "tanh_unit_normal": ("tanh", "unit_normal"),
    "tanh_xavier": ("tanh", "xavier_normal"),
    "relu_xavier": ("relu", "xavier_normal"),
    "relu_he": ("relu", "he_normal"),
}
QUICK = {
    "settings": list(SETTINGS),
    "architectures": {"10x500": [10, 500], "5x100": [5, 100]},
    "n_samples": 1000,
    "bins": 60,
    "seed": 0,
}
FULL = dict(QUICK, bins=80)

SATURATION = 0.95  # |a| above this counts as saturated (tanh)


def _bin_edges(activation, bins):
    """Fixed bins per activation so histograms of layers compare."""
    if activation == "tanh":
        return np.linspace(-1.0, 1.0, bins + 1)
    return None  # ReLU: set from the first layer's spread


def forward(activation, initializer, depth, width, n_samples, seed):
    """Activations of every layer of the no-bias stack, as float64 arrays.

    Args:
        activation: ``"tanh"`` or ``"relu"``.
        initializer: a key of ``tfnn.nn.initializers.names()``.
        depth, width: number of layers and units per layer.
        n_samples: rows of the standard-normal input.
        seed: seeds the input and (``seed + l``) the layer ``l``'s kernel.

    Returns:
        A list of ``depth`` arrays of shape ``(n_samples, width)``.
    """
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n_samples, width)).astype("float32")
    act = activations.get(activation)  # a Keras layer
    outputs = []
    for layer_index in range(depth):
        dense = keras.layers.Dense(
            width, use_bias=False,
            kernel_initializer=initializers.get(initializer,
                                                seed=seed + 1 + layer_index),
        )
        h = act(dense(h))  # (n_samples, width)
        outputs.append(np.asarray(h, dtype="float64"))
    return outputs


def run(config):
    bins = int(config["bins"])
    results = {}
    for arch, (depth, width) in config["architectures"].items():
        per_setting = {}
        for name in config["settings"]:
            activation, init = SETTINGS[name]
            acts = forward(activation, init, int(depth), int(width),
                           int(config["n_samples"]), int(config["seed"]))
            edges = _bin_edges(activation, bins)
            if edges is None:
                top = float(np.quantile(acts[0], 0.995))
                edges = np.linspace(0.0, top, bins + 1)
            counts = []
            for a in acts:
                # clip so nothing falls outside the fixed range
                c, _ = np.histogram(np.clip(a, edges[0], edges[-1]), edges)
                counts.append(c / a.size)
            mean = [float(a.mean()) for a in acts]
            std = [float(a.std()) for a in acts]
            per_setting[name] = {
                "activation": activation,
                "initializer": init,
                "mean": mean,
                "std": std,
                "saturated_fraction": [
                    float(np.mean(np.abs(a) > SATURATION)) for a in acts],
                "zero_fraction": [float(np.mean(a == 0.0)) for a in acts],
                "bin_edges": edges,
                "histograms": np.asarray(counts),  # (depth, bins) fractions
                "last_over_first_std": ratio(std[-1], std[0]),
            }
        results[arch] = per_setting
    return {"architectures": results,
            "depths": {a: list(v) for a, v in
                       config["architectures"].items()}}


def claims(result, arch="10x500"):
    """The numbers note 004's claims are about, for one architecture."""
    r = result["architectures"][arch]
    out = {}
    if "tanh_small_normal" in r:
        out["small_normal_ratio"] = r["tanh_small_normal"][
            "last_over_first_std"]
    if "tanh_unit_normal" in r:
        out["unit_normal_saturated"] = r["tanh_unit_normal"][
            "saturated_fraction"][-1]
    if "tanh_xavier" in r:
        out["xavier_ratio"] = r["tanh_xavier"]["last_over_first_std"]
        out["xavier_last_std"] = r["tanh_xavier"]["std"][-1]
    if "relu_he" in r:
        out["he_ratio"] = r["relu_he"]["last_over_first_std"]
    if "relu_xavier" in r:
        out["relu_xavier_shrink"] = 1.0 / r["relu_xavier"][
            "last_over_first_std"]
    return out


LABELS = {
    "tanh_small_normal": "tanh, W = 0.01·N",
    "tanh_unit_normal": "tanh, W = 1.0·N",
    "tanh_xavier": "tanh, Xavier",
    "relu_xavier": "ReLU, Xavier",
    "relu_he": "ReLU, He",
}
COLORS = {
    "tanh_small_normal": "tab:blue",
    "tanh_unit_normal": "tab:red",
    "tanh_xavier": "tab:green",
    "relu_xavier": "tab:purple",
    "relu_he": "tab:orange",
}


def _ordered(per_setting):
    """Setting names in SETTINGS order (JSON files sort their keys)."""
    return ([k for k in SETTINGS if k in per_setting]
            + sorted(k for k in per_setting if k not in SETTINGS))


def plot(result):
    archs = result["architectures"]
    main = "10x500" if "10x500" in archs else next(iter(archs))
    archs = {main: archs[main],
             **{a: v for a, v in archs.items() if a != main}}
    settings = _ordered(archs[main])
    ncols = 4
    nrows = (len(settings) + 3 + ncols - 1) // ncols
    fig, axes = figure(ncols=ncols, nrows=nrows, width=4.4, height=3.4,
                       title=f"{TITLE}: standard-normal input, no bias "
                             "(note 004)")
    flat = list(axes.flat)
    for ax, name in zip(flat, settings):
        s = archs[main][name]
        hist = np.asarray(s["histograms"], dtype=float)  # (depth, bins)
        edges = np.asarray(s["bin_edges"], dtype=float)
        depth = hist.shape[0]
        img = ax.imshow(
            np.where(hist > 0, hist, np.nan), aspect="auto", origin="lower",
            extent=(edges[0], edges[-1], 0.5, depth + 0.5), cmap="viridis",
            norm=LogNorm(vmin=1e-4, vmax=1.0), interpolation="nearest")
        ax.set(xlabel="activation value", ylabel="layer",
               title=f"{LABELS.get(name, name)} "
                     f"(std last/first {s['last_over_first_std']:.2g})")
        ax.set_yticks(range(1, depth + 1))
        ax.tick_params(labelsize=7)
        fig.colorbar(img, ax=ax, label="fraction of activations", pad=0.01)

    # std by layer, both architectures (solid: main, dashed: variant)
    ax = flat[len(settings)]
    styles = ["-", "--", ":"]
    for k, (arch, per) in enumerate(archs.items()):
        for name in _ordered(per):
            s = per[name]
            std = np.asarray(s["std"], dtype=float)
            ax.plot(np.arange(1, len(std) + 1), std, styles[k % 3],
                    marker="o", ms=3, color=COLORS.get(name),
                    label=f"{LABELS.get(name, name)} ({arch})" if k == 0
                    else None)
    ax.set(yscale="log", xlabel="layer", ylabel="std of activations",
           title="std by layer (solid: " + " / dashed: ".join(archs) + ")")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)

    # saturation of tanh and zero fraction of ReLU, by layer
    ax = flat[len(settings) + 1]
    for name in settings:
        s = archs[main][name]
        key = ("saturated_fraction" if s["activation"] == "tanh"
               else "zero_fraction")
        y = np.asarray(s[key], dtype=float)
        ax.plot(np.arange(1, len(y) + 1), 100 * y, marker="o", ms=3,
                ls="--" if name == "relu_he" else "-",
                color=COLORS.get(name),
                label=LABELS.get(name, name)
                + (" (|a| > 0.95)" if key == "saturated_fraction"
                   else " (a = 0)"))
    ax.set(xlabel="layer", ylabel="% of activations", ylim=(-3, 103),
           title=f"saturated (tanh) / zero (ReLU) share, {main}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center right")

    # mean by layer
    ax = flat[len(settings) + 2]
    for name in settings:
        mean = np.asarray(archs[main][name]["mean"], dtype=float)
        ax.plot(np.arange(1, len(mean) + 1), mean, marker="o", ms=3,
                color=COLORS.get(name), label=LABELS.get(name, name))
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.set(xlabel="layer", ylabel="mean of activations",
           title=f"mean by layer, {main}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    for ax in flat[len(settings) + 3:]:
        ax.remove()
    return fig


def summarize(result):
    archs = result["architectures"]
    main = "10x500" if "10x500" in archs else next(iter(archs))
    c = claims(result, main)
    checks = {
        "small": c.get("small_normal_ratio", 1.0) < 0.01,
        "unit": c.get("unit_normal_saturated", 0.0) > 0.85,
        "xavier": (c.get("xavier_ratio", 0.0) > 0.2
                   and c.get("xavier_last_std", 0.0) > 0.1),
        "he": 0.5 < c.get("he_ratio", 0.0) < 2.0,
        "relu_xavier": c.get("relu_xavier_shrink", 0.0) > 8.0,
    }
    held = all(checks.values())
    other = [a for a in archs if a != main]
    variant = ""
    if other:
        v = claims(result, other[0])
        nan = float("nan")
        variant = (
            f" On the {other[0]} variant the same settings give: "
            f"small_normal ratio {v.get('small_normal_ratio', nan):.1e}"
            f", unit_normal saturation "
            f"{100 * v.get('unit_normal_saturated', float('nan')):.0f} %, "
            f"tanh+Xavier ratio {v.get('xavier_ratio', float('nan')):.2f}, "
            f"ReLU+He ratio {v.get('he_ratio', float('nan')):.2f}, "
            f"ReLU+Xavier shrink {v.get('relu_xavier_shrink', nan):.1f}×"
            " (fewer layers: less time to collapse).")
    return (
        f"Forward pass of a {main.replace('x', ' × ')} no-bias stack "
        f"(Keras Dense + tfnn initializers) on standard-normal input. "
        f"tanh with W = 0.01·N: the last layer's std is "
        f"{c.get('small_normal_ratio', float('nan')):.1e} of the first's "
        f"(collapse to 0); tanh with W = 1.0·N: "
        f"{100 * c.get('unit_normal_saturated', float('nan')):.1f} % of "
        f"last-layer activations have |a| > 0.95 (saturated); tanh with "
        f"Xavier: last/first std {c.get('xavier_ratio', float('nan')):.2f} "
        f"(a factor {1 / c.get('xavier_ratio', float('nan')):.1f}), last "
        f"std {c.get('xavier_last_std', float('nan')):.3f}; ReLU with He: "
        f"last/first std {c.get('he_ratio', float('nan')):.2f}; ReLU with "
        f"Xavier: shrinks {c.get('relu_xavier_shrink', float('nan')):.1f}× "
        f"over the layers.{variant} Note 004's claims "
        f"{'hold' if held else 'do NOT all hold'}"
        + ("" if held else
           f" (failed: {', '.join(k for k, ok in checks.items() if not ok)})")
        + "."
    )
