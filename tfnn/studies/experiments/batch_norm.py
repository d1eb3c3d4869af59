"""Experiment 7: Batch Normalization — init scales, train vs inference
mode, batch size.

Notes 000, 002, 003 and 004. BN after every hidden linear layer
(Linear → BN → tanh)::

    training:   μ_B = mean_i x_i,  σ²_B = mean_i (x_i − μ_B)²   (per unit)
                x̂ = (x − μ_B) / sqrt(σ²_B + ε),   y = γ·x̂ + β
                μ_avg ← m·μ_avg + (1 − m)·μ_B   (same for σ²; m = 0.99)
    inference:  x̂ = (x − μ_avg) / sqrt(σ²_avg + ε)

Three measurements:

(a) Note 004 ("BN does not depend much on the initial weights") and 002
    ("lower loss, higher accuracy"): the same deep tanh MLP with and
    without BN, weights drawn from ``s·N(0, 1)`` for scales s from 0.01 to
    1, trained for the same SGD steps. BN divides out the scale of every
    hidden layer's input (BN(a·z) = BN(z)), so only the output layer still
    sees it.
(b) 002's train/eval modes: the outputs of the same BN model in training
    mode (batch statistics) and inference mode (moving averages) over the
    course of training. The averages start at μ = 0, σ² = 1 and forget
    their start as 0.99^t (≈ 37 % left after 100 steps, 5 % after 300), so
    the two modes disagree early and agree once the averages settle. The
    train-mode pass uses one large batch, so what remains is the averages'
    error, not the batch's sampling noise.
(c) Note 000: BN estimates μ and σ² from the mini-batch, so a small batch
    (16) estimates them poorly (noise, "stronger regularization") and a
    large one (128) well. Measured: the spread of μ_B and σ²_B over
    batches (theory for independent draws: std(μ_B)/σ = 1/√m,
    std(σ²_B)/σ² ≈ √(2/(m−1))), the train/inference gap at each batch
    size, and test accuracy after the same epochs with batch 16 vs 128.
"""

from __future__ import annotations

import matplotlib
import numpy as np

from tfnn.config import ModelConfig
from tfnn.models import build_model
from tfnn.studies.figures import figure
from tfnn.studies.mnist_runs import mnist, subset, train
from tfnn.training import TrainConfig, TrainingDiverged, set_seed

TITLE = "Batch Normalization: init scales, train vs inference mode, batch size"
CLAIM = ("BN makes training much less dependent on the initial weight scale "
         "and reaches a lower loss and higher accuracy (002, 004); at "
         "inference it uses statistics of the training set instead of the "
         "batch's (003's Algorithm 2 averages the mini-batch statistics, the "
         "variance with m/(m−1); Keras keeps moving averages, which this port "
         "uses); small batches (16) estimate those statistics noisily, 32-128 "
         "is appropriate (000).")
QUICK = {
    "hidden": [128, 128, 128],
    "activation": "tanh",
    "optimizer": "sgd",
    "learning_rate": 0.05,
    "batch_size": 64,
    "epochs": 2,
    "n_train": 4000,
    "n_test": 1000,
    "scales": [0.01, 0.1, 1.0],  # W ~ scale · N(0, 1)
    "bn_momentum": 0.99,
    # (b) train vs inference mode over training
    "trace_hidden": [128, 128],
    "trace_initializer": "xavier_normal",
    "trace_n_train": 1280,  # 20 steps per epoch at batch 64
    "trace_steps": [0, 20, 60, 600],
    "trace_eval": 1024,  # test images compared in both modes
    # (c) batch size
    "batch_sizes": [16, 128],
    "bs_epochs": 1,
    "stat_examples": 4096,  # training images for the batch-stat spread
    "seed": 0,
}
FULL = dict(QUICK, hidden=[256, 256, 256], trace_hidden=[256, 256],
            scales=[0.001, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0], epochs=3,
            n_train=20000, n_test=10000, trace_n_train=3200,
            trace_steps=[0, 50, 100, 200, 500, 1000, 2000], bs_epochs=3)


def _no_validation(splits):
    """The splits without the validation set: the experiments here measure
    on test images, so the trainer skips the per-epoch validation pass."""
    return subset(splits, n_val=0)


def _fit(model_config, train_config, splits):
    try:
        return train(model_config, train_config, splits)
    except TrainingDiverged:
        return None


def mode_gap(model, x, y, batch=None):
    """Compare ``model(x, training=True)`` with ``training=False``.

    Inference runs first (a training-mode call moves the averages).
    ``batch``: the train-mode batch size (None: all of ``x`` at once).

    Returns ``rel_diff = mean|out_train − out_inf| / mean|out_train|``
    (logits), ``max_diff`` and both modes' accuracies.
    """
    n = len(x)
    inf = np.concatenate([np.asarray(model(x[i:i + 512], training=False))
                          for i in range(0, n, 512)])
    b = batch or n
    tr = np.concatenate([np.asarray(model(x[i:i + b], training=True))
                         for i in range(0, n, b)])
    return {
        "rel_diff": float(np.abs(tr - inf).mean() / np.abs(tr).mean()),
        "max_diff": float(np.abs(tr - inf).max()),
        "acc_train_mode": float(np.mean(tr.argmax(-1) == y)),
        "acc_inference_mode": float(np.mean(inf.argmax(-1) == y)),
    }


def batch_stat_noise(model, x, sizes):
    """Spread of the first BN layer's batch statistics over mini-batches.

    ``z = x·W`` (the first linear layer, (n, units)); for each batch size m
    the examples are cut into n/m batches. Returns, averaged over units,
    ``std(μ_B)/σ`` and ``std(σ²_B)/σ²`` (σ, σ²: over all n) beside the
    independent-draw theory ``1/√m`` and ``√(2/(m−1))``.
    """
    w = np.asarray(model.get_layer("linear_0").kernel)  # (784, units)
    z = np.asarray(x, dtype=np.float64).reshape(len(x), -1) @ w  # (n, units)
    sigma2 = z.var(axis=0)
    keep = sigma2 > 1e-12
    out = {}
    for m in sizes:
        k = len(z) // m
        zb = z[:k * m].reshape(k, m, -1)  # (batches, m, units)
        mu_b, var_b = zb.mean(axis=1), zb.var(axis=1)
        out[str(m)] = {
            "mean_noise": float(np.mean(mu_b.std(axis=0)[keep]
                                        / np.sqrt(sigma2[keep]))),
            "var_noise": float(np.mean(var_b.std(axis=0)[keep]
                                       / sigma2[keep])),
            "mean_theory": float(1 / np.sqrt(m)),
            "var_theory": float(np.sqrt(2 / (m - 1))),
        }
    return out


def run(config):
    """(a) with vs without BN across initial weight scales, (b) train vs
    inference mode as training goes on, (c) batch size 16 vs 128 with BN."""
    full = mnist()
    splits = _no_validation(subset(full, config["n_train"], config["n_test"]))
    tc = TrainConfig(optimizer=config["optimizer"],
                     learning_rate=config["learning_rate"],
                     batch_size=config["batch_size"], epochs=config["epochs"],
                     seed=config["seed"])
    trace, spe = _mode_trace(config, tc, full)
    return {"scales": _scale_sweep(config, tc, splits), "trace": trace,
            "by_batch": _batch_sizes(config, tc, splits),
            "bn_momentum": config["bn_momentum"],
            "trace_steps_per_epoch": spe}


def _scale_sweep(config, tc, splits):
    """(a) Final loss and accuracy with and without BN per init scale."""
    scales = {"bn": [], "plain": []}
    for s in config["scales"]:
        for key, bn in (("plain", False), ("bn", True)):
            mc = ModelConfig(hidden=tuple(config["hidden"]),
                             activation=config["activation"],
                             initializer="small_normal",
                             initializer_kwargs={"scale": s}, batch_norm=bn,
                             bn_momentum=config["bn_momentum"])
            res = _fit(mc, tc, splits)
            scales[key].append({
                "scale": s,
                "diverged": res is None,
                "test_accuracy": None if res is None else
                float(res.test_accuracy),
                "final_loss": None if res is None else
                float(res.history.loss[-1]),
                "step_loss": [] if res is None else res.history.step_loss,
            })
    return scales


def _mode_trace(config, tc, full):
    """(b) Train vs inference mode over training: one model per step count
    (the same seed and batches, so each run continues the shorter ones).
    Returns ``(rows, steps_per_epoch)``."""
    mc = ModelConfig(hidden=tuple(config["trace_hidden"]),
                     activation=config["activation"],
                     initializer=config["trace_initializer"],
                     batch_norm=True, bn_momentum=config["bn_momentum"])
    tsplits = _no_validation(subset(full, config["trace_n_train"],
                                    config["n_test"]))
    spe = -(-config["trace_n_train"] // config["batch_size"])
    xe = full.x_test[:config["trace_eval"]]
    ye = full.y_test[:config["trace_eval"]]
    trace = []
    for steps in config["trace_steps"]:
        if steps == 0:
            set_seed(config["seed"])
            model = build_model(mc)
        else:
            if steps % spe:
                raise ValueError(
                    f"trace_steps must be multiples of {spe} (steps per "
                    f"epoch). Received: {steps}")
            model = train(mc, tc.replace(epochs=steps // spe), tsplits).model
        row = {"step": steps, **mode_gap(model, xe, ye)}
        row["rel_diff_batch"] = mode_gap(model, xe, ye,
                                         config["batch_size"])["rel_diff"]
        bn0 = model.get_layer("bn_0")
        row["moving_var_mean"] = float(np.mean(np.asarray(
            bn0.moving_variance)))
        trace.append(row)
    return trace, spe


def _batch_sizes(config, tc, splits):
    """(c) BN with batch size 16 vs 128 for the same epochs."""
    by_batch = {}
    mc_bs = ModelConfig(hidden=tuple(config["hidden"]),
                        activation=config["activation"],
                        initializer="xavier_normal", batch_norm=True,
                        bn_momentum=config["bn_momentum"])
    for b in config["batch_sizes"]:
        res = train(mc_bs, tc.replace(batch_size=b,
                                      epochs=config["bs_epochs"]), splits)
        by_batch[str(b)] = {
            "batch_size": b,
            "test_accuracy": float(res.test_accuracy),
            "epoch_loss": res.history.loss,
            "step_loss": res.history.step_loss,
            "updates": len(res.history.step_loss),
            "stat_noise": batch_stat_noise(
                res.model, splits.x_train[:config["stat_examples"]],
                config["batch_sizes"]),
        }
    return by_batch


def extremes(result):
    """(smallest, largest) scale rows: ``{"plain": row, "bn": row}``."""
    s = result["scales"]
    return ({"plain": s["plain"][0], "bn": s["bn"][0]},
            {"plain": s["plain"][-1], "bn": s["bn"][-1]})


def settling(result):
    """Train/inference disagreement (relative logit difference): the
    largest over the first steps (≤ 60) and the value at the last step."""
    trace = result["trace"]
    early = max(r["rel_diff"] for r in trace if 0 < r["step"] <= 60)
    return early, trace[-1]["rel_diff"]


def by_scale(result):
    """The scales where BN is ahead, behind and level on test accuracy:
    ``{"ahead": [...], "behind": [...], "level": [...]}`` of
    ``{"scale", "plain", "bn"}`` rows (a diverged run, accuracy None,
    loses)."""
    out = {"ahead": [], "behind": [], "level": []}
    for plain, bn in zip(result["scales"]["plain"], result["scales"]["bn"]):
        a, b = plain["test_accuracy"], bn["test_accuracy"]
        if b is not None and (a is None or b > a):
            key = "ahead"
        elif b is None or a > b:
            key = "behind"
        else:
            key = "level"
        out[key].append({"scale": bn["scale"], "plain": plain, "bn": bn})
    return out


def _pct(row):
    acc = row["test_accuracy"]
    return "NaN" if acc is None else f"{100 * acc:.1f} %"


def _scales(rows):
    """``0.001, 0.01 and 3``."""
    names = [f"{r['scale']:g}" for r in rows]
    return (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1
            else "".join(names))


def scale_verdict(result, modes_agree=True) -> str:
    """The verdict on (a) and (b), from the numbers: whether BN wins at
    every scale, at the two extreme ones only, or nowhere; the scales where
    no-BN wins with both accuracies and both training losses (the last
    epoch's mean); whether the two modes agreed at the end."""
    cmp = by_scale(result)
    ahead, behind, level = cmp["ahead"], cmp["behind"], cmp["level"]
    lo, hi = extremes(result)
    rescued = [e for e in (lo, hi)
               if any(r["scale"] == e["bn"]["scale"] for r in ahead)]
    cfg = result["config"]
    modes = ("the two modes agree (gap < 1/5 of the early one) once the "
             "moving averages settle" if modes_agree else
             "the modes still disagree at the end")
    if not behind and not level:
        return (f"Claims hold: BN is ahead of no-BN at every scale "
                f"({_scales(ahead)}), and {modes}.")
    if not ahead:
        return (f"Claims do NOT hold: BN is ahead at no scale (behind or "
                f"level at {_scales(behind + level)}), and {modes}.")
    text = "Claims hold only in part. "
    if len(rescued) == 2:
        text += ("BN rescues the badly scaled initializations ("
                 + "; ".join(f"scale {e['bn']['scale']:g}: "
                             f"{_pct(e['plain'])} → {_pct(e['bn'])}"
                             for e in rescued) + f"), and {modes}. ")
    else:
        text += (f"BN does not win at both extreme scales, and {modes}. ")
    if behind:
        text += ("But no-BN wins at scale " + ", and at scale ".join(
            f"{r['scale']:g} ({_pct(r['plain'])} vs {_pct(r['bn'])} with BN)"
            for r in behind) + ". ")
        lower = [r for r in behind
                 if r["plain"]["final_loss"] < r["bn"]["final_loss"]]
        higher = [r for r in behind if r not in lower]
        parts = []
        if lower:
            parts.append(
                "no-BN also ends with the lower training loss (last epoch's "
                "mean) at " + "; ".join(
                    f"{r['scale']:g}: {r['plain']['final_loss']:.3f} vs "
                    f"{r['bn']['final_loss']:.3f}" for r in lower))
        if higher:
            parts.append(
                "BN's training loss is the lower at " + "; ".join(
                    f"{r['scale']:g}: {r['bn']['final_loss']:.3f} vs "
                    f"{r['plain']['final_loss']:.3f}" for r in higher))
        text += "There " + ", while ".join(parts) + ". "
    spread = {k: [r["test_accuracy"] or 0.0 for r in result["scales"][k]]
              for k in ("plain", "bn")}
    text += (
        f"So BN makes training less dependent on the initial scale "
        f"(accuracy range over the scales: "
        f"{100 * (max(spread['plain']) - min(spread['plain'])):.1f} points "
        f"without BN, {100 * (max(spread['bn']) - min(spread['bn'])):.1f} "
        f"with; 004), but \"lower loss and higher accuracy with BN\" (002) "
        f"does NOT hold at every scale: in this budget ({cfg['epochs']} "
        f"epochs of {cfg['optimizer'].upper()}, lr {cfg['learning_rate']:g})"
        f" BN is ahead at {_scales(ahead)}"
        + (f" and behind at {_scales(behind)}" if behind else "")
        + (f", level at {_scales(level)}" if level else "") + ".")
    return text


def plot(result):
    fig, axes = figure(ncols=3, nrows=2, width=4.6, height=3.5, title=TITLE)
    _plot_scale_accuracy(axes[0, 0], result)
    _plot_scale_losses(axes[0, 1], result)
    _plot_mode_gap(axes[0, 2], result)
    _plot_mode_accuracy(axes[1, 0], result)
    _plot_stat_noise(axes[1, 1], result)
    _plot_batch_losses(axes[1, 2], result)
    return fig


def _trace_steps(result):
    """The traced step counts, step 0 drawn at 1 (log axes)."""
    return [max(r["step"], 1) for r in result["trace"]]


def _plot_scale_accuracy(ax, result):
    """(a) Test accuracy against the init scale, with and without BN."""
    for key, style, label in (("plain", "o--", "without BN"),
                              ("bn", "s-", "with BN")):
        rows = result["scales"][key]
        ax.plot([r["scale"] for r in rows],
                [np.nan if r["test_accuracy"] is None
                 else 100 * r["test_accuracy"] for r in rows], style,
                label=label)
    ax.axhline(10, color="k", lw=0.6, ls=":", label="chance")
    ax.set(xscale="log", xlabel="init scale s  (W = s·N(0,1))",
           ylabel="test accuracy (%)", ylim=(0, 100),
           title="(a) accuracy after the same steps")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")


def _plot_scale_losses(ax, result):
    """(a) Loss curves of at most three scales: the smallest, the middle
    one, the largest."""
    cmap = matplotlib.colormaps["viridis"]
    rows = result["scales"]["bn"]
    picks = sorted({0, len(rows) // 2, len(rows) - 1})
    for i in picks:
        p, b = result["scales"]["plain"][i], rows[i]
        c = cmap(i / max(1, len(rows) - 1))
        for r, ls, tag in ((p, "--", "no BN"), (b, "-", "BN")):
            y = _smooth(r["step_loss"], 10)
            if len(y):
                ax.plot(np.arange(1, len(y) + 1), y, ls, color=c,
                        label=f"s={r['scale']:g} {tag}")
    ax.set(yscale="log", xlabel="SGD step",
           ylabel="training loss (moving avg of 10)",
           title="(a) loss: solid = BN, dashed = no BN")
    ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3, which="both")


def _plot_mode_gap(ax, result):
    """(b) The train/inference gap of the logits beside m^t, the share of
    the moving averages' start still left."""
    tr = result["trace"]
    steps = _trace_steps(result)
    ax.plot(steps, [r["rel_diff"] for r in tr], "o-",
            label="train mode on one batch of all eval images")
    ax.plot(steps, [r["rel_diff_batch"] for r in tr], "s--",
            label="train mode on training-size batches")
    t = np.logspace(0, np.log10(max(steps)), 50)
    lowest = min(min(r["rel_diff"], r["rel_diff_batch"]) for r in tr)
    mom = result["bn_momentum"]
    keep = mom ** t >= lowest / 3
    ax.plot(t[keep], mom ** t[keep], color="gray", lw=0.8,
            label=f"{mom:g}^t: share of the initial averages left")
    ax.set(xscale="log", yscale="log",
           xlabel="training steps (log; step 0 drawn at 1)",
           ylabel="mean|train − inference| / mean|train|",
           title="(b) logits: train vs inference mode")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")


def _plot_mode_accuracy(ax, result):
    """(b) Test accuracy in train and in inference mode."""
    tr = result["trace"]
    steps = _trace_steps(result)
    ax.plot(steps, [100 * r["acc_train_mode"] for r in tr], "o-",
            label="train mode (batch statistics)")
    ax.plot(steps, [100 * r["acc_inference_mode"] for r in tr], "s--",
            label="inference mode (moving averages)")
    ax.set(xscale="log", xlabel="training steps (log; step 0 drawn at 1)",
           ylabel="test accuracy (%)", ylim=(0, 100),
           title="(b) accuracy in each mode")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")


def _plot_stat_noise(ax, result):
    """(c) The spread of μ_B and σ²_B over batches against theory."""
    bb = result["by_batch"]
    noise = bb[max(bb, key=int)]["stat_noise"]
    ms = sorted(int(m) for m in noise)
    xs = np.arange(len(ms))
    ax.bar(xs - 0.2, [noise[str(m)]["mean_noise"] for m in ms], 0.4,
           label="std(μ_B)/σ measured")
    ax.bar(xs + 0.2, [noise[str(m)]["var_noise"] for m in ms], 0.4,
           label="std(σ²_B)/σ² measured")
    ax.plot(xs - 0.2, [noise[str(m)]["mean_theory"] for m in ms], "k_",
            ms=20, mew=2, label="1/√m, √(2/(m−1))")
    ax.plot(xs + 0.2, [noise[str(m)]["var_theory"] for m in ms], "k_",
            ms=20, mew=2)
    ax.set_xticks(xs)
    ax.set_xticklabels([f"m = {m}" for m in ms])
    ax.set(xlabel="mini-batch size", ylabel="relative spread over batches",
           title="(c) noise of BN's batch statistics")
    ax.legend(fontsize=7)


def _plot_batch_losses(ax, result):
    """(c) Loss against examples seen, batch 16 vs 128."""
    bb = result["by_batch"]
    for key in sorted(bb, key=int):
        r = bb[key]
        b = int(key)
        k = max(1, 1024 // b)  # smooth over ~1024 examples
        y = _smooth(r["step_loss"], k)
        ax.plot((np.arange(len(y)) + k) * b, y,
                label=f"batch {key}: test {100 * r['test_accuracy']:.1f} %, "
                f"{r['updates']} updates")
    ax.set(yscale="log", xlabel="training examples seen",
           ylabel="training loss (avg over ~1024 examples)",
           title="(c) BN with batch 16 vs 128, same epochs")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")


def _smooth(values, k):
    values = np.asarray(values, dtype=float)
    if k <= 1 or len(values) < 2 * k:
        return values
    return np.convolve(values, np.ones(k) / k, mode="valid")


def summarize(result):
    lo, hi = extremes(result)

    def acc(r):
        return "NaN" if r["test_accuracy"] is None else \
            f"{100 * r['test_accuracy']:.1f} %"

    early, late = settling(result)
    tr = result["trace"]
    bb = result["by_batch"]
    sizes = sorted(bb, key=int)
    noise = bb[sizes[-1]]["stat_noise"]
    held_b = late < early / 5
    small, large = bb[sizes[0]], bb[sizes[-1]]
    text = (
        f"(a) After the same SGD steps, test accuracy without → with BN: "
        f"scale {lo['bn']['scale']:g}: {acc(lo['plain'])} → {acc(lo['bn'])}; "
        + "; ".join(
            f"scale {p['scale']:g}: {acc(p)} → {acc(b)}"
            for p, b in zip(result["scales"]["plain"][1:-1],
                            result["scales"]["bn"][1:-1]))
        + ("; " if len(result["scales"]["bn"]) > 2 else "")
        + f"scale {hi['bn']['scale']:g}: {acc(hi['plain'])} → "
        f"{acc(hi['bn'])}. "
        f"(b) The train-mode and inference-mode logits of the same BN model "
        f"differ by {early:.3f} (relative) in the first steps and by "
        f"{late:.3f} after {tr[-1]['step']} steps; accuracy train/inference "
        f"mode {100 * tr[1]['acc_train_mode']:.1f}/"
        f"{100 * tr[1]['acc_inference_mode']:.1f} % at step {tr[1]['step']},"
        f" {100 * tr[-1]['acc_train_mode']:.1f}/"
        f"{100 * tr[-1]['acc_inference_mode']:.1f} % at the end. "
        f"(c) The spread of the batch mean over mini-batches, std(μ_B)/σ, is "
        + ", ".join(f"{noise[m]['mean_noise']:.3f} at m = {m} (1/√m = "
                    f"{noise[m]['mean_theory']:.3f})"
                    for m in sorted(noise, key=int))
        + f"; after {len(small['epoch_loss'])} epoch(s) batch {sizes[0]} "
        f"({small['updates']} updates) reaches "
        f"{100 * small['test_accuracy']:.1f} % and batch {sizes[-1]} "
        f"({large['updates']} updates) {100 * large['test_accuracy']:.1f} %. "
    )
    text += scale_verdict(result, held_b)
    if small["test_accuracy"] > large["test_accuracy"]:
        text += (f" Per epoch, batch {sizes[0]} still wins (more updates), "
                 "so its noisier statistics did not cost accuracy here.")
    return text
