"""Experiment 13: the sanity checks of babysitting a run (note 004).

Note 004 (CS231n lecture 6, "Babysitting the learning process") checks a
model before the real run:

1. **Initial loss.** With small weights every class gets ≈ 1/C, so the
   softmax cross-entropy starts at ``−ln(1/C) = ln C = ln 10 ≈ 2.303``
   (reg = 0). Adding L2 regularization must raise it:
   ``L = L_data + reg·Σ W²`` (Keras ``L2(reg)``), so the initial loss grows
   linearly in reg with slope ``Σ W²`` at initialization.
2. **Overfit a tiny subset.** With reg = 0, 20 training examples must be
   fit to 100 % training accuracy (loss → 0); if not, the model, the loss or
   the learning rate is broken.
3. **Learning rate.** Too low: the loss barely moves; too high: it explodes
   (to NaN/Inf, which the trainer stops with ``TrainingDiverged``); a good one
   lowers it quickly.

The model is note 004's small two-layer net (784-128-10, ReLU, weights
0.01·N(0, 1)), trained with the shared trainer (plain SGD) on real MNIST.
"""

from __future__ import annotations

import math
import re

import numpy as np

from tfnn.config import ModelConfig
from tfnn.models import build_model
from tfnn.studies import mnist_runs
from tfnn.studies.figures import figure
from tfnn.studies.mnist_runs import subset
from tfnn.training import TrainConfig, Trainer, TrainingDiverged, overfit_check

TITLE = "Sanity checks: initial loss, overfitting 20 examples, learning rate"
CLAIM = ("Note 004: with small weights and reg = 0 the initial loss is "
         "ln 10 ≈ 2.303 and rises with reg; the model must overfit a tiny "
         "training subset (20 examples) to 100 % accuracy; a too-low "
         "learning rate barely moves the loss, a too-high one explodes it.")
QUICK = {
    "hidden": [128],
    "initializer": "small_normal",
    "regs": [0.0, 1e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0],
    "init_compare": ["small_normal", "xavier_normal", "he_normal",
                     "unit_normal"],
    "n_initial": 2048,
    "n_overfit": 20,
    "overfit_epochs": 60,  # full-batch steps on the 20 examples
    "overfit_optimizer": "sgd",
    "overfit_lr": 0.1,
    "learning_rates": {"too low": 1e-6, "good": 0.1, "too high": 10.0,
                       "far too high": 1000.0},
    "n_train": 1500,
    "batch_size": 64,
    "epochs": 2,
    "optimizer": "sgd",
    "seed": 0,
}
FULL = dict(QUICK, regs=[0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0,
                         3.0], overfit_epochs=200, n_train=10000, epochs=3)


def _no_validation(splits):
    return subset(splits, n_val=0)


def initial_loss(model_config, x, y):
    """The loss of a fresh model before any step (``Trainer.initial_loss``),
    with ``Σ W²`` over its kernels."""
    model = build_model(model_config)
    trainer = Trainer(model, "sgd",
                      from_logits=model_config.loss_from_logits)
    out = trainer.initial_loss(x, y, 10, n=len(x))
    out["sum_w2"] = float(sum(
        float(np.sum(np.square(np.asarray(v))))
        for v in model.trainable_variables if "kernel" in v.path))
    return out


def run(config):
    splits = mnist_runs.mnist()
    seed = int(config["seed"])
    n = int(config["n_initial"])
    x0, y0 = splits.x_train[:n], splits.y_train[:n]

    def mc(**kw):
        base = {"hidden": tuple(config["hidden"]), "activation": "relu",
                    "initializer": config["initializer"],
                    "initializer_kwargs": {"seed": seed}}
        return ModelConfig(**{**base, **kw})

    # 1. initial loss vs reg, and vs the initializer's scale
    reg_sweep = []
    for reg in config["regs"]:
        r = initial_loss(mc(reg=float(reg)), x0, y0)
        reg_sweep.append({"reg": float(reg), **r,
                          "predicted": r["data_loss"] + float(reg)
                          * r["sum_w2"]})
    by_init = {name: initial_loss(mc(initializer=name), x0, y0)
               for name in config["init_compare"]}

    # 2. overfit 20 examples (full batch, reg 0), with the shared trainer
    k = int(config["n_overfit"])
    tiny = _no_validation(mnist_runs.subset(splits, k, 1000))
    tc = TrainConfig(optimizer=config["overfit_optimizer"],
                     learning_rate=float(config["overfit_lr"]),
                     batch_size=0, epochs=int(config["overfit_epochs"]),
                     seed=seed)
    fit = mnist_runs.train(mc(), tc, tiny)
    acc = np.asarray(fit.history.accuracy)
    check = overfit_check(mc(), tc, splits.x_train, splits.y_train, k,
                          max_epochs=int(config["overfit_epochs"]))
    overfit = {
        "n": k,
        "loss": list(fit.history.loss),
        "accuracy": list(acc),
        "final_accuracy": float(acc[-1]),
        "first_epoch_100": (int(np.argmax(acc == 1.0)) + 1
                            if (acc == 1.0).any() else None),
        "test_accuracy": fit.test_accuracy,
        "overfit_check": check,
    }

    # 3. learning rates: too low, good, too high
    data = mnist_runs.subset(splits, int(config["n_train"]), 1000, n_val=1000)
    lr_runs = {}
    for label, lr in config["learning_rates"].items():
        tc = TrainConfig(optimizer=config["optimizer"], learning_rate=float(lr),
                         batch_size=int(config["batch_size"]),
                         epochs=int(config["epochs"]), seed=seed,
                         loss_guard="off")  # its curve is the point
        try:
            res = mnist_runs.train(mc(), tc, data)
            losses = np.asarray(res.history.step_loss)
            lr_runs[label] = {
                "learning_rate": float(lr), "diverged": False,
                "message": None, "step_loss": losses,
                "first": float(losses[0]), "last": float(losses[-1]),
                "max": float(losses.max()),
                "test_accuracy": res.test_accuracy,
            }
        except TrainingDiverged as err:
            step = re.search(r"epoch (\d+), step (\d+)", str(err))
            lr_runs[label] = {
                "learning_rate": float(lr), "diverged": True,
                "message": str(err),
                "diverged_at": ([int(step.group(1)), int(step.group(2))]
                                if step else None),
                "step_loss": np.asarray([]),
                "test_accuracy": None,
            }
    return {"config": dict(config), "ln10": math.log(10),
            "reg_sweep": reg_sweep, "by_initializer": by_init,
            "overfit": overfit, "learning_rates": lr_runs}


def _by_lr(result):
    """(label, run) pairs by increasing learning rate (JSON sorts keys)."""
    return sorted(result["learning_rates"].items(),
                  key=lambda item: item[1]["learning_rate"])


def lr_verdicts(result):
    """'barely moves' / 'explodes' / 'learns' per learning-rate run."""
    out = {}
    for label, r in result["learning_rates"].items():
        if r["diverged"]:
            out[label] = "explodes (NaN/Inf: TrainingDiverged)"
        elif r["max"] > 10 * r["first"]:
            out[label] = f"explodes (up to {r['max']:.3g})"
        elif r["last"] > 0.95 * r["first"]:
            out[label] = "barely moves"
        else:
            out[label] = "learns"
    return out


def plot(result):
    arch = "-".join(["784", *map(str, result["config"]["hidden"]), "10"])
    fig, axes = figure(ncols=2, nrows=2, width=5.4, height=3.8,
                       title=f"{TITLE} (MNIST, {arch}, note 004)")
    ln10 = result["ln10"]

    ax = axes[0, 0]
    sweep = result["reg_sweep"]
    regs = np.asarray([r["reg"] for r in sweep], dtype=float)
    loss = np.asarray([r["loss"] for r in sweep], dtype=float)
    pred = np.asarray([r["predicted"] for r in sweep], dtype=float)
    floor = regs[regs > 0].min() / 10 if (regs > 0).any() else 1e-4
    x = np.where(regs > 0, regs, floor)
    ax.plot(x, loss, "o", color="tab:blue", label="measured initial loss")
    ax.plot(x, pred, "-", color="tab:blue", alpha=0.5,
            label="data loss + reg·ΣW²")
    ax.axhline(ln10, color="tab:red", ls="--", lw=1, label="ln 10 = 2.303")
    ax.set(xscale="log", yscale="log", xlabel="reg (leftmost point: reg = 0)",
           ylabel="loss before training",
           title=f"initial loss vs reg (reg 0: {sweep[0]['loss']:.4f})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)

    ax = axes[0, 1]
    by = result["by_initializer"]
    names = [k for k in result["config"]["init_compare"] if k in by]
    vals = [by[k]["data_loss"] for k in names]
    bars = ax.bar(range(len(names)), vals, color="tab:gray")
    for b, v in zip(bars, vals):
        ax.text(b.get_x() + b.get_width() / 2, v, f"{v:.3g}", ha="center",
                va="bottom", fontsize=8)
    ax.axhline(ln10, color="tab:red", ls="--", lw=1, label="ln 10")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, fontsize=8)
    ax.set(yscale="log", xlabel="initializer (reg = 0)",
           ylabel="initial data loss",
           title="only small weights start at ln 10")
    ax.legend(fontsize=8)

    ax = axes[1, 0]
    o = result["overfit"]
    epochs = np.arange(1, len(o["loss"]) + 1)
    ax.plot(epochs, o["loss"], color="tab:blue", label="training loss")
    ax.set(yscale="log", xlabel="epoch (one full-batch step)",
           ylabel="training loss",
           title=f"overfit {o['n']} examples: 100 % at epoch "
                 f"{o['first_epoch_100']}")
    ax.grid(alpha=0.3)
    twin = ax.twinx()
    twin.plot(epochs, 100 * np.asarray(o["accuracy"], dtype=float),
              color="tab:green", label="training accuracy")
    twin.set(ylabel="training accuracy (%)", ylim=(0, 105))
    lines = ax.get_lines() + twin.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], fontsize=8,
              loc="center right")

    ax = axes[1, 1]
    verdicts = lr_verdicts(result)
    colors = {"too low": "tab:blue", "good": "tab:green",
              "too high": "tab:orange", "far too high": "tab:red"}
    for label, r in _by_lr(result):
        y = np.asarray(r["step_loss"], dtype=float)
        name = f"{label} (lr {r['learning_rate']:g}): {verdicts[label]}"
        if r["diverged"]:
            at = r.get("diverged_at") or ["?", "?"]
            ax.plot([], [], color=colors.get(label, "k"), ls=":",
                    label=f"{name} at step {at[1]} of epoch {at[0]}")
        else:
            ax.plot(np.arange(1, len(y) + 1), y, color=colors.get(label),
                    label=name)
    ax.set(yscale="log", xlabel="step", ylabel="training loss (per batch)",
           title="learning rate: too low / good / too high")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    ax.grid(alpha=0.3)
    return fig


def summarize(result):
    ln10 = result["ln10"]
    sweep = result["reg_sweep"]
    l0 = sweep[0]["loss"]
    rising = all(b["loss"] >= a["loss"] - 1e-6
                 for a, b in zip(sweep, sweep[1:]))
    o = result["overfit"]
    check = o["overfit_check"]
    verdicts = lr_verdicts(result)
    by = result["by_initializer"]
    lr_text = "; ".join(
        f"lr {r['learning_rate']:g} ({label}) {verdicts[label]}"
        + ("" if r["diverged"] else
           f", loss {r['first']:.3f} → {r['last']:.3g}")
        for label, r in _by_lr(result))
    lr_ok = (verdicts.get("too low") == "barely moves"
             and verdicts.get("good") == "learns"
             and all(v.startswith("explodes") for k, v in verdicts.items()
                     if "high" in k))
    held = (abs(l0 - ln10) < 0.05 and rising and o["final_accuracy"] == 1.0
            and lr_ok)
    return (
        f"Initial loss with reg = 0 and 0.01·N weights: {l0:.4f} vs ln 10 = "
        f"{ln10:.4f} (|Δ| = {abs(l0 - ln10):.4f}); it rises with reg to "
        f"{sweep[-1]['loss']:.3f} at reg = {sweep[-1]['reg']:g}, matching "
        f"data loss + reg·ΣW² (ΣW² = {sweep[0]['sum_w2']:.2f}). Larger "
        f"initial weights start far from ln 10 ("
        + ", ".join(f"{k} {by[k]['data_loss']:.3g}"
                    for k in result["config"]["init_compare"] if k in by)
        + f"). Overfitting {o['n']} training examples (full batch, reg 0): "
        f"100 % training accuracy at epoch {o['first_epoch_100']}, final loss "
        f"{o['loss'][-1]:.2g} (tfnn.training.overfit_check: "
        f"{'reached' if check['reached'] else 'NOT reached'} after "
        f"{check['epochs']} steps); test accuracy of that model only "
        f"{100 * o['test_accuracy']:.0f} %. Learning rates: {lr_text}. "
        f"Note 004's sanity checks {'all pass' if held else 'do NOT all pass'}."
    )
