"""Experiment 5: weight initialization compared on MNIST.

Notes 001, 002, 003 and 004. The same deep MLP (784-256-256-256-10) is
trained from five initial weight distributions, everything else fixed (SGD,
learning rate, batches, steps, seed)::

    zeros          W = 0
    small_normal   W = 0.01·N(0, 1)
    unit_normal    W = 1.0·N(0, 1)
    xavier_normal  W ~ N(0, 2 / (fan_in + fan_out))       (Glorot; tanh)
    he_normal      W ~ N(0, 2 / fan_in)                   (He; ReLU)

Note 004: zeros makes "all weights learn in the same direction": with
``W = 0`` every hidden unit of a layer computes the same activation, gets
the same gradient ``∂L/∂W[:, j] = x · δ_j`` with ``δ_j`` identical for all
``j``, so the columns of each kernel stay equal forever (the symmetry is
never broken; a layer of n units is worth one). With tanh or ReLU the
activations at 0 are 0, the output layer's gradient ``hᵀδ`` is 0 and
nothing but the output bias moves; with sigmoid (σ(0) = 0.5) the weights
do move, yet identically: both are measured. ``small_normal`` shrinks the
signal layer after layer (004's histograms collapse to 0), ``unit_normal``
saturates tanh at ±1 (and makes ReLU explode); Xavier (fan_in + fan_out)
and He (fan_in only, ×2 for ReLU) keep the scale (001, 002, 003).
"""

from __future__ import annotations

import numpy as np

from tfnn.config import ModelConfig
from tfnn.studies.figures import figure
from tfnn.studies.mnist_runs import mnist, subset, train
from tfnn.training import TrainConfig, TrainingDiverged

TITLE = ("Weight initialization compared on MNIST "
         "(zeros, small, unit, Xavier, He)")
CLAIM = ("Zero initialization never breaks the symmetry: every hidden unit "
         "of a layer keeps the same weights (004); 0.01·N(0,1) makes the "
         "signal vanish and 1.0·N(0,1) saturates tanh (004), while Xavier "
         "and He, scaled by the fan-in, train a deep net well (001, 002, "
         "003).")
INITS = ("zeros", "small_normal", "unit_normal", "xavier_normal", "he_normal")
QUICK = {
    "hidden": [256, 256, 256],
    "activations": ["tanh"],
    "initializers": list(INITS),
    "optimizer": "sgd",
    "learning_rate": 0.05,
    "batch_size": 64,
    "epochs": 2,
    "n_train": 4000,
    "n_test": 1000,
    "symmetry_activation": "sigmoid",  # zeros-init run whose weights move
    "seed": 0,
}
FULL = dict(QUICK, activations=["tanh", "relu"], epochs=5, n_train=20000,
            n_test=10000)


def _fit(model_config, train_config, splits):
    """``train``, or None when the loss became NaN/Inf (recorded as
    diverged instead of crashing the experiment)."""
    try:
        return train(model_config, train_config, splits)
    except TrainingDiverged:
        return None


def kernel_symmetry(model):
    """Per hidden Dense kernel ``W`` (fan_in, units): how far the units'
    weight vectors (the columns) are from each other and from 0.

    Returns a list of dicts: ``column_spread = max_ij |W[i,j] − W[i,0]|``,
    ``max_abs = max |W|`` (the distance moved from a zero init),
    ``distinct_units`` (columns that differ by more than 1e-6 · max |W|).
    """
    rows = []
    for layer in model.layers:
        if not layer.name.startswith("linear_"):
            continue
        w = np.asarray(layer.kernel)  # (fan_in, units)
        spread = float(np.max(np.abs(w - w[:, :1])))
        max_abs = float(np.max(np.abs(w)))
        tol = 1e-6 * max(max_abs, 1e-30)
        distinct = np.unique(np.round(w / tol).astype(np.int64)
                             if max_abs > 0 else w, axis=1).shape[1]
        rows.append({"layer": layer.name, "column_spread": spread,
                     "max_abs": max_abs, "distinct_units": int(distinct),
                     "units": int(w.shape[1])})
    return rows


def _first_units(model, n=8):
    """The incoming weights of the first ``n`` units of the first hidden
    layer, as 28×28 images side by side, (28, 28·n), divided by the
    largest |w|."""
    w = np.asarray(model.get_layer("linear_0").kernel)[:, :n]  # (784, n)
    img = np.concatenate([w[:, j].reshape(28, 28) for j in range(n)], axis=1)
    scale = float(np.max(np.abs(img)))
    # Divided by its largest |w| and rounded: the figure shows the pattern.
    return np.round(img / scale, 3) if scale > 0 else img


def run(config):
    splits = subset(mnist(), config["n_train"], config["n_test"])
    prior_class = int(np.bincount(splits.y_train, minlength=10).argmax())
    tc = TrainConfig(optimizer=config["optimizer"],
                     learning_rate=config["learning_rate"],
                     batch_size=config["batch_size"], epochs=config["epochs"],
                     seed=config["seed"])
    runs, symmetry, units = {}, {}, {}
    for act in config["activations"]:
        runs[act] = {}
        for init in config["initializers"]:
            mc = ModelConfig(hidden=tuple(config["hidden"]), activation=act,
                             initializer=init)
            res = _fit(mc, tc, splits)
            if res is None:
                runs[act][init] = {"diverged": True, "test_accuracy": None,
                                   "final_loss": None, "step_loss": [],
                                   "epoch_loss": []}
                continue
            runs[act][init] = {
                "diverged": False,
                "test_accuracy": float(res.test_accuracy),
                "final_loss": float(res.history.loss[-1]),
                "step_loss": np.asarray(res.history.step_loss),
                "epoch_loss": np.asarray(res.history.loss),
            }
            if init == "zeros":
                symmetry[f"zeros/{act}"] = kernel_symmetry(res.model)
            if act == config["activations"][0] and init in (
                    "zeros", "xavier_normal"):
                units[f"{init}/{act}"] = _first_units(res.model)
    # Zeros with sigmoid: h = σ(0) = 0.5 ≠ 0, so the weights do move.
    sym_act = config["symmetry_activation"]
    mc = ModelConfig(hidden=tuple(config["hidden"]), activation=sym_act,
                     initializer="zeros")
    res = train(mc, tc, splits)
    symmetry[f"zeros/{sym_act}"] = kernel_symmetry(res.model)
    symmetry_accuracy = float(res.test_accuracy)
    units[f"zeros/{sym_act}"] = _first_units(res.model)
    return {
        # JSON is written with sorted keys: these lists keep the order.
        "activations": list(config["activations"]),
        "initializers": list(config["initializers"]),
        "runs": runs,
        "symmetry": symmetry,
        "symmetry_accuracy": {f"zeros/{sym_act}": symmetry_accuracy},
        "first_units": units,
        # Always answering the training set's most frequent class:
        "majority_class": prior_class,
        "majority_class_accuracy": float(np.mean(splits.y_test ==
                                                 prior_class)),
        "steps_per_epoch": -(-config["n_train"] // config["batch_size"]),
    }


def _smooth(values, k):
    values = np.asarray(values, dtype=float)
    if len(values) < 2 * k:
        return values
    return np.convolve(values, np.ones(k) / k, mode="valid")


COLORS = {"zeros": "tab:gray", "small_normal": "tab:blue",
          "unit_normal": "tab:red", "xavier_normal": "tab:green",
          "he_normal": "tab:purple"}


def plot(result):
    acts = result["activations"]
    fig, axes = figure(ncols=len(acts) + 1, nrows=2, width=4.8, height=4.0,
                       title=TITLE)
    for col, act in enumerate(acts):
        _plot_loss_curves(axes[0, col], result, act)
    _plot_accuracy_bars(axes[0, -1], result)
    _plot_symmetry(axes[1, 0], result)
    _plot_first_units(axes[1, 1], result)
    for ax in axes[1, 2:]:
        ax.axis("off")
    return fig


def _plot_loss_curves(ax, result, act):
    """One activation's smoothed loss curve per initializer."""
    for init in result["initializers"]:
        r = result["runs"][act][init]
        if r["diverged"]:
            ax.plot([], [], color=COLORS.get(init), ls=":",
                    label=f"{init} (diverged: NaN)")
            continue
        y = _smooth(r["step_loss"], 20)
        ax.plot(np.arange(len(y)) + 1, y, color=COLORS.get(init),
                label=f"{init}: {100 * r['test_accuracy']:.1f} %")
    ax.set(yscale="log", xlabel="training step (SGD)",
           ylabel="training loss (moving avg of 20)",
           title=f"{act}: loss curves (test acc. in legend)")
    ax.axhline(np.log(10), color="k", lw=0.6, ls="--",
               label="ln 10 (uniform guess)")
    ax.legend(fontsize=7, loc="upper center", ncol=2,
              bbox_to_anchor=(0.5, -0.2))
    ax.grid(alpha=0.3, which="both")


def _plot_accuracy_bars(ax, result):
    """Final test accuracy bars, grouped by activation."""
    runs = result["runs"]
    acts, inits = result["activations"], result["initializers"]
    width = 0.8 / len(acts)
    for i, act in enumerate(acts):
        accs = [runs[act][k]["test_accuracy"] for k in inits]
        xs = np.arange(len(inits)) + (i - (len(acts) - 1) / 2) * width
        bars = ax.bar(xs, [0 if a is None else 100 * a for a in accs], width,
                      label=act)
        for b, a in zip(bars, accs):
            ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 1,
                    "NaN" if a is None else f"{100 * a:.0f}", ha="center",
                    fontsize=7)
    ax.axhline(100 * result["majority_class_accuracy"], color="k", ls="--",
               lw=0.8, label="always the most frequent class")
    ax.set_xticks(np.arange(len(inits)))
    ax.set_xticklabels([k.replace("_", "\n") for k in inits], fontsize=7)
    ax.set(ylabel="test accuracy (%)", xlabel="initializer",
           title="final test accuracy", ylim=(0, 105))
    ax.legend(fontsize=7, loc="upper left")


def _plot_symmetry(ax, result):
    """Symmetry: distance moved from 0 vs spread between units, per layer.
    The first activation's zeros run and the sigmoid one (the others look
    the same: all exactly 0)."""
    shown = ({f"zeros/{result['activations'][0]}"}
             | set(result["symmetry_accuracy"]))
    sym = {k: v for k, v in result["symmetry"].items() if k in shown}
    floor = 1e-12
    palette = ("tab:orange", "tab:green", "tab:cyan", "tab:olive")
    for i, key in enumerate(sorted(sym)):
        rows = sym[key]
        color = palette[i % len(palette)]
        xs = np.arange(len(rows)) + (i - (len(sym) - 1) / 2) * 0.4
        for dx, field, hatch, what in (
                (-0.09, "max_abs", None, "max |W| (moved from 0)"),
                (0.09, "column_spread", "//", "max |W[:,j] − W[:,0]|")):
            vals = [r[field] for r in rows]
            bars = ax.bar(xs + dx, [max(v, floor) for v in vals], 0.18,
                          color=color, hatch=hatch, edgecolor="k", lw=0.5,
                          label=f"{key}: {what}")
            for b, v in zip(bars, vals):
                if v == 0:
                    ax.text(b.get_x() + b.get_width() / 2, floor * 2, "0",
                            ha="center", fontsize=7)
    layers = [r["layer"] for r in sym[sorted(sym)[0]]]
    ax.set_xticks(np.arange(len(layers)))
    ax.set_xticklabels(layers)
    ax.set(yscale="log", ylim=(floor / 2, 10), xlabel="hidden layer",
           ylabel="value (log; bars at 1e-12 are exactly 0)",
           title="zeros init: weights move, units stay identical")
    ax.legend(fontsize=6, loc="upper left", framealpha=0.7)


def _plot_first_units(ax, result):
    """The first 8 units' incoming weights as images, one row a run."""
    imgs = result["first_units"]
    keys = sorted(imgs, key=lambda k: (k.startswith("zeros/"), k))
    stacked = np.concatenate(
        [np.asarray(imgs[k]) / (np.max(np.abs(imgs[k])) or 1.0) for k in keys],
        axis=0)
    ax.imshow(stacked, cmap="RdBu_r", vmin=-1, vmax=1, aspect="equal")
    ax.set_yticks([14 + 28 * i for i in range(len(keys))])
    ax.set_yticklabels(keys, fontsize=7)
    ax.set_xticks([14 + 28 * j for j in range(stacked.shape[1] // 28)])
    ax.set_xticklabels(range(stacked.shape[1] // 28))
    ax.set(xlabel="hidden unit j of layer 1", ylabel="run",
           title="incoming weights of units 0-7 (each row / its max)")


def summarize(result):
    runs = result["runs"]
    parts = []
    good_beats_bad = True
    for act in result["activations"]:
        rs = runs[act]
        acc = {k: rs[k]["test_accuracy"] for k in result["initializers"]}
        txt = ", ".join(
            f"{k} {'diverged (NaN)' if a is None else f'{100 * a:.1f} %'}"
            for k, a in acc.items())
        parts.append(f"with {act}: {txt}")
        good = [acc[k] for k in ("xavier_normal", "he_normal")
                if acc.get(k) is not None]
        bad = [0.0 if acc.get(k) is None else acc[k]
               for k in ("small_normal", "unit_normal") if k in acc]
        if good and bad and min(good) <= max(bad):
            good_beats_bad = False
    sym = result["symmetry"]
    sym_txt = []
    symmetric = True
    for key in sorted(sym):
        rows = sym[key]
        moved = max(r["max_abs"] for r in rows)
        spread = max(r["column_spread"] for r in rows)
        distinct = max(r["distinct_units"] for r in rows)
        symmetric &= spread <= 1e-6 * max(moved, 1e-30) or spread == 0
        sym_txt.append(
            f"{key}: weights moved up to {moved:.3g}, the units' weight "
            f"vectors differ by at most {spread:.3g} "
            f"({distinct} distinct unit(s) per layer)")
    zeros_acc = [r["zeros"]["test_accuracy"] for r in runs.values()
                 if "zeros" in r and r["zeros"]["test_accuracy"] is not None]
    return (
        "Test accuracy after the same SGD steps (same MLP, data and seed) "
        "— "
        + "; ".join(parts) + ". "
        + "Symmetry after training from zeros — " + "; ".join(sym_txt) + ". "
        + (f"Zeros reaches {100 * max(zeros_acc):.1f} % "
           f"(always answering the most frequent training class, "
           f"{result['majority_class']}, scores "
           f"{100 * result['majority_class_accuracy']:.1f} % on the test "
           f"set: only the output bias learns, i.e. the class prior). "
           if zeros_acc else "")
        + ("Claim holds: zeros never breaks the symmetry, and Xavier/He "
           "beat both 0.01·N(0,1) and 1.0·N(0,1)."
           if symmetric and good_beats_bad else
           "Claim does NOT fully hold: "
           + ("the units did not stay identical; " if not symmetric else "")
           + ("Xavier/He did not beat small/unit normal everywhere."
              if not good_beats_bad else ""))
    )
