"""Experiment 6: input normalization compared (raw, min-max, standardized).

Notes 001 and 004. The same MLP is trained by plain SGD on the same MNIST
examples, for the same steps and from the same initial weights, with the
pixels fed three ways::

    raw          x ∈ [0, 255]
    minmax       x / 255 ∈ [0, 1]
    standardize  (x / 255 − m) / s,  m, s: pixel mean and std of the
                 TRAINING images (never of validation or test data)

Note 001: "normalized data gives rounder contours of the cost, so gradient
descent works better"; note 004: uneven data distributions make learning
less efficient. The shape of the contours is measured directly: for a
linear layer ``z = Wx`` the curvature of a squared loss along the weights
is ``E[x xᵀ]``, so its largest eigenvalue ``λ_max`` sets the largest stable
gradient-descent step (``lr < 2 / λ_max``) and ``λ_max / mean(λ)`` says how
elongated the contours are (1 = round). Dividing by 255 shrinks every
eigenvalue by 255² (same shape, 65 025× larger usable lr); subtracting the
mean removes most of the one direction (the mean image) that dominates
``E[x xᵀ]``, which makes the contours rounder.

Every learning rate of a log-scale sweep is tried for every input, so the
figure shows both "same lr" and "each at its best lr".
"""

from __future__ import annotations

import numpy as np

from tfnn.config import ModelConfig
from tfnn.studies.figures import figure
from tfnn.studies.mnist_runs import mnist, subset, train
from tfnn.training import TrainConfig, TrainingDiverged

TITLE = "Input normalization: raw vs min-max vs standardized pixels"
CLAIM = ("Normalizing the inputs (standardize: subtract the mean, divide by "
         "the std; or min-max: /255) makes the cost's contours rounder, so "
         "gradient descent converges faster and more stably (notes 001, "
         "004).")
PREPROCESSINGS = ("raw", "minmax", "standardize")
QUICK = {
    "preprocessings": list(PREPROCESSINGS),
    "hidden": [100],
    "activation": "relu",
    "initializer": "he_normal",
    "optimizer": "sgd",
    "learning_rates": [1e-3, 1e-2, 1e-1],
    "curve_learning_rates": [1e-3, 1e-1],  # loss curves shown for these
    "learning_rate": 1e-1,  # the "same lr" of the claim's test
    "batch_size": 64,
    "epochs": 1,
    "n_train": 4000,
    "n_test": 1000,
    "n_curvature": 5000,  # images for the eigenvalues of E[x xᵀ]
    "seed": 0,
}
FULL = dict(QUICK, learning_rates=[1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
            epochs=3, n_train=20000, n_test=10000, n_curvature=10000)


def _splits(kind):
    # mnist() with no argument is "standardize": share that cache entry.
    return mnist() if kind == "standardize" else mnist(kind)


def curvature(x):
    """Eigenvalues of the input second-moment matrix ``E[x xᵀ]``.

    Returns ``{"lambda_max", "lambda_mean", "elongation" (= max / mean),
    "max_stable_lr" (= 2 / λ_max, gradient descent on z = Wx with a squared
    loss), "top" (the 10 largest)}``.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)  # (n, 784)
    ev = np.linalg.eigvalsh(x.T @ x / len(x))[::-1]
    return {
        "lambda_max": float(ev[0]),
        "lambda_mean": float(ev.mean()),
        "elongation": float(ev[0] / ev.mean()),
        "max_stable_lr": float(2.0 / ev[0]),
        "top": ev[:10],
    }


def run(config):
    mc = ModelConfig(hidden=tuple(config["hidden"]),
                     activation=config["activation"],
                     initializer=config["initializer"])
    lrs = sorted(set(config["learning_rates"]) | set(
        config["curve_learning_rates"]) | {config["learning_rate"]})
    sweep, curves, curv, stats = {}, {}, {}, {}
    for kind in config["preprocessings"]:
        full = _splits(kind)
        splits = subset(full, config["n_train"], config["n_test"])
        curv[kind] = curvature(full.x_train[:config["n_curvature"]])
        counts, edges = np.histogram(splits.x_train, bins=40)
        stats[kind] = {"hist_counts": counts, "hist_edges": edges,
                       "min": float(splits.x_train.min()),
                       "max": float(splits.x_train.max()),
                       "mean": float(splits.x_train.mean()),
                       "std": float(splits.x_train.std()),
                       "preprocessor": splits.preprocessor.to_dict()}
        sweep[kind], curves[kind] = [], {}
        for lr in lrs:
            tc = TrainConfig(optimizer=config["optimizer"], learning_rate=lr,
                             batch_size=config["batch_size"],
                             epochs=config["epochs"], seed=config["seed"],
                             # raw inputs' exploding curves are the point
                             # (NaN still stops a run)
                             loss_guard="off")
            try:
                res = train(mc, tc, splits)
            except TrainingDiverged:
                sweep[kind].append({"learning_rate": lr, "diverged": True,
                                    "final_loss": None, "peak_loss": None,
                                    "initial_loss": None,
                                    "test_accuracy": None})
                curves[kind][str(lr)] = []
                continue
            steps = np.asarray(res.history.step_loss)
            sweep[kind].append({
                "learning_rate": lr,
                "diverged": False,
                "final_loss": float(res.history.loss[-1]),
                "initial_loss": float(steps[0]),
                "peak_loss": float(steps.max()),
                "test_accuracy": float(res.test_accuracy),
            })
            curves[kind][str(lr)] = steps
    return {"preprocessings": list(config["preprocessings"]),
            "sweep": sweep, "curves": curves, "curvature": curv,
            "input_stats": stats, "learning_rate": config["learning_rate"],
            "curve_learning_rates": list(config["curve_learning_rates"]),
            "steps": config["epochs"] * -(-config["n_train"]
                                          // config["batch_size"])}


def _row(result, kind, lr):
    for r in result["sweep"][kind]:
        if np.isclose(r["learning_rate"], lr):
            return r
    raise KeyError(f"no run of {kind} at lr={lr}")


def best(result, kind):
    """The sweep's row with the lowest final training loss for ``kind``."""
    rows = [r for r in result["sweep"][kind] if r["final_loss"] is not None]
    return min(rows, key=lambda r: r["final_loss"]) if rows else None


COLORS = {"raw": "tab:red", "minmax": "tab:blue", "standardize": "tab:green"}


def plot(result):
    curve_lrs = result["curve_learning_rates"]
    fig, axes = figure(ncols=3, nrows=2, width=4.6, height=3.6, title=TITLE)
    cells = [axes[0, 0], axes[0, 1]]
    for ax, lr in zip(cells, curve_lrs):
        for kind in result["preprocessings"]:
            by_lr = result["curves"][kind]
            key = next((k for k in by_lr if np.isclose(float(k), lr)), None)
            steps = np.asarray(by_lr.get(key, []), dtype=float)
            row = _row(result, kind, lr)
            if row["diverged"] or len(steps) == 0:
                ax.plot([], [], color=COLORS.get(kind), label=f"{kind}: NaN")
                continue
            ax.plot(np.arange(1, len(steps) + 1), steps, color=COLORS.get(kind),
                    lw=0.9, label=f"{kind}: last-epoch loss "
                    f"{row['final_loss']:.3f}")
        ax.axhline(np.log(10), color="k", lw=0.6, ls="--", label="ln 10")
        ax.set(yscale="log", xlabel="SGD step", ylabel="training loss (batch)",
               title=f"same lr = {lr:g}")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")
    ax = axes[1, 0]
    for kind in result["preprocessings"]:
        rows = result["sweep"][kind]
        lrs = [r["learning_rate"] for r in rows]
        loss = [np.nan if r["final_loss"] is None else r["final_loss"]
                for r in rows]
        ax.plot(lrs, loss, "o-", color=COLORS.get(kind), label=kind)
        for r in rows:
            if r["diverged"]:
                ax.plot(r["learning_rate"], np.log(10), "x", ms=9,
                        color=COLORS.get(kind))
    ax.axhline(np.log(10), color="k", lw=0.6, ls="--",
               label="ln 10 (no better than chance)")
    ax.set(xscale="log", yscale="log", xlabel="learning rate (log scale)",
           ylabel="training loss, last epoch",
           title="loss after the same steps vs lr (x = NaN)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    ax = axes[1, 1]
    for kind in result["preprocessings"]:
        rows = result["sweep"][kind]
        ax.plot([r["learning_rate"] for r in rows],
                [np.nan if r["test_accuracy"] is None
                 else 100 * r["test_accuracy"] for r in rows],
                "o-", color=COLORS.get(kind), label=kind)
    ax.axhline(10, color="k", lw=0.6, ls="--", label="chance")
    ax.set(xscale="log", xlabel="learning rate (log scale)",
           ylabel="test accuracy (%)", ylim=(0, 100),
           title="test accuracy after the same steps vs lr")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    ax = axes[0, 2]
    kinds = result["preprocessings"]
    lam = [result["curvature"][k]["lambda_max"] for k in kinds]
    elong = [result["curvature"][k]["elongation"] for k in kinds]
    bars = ax.bar(np.arange(len(kinds)), lam,
                  color=[COLORS.get(k) for k in kinds])
    for b, e, lm in zip(bars, elong, lam):
        ax.text(b.get_x() + b.get_width() / 2, lm * 1.3,
                f"λmax/mean λ = {e:.0f}\n2/λmax = {2 / lm:.2g}",
                ha="center", fontsize=7)
    ax.set_xticks(np.arange(len(kinds)))
    ax.set_xticklabels(kinds)
    ax.set(yscale="log", ylim=(min(lam) / 3, max(lam) * 30),
           xlabel="input preprocessing",
           ylabel="λ_max of E[x xᵀ] (log)",
           title="curvature of the cost (contour shape)")
    ax = axes[1, 2]
    for kind in result["preprocessings"]:
        st = result["input_stats"][kind]
        edges = np.asarray(st["hist_edges"], dtype=float)
        counts = np.asarray(st["hist_counts"], dtype=float)
        ax.stairs(counts / counts.sum(), edges, color=COLORS.get(kind),
                  label=f"{kind}: [{st['min']:.3g}, {st['max']:.3g}], "
                  f"mean {st['mean']:.2f}, std {st['std']:.2f}")
    ax.set(xscale="symlog", yscale="log", xlabel="pixel value (symlog)",
           ylabel="fraction of pixels", title="what the network sees")
    ax.legend(fontsize=6)
    return fig


def summarize(result):
    lr = result["learning_rate"]
    kinds = result["preprocessings"]

    def fmt(r):
        if r["diverged"]:
            return "NaN (diverged)"
        return f"{r['final_loss']:.3f}"

    same = {k: _row(result, k, lr) for k in kinds}
    bests = {k: best(result, k) for k in kinds}
    normalized = [k for k in kinds if k != "raw"]
    raw_loss = (np.inf if same["raw"]["final_loss"] is None
                else same["raw"]["final_loss"])
    wins_same = all(same[k]["final_loss"] is not None
                    and same[k]["final_loss"] < raw_loss for k in normalized)
    raw_best = bests["raw"]["final_loss"] if bests["raw"] else np.inf
    wins_best = all(bests[k] and bests[k]["final_loss"] < raw_best
                    for k in normalized)
    raw_wins_at = [
        r["learning_rate"] for r in result["sweep"]["raw"]
        if r["final_loss"] is not None and all(
            _row(result, k, r["learning_rate"])["final_loss"] is None
            or r["final_loss"] < _row(result, k, r["learning_rate"])[
                "final_loss"] for k in normalized)]
    c = result["curvature"]
    text = (
        f"Training loss (mean over the last epoch) after the same "
        f"{result['steps']} SGD steps at lr {lr:g}: "
        + ", ".join(f"{k} {fmt(same[k])}" for k in kinds)
        + f" (raw's batch loss peaked at "
        f"{same['raw']['peak_loss'] or float('nan'):.3g}). "
        "At each input's best lr of the sweep: "
        + ", ".join(f"{k} {bests[k]['final_loss']:.3f} (lr "
                    f"{bests[k]['learning_rate']:g})" for k in kinds
                    if bests[k])
        + ". "
    )
    raw_acc_at = [
        r["learning_rate"] for r in result["sweep"]["raw"]
        if r["test_accuracy"] is not None and all(
            (_row(result, k, r["learning_rate"])["test_accuracy"] or 0)
            < r["test_accuracy"] for k in normalized)]
    text += (
        f"Test accuracy at lr {lr:g}: "
        + ", ".join(f"{k} {100 * (same[k]['test_accuracy'] or 0):.1f} %"
                    for k in kinds) + ". ")
    if raw_acc_at:
        acc = {x: 100 * _row(result, "raw", x)["test_accuracy"]
               for x in raw_acc_at}
        text += ("By test accuracy raw is ahead at lr "
                 + ", ".join(f"{x:g} ({a:.1f} %)" for x, a in acc.items())
                 + ", where the normalized inputs have barely moved. ")
    if raw_wins_at:
        text += ("Raw pixels are NOT worse at every lr: at lr "
                 + ", ".join(f"{x:g}" for x in raw_wins_at)
                 + " raw ends lower, because unscaled inputs act like a "
                 "much larger learning rate on the first layer. ")
    text += (
        "Curvature of E[x xᵀ]: λ_max = "
        + ", ".join(f"{k} {c[k]['lambda_max']:.3g}" for k in kinds)
        + "; elongation λ_max/mean λ = "
        + ", ".join(f"{k} {c[k]['elongation']:.0f}" for k in kinds)
        + " (/255 only rescales; centering makes the contours rounder). "
    )
    held = wins_same and wins_best
    text += ("Claim holds: normalized inputs reach a lower loss at the same "
             f"lr {lr:g} and at their best lr, and allow a far larger stable "
             "lr" + (" (though not at every lr, see above)."
                     if raw_wins_at or raw_acc_at else ".")
             if held else
             "Claim does NOT hold as stated: "
             + ("" if wins_same else f"at lr {lr:g} raw is not worse; ")
             + ("" if wins_best else "at the best lr raw is not worse."))
    return text
