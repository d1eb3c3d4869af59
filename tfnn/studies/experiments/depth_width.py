"""Experiment 15: depth and width on MNIST (notes 003 and 000).

Note 003 opens with "보통 층이 깊을수록, 뉴런 수가 더 많아질수록 성능이 올라
간데!" (usually the deeper the net and the more neurons, the better). Note 000
stacks layers in PyTorch (batch 32, 20 epochs)::

    784-64-10:      Linear(784, 64) → ReLU → Linear(64, 10) → Sigmoid
    784-128-64-10:  Linear(784, 128) → ReLU → Linear(128, 64)
                    → Linear(64, 10) → Sigmoid

trained here with softmax cross-entropy on the sigmoid scores, as PyTorch's
``CrossEntropyLoss`` would apply it (the loss is ours: note 000 names none;
scores in (0, 1) cap the softmax probability of the right class at
e/(e + 9) ≈ 0.23, so the loss cannot fall below ≈ 1.46 even at 100 %
accuracy). Note 000's second model has no activation between
``Linear(128, 64)`` and ``Linear(64, 10)``, so that pair of layers is one
linear map of rank ≤ 64 (experiment 4); :func:`note000_model` ports both
models exactly, layer by layer (``NOTE000_MODELS``).

Measured: test accuracy after the same short budget (same data, batches,
optimizer, epochs) for (a) one hidden layer of growing width, (b) growing
depth at a fixed width, and (c) note 000's two models in its own setting.
Parameters: a Dense layer ``n_in → n_out`` has ``n_in·n_out + n_out``.
"""

from __future__ import annotations

import keras
import numpy as np

from tfnn.config import ModelConfig
from tfnn.nn import initializers
from tfnn.studies import mnist_runs
from tfnn.studies.figures import figure
from tfnn.training import TrainConfig, Trainer, set_seed

TITLE = "Depth and width on MNIST (note 003; note 000's two models)"
CLAIM = ("Note 003: usually the deeper the network and the more neurons, the "
         "better it performs. Note 000 stacks one more layer (784-64-10 → "
         "784-128-64-10, batch 32, 20 epochs) and says that more epochs "
         "would raise the accuracy further; it names no loss function.")
# Note 000's two PyTorch models, layer by layer: (units, activation) of
# each hidden Linear; "linear" where the note puts no activation.
NOTE000_MODELS = {
    "784-64-10": [[64, "relu"]],
    "784-128-64-10": [[128, "relu"], [64, "linear"]],
}
QUICK = {
    "widths": [16, 64, 128, 512],  # one hidden layer
    "depths": [1, 2, 4],  # hidden layers of depth_width units
    "depth_width": 128,
    "note000_models": NOTE000_MODELS,
    "note000_epochs": 1,
    "note000_seeds": [0, 1],
    "n_train": 5000,
    "n_test": 2000,
    "batch_size": 32,  # note 000
    "epochs": 1,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "seeds": [0],
}
FULL = dict(QUICK, widths=[16, 32, 64, 128, 256, 512], depths=[1, 2, 3, 4],
            n_train=30000, n_test=10000, epochs=2, note000_epochs=3)


def _arch(hidden):
    return "-".join(["784", *map(str, hidden), "10"])


def note000_model(layers, seed=0) -> keras.Sequential:
    """Note 000's ``nn.Sequential`` in Keras: Flatten, one Dense per
    ``(units, activation)`` of ``layers`` (He-normal weights, seeded
    ``seed + index``), ``Linear(·, 10)`` and the ``Sigmoid`` output::

        [[128, "relu"], [64, "linear"]] → Linear(784, 128) → ReLU
            → Linear(128, 64) → Linear(64, 10) → Sigmoid
    """
    out = [keras.Input(shape=(28, 28), name="images"),
           keras.layers.Flatten(name="flatten")]
    for i, (units, activation) in enumerate(layers):
        out.append(keras.layers.Dense(
            int(units), activation=activation, name=f"linear_{i}",
            kernel_initializer=initializers.get("he_normal",
                                                seed=int(seed) + i)))
    out += [keras.layers.Dense(
                10, name="logits", kernel_initializer=initializers.get(
                    "he_normal", seed=int(seed) + len(layers))),
            keras.layers.Activation("sigmoid", name="sigmoid",
                                    dtype="float32")]
    return keras.Sequential(out, name="note000")


def train_note000(layers, data, config, epochs, seed):
    """Train :func:`note000_model` with the Trainer's loop (Adam, note
    000's batch 32); the loss reads the sigmoid scores as logits."""
    set_seed(int(seed))
    trainer = Trainer(note000_model(layers, seed), keras.optimizers.Adam(
        float(config["learning_rate"])), from_logits=True)
    history = trainer.fit(
        data.x_train, data.y_train, epochs=int(epochs),
        batch_size=int(config["batch_size"]), seed=int(seed),
        validation=(data.x_val, data.y_val), progress=False)
    loss, accuracy = trainer.evaluate(data.x_test, data.y_test)
    return trainer.model, history, float(loss), float(accuracy)


def run(config):
    splits = mnist_runs.mnist()
    data = mnist_runs.subset(splits, int(config["n_train"]),
                             int(config["n_test"]), n_val=1000)
    cache = {}

    def train(hidden, output, epochs, seeds):
        key = (tuple(hidden), output, epochs, tuple(seeds))
        if key in cache:
            return cache[key]
        accs, losses, params, curves = [], [], None, []
        for seed in seeds:
            mc = ModelConfig(hidden=tuple(hidden), activation="relu",
                             initializer="he_normal",
                             initializer_kwargs={"seed": int(seed)},
                             output=output)
            tc = TrainConfig(optimizer=config["optimizer"],
                             learning_rate=float(config["learning_rate"]),
                             batch_size=int(config["batch_size"]),
                             epochs=int(epochs), seed=int(seed))
            res = mnist_runs.train(mc, tc, data)
            accs.append(res.test_accuracy)
            losses.append(res.test_loss)
            params = int(res.model.count_params())
            curves.append(list(res.history.val_accuracy))
        row = {"arch": _arch(hidden), "hidden": list(hidden),
               "output": output, "parameters": params,
               "test_accuracy": float(np.mean(accs)),
               "test_accuracy_std": float(np.std(accs)),
               "test_accuracies": accs, "test_loss": float(np.mean(losses)),
               "val_accuracy": np.mean(np.asarray(curves), axis=0)}
        cache[key] = row
        return row

    epochs = int(config["epochs"])
    seeds = config["seeds"]
    widths = [train([w], "logits", epochs, seeds) for w in config["widths"]]
    depths = [train([int(config["depth_width"])] * int(d), "logits", epochs,
                    seeds) for d in config["depths"]]
    note000 = {}
    for name, layers in config["note000_models"].items():
        accs, losses, curves = [], [], []
        for seed in config["note000_seeds"]:
            model, history, loss, acc = train_note000(
                layers, data, config, config["note000_epochs"], seed)
            accs.append(acc)
            losses.append(loss)
            curves.append(list(history.val_accuracy))
        note000[name] = {
            "arch": name, "hidden": [int(u) for u, _ in layers],
            "activations": [a for _, a in layers], "output": "sigmoid",
            "parameters": int(model.count_params()),
            "test_accuracy": float(np.mean(accs)),
            "test_accuracy_std": float(np.std(accs)),
            "test_accuracies": accs, "test_loss": float(np.mean(losses)),
            "val_accuracy": np.mean(np.asarray(curves), axis=0)}
    return {"config": dict(config), "widths": widths, "depths": depths,
            "note000": note000}


def _note000_names(result):
    """Note 000's model names, smallest first (JSON files sort keys)."""
    n = result["note000"]
    return sorted(n, key=lambda k: n[k]["parameters"])


def claims(result):
    w = result["widths"]
    d = result["depths"]
    n = result["note000"]
    names = _note000_names(result)
    small, big = (n[names[0]]["test_accuracy"], n[names[-1]]["test_accuracy"])
    return {
        "wider_gain": w[-1]["test_accuracy"] - w[0]["test_accuracy"],
        "width_monotonic": all(b["test_accuracy"] >= a["test_accuracy"]
                               for a, b in zip(w, w[1:])),
        "deeper_gain": d[-1]["test_accuracy"] - d[0]["test_accuracy"],
        "best_depth": int(len(d[int(np.argmax(
            [r["test_accuracy"] for r in d]))]["hidden"])),
        "note000_gain": big - small,
    }


def plot(result):
    cfg = result["config"]
    fig, axes = figure(ncols=2, nrows=2, width=5.4, height=3.9,
                       title=f"{TITLE}: {cfg['n_train']} training examples, "
                             f"batch {cfg['batch_size']}")
    _plot_widths(axes[0, 0], result)
    _plot_depths(axes[0, 1], result)
    # the same accuracy scale on both: depth's effect next to width's
    lo = min(axes[0, 0].get_ylim()[0], axes[0, 1].get_ylim()[0])
    hi = max(axes[0, 0].get_ylim()[1], axes[0, 1].get_ylim()[1]) + 0.3
    for a in axes[0]:
        a.set_ylim(lo, hi)
    _plot_per_parameter(axes[1, 0], result)
    _plot_note000_curves(axes[1, 1], result)
    return fig


def _errorbars(ax, x, rows, seeds, **kw):
    """Mean test accuracy (± std over ``seeds`` seeds when more than one),
    each point labelled with its value."""
    y = 100 * np.asarray([r["test_accuracy"] for r in rows])
    e = 100 * np.asarray([r["test_accuracy_std"] for r in rows])
    ax.errorbar(x, y, yerr=e if seeds > 1 else None, marker="o",
                capsize=3, **kw)
    for xi, yi in zip(x, y):
        ax.annotate(f"{yi:.2f}", (xi, yi), textcoords="offset points",
                    xytext=(0, 6), ha="center", fontsize=7)


def _plot_widths(ax, result):
    """Test accuracy against the width of the one hidden layer."""
    cfg, w = result["config"], result["widths"]
    _errorbars(ax, [r["hidden"][0] for r in w], w, len(cfg["seeds"]),
               color="tab:blue")
    ax.set(xscale="log", xlabel="units in the one hidden layer",
           ylabel="test accuracy (%)",
           title=f"wider: 784-w-10, {cfg['epochs']} epochs")
    ax.minorticks_off()
    ax.set_xticks([r["hidden"][0] for r in w])
    ax.set_xticklabels([str(r["hidden"][0]) for r in w])
    ax.grid(alpha=0.3)


def _plot_depths(ax, result):
    """Test accuracy against the number of hidden layers."""
    cfg, d = result["config"], result["depths"]
    _errorbars(ax, [len(r["hidden"]) for r in d], d, len(cfg["seeds"]),
               color="tab:orange")
    ax.set(xlabel=f"hidden layers of {cfg['depth_width']} units",
           ylabel="test accuracy (%)",
           title=f"deeper: 784-{cfg['depth_width']}×k-10, "
                 f"{cfg['epochs']} epochs")
    ax.set_xticks([len(r["hidden"]) for r in d])
    ax.grid(alpha=0.3)


def _plot_per_parameter(ax, result):
    """Width and depth on one axis of parameters, note 000's models
    beside them."""
    cfg = result["config"]
    for rows, label, color in ((result["widths"], "wider (1 hidden layer)",
                                "tab:blue"),
                               (result["depths"],
                                f"deeper ({cfg['depth_width']} units "
                                "per layer)", "tab:orange")):
        ax.plot([r["parameters"] for r in rows],
                [100 * r["test_accuracy"] for r in rows], "o-",
                color=color, label=label)
    for name in _note000_names(result):
        r = result["note000"][name]
        ax.plot(r["parameters"], 100 * r["test_accuracy"], "s",
                color="tab:green", ms=7)
        ax.annotate(name, (r["parameters"], 100 * r["test_accuracy"]),
                    textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.plot([], [], "s", color="tab:green",
            label=f"note 000's models ({cfg['note000_epochs']} epochs, "
                  "sigmoid output)")
    ax.set(xscale="log", xlabel="parameters", ylabel="test accuracy (%)",
           title=f"accuracy per parameter: width vs depth "
                 f"({cfg['epochs']} epochs)")
    ax.minorticks_off()
    ticks = [1e4, 2e4, 5e4, 1e5, 2e5, 5e5]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t / 1000:g}k" for t in ticks])
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def _plot_note000_curves(ax, result):
    """Validation accuracy per epoch of note 000's models."""
    cfg, n = result["config"], result["note000"]
    for name in _note000_names(result):
        r = n[name]
        v = 100 * np.asarray(r["val_accuracy"], dtype=float)
        ax.plot(np.arange(1, len(v) + 1), v, marker="o",
                label=f"{name} ({r['parameters']:,} params): test "
                      f"{100 * r['test_accuracy']:.2f} %")
    ax.set(xlabel="epoch", ylabel="validation accuracy (%)",
           title="note 000's models (sigmoid output, batch 32)")
    ax.set_xticks(range(1, int(cfg["note000_epochs"]) + 1))
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


SIGMOID_FLOOR = float(np.log(np.e + 9) - 1)  # min CE on sigmoid scores


def _verdict(gain, rows):
    """'holds' for a gain above noise (0.3 points, or 2 seed-stds)."""
    noise = max(0.003, 2 * max(r["test_accuracy_std"] for r in rows))
    if gain > noise:
        return "holds"
    if gain < -noise:
        return "does NOT hold (worse)"
    return "shows no clear difference"


def summarize(result):
    cfg = result["config"]
    c = claims(result)
    w, d, n = result["widths"], result["depths"], result["note000"]
    names = _note000_names(result)
    small, big = n[names[0]], n[names[-1]]
    wider = _verdict(c["wider_gain"], w)
    deeper = _verdict(c["deeper_gain"], d)
    pair = _verdict(c["note000_gain"], [small, big])
    below = [r["arch"] for r in (small, big)
             if r["test_loss"] < SIGMOID_FLOOR - 1e-3]
    floor_note = (
        f"above the ≈ {SIGMOID_FLOOR:.2f} floor the sigmoid output imposes"
        if not below else
        f"BELOW the ≈ {SIGMOID_FLOOR:.2f} floor a sigmoid output allows: the "
        f"loss did not see the sigmoid (Keras's cross-entropy picks up the "
        f"pre-sigmoid logits the sigmoid activation attaches to its output), "
        f"so these models trained as plain-logit models")
    return (
        f"Test accuracy after {cfg['epochs']} epochs on {cfg['n_train']} "
        f"MNIST examples (Adam {cfg['learning_rate']:g}, batch "
        f"{cfg['batch_size']}, {len(cfg['seeds'])} seed(s)). Width, one "
        f"hidden layer: " + ", ".join(
            f"{r['hidden'][0]} → {100 * r['test_accuracy']:.2f} %" for r in w)
        + f" ({100 * c['wider_gain']:+.2f} points from {w[0]['hidden'][0]} "
        f"to {w[-1]['hidden'][0]} units"
        + ("" if c["width_monotonic"] else ", not monotonically") + "). "
        f"Depth at {cfg['depth_width']} units: " + ", ".join(
            f"{len(r['hidden'])} → {100 * r['test_accuracy']:.2f} %"
            for r in d)
        + f" ({100 * c['deeper_gain']:+.2f} points from {len(d[0]['hidden'])}"
        f" to {len(d[-1]['hidden'])} layers; best at {c['best_depth']}). "
        f"Note 000's models with the sigmoid output, "
        f"{cfg['note000_epochs']} epochs, {len(cfg['note000_seeds'])} "
        f"seed(s): {names[0]} "
        f"{100 * small['test_accuracy']:.2f} % vs {names[-1]} "
        f"{100 * big['test_accuracy']:.2f} % ({100 * c['note000_gain']:+.2f} "
        f"points: the extra layer's gain {pair}; test loss "
        f"{small['test_loss']:.2f} and {big['test_loss']:.2f}, {floor_note}). "
        f"Note 003's \"deeper and wider does better\" at this budget: wider "
        f"{wider}, deeper {deeper}"
        + ("" if deeper == "holds" else
           " (extra layers add parameters but, in a short run, little or no "
           "accuracy)") + "."
    )


def limits(result):
    """What the experiment does not test: note 000's claim is about epochs,
    the loss is ours, and whether the run's second model of note 000 had
    the note's layers (its ``activations``; results from before the exact
    port have none and gave the 64-unit layer a ReLU)."""
    cfg, n = result["config"], result["note000"]
    names = _note000_names(result)
    big = n[names[-1]]
    curve = 100 * np.asarray(big["val_accuracy"], dtype=float)
    exact = big.get("activations", [])[-1:] == ["linear"]
    return (
        "**What this does not test.** Note 000's own claim is about epochs "
        "(\"여기서 epoch을 더 주면 accuracy는 더 증가할 것이다\": more epochs "
        "here would raise the accuracy), while this experiment varies the "
        f"depth and trains note 000's models for {cfg['note000_epochs']} "
        f"epochs, not its 20 (over those, {names[-1]}'s validation accuracy "
        f"goes {' → '.join(f'{v:.2f}' for v in curve)} %). The loss is ours:"
        " note 000 names none, and the port uses softmax cross-entropy on "
        "the sigmoid scores, as PyTorch's `CrossEntropyLoss` (note 002's "
        "lab) would, hence the ≈ 1.46 floor. Note 000's second model has no "
        "activation between `Linear(128, 64)` and `Linear(64, 10)`, so those"
        " two layers are one linear map (experiment 4); "
        + ("this run builds it so (the 64-unit layer has no activation)."
           if exact else
           "this run gives the 64-unit layer a ReLU that the note's model "
           "does not have."))
