"""Experiment 8: dropout against overfitting; train vs inference mode.

Note 002 (Lab 09-3) and 003. A wide MLP is trained on only a few hundred
MNIST images, long enough to fit them perfectly, with and without dropout
after each hidden layer (inverted dropout, as Keras and PyTorch do it)::

    training:   h̃ = h · mask / (1 − p),   mask_j ~ Bernoulli(1 − p)
    inference:  h̃ = h                      (002: model.eval())

Expectation is preserved, E[h̃] = h, so inference needs no rescaling.
Overfitting is measured as the gap ``train accuracy − test accuracy``
(both in inference mode, at the end, averaged over seeds; each seed draws
the same initial weights and batches for every rate). Note 002: dropout
prevents overfitting and improves performance.

The modes are compared on the trained model: the same input twice in
training mode gives two different outputs (two masks), twice in inference
mode the identical output; the share of a dropout layer's non-zero inputs
that it zeroes is ≈ p, and the survivors are multiplied by exactly
1/(1 − p).
"""

from __future__ import annotations

import keras
import matplotlib
import numpy as np

from tfnn.config import ModelConfig
from tfnn.studies.figures import figure
from tfnn.studies.mnist_runs import mnist, subset, train
from tfnn.training import TrainConfig

TITLE = "Dropout against overfitting on 300 MNIST images"
CLAIM = ("Dropout randomly drops hidden units while training (model.train())"
         " and uses them all at inference (model.eval()); it prevents "
         "overfitting and improves performance (note 002).")
QUICK = {
    "n_train": 300,
    "n_test": 2000,
    "n_val": 300,  # held-out images evaluated after every epoch
    "hidden": [512, 512],
    "activation": "relu",
    "initializer": "he_normal",
    "rates": [0.0, 0.5],
    "optimizer": "sgd",
    "learning_rate": 0.05,
    "batch_size": 32,
    "epochs": 25,
    "seeds": [0, 1],
    "n_probe": 512,  # images for the train/inference comparison
}
FULL = dict(QUICK, hidden=[1024, 1024], rates=[0.0, 0.2, 0.5],
            epochs=100, seeds=[0, 1, 2], n_test=10000, n_val=1000)


def _accuracy(model, x, y):
    out = np.concatenate([np.asarray(model(x[i:i + 1000], training=False))
                          for i in range(0, len(x), 1000)])
    return float(np.mean(out.argmax(-1) == y))


def mode_comparison(model, x):
    """The train/inference-mode checks of the module docstring on ``x``."""
    a = np.asarray(model(x, training=True))
    b = np.asarray(model(x, training=True))
    c = np.asarray(model(x, training=False))
    d = np.asarray(model(x, training=False))
    layers = []
    h = x
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dropout):
            pre = np.asarray(h)
            post = np.asarray(layer(h, training=True))
            alive = pre != 0
            dropped = alive & (post == 0)
            kept = alive & (post != 0)
            scale = post[kept] / pre[kept]
            layers.append({
                "layer": layer.name,
                "rate": float(layer.rate),
                "zeroed_fraction": float(dropped.sum() / alive.sum()),
                "survivor_scale_min": float(scale.min()),
                "survivor_scale_max": float(scale.max()),
                "expected_scale": float(1 / (1 - layer.rate)),
                "mean_ratio": float(post.mean() / pre.mean()),
            })
        h = layer(h, training=False)
    return {
        "train_vs_train": float(np.abs(a - b).mean()),
        "inference_vs_inference": float(np.abs(c - d).max()),
        "train_vs_inference": float(np.abs(a - c).mean()),
        "logit_scale": float(np.abs(c).mean()),
        "layers": layers,
    }


def run(config):
    full = mnist()
    splits = subset(full, config["n_train"], config["n_test"],
                    config["n_val"])
    runs = {}
    probe = None
    for rate in config["rates"]:
        mc = ModelConfig(hidden=tuple(config["hidden"]),
                         activation=config["activation"],
                         initializer=config["initializer"], dropout=rate)
        rows = []
        for seed in config["seeds"]:
            tc = TrainConfig(optimizer=config["optimizer"],
                             learning_rate=config["learning_rate"],
                             batch_size=config["batch_size"],
                             epochs=config["epochs"], seed=seed)
            res = train(mc, tc, splits)
            h = res.history
            train_acc = _accuracy(res.model, splits.x_train, splits.y_train)
            rows.append({
                "seed": seed,
                "train_accuracy": train_acc,
                "test_accuracy": float(res.test_accuracy),
                "gap": train_acc - float(res.test_accuracy),
                "test_loss": float(res.test_loss),
                "epoch_train_accuracy": h.accuracy,  # training mode
                "epoch_val_accuracy": h.val_accuracy,  # inference mode
                "epoch_loss": h.loss,
                "epoch_val_loss": h.val_loss,
            })
            if rate == max(config["rates"]) > 0 and probe is None:
                probe = {"rate": rate, "seed": seed, **mode_comparison(
                    res.model, full.x_test[-config["n_probe"]:])}
        runs[str(rate)] = {
            "rate": rate,
            "seeds": rows,
            "gap": float(np.mean([r["gap"] for r in rows])),
            "gap_std": float(np.std([r["gap"] for r in rows])),
            "train_accuracy": float(np.mean([r["train_accuracy"]
                                             for r in rows])),
            "test_accuracy": float(np.mean([r["test_accuracy"]
                                            for r in rows])),
            "test_loss": float(np.mean([r["test_loss"] for r in rows])),
        }
    return {"runs": runs, "modes": probe, "n_train": config["n_train"]}


def plot(result):
    runs = result["runs"]
    fig, axes = figure(ncols=3, nrows=1, width=4.8, height=3.8, title=TITLE)
    ax = axes[0, 0]
    colors = matplotlib.colormaps["plasma"]
    keys = sorted(runs, key=float)
    for i, key in enumerate(keys):
        c = colors(0.8 * i / max(1, len(keys) - 1))
        rows = runs[key]["seeds"]
        tr = np.mean([r["epoch_train_accuracy"] for r in rows], axis=0)
        va = np.mean([r["epoch_val_accuracy"] for r in rows], axis=0)
        ep = np.arange(1, len(tr) + 1)
        ax.plot(ep, 100 * tr, "--", color=c,
                label=f"p={float(key):g}: training batches (train mode)")
        ax.plot(ep, 100 * va, "-", color=c,
                label=f"p={float(key):g}: held-out images")
    ax.set(xlabel="epoch", ylabel="accuracy (%)", ylim=(60, 101),
           title=f"{result['n_train']} training images: accuracy per epoch")
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
    ax = axes[0, 1]
    xs = np.arange(len(keys))
    tr = [100 * runs[k]["train_accuracy"] for k in keys]
    te = [100 * runs[k]["test_accuracy"] for k in keys]
    ax.bar(xs - 0.2, tr, 0.4, label="train (inference mode)")
    ax.bar(xs + 0.2, te, 0.4, label="test")
    for x, k in zip(xs, keys):
        ax.annotate(f"gap {100 * runs[k]['gap']:.1f}"
                    f" ± {100 * runs[k]['gap_std']:.1f}",
                    (x, 100 * runs[k]["train_accuracy"] + 0.8),
                    ha="center", fontsize=8)
    ax.set_xticks(xs)
    ax.set_xticklabels([f"p = {float(k):g}" for k in keys])
    lo = min(te) - 10
    ax.set(ylim=(max(0, lo), 106), xlabel="dropout rate",
           ylabel="accuracy (%, mean over seeds)",
           title="train − test gap (points)")
    ax.legend(fontsize=7, loc="lower left")
    ax = axes[0, 2]
    m = result["modes"]
    labels = ["train vs train\n(same input)", "inference vs\ninference",
              "train vs\ninference"]
    vals = [m["train_vs_train"], m["inference_vs_inference"],
            m["train_vs_inference"]]
    bars = ax.bar(np.arange(3), [max(v, 1e-9) for v in vals],
                  color=["tab:orange", "tab:green", "tab:blue"])
    for b, v in zip(bars, vals):
        ax.text(b.get_x() + b.get_width() / 2, max(v, 1e-9) * 1.5,
                "exactly 0" if v == 0 else f"{v:.3g}", ha="center",
                fontsize=8)
    zs = "\n".join(f"{r['layer']}: {100 * r['zeroed_fraction']:.1f} % of "
                    f"non-zero units zeroed, rest ×"
                    f"{r['survivor_scale_min']:.3f}" for r in m["layers"])
    ax.set_xticks(np.arange(3))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set(yscale="log", ylim=(1e-10, 100), xlabel="outputs compared",
           ylabel="|Δ logits| (mean; inference: max)")
    ax.set_title(f"p = {m['rate']:g} model: outputs by mode\n{zs}",
                 fontsize=9)
    return fig


def summarize(result):
    runs = result["runs"]
    keys = sorted(runs, key=float)
    base = runs[keys[0]]
    parts = [
        f"p = {float(k):g}: train {100 * runs[k]['train_accuracy']:.1f} %, "
        f"test {100 * runs[k]['test_accuracy']:.1f} %, gap "
        f"{100 * runs[k]['gap']:.1f} ± {100 * runs[k]['gap_std']:.1f} points"
        f" (test loss {runs[k]['test_loss']:.3f})" for k in keys]
    with_dropout = [runs[k] for k in keys if float(k) > 0]
    held = all(r["gap"] < base["gap"] for r in with_dropout)
    m = result["modes"]
    layers = "; ".join(
        f"{r['layer']} zeroes {100 * r['zeroed_fraction']:.1f} % of its "
        f"non-zero inputs (p = {r['rate']:g}) and scales the rest by "
        f"{r['survivor_scale_min']:.4f} (1/(1−p) = {r['expected_scale']:.4f})"
        for r in m["layers"])
    return (
        f"On {result['n_train']} training images (mean over seeds): "
        + "; ".join(parts) + ". "
        + f"The same input twice in training mode differs by "
        f"{m['train_vs_train']:.3g} (mean |Δ logit|), twice in inference "
        f"mode by {m['inference_vs_inference']:.3g}; {layers}. "
        + ("Claim holds: the train−test gap is smaller with dropout."
           if held else
           "Claim does NOT hold here: the train−test gap is not smaller "
           "with dropout.")
        + (" The test cross-entropy is not lower with dropout, though: the "
           "gain shows in accuracy, not in the loss."
           if held and any(r["test_loss"] > base["test_loss"]
                           for r in with_dropout) else "")
    )
