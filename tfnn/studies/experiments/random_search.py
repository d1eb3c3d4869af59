"""Experiment 12: random search of lr and reg on log scales, coarse → fine.

Note 004 (CS231n lecture 6, hyperparameter optimization): the learning
rate multiplies the gradient, so its range must be searched on a log scale
(a little too big explodes, a little too small does not update), and so is
the L2 strength ``reg`` (``loss += reg·ΣW²``). Random search draws each
trial as::

    lr  = 10 ** uniform(log_lr_lo,  log_lr_hi)
    reg = 10 ** uniform(log_reg_lo, log_reg_hi)

A **coarse** stage samples wide ranges with a short budget; a **fine**
stage samples again inside the box spanned by the best coarse trials
(widened by a margin, clipped to the coarse box). Every trial is recorded
(lr, reg, validation accuracy, stage). Trials are ranked on the
validation set only; the test accuracy of the single best trial is
reported once, at the end. The figure is CS231n's scatter of validation
accuracy over (log lr, log reg).
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.patches import Rectangle

from tfnn.config import ModelConfig
from tfnn.studies import measures, mnist_runs
from tfnn.studies.figures import figure
from tfnn.training import TrainConfig, TrainingDiverged

TITLE = ("Random search of learning rate and L2 reg on log scales "
         "(coarse → fine)")
CLAIM = ("Search lr and reg by random sampling on a log scale, first coarse "
         "(wide ranges, short runs), then fine inside the region of the best "
         "coarse trials; choose on the validation set (note 004).")
QUICK = {
    "coarse_log10_lr": [-5.0, 0.5],
    "coarse_log10_reg": [-5.0, 0.0],
    "coarse_trials": 6,
    "fine_trials": 4,
    "top_k": 3,  # the fine box spans the best top_k coarse trials …
    "margin": 0.25,  # … widened by this many decades on each side
    "coarse_epochs": 1,
    "fine_epochs": 1,
    "hidden": [100],
    "optimizer": "sgd",
    "batch_size": 64,
    "n_train": 3000,
    "seed": 0,
}
FULL = dict(QUICK, coarse_trials=24, fine_trials=16, n_train=10000,
            coarse_epochs=2, fine_epochs=2)


def fine_box(trials, coarse_box, top_k, margin):
    """The fine stage's ``(lo, hi)`` in log10 for lr and reg.

    The box spanned by the ``top_k`` best coarse trials (by validation
    accuracy; diverged trials excluded), widened by ``margin`` decades and
    clipped to the coarse box: it lies inside the coarse box and contains
    the best coarse trial.
    """
    ranked = sorted((t for t in trials if not t["diverged"]),
                    key=lambda t: -t["val_accuracy"])[:top_k]
    if not ranked:
        return dict(coarse_box)
    box = {}
    for key in ("log10_lr", "log10_reg"):
        values = [t[key] for t in ranked]
        lo, hi = coarse_box[key]
        box[key] = [max(lo, min(values) - margin),
                    min(hi, max(values) + margin)]
    return box


def _trial(splits, config, lr, reg, epochs):
    mc = ModelConfig(hidden=tuple(config["hidden"]), reg=reg,
                     initializer_kwargs={"seed": config["seed"]})
    tc = TrainConfig(optimizer=config["optimizer"], learning_rate=lr,
                     batch_size=config["batch_size"], epochs=epochs,
                     seed=config["seed"])
    try:
        result = mnist_runs.train(mc, tc, splits)
    except TrainingDiverged:
        return {"val_accuracy": math.nan, "train_accuracy": math.nan,
                "final_loss": math.inf, "diverged": True}, math.nan
    h = result.history
    return {"val_accuracy": float(h.val_accuracy[-1]),
            "train_accuracy": float(h.accuracy[-1]),
            "final_loss": float(h.loss[-1]),
            "diverged": not math.isfinite(h.loss[-1])}, result.test_accuracy


def run(config):
    splits = mnist_runs.subset(mnist_runs.mnist(), config["n_train"])
    rng = np.random.default_rng(config["seed"])
    coarse = {"log10_lr": list(config["coarse_log10_lr"]),
              "log10_reg": list(config["coarse_log10_reg"])}
    trials, test_acc = [], []

    def stage(name, box, n, epochs):
        for _ in range(n):
            log_lr = float(rng.uniform(*box["log10_lr"]))
            log_reg = float(rng.uniform(*box["log10_reg"]))
            record, test = _trial(splits, config, 10 ** log_lr,
                                  10 ** log_reg, epochs)
            trials.append({"stage": name, "log10_lr": log_lr,
                           "log10_reg": log_reg, "lr": 10 ** log_lr,
                           "reg": 10 ** log_reg, "epochs": epochs, **record})
            test_acc.append(test)  # kept aside: read once, for the best

    stage("coarse", coarse, config["coarse_trials"], config["coarse_epochs"])
    fine = fine_box([t for t in trials if t["stage"] == "coarse"], coarse,
                    config["top_k"], config["margin"])
    stage("fine", fine, config["fine_trials"], config["fine_epochs"])

    def best_of(name=None):
        pool = [i for i, t in enumerate(trials) if not t["diverged"]
                and (name is None or t["stage"] == name)]
        return max(pool, key=lambda i: trials[i]["val_accuracy"]) \
            if pool else None

    best = best_of()
    return {
        "trials": trials,
        "coarse_box": coarse,
        "fine_box": fine,
        "best_coarse": best_of("coarse"),
        "best_fine": best_of("fine"),
        "best": best,
        # The test set is read once: for the trial the validation set chose.
        "best_test_accuracy": None if best is None else float(test_acc[best]),
    }


def _rect(ax, box, **kw):
    (x0, x1), (y0, y1) = box["log10_lr"], box["log10_reg"]
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, **kw))


def plot(result):
    trials = result["trials"]
    fig, axes = figure(ncols=2, width=5.6, height=4.4, title=TITLE)
    ax = axes[0, 0]
    ok = [t for t in trials if not t["diverged"]]
    acc = [100 * t["val_accuracy"] for t in ok]
    norm = Normalize(min(acc, default=0), max(acc, default=100))
    sc = None
    for stage, marker, size in (("coarse", "o", 55), ("fine", "^", 70)):
        pts = [t for t in ok if t["stage"] == stage]
        if pts:
            sc = ax.scatter([t["log10_lr"] for t in pts],
                            [t["log10_reg"] for t in pts],
                            c=[100 * t["val_accuracy"] for t in pts],
                            cmap="viridis", norm=norm, marker=marker, s=size,
                            edgecolors="k", linewidths=0.5,
                            label=f"{stage} ({len(pts)})")
    bad = [t for t in trials if t["diverged"]]
    if bad:
        ax.scatter([t["log10_lr"] for t in bad],
                   [t["log10_reg"] for t in bad], marker="x", c="C3",
                   label=f"diverged ({len(bad)})")
    if result["best"] is not None:
        b = trials[int(result["best"])]
        ax.scatter([b["log10_lr"]], [b["log10_reg"]], marker="*", s=320,
                   facecolors="none", edgecolors="red", linewidths=1.5,
                   label="best (validation)")
    _rect(ax, result["coarse_box"], ls=":", ec="gray")
    _rect(ax, result["fine_box"], ls="--", ec="C3", lw=1.2)
    ax.plot([], [], ls="--", color="C3", label="fine box")
    if sc is not None:
        fig.colorbar(sc, ax=ax, label="validation accuracy (%)")
    ax.set(xlabel="log10 learning rate", ylabel="log10 reg (L2)",
           title="Validation accuracy of every trial")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14),
              ncol=3)

    ax = axes[0, 1]
    for stage, marker, color in (("coarse", "o", "C0"), ("fine", "^", "C1")):
        pts = [t for t in ok if t["stage"] == stage]
        ax.scatter([t["log10_lr"] for t in pts],
                   [100 * t["val_accuracy"] for t in pts], marker=marker,
                   color=color, edgecolors="k", linewidths=0.4,
                   label=f"{stage}")
    ax.axhline(10, color="gray", ls=":", label="chance")
    ax.set(xlabel="log10 learning rate", ylabel="validation accuracy (%)",
           title="Accuracy against lr (every reg)", ylim=(0, 100))
    ax.legend(fontsize=8)
    for ax in axes[0]:
        ax.grid(alpha=0.3)
    return fig


def summarize(result):
    trials = result["trials"]
    fb, cb = result["fine_box"], result["coarse_box"]
    bc = result["best_coarse"]
    bf = result["best_fine"]
    b = result["best"]
    if b is None:
        return "Every trial diverged; the search found nothing."
    bc_t = trials[int(bc)] if bc is not None else None
    bf_t = trials[int(bf)] if bf is not None else None
    best = trials[int(b)]
    inside = all(cb[k][0] <= fb[k][0] and fb[k][1] <= cb[k][1] for k in fb)
    contains = bc_t is not None and all(
        fb[k][0] <= bc_t[k] <= fb[k][1] for k in fb)
    narrower = (fb["log10_lr"][1] - fb["log10_lr"][0]
                < cb["log10_lr"][1] - cb["log10_lr"][0])
    keeps = bf_t is not None and bc_t is not None and (
        bf_t["val_accuracy"] >= bc_t["val_accuracy"] - 0.02)
    n_c = sum(t["stage"] == "coarse" for t in trials)
    good = [t for t in trials if not t["diverged"]
            and t["val_accuracy"] >= best["val_accuracy"] - 0.05]
    lr_span = (min(t["log10_lr"] for t in good),
               max(t["log10_lr"] for t in good))
    reg_span = (min(t["log10_reg"] for t in good),
                max(t["log10_reg"] for t in good))
    held = inside and contains and narrower and keeps
    return (
        f"{len(trials)} trials ({n_c} coarse, {len(trials) - n_c} fine), lr "
        f"and reg drawn as 10**uniform. Coarse box: log10 lr ∈ "
        f"[{cb['log10_lr'][0]:g}, {cb['log10_lr'][1]:g}], log10 reg ∈ "
        f"[{cb['log10_reg'][0]:g}, {cb['log10_reg'][1]:g}]; best coarse "
        f"validation accuracy {measures.percent(bc_t['val_accuracy'])} at lr "
        f"{bc_t['lr']:.2e}, reg {bc_t['reg']:.2e}. Fine box: log10 lr ∈ "
        f"[{fb['log10_lr'][0]:.2f}, {fb['log10_lr'][1]:.2f}], log10 reg ∈ "
        f"[{fb['log10_reg'][0]:.2f}, {fb['log10_reg'][1]:.2f}]; best fine "
        f"{measures.percent(bf_t['val_accuracy']) if bf_t else 'n/a'}. The "
        f"trials within 5 points of the best span "
        f"{lr_span[1] - lr_span[0]:.1f} decades of lr but "
        f"{reg_span[1] - reg_span[0]:.1f} of reg. The validation set chose "
        f"lr {best['lr']:.2e}, reg {best['reg']:.2e} ({best['stage']}); "
        f"its test accuracy, read once: "
        f"{measures.percent(result['best_test_accuracy'])}. Coarse → fine "
        + ("worked as the note describes" if held
           else "did NOT behave as the note describes")
        + f": the fine box lies inside the coarse one and contains its best "
        f"trial{'' if inside and contains else ' (NOT here)'}, and the fine "
        f"stage {'matched or beat' if keeps else 'fell short of'} the coarse "
        f"best."
    )
