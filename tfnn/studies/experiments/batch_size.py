"""Experiment 9: batch size — 16 vs 128 (note 000), and batch gradient
descent vs SGD vs mini-batch (notes 001, 003).

Note 000 trains with batch 16 and batch 128 for 20 epochs at lr 1e-4 and
reports that "with the larger batch the training loss converges clearly
faster". The note does not name the optimizer or the model of that run;
here it is Adam (lr 1e-4) on note 000's MLP 784-64-10 (ReLU, He init,
logits). One epoch is ``N / b`` updates, so "faster" depends on the clock:

    per epoch (= per example seen):  batch 16 makes 8× the updates of 128
    per update:                      batch 128's gradient averages 8× the
                                     examples (std of the noise ∝ 1/√b)
    per second:                      depends on the hardware

All three are measured. Second part, notes 001/003: on one small training
set, the same model and SGD learning rate with

    batch gradient descent  b = N  (batch_size=0): 1 update per epoch,
                                    the exact gradient
    stochastic GD           b = 1:   N updates per epoch, the noisiest
    mini-batch GD           b = 32, 128

with the loss on the whole training set after every epoch, drawn against
epochs and against updates.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfnn.config import ModelConfig
from tfnn.studies.figures import figure
from tfnn.studies.mnist_runs import mnist, subset, train
from tfnn.training import TrainConfig

TITLE = "Batch size: 16 vs 128 (note 000); batch GD vs SGD vs mini-batch"
CLAIM = ("Note 000: with batch 128 instead of 16 (lr 1e-4, 20 epochs) the "
         "training loss converges clearly faster. Notes 001/003: batch "
         "gradient descent is slow per pass over the data, SGD (batch 1) is "
         "noisy, mini-batches (32-512) sit in between and work best; note 001 "
         "adds that a training set of fewer than 2,000 examples should use "
         "batch gradient descent.")
QUICK = {
    # Part 1: note 000
    "hidden": [64],
    "batch_sizes": [16, 128],
    "optimizer": "adam",
    "learning_rate": 1e-4,
    "epochs": 3,
    "n_train": 3000,
    "n_val": 1000,  # held-out images: the loss after every epoch
    "n_test": 1000,
    # Part 2: batch GD vs SGD vs mini-batch
    "gd_batch_sizes": [0, 1, 32, 128],  # 0 = the whole set
    "gd_optimizer": "sgd",
    "gd_learning_rate": 0.02,
    "gd_epochs": 5,
    "gd_n_train": 250,
    "seed": 0,
}
FULL = dict(QUICK, epochs=20, n_train=55000, n_val=5000, n_test=10000,
            gd_epochs=20, gd_n_train=1000)


def _smooth(values, k):
    values = np.asarray(values, dtype=float)
    if k <= 1 or len(values) < 2 * k:
        return values
    return np.convolve(values, np.ones(k) / k, mode="valid")


def loss_at_updates(step_loss, updates, window=20):
    """Mean batch loss over the ``window`` updates ending at ``updates``."""
    s = np.asarray(step_loss, dtype=float)[:updates]
    return float(s[-window:].mean())


def run(config):
    full = mnist()
    mc = ModelConfig(hidden=tuple(config["hidden"]))
    splits = subset(full, config["n_train"], config["n_test"],
                    config["n_val"])
    note = {}
    for b in config["batch_sizes"]:
        tc = TrainConfig(optimizer=config["optimizer"],
                         learning_rate=config["learning_rate"],
                         batch_size=b, epochs=config["epochs"],
                         seed=config["seed"])
        res = train(mc, tc, splits)
        h = res.history
        note[str(b)] = {
            "batch_size": b,
            "epoch_loss": h.loss,  # mean batch loss over each epoch
            "epoch_val_loss": h.val_loss,  # held-out, after each epoch
            "step_loss": np.asarray(h.step_loss, dtype=np.float32),
            "step_stride": 1,
            "seconds": h.seconds,
            "updates": len(h.step_loss),
            "test_accuracy": float(res.test_accuracy),
        }
    # Equal updates: where the run with the fewest updates ends.
    u = min(r["updates"] for r in note.values())
    for r in note.values():
        r["loss_at_equal_updates"] = loss_at_updates(r["step_loss"], u)
        # Kept for the figure as means over blocks of ``step_stride``
        # updates (at most ~2000 points per run).
        r["step_stride"] = stride = max(1, -(-r["updates"] // 2000))
        n_blocks = r["updates"] // stride
        r["step_loss"] = r["step_loss"][:n_blocks * stride].reshape(
            n_blocks, stride).mean(axis=1)
    # Part 2 on a small set; the "validation" set is the training set
    # itself, so val_loss is the loss on all N examples after each epoch.
    small = subset(full, config["gd_n_train"], config["n_test"])
    small = dataclasses.replace(small, x_val=small.x_train,
                                y_val=small.y_train)
    modes = {}
    for b in config["gd_batch_sizes"]:
        tc = TrainConfig(optimizer=config["gd_optimizer"],
                         learning_rate=config["gd_learning_rate"],
                         batch_size=b, epochs=config["gd_epochs"],
                         seed=config["seed"])
        res = train(mc, tc, small)
        h = res.history
        modes[str(b)] = {
            "batch_size": b,
            "updates_per_epoch": len(h.step_loss) // config["gd_epochs"],
            "updates": len(h.step_loss),
            "train_loss": h.val_loss,  # whole training set, per epoch
            "seconds": h.seconds,
            "test_accuracy": float(res.test_accuracy),
        }
    return {"note000": note, "equal_updates": u, "modes": modes,
            "n_train": config["n_train"], "gd_n_train": config["gd_n_train"],
            "learning_rate": config["learning_rate"],
            "optimizer": config["optimizer"],
            "gd_learning_rate": config["gd_learning_rate"]}


def _mode_label(b, n):
    b = int(b)
    if b == 0:
        return f"batch GD (b = N = {n})"
    if b == 1:
        return "SGD (b = 1)"
    return f"mini-batch (b = {b})"


def plot(result):
    note = result["note000"]
    order = sorted(note, key=int)
    fig, axes = figure(ncols=3, nrows=2, width=4.7, height=3.5, title=TITLE)
    ax = axes[0, 0]
    for key in order:
        r = note[key]
        ep = np.arange(1, len(r["epoch_loss"]) + 1)
        line, = ax.plot(ep, r["epoch_loss"], "o-", ms=3,
                        label=f"batch {key}: training (epoch mean)")
        ax.plot(ep, r["epoch_val_loss"], "s--", ms=3, color=line.get_color(),
                label=f"batch {key}: held-out")
    ax.set(yscale="log", xlabel="epoch", ylabel="loss",
           title=f"per epoch (note 000's axis), "
           f"{result['optimizer']} lr {result['learning_rate']:g}")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    ax = axes[0, 1]
    for key in order:
        r = note[key]
        stride = r.get("step_stride", 1)
        k = max(1, len(r["step_loss"]) // 100)  # smooth over 1 % of the run
        y = _smooth(r["step_loss"], k)
        ax.plot((np.arange(len(y)) + k) * stride, y, label=f"batch {key}")
    ax.axvline(result["equal_updates"], color="k", lw=0.6, ls=":",
               label=f"{result['equal_updates']} updates")
    ax.set(xscale="log", yscale="log", xlabel="updates (log)",
           ylabel="batch loss (moving average)", title="per update")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    ax = axes[0, 2]
    for key in order:
        r = note[key]
        t = np.cumsum(r["seconds"])
        ax.plot(t, r["epoch_val_loss"], "o-", ms=3, label=f"batch {key}")
    ax.set(yscale="log", xlabel="wall-clock seconds (this machine)",
           ylabel="held-out loss after each epoch",
           title="per second (hardware-dependent)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    modes = result["modes"]
    mk = sorted(modes, key=int)
    n = result["gd_n_train"]
    ax = axes[1, 0]
    for key in mk:
        r = modes[key]
        ep = np.arange(1, len(r["train_loss"]) + 1)
        ax.plot(ep, r["train_loss"], "o-", ms=3, label=_mode_label(key, n))
    ax.set(yscale="log", xlabel="epoch",
           ylabel=f"loss on all {n} training images",
           title=f"per epoch, SGD lr {result['gd_learning_rate']:g}")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    ax = axes[1, 1]
    for key in mk:
        r = modes[key]
        ups = r["updates_per_epoch"] * np.arange(1, len(r["train_loss"]) + 1)
        ax.plot(ups, r["train_loss"], "o-", ms=3, label=_mode_label(key, n))
    ax.set(xscale="log", yscale="log", xlabel="updates (log)",
           ylabel=f"loss on all {n} training images", title="per update")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    ax = axes[1, 2]
    keys = mk
    ax.bar(np.arange(len(keys)), [modes[k]["updates_per_epoch"] for k in keys],
           color="tab:gray")
    for i, k in enumerate(keys):
        ax.text(i, modes[k]["updates_per_epoch"] * 1.15,
                str(modes[k]["updates_per_epoch"]), ha="center", fontsize=8)
    ax.set_xticks(np.arange(len(keys)))
    ax.set_xticklabels([_mode_label(k, n).replace(" (", "\n(") for k in keys],
                       fontsize=7)
    ax.set(yscale="log", ylim=(0.5, n * 5), xlabel="batch mode",
           ylabel="updates per epoch (log)",
           title="updates per pass over the data")
    return fig


def summarize(result):
    note = result["note000"]
    keys = sorted(note, key=int)
    small, large = note[keys[0]], note[keys[-1]]
    u = result["equal_updates"]
    per_epoch_small = small["epoch_loss"][-1] < large["epoch_loss"][-1]
    per_update_large = (large["loss_at_equal_updates"]
                        < small["loss_at_equal_updates"])
    t_large = float(np.sum(large["seconds"]))
    t_small = np.cumsum(small["seconds"])
    # The small batch's held-out loss at the time the large batch finished.
    done = [v for t, v in zip(t_small, small["epoch_val_loss"])
            if t <= t_large]
    modes = result["modes"]
    mk = sorted(modes, key=int)
    final = {k: modes[k]["train_loss"][-1] for k in mk}
    best = min(final, key=final.get)
    n = result["gd_n_train"]
    text = (
        f"Note 000's setting ({result['optimizer']} lr "
        f"{result['learning_rate']:g}, {len(small['epoch_loss'])} epochs on "
        f"{result['n_train']} images): after the last epoch the training "
        f"loss is {small['epoch_loss'][-1]:.3f} with batch {keys[0]} "
        f"({small['updates']} updates) and {large['epoch_loss'][-1]:.3f} "
        f"with batch {keys[-1]} ({large['updates']} updates); held-out "
        f"{small['epoch_val_loss'][-1]:.3f} vs "
        f"{large['epoch_val_loss'][-1]:.3f}; test accuracy "
        f"{100 * small['test_accuracy']:.1f} % vs "
        f"{100 * large['test_accuracy']:.1f} %. "
        + ("Per epoch the note's claim does NOT hold: the small batch, with "
           f"{small['updates'] / max(1, large['updates']):.1f}× the updates, "
           "converges faster. " if per_epoch_small else
           "Per epoch the larger batch converges faster, as the note says. ")
        + f"Per update it is the other way: after {u} updates the batch "
        f"loss is {small['loss_at_equal_updates']:.3f} (batch {keys[0]}) vs "
        f"{large['loss_at_equal_updates']:.3f} (batch {keys[-1]})"
        + (", so the note's claim holds per update. "
           if per_update_large else
           "; even per update the larger batch is not ahead. ")
        + (f"On this machine batch {keys[-1]} took {t_large:.1f} s for all "
           f"its epochs, batch {keys[0]} {t_small[-1]:.1f} s; "
           + (f"by then batch {keys[0]} had held-out loss {done[-1]:.3f} vs "
              f"{large['epoch_val_loss'][-1]:.3f}. " if done else
              f"batch {keys[0]} had not finished one epoch by then. "))
        + f"Batch modes on {n} images (SGD lr "
        f"{result['gd_learning_rate']:g}, {len(modes[mk[0]]['train_loss'])} "
        "epochs), loss on the whole training set after the last epoch: "
        + ", ".join(f"{_mode_label(k, n)} {final[k]:.3f} "
                    f"({modes[k]['updates_per_epoch']} update(s)/epoch)"
                    for k in mk)
        + f"; lowest per epoch: {_mode_label(best, n)}."
    )
    return text


def limits(result):
    """What the experiment does not settle: note 000's BatchNorm argument
    (part 1 has no BN), and note 001's "fewer than 2,000 examples → batch
    gradient descent" judged by part 2's numbers."""
    cfg = result["config"]
    modes = result["modes"]
    final = {int(k): modes[k]["train_loss"][-1] for k in modes}
    acc = {int(k): modes[k]["test_accuracy"] for k in modes}
    n = result["gd_n_train"]
    others = sorted(b for b in final if b != 0)
    gd_best = all(final[0] <= final[b] for b in others)
    arch = "-".join(["784", *map(str, cfg["hidden"]), "10"])
    return (
        "**What this does not settle.** Note 000 argues through BatchNorm's "
        "batch statistics, but part 1 runs note 000's setting on a model "
        f"without BatchNorm ({arch}, ReLU, He init): it measures what the "
        "batch size does to the number and size of the updates, not to BN's "
        "statistics. Notebook 000 re-runs it with BN (lr 1e-4, 20 epochs, as"
        " the note does). Part 2 "
        + ("agrees with" if gd_best else "contradicts")
        + " note 001's rule \"fewer than 2,000 examples → batch gradient "
        f"descent\": on {n:,} examples, after the same "
        f"{len(modes['0']['train_loss'])} epochs at lr "
        f"{result['gd_learning_rate']:g}, batch GD's training loss is "
        f"{final[0]:.3f} (test accuracy {100 * acc[0]:.1f} %) against "
        + " and ".join(
            f"{final[b]:.3f} for {'SGD' if b == 1 else f'batch {b}'} "
            f"({100 * acc[b]:.1f} %)" for b in others if b <= 32)
        + ". " + (
            "Batch GD reaches the lowest loss here, so the rule holds in this"
            " setting." if gd_best else
            "With one update per epoch at a shared learning rate, batch GD is "
            "the slowest here, so the rule does NOT hold in this setting."))
