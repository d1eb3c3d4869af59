"""Experiment 10: every optimizer's path on 2-D surfaces, and on MNIST.

Note 001: SGD "struggles when the gradient differs a lot by direction" and
"can stop at saddle points and local minima"; momentum/NAG add inertia, Adam
adds inertia to both the direction and the step size. Note 003 draws the
optimizers as a family tree (momentum-type, learning-rate-type, both).

Part 1 runs the real Keras optimizers of ``tfnn.nn.optimizers`` (all 14 keys)
on a 2-vector ``tf.Variable`` with the analytic gradient
(``optimizer.apply([g], [w])``), from the same start, on

* an uneven bowl ``f(x, y) = x²/20 + y²`` (curvatures 0.1 and 2: a
  condition number of 20), ``∇f = (x/10, 2y)``, minimum at the origin;
* a saddle ``f(x, y) = x² − y² + y⁴/4`` (a saddle at the origin, minima at
  ``(0, ±√2)`` where ``f = −1``; the quartic keeps it bounded below),
  ``∇f = (2x, −2y + y³)``, started just off the ridge (``y₀ = 10⁻³``).

Plain gradient descent ``w ← w − lr·∇f`` is stable only for
``lr < 2 / (largest curvature)`` = 1 on the bowl, so along the flat x
direction it moves by at most ``lr·x/10`` per step; near the saddle the
escaping coordinate grows like ``(1 + 2·lr)^t`` from ``y₀``. Each optimizer
gets its own learning rate for the figure (recorded in the result); a
separate same-learning-rate comparison (sgd, momentum, nag, adam, …)
isolates what the update rule buys.

Part 2 trains a small MLP on MNIST with every optimizer through the shared
trainer (same model, data, batches and epochs; ``gd`` is full batch, one
step per epoch) and records loss curves and validation accuracy.

Two registry facts the paths make visible: ``gd`` and ``sgd`` are the same
rule (``w −= lr·g``; they differ only in the batch the trainer feeds), so on
an exact gradient their paths coincide, as does ``proximal_gd`` without
l1/l2. ``adagrad_da`` recomputes the weights from gradient sums
(``w = −lr·Σg / sqrt(Σg²)``), so it forgets the starting point and jumps
toward the origin at once.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import tensorflow as tf

from tfnn.config import ModelConfig
from tfnn.nn import optimizers
from tfnn.studies import mnist_runs
from tfnn.studies.figures import figure
from tfnn.training import TrainConfig, TrainingDiverged

TITLE = "Optimizer paths on an uneven bowl and a saddle; optimizers on MNIST"
CLAIM = ("Note 001: SGD struggles when the curvature differs by direction and "
         "near saddle points; momentum/NAG (inertia) and Adam (inertia + "
         "per-coordinate step size) get there faster (note 003's optimizer "
         "family tree).")

# learning rates for the 2-D paths, per surface: sensible per optimizer.
# Bowl: DL from Scratch ch06's choices (SGD 0.95, momentum 0.1, AdaGrad 1.5,
# Adam 0.3). Saddle: its minima have curvature 4, so plain GD must stay
# below lr 0.5; 0.1 for the GD and momentum types.
PATH_LRS = {
    "bowl": {
        "gd": 0.95, "sgd": 0.95, "momentum": 0.1, "nag": 0.1,
        "adagrad": 1.5, "rmsprop": 0.1, "adadelta": 1.0, "ftrl": 1.0,
        "proximal_gd": 0.95, "proximal_adagrad": 1.5, "adagrad_da": 1.0,
        "adam": 0.3, "adamax": 0.5, "nadam": 0.3,
    },
    "saddle": {
        "gd": 0.1, "sgd": 0.1, "momentum": 0.1, "nag": 0.1,
        "adagrad": 0.5, "rmsprop": 0.05, "adadelta": 1.0, "ftrl": 0.5,
        "proximal_gd": 0.1, "proximal_adagrad": 0.5, "adagrad_da": 0.5,
        "adam": 0.1, "adamax": 0.1, "nadam": 0.1,
    },
}
# learning rates for the MNIST MLP (batch 64, a short run)
MNIST_LRS = {
    "gd": 0.1, "sgd": 0.1, "momentum": 0.01, "nag": 0.01,
    "adagrad": 0.05, "rmsprop": 1e-3, "adadelta": 1.0, "ftrl": 0.05,
    "proximal_gd": 0.1, "proximal_adagrad": 0.05, "adagrad_da": 0.05,
    "adam": 1e-3, "adamax": 2e-3, "nadam": 1e-3,
}
SURFACES = {
    "bowl": {"formula": "f = x²/20 + y²", "minimum": [0.0, 0.0],
             "start": [-7.0, 2.0]},
    "saddle": {"formula": "f = x² − y² + y⁴/4", "minimum": [0.0, 2 ** 0.5],
               "start": [-1.5, 1e-3]},
}
QUICK = {
    "path_lrs": PATH_LRS,
    "steps": 40,
    "same_lr": 0.1,
    "same_lr_optimizers": ["sgd", "momentum", "nag", "adam"],
    "escape_y": 1.0,  # |y| at which a path has left the saddle
    "mnist_lrs": MNIST_LRS,
    "hidden": [128],
    "n_train": 1500,
    "n_test": 500,
    "n_val": 500,
    "batch_size": 64,
    "epochs": 2,
    "seed": 0,
}
FULL = dict(QUICK, same_lr_optimizers=["sgd", "momentum", "nag", "adam",
                                       "rmsprop", "adagrad"],
            steps=60, n_train=20000, n_test=10000, n_val=5000, epochs=3)


def f_value(surface, p):
    x, y = np.asarray(p, dtype=float)[..., 0], np.asarray(p, dtype=float)[
        ..., 1]
    if surface == "bowl":
        return x ** 2 / 20 + y ** 2
    return x ** 2 - y ** 2 + y ** 4 / 4


def gradient(surface, p):
    """The analytic gradient ∇f at ``p = (x, y)``."""
    x, y = float(p[0]), float(p[1])
    if surface == "bowl":
        return np.array([x / 10, 2 * y], dtype="float32")
    return np.array([2 * x, -2 * y + y ** 3], dtype="float32")


def optimize_path(key, learning_rate, surface, start, steps):
    """The points visited by optimizer ``key`` (a real Keras optimizer from
    ``tfnn.nn.optimizers``) stepping a 2-vector ``tf.Variable`` on ``surface``.

    Returns:
        ``(steps + 1, 2)`` float64 array, the start first.
    """
    opt = optimizers.get(key, learning_rate=learning_rate)
    w = tf.Variable(np.asarray(start, dtype="float32"))
    opt.build([w])

    @tf.function
    def step(g):
        opt.apply([g], [w])

    points = [w.numpy().astype("float64")]
    for _ in range(int(steps)):
        step(tf.constant(gradient(surface, points[-1])))
        points.append(w.numpy().astype("float64"))
    return np.asarray(points)


def _path_stats(surface, points, escape_y):
    points = np.asarray(points, dtype=float)
    minimum = np.asarray(SURFACES[surface]["minimum"])
    if surface == "saddle":
        # distance to the nearer minimum (0, ±√2)
        dist = np.minimum(np.linalg.norm(points - minimum, axis=-1),
                          np.linalg.norm(points - minimum * [1, -1], axis=-1))
    else:
        dist = np.linalg.norm(points - minimum, axis=-1)
    out = {"distance": dist, "final_distance": float(dist[-1]),
           "f": f_value(surface, points), "finite": bool(np.isfinite(
               points).all())}
    if surface == "saddle":
        away = np.nonzero(np.abs(points[:, 1]) >= escape_y)[0]
        out["escape_step"] = int(away[0]) if len(away) else None
    return out


def ordered(keys):
    """Registry keys in note 003's family-tree order (gradient descent,
    momentum-type, learning-rate-type, both), restricted to ``keys``."""
    tree = list(PATH_LRS["bowl"])
    names = optimizers.names()
    return ([k for k in tree if k in keys and k in names]
            + sorted(k for k in keys if k not in tree))


def run(config):
    steps = int(config["steps"])
    escape_y = float(config["escape_y"])
    paths = {}
    for surface, spec in SURFACES.items():
        lrs = config["path_lrs"][surface]
        per = {}
        for key in ordered(lrs):
            lr = float(lrs[key])
            pts = optimize_path(key, lr, surface, spec["start"], steps)
            per[key] = {"learning_rate": lr, "points": pts,
                        "family": optimizers.family(key),
                        **_path_stats(surface, pts, escape_y)}
        paths[surface] = per

    same = {}
    lr = float(config["same_lr"])
    for surface, spec in SURFACES.items():
        per = {}
        for key in config["same_lr_optimizers"]:
            pts = optimize_path(key, lr, surface, spec["start"], steps)
            per[key] = {"points": pts, **_path_stats(surface, pts, escape_y)}
        same[surface] = per

    splits = mnist_runs.mnist()
    data = mnist_runs.subset(splits, int(config["n_train"]),
                             int(config["n_test"]), int(config["n_val"]))
    mc = ModelConfig(hidden=tuple(config["hidden"]), activation="relu",
                     initializer="he_normal",
                     initializer_kwargs={"seed": int(config["seed"])})
    mnist = {}
    for key in ordered(config["mnist_lrs"]):
        tc = TrainConfig(optimizer=key,
                         learning_rate=float(config["mnist_lrs"][key]),
                         batch_size=int(config["batch_size"]),
                         epochs=int(config["epochs"]),
                         seed=int(config["seed"]))
        try:
            res = mnist_runs.train(mc, tc, data)
            h = res.history
            mnist[key] = {
                "learning_rate": tc.learning_rate,
                "batch_size": tc.batch_size,
                "step_loss": np.asarray(h.step_loss),
                "epoch_loss": list(h.loss),
                "val_accuracy": list(h.val_accuracy),
                "val_loss": list(h.val_loss),
                "final_val_accuracy": h.val_accuracy[-1],
                "test_accuracy": res.test_accuracy,
                "steps": len(h.step_loss),
                "diverged": False,
            }
        except TrainingDiverged as err:
            mnist[key] = {"learning_rate": tc.learning_rate,
                          "batch_size": tc.batch_size, "diverged": True,
                          "message": str(err), "step_loss": np.asarray([]),
                          "val_accuracy": [], "final_val_accuracy": None,
                          "test_accuracy": None, "steps": 0}
    return {"config": dict(config), "surfaces": SURFACES, "paths": paths,
            "same_lr": same, "mnist": mnist}


FAMILY_STYLE = {"gradient descent": "-", "momentum-type": "--",
                "learning-rate-type": ":", "both": "-."}


def _colors(keys):
    cmap = matplotlib.colormaps["tab20"]
    return {k: cmap(i % 20) for i, k in enumerate(keys)}


def _contour(ax, surface, extent):
    (x0, x1), (y0, y1) = extent
    xs, ys = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    zs = f_value(surface, np.stack([xs, ys], axis=-1))
    levels = (np.linspace(zs.min(), zs.max(), 25) if surface == "saddle"
              else np.geomspace(0.01, zs.max(), 20))
    ax.contour(xs, ys, zs, levels=levels, colors="0.75", linewidths=0.6)


def _smooth(values, window=None):
    values = np.asarray(values, dtype=float)
    if window is None:  # about 40 points of averaging on a long run
        window = max(10, len(values) // 40)
    if len(values) < 2 * window:
        return np.arange(1, len(values) + 1), values
    running = np.convolve(values, np.ones(window) / window, mode="valid")
    return np.arange(window, len(values) + 1), running


# The plotted window of each surface: (x range, y range).
EXTENTS = {"bowl": ((-8, 8), (-3, 3)), "saddle": ((-2, 2), (-2.2, 2.2))}


def plot(result):
    keys = ordered(set().union(*[set(p) for p in result["paths"].values()]))
    colors = _colors(keys)
    fig, axes = figure(ncols=3, nrows=3, width=5.2, height=4.0,
                       title=f"{TITLE} (notes 001, 003)")
    for row, surface in enumerate(("bowl", "saddle")):
        _plot_paths(axes[row, 0], result, surface, colors)
        _plot_distances(axes[row, 1], result, surface, colors)
    # same learning rate: what the update rule buys
    _plot_same_lr_bowl(axes[0, 2], result, colors)
    _plot_same_lr_saddle(axes[1, 2], result, colors)
    _plot_mnist_loss(axes[2, 0], result, colors)
    _plot_mnist_val_accuracy(axes[2, 1], result, colors)
    _plot_mnist_final(axes[2, 2], result, colors)
    return fig


def _plot_paths(ax, result, surface, colors):
    """Each optimizer's path over the surface's contours."""
    per = result["paths"][surface]
    _contour(ax, surface, EXTENTS[surface])
    (x0, x1), (y0, y1) = EXTENTS[surface]
    for key in ordered(per):
        r = per[key]
        p = np.clip(np.asarray(r["points"], dtype=float),
                    [x0 - 1, y0 - 1], [x1 + 1, y1 + 1])
        ax.plot(p[:, 0], p[:, 1], FAMILY_STYLE.get(r["family"], "-"),
                color=colors[key], lw=1.2, marker=".", ms=3,
                label=f"{key} (lr {r['learning_rate']:g})")
    start = result["surfaces"][surface]["start"]
    ax.plot(*start, "k*", ms=10)
    ax.set(xlim=EXTENTS[surface][0], ylim=EXTENTS[surface][1],
           xlabel="x", ylabel="y",
           title=f"{result['surfaces'][surface]['formula']}: "
                 f"{result['config']['steps']} steps from "
                 f"({start[0]:g}, {start[1]:g})")
    ax.legend(fontsize=6, ncol=2,
              loc="lower right" if surface == "bowl" else "lower left")


def _plot_distances(ax, result, surface, colors):
    """Distance to the (nearer) minimum by step, each at its own lr."""
    per = result["paths"][surface]
    for key in ordered(per):
        r = per[key]
        y = np.maximum(np.asarray(r["distance"], dtype=float), 1e-8)
        ax.plot(np.arange(len(y)), y, FAMILY_STYLE.get(r["family"], "-"),
                color=colors[key], lw=1.2, label=key)
    ax.set(yscale="log", xlabel="step",
           ylabel="distance to the (nearer) minimum",
           title=f"{surface}: each optimizer at its own lr "
                 "(line style = family)")
    ax.grid(alpha=0.3)


def _same_lr_keys(result):
    """The optimizers run at the one shared learning rate."""
    return [k for k in result["config"]["same_lr_optimizers"]
            if k in result["same_lr"]["bowl"]]


def _plot_same_lr_bowl(ax, result, colors):
    """The bowl's distance to the minimum, all at the same lr."""
    for key in _same_lr_keys(result):
        r = result["same_lr"]["bowl"][key]
        ax.plot(np.maximum(np.asarray(r["distance"], dtype=float), 1e-8),
                color=colors.get(key), lw=1.5, label=key)
    ax.set(yscale="log", xlabel="step", ylabel="distance to the minimum",
           title=f"bowl, all at lr {result['config']['same_lr']:g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _plot_same_lr_saddle(ax, result, colors):
    """|y| off the saddle's ridge by step, all at the same lr, and the
    step each one leaves."""
    cfg = result["config"]
    for key in _same_lr_keys(result):
        r = result["same_lr"]["saddle"][key]
        y = np.abs(np.asarray(r["points"], dtype=float)[:, 1])
        esc = r.get("escape_step")
        when = esc if esc is not None else f"> {cfg['steps']}"
        ax.plot(np.maximum(y, 1e-8), color=colors.get(key), lw=1.5,
                label=f"{key}: leaves at step {when}")
    ax.axhline(cfg["escape_y"], color="0.4", ls="--", lw=0.8)
    ax.set(yscale="log", xlabel="step", ylabel="|y| (distance off the ridge)",
           title=f"saddle from y₀ = 10⁻³, all at lr {cfg['same_lr']:g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _plot_mnist_loss(ax, result, colors):
    """MNIST's training loss (running mean) by step."""
    runs = result["mnist"]
    for key in ordered(runs):
        r = runs[key]
        if r["diverged"] or not len(r["step_loss"]):
            continue
        x, y = _smooth(r["step_loss"])
        ax.plot(x, y, FAMILY_STYLE.get(optimizer_family(key), "-"),
                marker="o" if len(y) < 5 else None, color=colors.get(key),
                lw=1.2, label=key)
    ax.set(yscale="log", xlabel="step",
           ylabel="training loss (running mean)",
           title="MNIST: training loss by step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2)


def _plot_mnist_val_accuracy(ax, result, colors):
    """MNIST's validation accuracy by epoch; runs below 80 % of the best
    final accuracy are named in the title instead."""
    runs = result["mnist"]
    finals = {k: runs[k]["final_val_accuracy"] for k in ordered(runs)
              if not runs[k]["diverged"]}
    best = max(finals.values()) if finals else 1.0
    shown = [k for k, v in finals.items() if v >= 0.8 * best]
    off = [k for k in finals if k not in shown]
    for key in shown:
        v = 100 * np.asarray(runs[key]["val_accuracy"], dtype=float)
        ax.plot(np.arange(1, len(v) + 1), v, FAMILY_STYLE.get(
            optimizer_family(key), "-"), marker="o", ms=3,
            color=colors.get(key), label=key)
    ax.set(xlabel="epoch", ylabel="validation accuracy (%)",
           title="MNIST: validation accuracy by epoch"
                 + (f" (off scale: {', '.join(off)})" if off else ""))
    ax.set_xticks(range(1, int(result["config"]["epochs"]) + 1))
    ax.grid(alpha=0.3)


def _plot_mnist_final(ax, result, colors):
    """MNIST's final validation accuracy per optimizer, sorted."""
    runs, cfg = result["mnist"], result["config"]
    names = ordered(runs)
    acc = [runs[k]["final_val_accuracy"] for k in names]
    vals = [100 * a if a is not None else 0.0 for a in acc]
    order = np.argsort(vals)
    bars = ax.barh(np.arange(len(names)), [vals[i] for i in order],
                   color=[colors.get(names[i], "0.5") for i in order])
    for b, i in zip(bars, order):
        r = runs[names[i]]
        text = ("diverged" if r["diverged"] else
                f"{vals[i]:.1f} % (lr {r['learning_rate']:g}, "
                f"{r['steps']} steps)")
        ax.text(1, b.get_y() + b.get_height() / 2, text, va="center",
                fontsize=6)
    ax.set_yticks(np.arange(len(names)))
    ax.set_yticklabels([names[i] for i in order], fontsize=7)
    arch = "-".join(["784", *map(str, cfg["hidden"]), "10"])
    ax.set(xlim=(0, 100), xlabel="final validation accuracy (%)",
           ylabel="optimizer",
           title=f"MNIST {arch}, {cfg['n_train']} examples, "
                 f"{cfg['epochs']} epochs")


def optimizer_family(key):
    try:
        return optimizers.family(key)
    except ValueError:
        return "gradient descent"


def claims(result):
    """Same-lr comparisons the tests check."""
    same = result["same_lr"]
    keys = [k for k in result["config"]["same_lr_optimizers"]
            if k in same["bowl"]]
    bowl = {k: same["bowl"][k]["final_distance"] for k in keys}
    escape = {k: same["saddle"][k]["escape_step"] for k in keys}
    return {"bowl_distance": bowl, "saddle_escape": escape}


def summarize(result):
    c = claims(result)
    lr = result["config"]["same_lr"]
    steps = result["config"]["steps"]
    bowl, esc = c["bowl_distance"], c["saddle_escape"]

    def fmt_esc(v):
        return f"{v}" if v is not None else f"> {steps}"

    sgd_d, sgd_e = bowl.get("sgd"), esc.get("sgd")
    faster = [k for k in ("momentum", "nag", "adam") if k in bowl
              and bowl[k] < sgd_d]
    escape_faster = [k for k in ("momentum", "nag", "adam") if k in esc
                     and esc[k] is not None
                     and (sgd_e is None or esc[k] < sgd_e)]
    held = len(faster) == 3 and len(escape_faster) == 3
    own = result["paths"]
    # Ties are ordered by name: the result and its JSON form (keys sorted)
    # give the same summary.
    best_bowl = sorted(own["bowl"], key=lambda k: (own["bowl"][k][
        "final_distance"], k))
    mnist = result["mnist"]
    ranked = sorted((k for k in mnist if not mnist[k]["diverged"]),
                    key=lambda k: (-mnist[k]["final_val_accuracy"], k))
    diverged = sorted(k for k in mnist if mnist[k]["diverged"])
    return (
        f"All {len(own['bowl'])} optimizers of tfnn.nn.optimizers (real Keras "
        f"optimizers stepping a 2-vector tf.Variable) ran {steps} steps on "
        f"f = x²/20 + y² from (−7, 2) and on the saddle f = x² − y² + y⁴/4 "
        f"from (−1.5, 10⁻³). At the same lr {lr:g}, the distance to the "
        f"bowl's minimum after {steps} steps is: "
        + ", ".join(f"{k} {v:.3g}" for k, v in bowl.items())
        + f"; steps to leave the saddle (|y| ≥ {result['config']['escape_y']:g}"
        f"): " + ", ".join(f"{k} {fmt_esc(v)}" for k, v in esc.items())
        + f". Momentum, NAG and Adam {'beat' if held else 'do NOT all beat'} "
        f"plain SGD on both (note 001's claim "
        f"{'holds' if held else 'does NOT hold as stated'}). SGD's limit is "
        f"its lr: on the bowl it is stable only below 1 (the steep y "
        f"direction), so the flat x direction crawls; at lr "
        f"{own['bowl']['sgd']['learning_rate']:g} it zigzags to "
        f"{own['bowl']['sgd']['final_distance']:.3g} from the minimum. At "
        f"their own lrs the closest to the bowl's minimum were "
        f"{', '.join(best_bowl[:3])}; adadelta barely moves in {steps} steps "
        f"(its first steps are ~sqrt(ε) = 10⁻³ in size). On MNIST "
        f"({result['config']['n_train']} examples, "
        f"{result['config']['epochs']} epochs) the validation accuracy "
        f"ranks " + ", ".join(
            f"{k} {100 * mnist[k]['final_val_accuracy']:.1f} %"
            for k in ranked)
        + (f"; diverged: {', '.join(diverged)}" if diverged else "")
        + " (gd takes one full-batch step per epoch)."
    )
