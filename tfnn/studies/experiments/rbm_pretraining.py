"""Experiment 14: RBM pre-training + fine-tuning vs random initialization.

Note 002 (Lab 09-2) lists RBM pre-training as the way deep nets were
initialized before Xavier/He: train the first hidden layer as a Restricted
Boltzmann Machine on the inputs, the next one on the first one's outputs,
and so on ("pre-training"); then train the whole net by backprop
("fine-tuning"). Each RBM learns by contrastive divergence (CD-k)::

    p(h=1|v) = σ(c + vW),  p(v=1|h) = σ(b + hWᵀ)
    ΔW = lr · (v0ᵀ p(h|v0) − vkᵀ p(h|vk)) / batch

(:mod:`tfnn.nn.rbm`). The same sigmoid MLP (the RBM era's unit) is trained on
MNIST scaled to [0, 1] (``minmax``: Bernoulli visible units) three times
with the same optimizer, batches and epochs: from the RBM stack's weights,
from ``small_normal`` (W = 0.01·N(0, 1), the "random init" of the time) and
from ``xavier_normal`` (σ = sqrt(2/(fan_in + fan_out))), the init that made
pre-training unnecessary. Every run goes through the one trainer.
"""

from __future__ import annotations

import numpy as np

from tfnn.config import ModelConfig
from tfnn.studies import measures, mnist_runs
from tfnn.studies.figures import figure
from tfnn.studies.measures import trailing_mean
from tfnn.training import TrainConfig

TITLE = "RBM pre-training + fine-tuning vs random initialization"
CLAIM = ("Greedy layer-wise RBM pre-training (each layer an RBM trained by "
         "contrastive divergence on the previous layer's outputs) gives a "
         "deep net a starting point from which backprop fine-tuning trains "
         "well, where small random weights do not (note 002).")
INITS = ("rbm", "small_normal", "xavier_normal")
QUICK = {
    "hidden": [256, 256],
    "n_train": 6000,  # examples for pre-training and fine-tuning
    "n_test": 2000,
    "rbm_epochs": 2,
    "rbm_k": 1,
    "rbm_learning_rate": 0.1,
    "rbm_batch_size": 64,
    "optimizer": "momentum",  # SGD + momentum 0.9 (lr below)
    "learning_rate": 0.1,
    "batch_size": 64,
    "epochs": 1,
    "inits": list(INITS),
    "seed": 0,
}
FULL = dict(QUICK, hidden=[500, 500], n_train=20000, n_test=10000,
            rbm_epochs=5, epochs=5)


def run(config):
    splits = mnist_runs.subset(mnist_runs.mnist("minmax"), config["n_train"],
                               config["n_test"])
    seed = config["seed"]
    tc = TrainConfig(optimizer=config["optimizer"],
                     learning_rate=config["learning_rate"],
                     batch_size=config["batch_size"],
                     epochs=config["epochs"], seed=seed,
                     preprocessing="minmax")
    rbm_kwargs = {"epochs": config["rbm_epochs"], "k": config["rbm_k"],
                  "learning_rate": config["rbm_learning_rate"],
                  "batch_size": config["rbm_batch_size"], "seed": seed}
    runs, errors = {}, []
    for init in config["inits"]:
        # initializer="rbm": the runner pre-trains the hidden layers as
        # RBMs (tfnn.nn.rbm.pretrain_model) before backprop fine-tuning.
        mc = ModelConfig(
            hidden=tuple(config["hidden"]), activation="sigmoid",
            initializer=init,
            initializer_kwargs=rbm_kwargs if init == "rbm" else
            {"seed": seed})
        result = mnist_runs.train(mc, tc, splits)
        if result.pretraining is not None:
            errors.append(result.pretraining)
        h = result.history
        runs[init] = {
            "step_loss": np.asarray(h.step_loss),
            "loss": list(h.loss),
            "accuracy": list(h.accuracy),
            "val_accuracy": list(h.val_accuracy),
            "initial_loss": result.summary["initial_loss"]["data_loss"],
            "test_accuracy": float(result.test_accuracy),
        }
    return {
        "runs": runs,
        "reconstruction_errors": errors[0] if errors else [],
        "steps_per_epoch": int(np.ceil(config["n_train"]
                                       / config["batch_size"])),
        "test_accuracy": {k: r["test_accuracy"] for k, r in runs.items()},
    }


LABELS = {"rbm": "RBM pre-trained", "small_normal": "small_normal (0.01)",
          "xavier_normal": "xavier_normal"}


def plot(result):
    fig, axes = figure(ncols=3, width=4.6, height=3.6, title=TITLE)
    ax = axes[0, 0]
    for i, errs in enumerate(result["reconstruction_errors"]):
        ax.plot(range(len(errs)), errs, "o-", label=f"RBM {i + 1}")
    ax.set(xlabel="pre-training epoch (0 = before)",
           ylabel="reconstruction error (MSE per unit)",
           title="Pre-training: CD reconstruction error", yscale="log")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    runs = result["runs"]
    window = max(1, int(result["steps_per_epoch"]) // 10)
    for key, run in runs.items():
        x, y = trailing_mean(run["step_loss"], window)
        ax.plot(x, y, label=LABELS.get(key, key))
    ax.set(xlabel="fine-tuning step",
           ylabel=f"training loss (mean of {window} steps)",
           title="Fine-tuning by backprop", yscale="log")
    ax.legend(fontsize=8)
    ax = axes[0, 2]
    keys = list(runs)
    acc = [100 * runs[k]["test_accuracy"] for k in keys]
    bars = ax.bar(range(len(keys)), acc,
                  color=["C0", "C1", "C2", "C3"][:len(keys)])
    for bar, a in zip(bars, acc):
        ax.annotate(f"{a:.1f} %", (bar.get_x() + bar.get_width() / 2, a),
                    ha="center", va="bottom", fontsize=9)
    ax.axhline(10, color="gray", ls=":", label="chance (10 %)")
    ax.set_xticks(range(len(keys)), [LABELS.get(k, k) for k in keys],
                  fontsize=8, rotation=10)
    ax.set(xlabel="initialization", ylabel="test accuracy (%)",
           title="MNIST test accuracy after fine-tuning", ylim=(0, 105))
    ax.legend(fontsize=8, loc="lower right")
    for ax in axes[0]:
        ax.grid(alpha=0.3)
    return fig


def summarize(result):
    acc = result["test_accuracy"]
    errs = result["reconstruction_errors"]
    cfg = result.get("config", {})
    falls = all(all(b < a for a, b in zip(e, e[1:])) for e in errs)
    err_text = "; ".join(
        f"RBM {i + 1}: {e[0]:.4f} → {e[-1]:.4f}" for i, e in enumerate(errs))
    rbm, small = acc.get("rbm"), acc.get("small_normal")
    xavier = acc.get("xavier_normal")
    held = (rbm is not None and falls and rbm > 0.5
            and (small is None or rbm > small))
    parts = [
        f"A sigmoid MLP {cfg.get('hidden', '')} on [0, 1]-scaled MNIST "
        f"({cfg.get('n_train', '?')} training images). Contrastive "
        f"divergence lowered every RBM's reconstruction error epoch over "
        f"epoch{'' if falls else ' (NOT strictly)'} ({err_text}). After "
        f"the same fine-tuning ({cfg.get('epochs', '?')} epoch(s) of "
        f"{cfg.get('optimizer', '?')}, lr {cfg.get('learning_rate', '?')}) "
        f"the test accuracy is {measures.percent(rbm)} from the RBM stack"]
    if small is not None:
        parts.append(f", {measures.percent(small)} from small_normal")
    if xavier is not None:
        parts.append(f" and {measures.percent(xavier)} from xavier_normal")
    parts.append(". ")
    if held:
        parts.append("The claim holds: pre-training gives backprop a far "
                     "better start than small random weights")
        if xavier is not None:
            parts.append(
                "; a scaled random init (Xavier) "
                + ("matches or beats it, which is why pre-training fell "
                   "out of use." if xavier >= rbm - 0.005 else
                   "still trails it in this budget."))
        else:
            parts.append(".")
    else:
        parts.append("The claim does NOT hold as stated in this run.")
    return "".join(parts)
