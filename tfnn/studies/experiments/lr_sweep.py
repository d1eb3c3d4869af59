"""Experiment 11: the learning rate on a log scale; too low, too high, good.

Note 001: "change the learning rate on a log scale (0.1 → 0.001 …) and
judge from the loss curve whether it is too fast, too slow or good".
Note 004 (babysitting): a very high lr makes the loss explode (or NaN), a
very low one barely moves it. Plain SGD (``w −= lr·∇L``) trains the same
MLP on MNIST for every ``lr`` of a log grid (1e-5 … 1e1) from the same
initial weights and batches, through the one trainer.

Per lr we record the training loss per step, the final epoch's mean loss,
the validation accuracy (the lr is chosen on it, never on the test set),
the relative change of the loss ``1 − L_end / L_0`` (``L_0``: the loss at
initialization; ``L_end``: the mean of the last 10 % of the steps; "barely
moves" means less than a fifth of the best lr's change), and
whether the run exploded: the loss became NaN/Inf
(:class:`tfnn.training.TrainingDiverged`) or rose above 10·L_0.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from tfnn.config import ModelConfig
from tfnn.studies import measures, mnist_runs
from tfnn.studies.figures import figure
from tfnn.studies.measures import trailing_mean
from tfnn.training import TrainConfig, TrainingDiverged

TITLE = "Learning-rate sweep on a log scale (SGD on an MNIST MLP)"
CLAIM = ("Pick the learning rate on a log scale: too low and the loss barely "
         "moves, too high and it explodes (NaN), in between it falls fast "
         "(notes 001, 004).")
EXPLODE_FACTOR = 10.0  # a loss above 10·L_0 counts as exploded
BARELY = 0.2  # "barely moves": fell < 1/5 as far as at the best lr
QUICK = {
    "log10_lrs": [-5, -3, -1, 1],
    "hidden": [128],
    "activation": "relu",
    "initializer": "he_normal",
    "optimizer": "sgd",
    "batch_size": 64,
    "epochs": 1,
    "n_train": 5000,
    "seed": 0,
}
FULL = dict(QUICK, log10_lrs=[x / 2 for x in range(-10, 3)], n_train=None,
            epochs=2)


def _end_loss(step_loss):
    """Mean of the last 10 % of the step losses (at least one)."""
    n = max(1, len(step_loss) // 10)
    return float(np.mean(step_loss[-n:]))


def run(config):
    splits = mnist_runs.subset(mnist_runs.mnist(), config["n_train"])
    mc = ModelConfig(hidden=tuple(config["hidden"]),
                     activation=config["activation"],
                     initializer=config["initializer"],
                     initializer_kwargs={"seed": config["seed"]})
    runs = []
    for log_lr in config["log10_lrs"]:
        lr = 10.0 ** log_lr
        tc = TrainConfig(optimizer=config["optimizer"], learning_rate=lr,
                         batch_size=config["batch_size"],
                         epochs=config["epochs"], seed=config["seed"],
                         # the sweep records the exploding curves itself
                         # (NaN still stops a run)
                         loss_guard="off")
        entry = {"log10_lr": float(log_lr), "lr": lr}
        try:
            result = mnist_runs.train(mc, tc, splits)
        except TrainingDiverged as err:
            entry.update(diverged=True, message=str(err), step_loss=[],
                         final_loss=math.inf, val_accuracy=math.nan,
                         test_accuracy=math.nan, relative_change=-math.inf,
                         exploded=True, max_loss=math.inf)
            runs.append(entry)
            continue
        h = result.history
        initial = result.summary["initial_loss"]["data_loss"]
        steps = np.asarray(h.step_loss)
        entry.update(
            diverged=False, message="",
            initial_loss=initial,
            step_loss=steps,
            final_loss=float(h.loss[-1]),
            val_accuracy=float(h.val_accuracy[-1]),
            test_accuracy=float(result.test_accuracy),
            relative_change=1.0 - _end_loss(steps) / initial,
            max_loss=float(np.max(steps)),
            exploded=bool(np.max(steps) > EXPLODE_FACTOR * initial),
        )
        runs.append(entry)
    val = np.array([r["val_accuracy"] for r in runs], dtype=float)
    best = int(np.nanargmax(val))
    exploded = [i for i, r in enumerate(runs) if r["exploded"]]
    return {
        "runs": runs,
        "best": best,
        "too_low": 0,
        "too_high": exploded[0] if exploded else len(runs) - 1,
        "best_test_accuracy": runs[best]["test_accuracy"],
        "steps_per_epoch": len(runs[best]["step_loss"]) // config["epochs"],
    }


def _lr_text(lr):
    return f"{lr:.0e}".replace("e-0", "e-").replace("e+0", "e")


def plot(result):
    runs = result["runs"]
    lrs = np.array([r["lr"] for r in runs], dtype=float)
    val = np.array([r["val_accuracy"] for r in runs], dtype=float)
    final = np.array([r["final_loss"] for r in runs], dtype=float)
    fig, axes = figure(ncols=3, width=5.1, height=3.8, title=TITLE)

    ax = axes[0, 0]
    ax.plot(lrs, 100 * val, "o-", color="C0", label="validation accuracy")
    boom = [i for i, r in enumerate(runs) if r["exploded"]]
    if boom:
        ax.plot(lrs[boom], 100 * np.nan_to_num(val[boom], nan=0.0), "x",
                color="C3", ms=10, mew=2, label="exploded / NaN")
    b = int(result["best"])
    ax.plot(lrs[b], 100 * val[b], "*", color="gold", ms=16, mec="k",
            label=f"best lr {_lr_text(lrs[b])}")
    ax.set(xscale="log", xlabel="learning rate (log scale)",
           ylabel="validation accuracy (%)", ylim=(0, 100),
           title="Final accuracy by learning rate")
    twin = ax.twinx()
    finite = np.isfinite(final)
    twin.plot(lrs[finite], final[finite], "s--", color="C1", ms=4,
              label="final training loss")
    twin.set(yscale="log", ylabel="final training loss (log)")
    handles = ax.get_legend_handles_labels()
    handles2 = twin.get_legend_handles_labels()
    ax.legend(handles[0] + handles2[0], handles[1] + handles2[1],
              fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              ncol=2)

    window = max(3, int(result["steps_per_epoch"]) // 40)
    ax = axes[0, 1]
    picks = [("too low", result["too_low"], "C0"),
             ("good (best)", result["best"], "C2"),
             ("too high", result["too_high"], "C3")]
    for label, i, color in picks:
        r = runs[int(i)]
        if r["diverged"]:
            ax.plot([], [], color=color,
                    label=f"{label}: lr {_lr_text(r['lr'])} (NaN)")
            continue
        x, y = trailing_mean(r["step_loss"], window)
        ax.plot(x, y, color=color,
                label=f"{label}: lr {_lr_text(r['lr'])}")
    ax.set(yscale="log", xlabel="step",
           ylabel=f"training loss (mean of {window} steps, log)",
           title="Loss curves: too low / good / too high")
    ax.legend(fontsize=8)

    ax = axes[0, 2]
    cmap = matplotlib.colormaps["viridis"]
    logs = np.log10(lrs)
    span = max(logs.max() - logs.min(), 1e-9)
    for r, lg in zip(runs, logs):
        if r["diverged"]:
            continue
        x, y = trailing_mean(r["step_loss"], window)
        ax.plot(x, y, color=cmap((lg - logs.min()) / span), lw=1.2)
    sm = ScalarMappable(cmap=cmap, norm=Normalize(logs.min(),
                                                              logs.max()))
    fig.colorbar(sm, ax=ax, label="log10 learning rate")
    ax.set(yscale="log", xlabel="step", ylabel="training loss (log)",
           title="Every learning rate")
    for ax in axes[0]:
        ax.grid(alpha=0.3)
    return fig


def summarize(result):
    runs = result["runs"]
    best, low, high = (runs[int(result[k])] for k in
                       ("best", "too_low", "too_high"))
    inside = 0 < int(result["best"]) < len(runs) - 1
    # "Barely moves": the loss fell less than a fifth as far as at the
    # best lr (robust to the budget; quick mode also stays under 5 %).
    barely = low["relative_change"] < BARELY * best["relative_change"]
    top = runs[-1]
    worse = top["diverged"] or top["exploded"] or (
        top["val_accuracy"] < best["val_accuracy"])
    held = inside and barely and worse
    high_text = (
        "diverged (NaN)" if high["diverged"] else
        f"exploded to a loss of {high['max_loss']:.3g} "
        f"(L_0 = {high['initial_loss']:.2f}) and ended at "
        f"{measures.percent(high['val_accuracy'])} validation accuracy"
        if high["exploded"] else
        f"ended at {measures.percent(high['val_accuracy'])}")
    return (
        f"SGD on a {result.get('config', {}).get('hidden', '')} MLP for "
        f"lr = {_lr_text(runs[0]['lr'])} … {_lr_text(runs[-1]['lr'])} "
        f"({len(runs)} values on a log grid). The best validation accuracy, "
        f"{measures.percent(best['val_accuracy'])}, is at lr "
        f"{_lr_text(best['lr'])} ({'inside' if inside else 'at the edge of'}"
        f" the range; its test accuracy "
        f"{measures.percent(best['test_accuracy'])}"
        f"). At lr {_lr_text(low['lr'])} the loss changed by "
        f"{100 * low['relative_change']:.1f} % of L_0 against "
        f"{100 * best['relative_change']:.1f} % at the best lr "
        f"({'barely moves' if barely else 'NOT negligible'}); at "
        f"lr {_lr_text(high['lr'])} it {high_text}. Claim "
        f"{'holds' if held else 'does NOT hold as stated'}."
    )
