"""Experiment 16: note 003's assignment, one change at a time.

Note 003 (Unit 06, 과제) asks to raise MNIST accuracy as far as possible
with a suitable activation, weight initialization, optimizer …, "showing
the process". Here every stage changes ONE thing from the stage before it
and its gain is measured on the validation set and on the test set:

    baseline       784-64-10 with note 000's sigmoid output and batch 32;
                   sigmoid hidden units (note 000's are ReLU),
                   W = 0.01·N(0, 1), SGD lr 0.01 and the loss are ours
    relu           f(x) = max(0, x)                          (003, 000)
    he_init        W ~ N(0, 2/fan_in)                        (001, 002, 003)
    adam           Adam, lr 1e-3                             (001, 003)
    logits_output  drop the output sigmoid: softmax CE on logits (002)
    wider_deeper   784-256-256-10                            (003)
    batch_norm     Linear → BN → ReLU                        (002, 003, 004)
    dropout        rate 0.2 after every hidden block         (002)
    cosine_lr      lr_t = lr·½(1 + cos(πt/T))      (ours: no note names one)
    cnn_bn         a small CNN with BN: [Conv3×3 → BN → ReLU → MaxPool]×2

:data:`STAGES` holds them as ``(name, ModelConfig overrides, TrainConfig
overrides)``, each applied on top of the previous ones (:func:`configs`), so
a longer journey can reuse them. Every run goes through the one trainer;
validation and test accuracies are means ± std over the seeds.
"""

from __future__ import annotations

import numpy as np

from tfnn.studies import measures
from tfnn.studies.assignment import JOURNEY, run_stages, stage_configs
from tfnn.studies.figures import figure

TITLE = "The assignment of note 003: MNIST accuracy, one change at a time"
CLAIM = ("A suitable activation (ReLU), weight initialization (He), optimizer "
         "(Adam) and the techniques of the notes (a wider/deeper net, "
         "BatchNorm, dropout, a learning-rate schedule, a CNN) raise MNIST "
         "accuracy step by step over the sigmoid baseline (notes 000, 003). "
         "The learning-rate schedule (cosine decay) is ours: no note names "
         "one (note 001 only says to choose the rate on a log scale).")

# (name, ModelConfig overrides, TrainConfig overrides): cumulative. The
# first nine stages of the assignment's journey (tfnn.studies.assignment),
# then a small CNN with BN.
STAGES = [
    *[stage for stage in JOURNEY if stage[0] in (
        "baseline", "relu", "he_init", "adam", "logits_output",
        "wider_deeper", "batch_norm", "dropout", "cosine_lr")],
    ("cnn_bn", {"arch": "cnn", "filters": [32, 64], "hidden": [128]}, {}),
]
STAGE_NAMES = [name for name, _, _ in STAGES]

QUICK = {
    "stages": STAGE_NAMES,
    "epochs": 1,
    "n_train": 3000,
    "n_val": 1000,
    "n_test": 1000,
    "seeds": [0],
}
FULL = dict(QUICK, epochs=3, n_train=20000, n_val=5000, n_test=10000,
            seeds=[0, 1])


def configs(stages=STAGES, epochs=1, seed=0):
    """``[(name, ModelConfig, TrainConfig)]``: each stage's overrides
    applied on top of all earlier ones."""
    return stage_configs(stages, epochs, seed)


def run(config):
    rows, _ = run_stages(STAGES, config)
    return {"stages": rows,
            "baseline_test": rows[0]["test_accuracy_mean"],
            "final_test": rows[-1]["test_accuracy_mean"]}


def plot(result):
    rows = result["stages"]
    names = [r["name"] for r in rows]
    x = np.arange(len(rows))
    fig, axes = figure(ncols=3, width=4.8, height=3.9, title=TITLE)
    ax = axes[0, 0]
    for key, label, color, dx in (("val", "validation", "C0", -0.08),
                                  ("test", "test", "C1", 0.08)):
        mean = np.array([100 * r[f"{key}_accuracy_mean"] for r in rows])
        std = np.array([100 * r[f"{key}_accuracy_std"] for r in rows])
        ax.errorbar(x + dx, mean, yerr=std, fmt="o-", color=color,
                    capsize=3, label=label)
    ax.axhline(10, color="gray", ls=":", label="chance")
    ax.set(ylabel="accuracy (%) (mean ± std over seeds)",
           title="Accuracy by stage", ylim=(0, 102))
    ax.legend(fontsize=8, loc="lower right")

    ax = axes[0, 1]
    err = np.array([100 * (1 - r["test_accuracy_mean"]) for r in rows])
    std = np.array([100 * r["test_accuracy_std"] for r in rows])
    ax.errorbar(x, err, yerr=std, fmt="s-", color="C3", capsize=3)
    for xi, e in zip(x, err):
        ax.annotate(f"{e:.1f}", (xi, e), textcoords="offset points",
                    xytext=(0, 6), ha="center", fontsize=7)
    ax.set(yscale="log", ylabel="test error (%) (log scale)",
           title="Test error by stage")

    ax = axes[0, 2]
    w = 0.38
    vg = [100 * r["val_gain"] for r in rows[1:]]
    tg = [100 * r["test_gain"] for r in rows[1:]]
    ax.bar(x[1:] - w / 2, vg, w, color="C0", label="validation")
    ax.bar(x[1:] + w / 2, tg, w, color="C1", label="test")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(ylabel="gain over the previous stage (points)",
           title="What each change bought", yscale="symlog")
    ax.legend(fontsize=8)
    for ax in axes[0]:
        ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
        ax.set_xlabel("stage (each changes one thing)")
        ax.grid(alpha=0.3)
    return fig


def summarize(result):
    rows = result["stages"]
    cfg = result.get("config", {})
    seeds = cfg.get("seeds", [0])
    steps = ", ".join(
        f"{r['name']} {100 * r['test_accuracy_mean']:.1f} %"
        + (f" ({100 * r['test_gain']:+.1f})" if i else "")
        for i, r in enumerate(rows))
    hurt = [r["name"] for r in rows[1:] if r["val_gain"] < 0]
    same = [r["name"] for p, r in zip(rows, rows[1:])
            if r["val_accuracy"] == p["val_accuracy"]
            and r["test_accuracy"] == p["test_accuracy"]]
    best = max(rows, key=lambda r: r["val_accuracy_mean"])
    total = rows[-1]["test_accuracy_mean"] - rows[0]["test_accuracy_mean"]
    held = total > 0
    return (
        f"{len(rows)} stages, {cfg.get('epochs', '?')} epoch(s) each on "
        f"{cfg.get('n_train', '?')} training images, {len(seeds)} seed(s); "
        f"test accuracy (gain in points): {steps}. "
        + (f"Changes that lowered validation accuracy at this budget: "
           f"{', '.join(hurt)}. " if hurt else
           "Every change raised validation accuracy. ")
        + (f"Identical accuracies to the stage before (the change did "
           f"not change training at all): {', '.join(same)}. " if same
           else "")
        + f"The validation set's best stage is {best['name']} "
        f"({measures.percent(best['val_accuracy_mean'])} validation, "
        f"{measures.percent(best['test_accuracy_mean'])} test). The claim "
        f"{'holds' if held else 'does NOT hold'}: the last stage is "
        f"{100 * total:+.1f} points over the baseline."
    )
