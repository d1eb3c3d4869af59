"""The assignment's figures: accuracy by stage, the best model's confusion
matrix and its misclassified test digits (each returns a ``Figure``)."""

from __future__ import annotations

import numpy as np

from tfnn.studies.figures import figure


def plot_stages(result):
    """Accuracy by stage (mean ± std over seeds) and the ensembles."""
    rows = result["stages"]
    names = [r["name"] for r in rows] + [e["name"] for e in
                                         result["ensembles"]]
    x = np.arange(len(names))
    fig, axes = figure(ncols=2, width=6.2, height=4.4,
                       title="Note 003's assignment: MNIST, one change at a "
                       "time")
    ax = axes[0, 0]
    for key, label, color, dx in (("val", "validation", "C0", -0.1),
                                  ("test", "test", "C1", 0.1)):
        mean = [100 * r[f"{key}_accuracy_mean"] for r in rows]
        std = [100 * r[f"{key}_accuracy_std"] for r in rows]
        ax.errorbar(x[:len(rows)] + dx, mean, yerr=std, fmt="o-",
                    color=color, capsize=3, label=f"{label} (mean ± std)")
        ens = [100 * e[f"{key}_accuracy"] for e in result["ensembles"]]
        ax.plot(x[len(rows):] + dx, ens, "*", color=color, ms=11)
    ax.set(ylabel="accuracy (%)", title="Accuracy by stage", ylim=(0, 101))
    ax.legend(fontsize=8, loc="lower right")
    ax = axes[0, 1]
    err = [100 * (1 - r["test_accuracy_mean"]) for r in rows]
    std = [100 * r["test_accuracy_std"] for r in rows]
    ax.errorbar(x[:len(rows)], err, yerr=std, fmt="s-", color="C3",
                capsize=3, label="test error, mean ± std over seeds")
    ens = [100 * (1 - e["test_accuracy"]) for e in result["ensembles"]]
    ax.plot(x[len(rows):], ens, "*", color="C3", ms=11, label="ensemble")
    for xi, e in zip(x, err + ens):
        ax.annotate(f"{e:.2f}", (xi, e), textcoords="offset points",
                    xytext=(0, 7), ha="center", fontsize=7)
    for target, label in ((1.2, "MLP goal 98.8 %"), (0.4, "CNN goal 99.6 %")):
        ax.axhline(target, color="gray", ls=":", lw=1)
        ax.annotate(label, (0, target), fontsize=7, color="gray",
                    xytext=(0, 2), textcoords="offset points")
    ax.set(yscale="log", ylabel="test error (%), log scale",
           title="Test error by stage")
    ax.legend(fontsize=8)
    for ax in axes[0]:
        ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
        ax.grid(alpha=0.3)
    return fig


def plot_confusion(result):
    """The best model's confusion matrix, errors coloured."""
    best = result["best"]
    cm = np.asarray(best["confusion"])
    fig, axes = figure(width=5.6, height=5.0, title=(
        f"Confusion matrix of {best['label']} "
        f"({100 * best['test_accuracy']:.2f} % test)"))
    ax = axes[0, 0]
    off = cm.astype(float).copy()
    np.fill_diagonal(off, np.nan)
    im = ax.imshow(off, cmap="Reds")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                        fontsize=7, color="k" if i != j else "gray")
    ax.set(xlabel="predicted", ylabel="true", xticks=range(10),
           yticks=range(10), title="off-diagonal: errors (colour)")
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def plot_misclassified(result, images, labels, limit=60):
    """The first ``limit`` misclassified test digits of the best model:
    true → predicted (probability)."""
    best = result["best"]
    wrong = best["misclassified"][:limit]
    cols = 10
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = figure(ncols=cols, nrows=rows, width=1.1, height=1.3,
                       title=f"Misclassified test digits of {best['label']} "
                       f"({len(best['misclassified'])} of {len(labels)}): "
                       "true → predicted (probability)")
    for ax in axes.ravel():
        ax.axis("off")
    for k, idx in enumerate(wrong):
        ax = axes.ravel()[k]
        ax.imshow(np.asarray(images[idx]).reshape(28, 28), cmap="gray_r")
        ax.set_title(f"{labels[idx]}→{best['predicted'][k]} "
                     f"({best['probability'][k]:.2f})", fontsize=7)
    return fig
