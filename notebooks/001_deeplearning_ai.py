# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Note 001 — deeplearning.ai course notes, week 7 (7주차)
#
# Notes on Andrew Ng's deeplearning.ai lectures: normalizing the inputs,
# fan-in and fan-out, Xavier and He initialization, mini-batch gradient
# descent and the rules for choosing the batch size, the learning rate on
# a log scale, and the optimizers SGD, Momentum, NAG and Adam. The note
# has no code; this notebook puts each of its statements into Keras with
# `tfnn`, section by section, and measures it.
#
# **Run it**: `make notebooks` regenerates every committed notebook (full
# mode); `TFNN_QUICK=1 jupyter execute notebooks/001_deeplearning_ai.ipynb`
# runs this one in quick mode (fewer examples and epochs, the same code).
# The full experiments are in [docs/experiments.md](../docs/experiments.md);
# how each note maps to the code: [docs/notes.md](../docs/notes.md).

# %%
import os
import time

# TensorFlow's C++ warnings (XLA, CUDA probes) stay out of the outputs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

import tfnn
from tfnn import data, initializers, optimizers, training

plt.rcParams["figure.dpi"] = 72
QUICK = os.environ.get("TFNN_QUICK") == "1"
TRAIN = 1_000 if QUICK else 12_000  # MNIST training images used
EPOCHS = 1 if QUICK else 2  # epochs of the MNIST comparisons
keras.utils.set_random_seed(0)
tf.get_logger().setLevel("ERROR")  # no retracing notices between runs


def verdict(holds):
    return "holds" if holds else "does NOT hold"


def train(x, y, model, optimizer, batch_size=64, epochs=EPOCHS,
          validation=None, seed=0):
    """Trains ``model`` with tfnn's Trainer; returns (trainer, history).
    The loss guard is off: a diverging run is a result here."""
    # The fast path (a whole epoch in one graph) without XLA: many small
    # runs here, each would pay XLA's compile time.
    trainer = training.Trainer(model, optimizer, fast=True, fast_jit=False)
    history = trainer.fit(x, y, epochs=epochs, batch_size=batch_size,
                          validation=validation, seed=seed, progress=False,
                          loss_guard="off")
    return trainer, history


print(f"{'quick' if QUICK else 'full'} mode: {TRAIN} training images, "
      f"{EPOCHS} epoch(s) per MNIST run")

# %% [markdown]
# ## 1. Lecture : Normalizing inputs — Normalizing the inputs
#
# Subtract the mean and divide by the standard deviation, $(X - m) /
# \sigma$ (the lecture's standardization), or min-max scale (/255, "what we
# did last time"). Why: the cost's contours become rounder, so gradient
# descent goes more directly to the minimum; it matters most when the
# features' ranges differ a lot. `tfnn.data.load` does both, with the
# statistics of the training part only.

# %%
prep = {kind: data.load("mnist", preprocessing=kind, train_limit=TRAIN)
        for kind in ("raw", "minmax", "standardize")}
for kind, s in prep.items():
    print(f"{kind:12s} pixel mean {s.x_train.mean():8.3f}  "
          f"std {s.x_train.std():8.3f}  range [{s.x_train.min():.2f}, "
          f"{s.x_train.max():.2f}]")
splits = prep["standardize"]
x_train, y_train = splits.x_train, splits.y_train
x_val, y_val = splits.x_val, splits.y_val

# %% [markdown]
# "Rounder contours", measured: for a linear model with squared error the
# cost's Hessian is $E[x x^\top]$; its eigenvalues are the contours'
# curvatures. The ratio of the largest to the mean eigenvalue says how
# elongated the bowl is (1 = round). Then one epoch of SGD on the same
# MLP from each input, at three learning rates.

# %%
def elongation(x):
    flat = x.reshape(len(x), -1).astype("float64")
    eig = np.linalg.eigvalsh(flat.T @ flat / len(flat))
    return eig.max(), eig.max() / eig.mean()


NORM_LRS = (0.1,) if QUICK else (0.001, 0.01, 0.1)
norm_runs, shape = {}, {}
for kind, s in prep.items():
    lam, ratio = shape[kind] = elongation(s.x_train[:2000])
    for lr in NORM_LRS:
        keras.utils.set_random_seed(0)
        model = tfnn.build_mlp(hidden=(64,))
        trainer, h = train(s.x_train, s.y_train, model,
                           optimizers.get("sgd", learning_rate=lr),
                           epochs=1)
        val_loss, val_acc = trainer.evaluate(s.x_val, s.y_val)
        norm_runs[kind, lr] = val_loss
    print(f"{kind:12s} lambda_max {lam:10.1f}  lambda_max/mean "
          f"{ratio:6.1f}  val loss at lr {NORM_LRS}: " + " / ".join(
              f"{norm_runs[kind, lr]:.3g}" for lr in NORM_LRS))

# %%
best = {kind: np.nanmin([norm_runs[kind, lr] for lr in NORM_LRS])
        for kind in prep}
print(f"Measured: best validation loss after one epoch: raw "
      f"{best['raw']:.3f}, minmax {best['minmax']:.3f}, standardize "
      f"{best['standardize']:.3f}; normalizing helps: "
      f"{verdict(max(best['minmax'], best['standardize']) < best['raw'])}"
      f"; standardize rounder than minmax: "
      f"{verdict(shape['standardize'][1] < shape['minmax'][1])}")

# %% [markdown]
# **Claim: holds.** From raw pixels (up to 255) the loss stays near
# chance (≈ 2–2.6) at every learning rate tried, while /255 and
# standardized inputs reach about 0.43 and 0.32; standardizing (centering)
# makes the bowl rounder than /255 alone, which only rescales it (same
# elongation, 250 against 341). Full experiment:
# [docs/experiments.md §6](../docs/experiments.md).

# %% [markdown]
# ## 2. Random initialization 의 문제점 — The trouble with random initialization
#
# Terms: **fan-in**, the number of units feeding a layer; **fan-out**, the
# number it feeds. `tfnn.initializers.fans` reads them off a kernel's
# shape (a convolution's include the kernel's area).

# %%
for shape in [(784, 128), (128, 10), (3, 3, 32, 64)]:
    print(f"kernel {str(shape):15s} (fan_in, fan_out) = "
          f"{initializers.fans(shape)}")

# %% [markdown]
# The note: with a large fan-in the outputs grow (**gradient exploding**),
# with a small one they shrink (**vanishing**); one constant per layer is
# hard to pick, so make the initial scale **inversely proportional to the
# fan-in**. Measured: one layer's output $z = \sum_i w_i x_i$ on unit
# inputs, with $w \sim N(0, 1)$ and with $w \sim N(0, 1/\text{fan-in})$,
# then ten such layers (tanh) in a row.

# %%
rng = np.random.default_rng(0)
for fan_in in (16, 256, 4096):
    x = rng.standard_normal((1000, fan_in))
    w = rng.standard_normal((fan_in, 256))
    print(f"fan_in {fan_in:5d}: std(z) with N(0,1) = {(x @ w).std():6.1f}"
          f"   with N(0,1/fan_in) = {(x @ w / np.sqrt(fan_in)).std():.3f}")


def deep_std(scale, width=256, depth=10):
    h = rng.standard_normal((1000, width))
    for _ in range(depth):
        h = np.tanh(h @ (rng.standard_normal((width, width)) * scale))
    return h.std(), np.mean(np.abs(h) > 0.99)


for name, scale in [("N(0, 1)", 1.0), ("N(0, 0.01²)", 0.01),
                    ("N(0, 1/fan_in)", 1 / np.sqrt(256))]:
    std, sat = deep_std(scale)
    print(f"10 tanh layers, W ~ {name:15s} last std {std:.2e}, "
          f"saturated {100 * sat:.0f} %")

# %% [markdown]
# **Measured**: std(z) grows as $\sqrt{\text{fan-in}}$ with $N(0, 1)$
# weights (4 → 64 from fan-in 16 to 4096) and stays at 1 when the weights
# are scaled by $1/\sqrt{\text{fan-in}}$. **Claim: holds**, with a
# precision: the output scale is $\sigma_w\sqrt{\text{fan-in}}$, so a small
# fan-in shrinks it only relative to a large one; what vanishes or
# explodes over depth is a scale away from $1/\sqrt{\text{fan-in}}$ (the
# 0.01 weights collapse to 0, the unit weights saturate tanh).
#
# ### Xavier initialization (= glorot) and He initialization
#
# Xavier uses fan-in and fan-out, $\sigma^2 = 2 / (n_{in} + n_{out})$, and
# "works well in general, but with ReLU the values crowd around 0"; He
# uses the fan-in only, $\sigma^2 = 2 / n_{in}$, made for ReLU. The
# sampled kernels against the formulas, then the activations of ten
# 256-unit ReLU layers (Keras `Dense` with tfnn's initializers):

# %%
for key, formula in [("xavier_normal", np.sqrt(2 / (784 + 128))),
                     ("he_normal", np.sqrt(2 / 784))]:
    w = initializers.get(key, seed=0)((784, 128)).numpy()
    print(f"{key:14s} std {w.std():.4f}  formula {formula:.4f}")


def relu_stack_std(key, depth=10, width=256):
    keras.utils.set_random_seed(0)
    h = tf.random.normal((1000, width), seed=0)
    stds = []
    for i in range(depth):
        dense = keras.layers.Dense(
            width, activation="relu", use_bias=False,
            kernel_initializer=initializers.get(key, seed=i))
        h = dense(h)
        stds.append(float(tf.math.reduce_std(h)))
    return stds


relu_std = {key: relu_stack_std(key) for key in ("xavier_normal",
                                                 "he_normal")}
fig, ax = plt.subplots(figsize=(5, 3.2))
for key, stds in relu_std.items():
    ax.plot(range(1, 11), stds, marker="o", label=key)
ax.set(xlabel="ReLU layer", ylabel="std of activations", yscale="log",
       title="10 × 256 ReLU layers")
ax.legend()
fig.tight_layout()
xs, hs = relu_std["xavier_normal"], relu_std["he_normal"]
print(f"Measured: layer 1 → 10 std: Xavier {xs[0]:.3f} → {xs[-1]:.4f} "
      f"({xs[0] / xs[-1]:.0f}x smaller), He {hs[0]:.3f} → {hs[-1]:.3f}; "
      f"Xavier crowds ReLU's activations towards 0: "
      f"{verdict(xs[-1] < 0.1 * xs[0])}; He keeps them: "
      f"{verdict(0.5 < hs[-1] / hs[0] < 2)}")

# %% [markdown]
# **Claims: hold.** The samples match the formulas; under ReLU, Xavier's
# activations shrink by about $\sqrt 2$ per layer (ReLU halves the
# variance, Xavier does not make up for it) and He's keep their scale.
# Full experiments: [docs/experiments.md §2 and §5](../docs/experiments.md).

# %% [markdown]
# ## 3. Lecutre : Weight initialization for deep learning — Which scheme
#
# Each activation has its own initialization formula; the choice is one
# more hyperparameter and no one knows the right answer in advance: "use
# Xavier or He". On MNIST, a 5 × 128 MLP, each activation with each of
# the two schemes (Adam, batch 64):

# %%
init_acc = {}
for act in ("relu",) if QUICK else ("tanh", "relu"):
    for key in ("xavier_normal", "he_normal"):
        keras.utils.set_random_seed(0)
        model = tfnn.build_mlp(hidden=(128,) * 5, activation=act,
                               initializer=key)
        trainer, h = train(x_train, y_train, model, "adam",
                           validation=(x_val, y_val))
        init_acc[act, key] = 100 * h.val_accuracy[-1]
        print(f"{act:5s} {key:14s} val acc {init_acc[act, key]:.2f} %")
spread = max(init_acc.values()) - min(init_acc.values())
print(f"Measured: the {len(init_acc)} runs lie within {spread:.2f} points; "
      f"either scheme works with either activation at this depth: "
      f"{verdict(spread < 2)}")

# %% [markdown]
# **Claim** ("use Xavier or He"): **holds** — at five layers both
# fan-scaled schemes train both activations to within the spread printed
# above; the differences the previous section shows in the forward pass
# appear at greater depth or with worse scales ([docs/experiments.md
# §5](../docs/experiments.md)).

# %% [markdown]
# ## 4. Lecture : Mini-batch graient descent — Mini-batch gradient descent
#
# Split the samples into small batches $X^{\{t\}}$ and take one gradient
# step per mini-batch instead of one per pass over the whole set. The
# lecture's numbers: a batch (the whole data) of 5,000,000 examples does
# not fit in memory; mini-batches of 1,000. An **epoch** is one pass over
# all the data. In `tfnn` the batch size alone says which: `0` is the
# whole set (batch GD), `1` is SGD, anything else mini-batch GD, and
# `tfnn.data.num_batches` is the number of iterations per epoch.

# %%
for label, b in [("batch GD", 0), ("mini-batch 1,000", 1000),
                 ("SGD", 1)]:
    print(f"{label:17s} iterations per epoch on 5,000,000 examples: "
          f"{data.num_batches(5_000_000, b, drop_remainder=False):,}")

# %% [markdown]
# The double loop (epochs × mini-batches), written out with tfnn's one
# train step, `tfnn.training.train_step` (forward in training mode,
# softmax cross-entropy, `optimizer.apply`):

# %%
keras.utils.set_random_seed(0)
model = tfnn.build_mlp(hidden=(64,))
opt = optimizers.get("sgd", learning_rate=0.1)
step = tf.function(lambda xb, yb: training.train_step(model, opt, xb, yb))
rng = np.random.default_rng(0)
batch = 1000
for epoch in range(2):
    order = rng.permutation(len(x_train))  # reshuffled every epoch
    for t in range(data.num_batches(len(x_train), batch, False)):
        idx = order[t * batch:(t + 1) * batch]  # X^{t}, Y^{t}
        loss, correct = step(x_train[idx], y_train[idx])
    print(f"epoch {epoch + 1}: {t + 1} iterations, last mini-batch loss "
          f"{float(loss):.3f}")

# %% [markdown]
# ## 5. Lecture : Understanding mini-batch gradient descent — Batch size
#
# A mini-batch of 1 is stochastic gradient descent; choose between 1 and
# m. The note's rules:
#
# * a small training set (**fewer than 2,000**) → **batch gradient
#   descent**; a larger one → mini-batches of **64 to 512**;
# * **powers of two** are faster;
# * the **minimum is usually $2^5$** = 32; the maximum as large as memory
#   allows;
# * a small batch means noise: it **prevents overfitting a little**, too
#   little to lower the batch size for it.
#
# ### Batch GD, SGD and mini-batch on fewer than 2,000 examples
#
# 1,000 examples; each mode at its own learning rate (batch GD takes the
# largest steps it can afford, SGD the smallest); the loop written out
# with one compiled train step, the clock running only while it steps;
# after every epoch the loss on all 1,000 (clock stopped). Which reaches a
# loss of 0.3 first in wall time?

# %%
small_x, small_y = x_train[:1000], y_train[:1000]
xs_small, ys_small = tf.constant(small_x), tf.constant(small_y)
spec = [tf.TensorSpec((None, 28, 28), tf.float32),
        tf.TensorSpec((None,), tf.int64)]


def race(batch, lr, epochs):
    """Trains on the 1,000 images; returns (seconds, loss) per epoch."""
    keras.utils.set_random_seed(0)
    model = tfnn.build_mlp(hidden=(64,))
    opt = optimizers.get("sgd", learning_rate=lr)
    step = tf.function(lambda xb, yb: training.train_step(model, opt, xb,
                                                          yb),
                       input_signature=spec)
    step.get_concrete_function()  # trace before the clock starts
    rng = np.random.default_rng(0)
    clock, seconds, losses = 0.0, [], []
    for _ in range(epochs):
        order = tf.constant(rng.permutation(len(small_x)))
        xe, ye = tf.gather(xs_small, order), tf.gather(ys_small, order)
        t0 = time.perf_counter()
        for t in range(0, len(small_x), batch):
            step(xe[t:t + batch], ye[t:t + batch])
        clock += time.perf_counter() - t0
        seconds.append(clock)
        losses.append(float(tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(
                ys_small, model(xs_small), from_logits=True))))
    _, acc = training.Trainer(model, opt).evaluate(x_val, y_val)
    return np.array(seconds), np.array(losses), acc


modes = {  # label: (batch size, lr, epochs)
    "batch GD (b=1000)": (1000, 0.5, 100 if QUICK else 300),
    "mini-batch (b=64)": (64, 0.1, 5 if QUICK else 20),
    "SGD (b=1)": (1, 0.01, 1 if QUICK else 3),
}
mode_runs = {label: race(*args) for label, args in modes.items()}

THRESHOLD = 0.3
fig, ax = plt.subplots(figsize=(6, 3.5))
for label, (secs, loss, acc) in mode_runs.items():
    ax.plot(secs, loss, marker=".", label=label)
    hit = np.flatnonzero(loss < THRESHOLD)
    when = f"{secs[hit[0]]:.2f} s" if hit.size else "never"
    print(f"{label:18s} loss < {THRESHOLD} after {when}; final loss "
          f"{loss[-1]:.3f} after {len(loss)} epochs ({secs[-1]:.2f} s); "
          f"held-out acc {100 * acc:.1f} %")
ax.axhline(THRESHOLD, color="grey", ls=":")
ax.set(xlabel="seconds (training steps only)",
       ylabel="loss on the 1,000 images", yscale="log")
ax.legend()
fig.tight_layout()


def time_to(label):
    secs, loss, _ = mode_runs[label]
    hit = np.flatnonzero(loss < THRESHOLD)
    return secs[hit[0]] if hit.size else np.inf


first = min(mode_runs, key=time_to)
print(f"Measured: seconds to a loss below {THRESHOLD}: " + ", ".join(
    f"{label} {time_to(label):.2f}" for label in mode_runs)
    + f"; first: {first}; \"fewer than 2,000 → batch GD\" "
    f"{verdict(first.startswith('batch GD'))} here; GD before SGD "
    f"{verdict(time_to('batch GD (b=1000)') < time_to('SGD (b=1)'))}")

# %% [markdown]
# **Claim** ("fewer than 2,000 examples → batch gradient descent"):
# **does not hold** here — even on 1,000 examples mini-batches of 64
# reach the loss threshold first in wall time (in about half the time
# batch GD needs), and all three end within two points of held-out
# accuracy.
# Per epoch batch GD always loses (one update per pass); its one
# vectorized step per epoch is cheap, but not cheap enough to make up for
# 16 times fewer updates. GD against SGD by wall time: **batch GD gets
# there before SGD** (b = 1 pays the per-step overhead 1,000 times an
# epoch). [docs/experiments.md §9](../docs/experiments.md) compares the
# modes per epoch only.
#
# ### Powers of two, 64–512, at least 2⁵
#
# Speed first: one compiled train step of the same MLP (784-256-10, Adam)
# at each batch size, powers of two and not, timed round-robin (every
# size once per round, so a busy machine slows them all alike) and the
# fastest round kept: microseconds per example.

# %%
time_sizes = [8, 16, 32, 64, 120, 128, 250, 256, 500, 512, 1000, 1024]
if QUICK:
    time_sizes = [16, 32, 120, 128]
steps = {}
for b in time_sizes:
    keras.utils.set_random_seed(0)
    model = tfnn.build_mlp(hidden=(256,))
    opt = optimizers.get("adam")
    steps[b] = tf.function(
        lambda xb, yb, model=model, opt=opt: training.train_step(
            model, opt, xb, yb), input_signature=spec)
    steps[b](tf.constant(x_train[:b]), tf.constant(y_train[:b]))  # warm up
per_example = dict.fromkeys(time_sizes, np.inf)  # seconds, best round
for _ in range(5 if QUICK else 30):
    for b in time_sizes:
        xb, yb = tf.constant(x_train[:b]), tf.constant(y_train[:b])
        reps = max(1, 1024 // b)  # ~1,024 examples per timing
        t0 = time.perf_counter()
        for _ in range(reps):
            steps[b](xb, yb)
        elapsed = (time.perf_counter() - t0) / (reps * b)
        per_example[b] = min(per_example[b], elapsed)
for b in time_sizes:
    print(f"batch {b:5d}: {1e6 * per_example[b]:6.2f} µs per example "
          f"({per_example[b] / per_example[32]:.2f}× batch 32's)")

pairs = [(p, q) for p, q in [(128, 120), (256, 250), (512, 500),
                             (1024, 1000)]
         if p in per_example and q in per_example]
for p, q in pairs:
    print(f"batch {p} vs {q}: {per_example[p] / per_example[q]:.2f}× the "
          f"time per example")
faster = [per_example[p] < 0.95 * per_example[q] for p, q in pairs]
print(f"Measured: the power of two is over 5 % faster per example in "
      f"{sum(faster)} of {len(pairs)} pairs: \"powers of two are faster\" "
      f"{verdict(all(faster))} on this CPU")

# %% [markdown]
# Then accuracy: the validation accuracy after the same number of epochs
# at each power of two from 16 to 2,048 (Trainer, Adam).

# %%
acc_sizes = [32, 128] if QUICK else [16, 32, 64, 128, 256, 512, 2048]
size_acc = {}
for b in acc_sizes:
    keras.utils.set_random_seed(0)
    model = tfnn.build_mlp(hidden=(256,))
    trainer, h = train(x_train, y_train, model, "adam", batch_size=b,
                       validation=(x_val, y_val))
    size_acc[b] = 100 * h.val_accuracy[-1]
    print(f"batch {b:5d}: val acc {size_acc[b]:.2f} % after {EPOCHS} "
          f"epoch(s)")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
bs = np.array(time_sizes)
pow2 = (bs & (bs - 1)) == 0
us = np.array([1e6 * per_example[b] for b in time_sizes])
axes[0].plot(bs, us, color="grey", lw=0.8)
axes[0].scatter(bs[pow2], us[pow2], label="power of two")
axes[0].scatter(bs[~pow2], us[~pow2], marker="s", label="other")
axes[0].set(xscale="log", yscale="log", xlabel="batch size",
            ylabel="µs per example (one step)")
axes[0].legend()
axes[1].plot(acc_sizes, [size_acc[b] for b in acc_sizes], marker="o")
axes[1].set(xscale="log", xlabel="batch size",
            ylabel=f"validation accuracy after {EPOCHS} epoch(s) (%)")
for ax in axes:
    ax.axvspan(64, 512, alpha=0.1)
fig.tight_layout()

# %% [markdown]
# **Claims**: "powers of two are faster" — **does not hold** on this CPU:
# the time per example falls with the batch size, and a power of two is
# not consistently faster than a batch a few percent smaller — it wins
# some of the four pairs and loses others (printed above), and which ones
# changed between our runs; the rule comes from GPU memory and kernel
# tiling, where it may hold. "At least 2⁵" — **holds** as a cost rule:
# below 32 each example costs more (about 1.4–1.7× at 16 and 3× at 8:
# the per-step overhead is paid more often).
# "64–512" — **holds** as a compromise: inside the shaded band an example
# is cheap, while the accuracy per epoch has not yet fallen much; at
# 2,048 the few updates per epoch cost accuracy.
#
# ### Small batches as regularization
#
# The note: a small batch is noisy; it prevents overfitting slightly, too
# slightly to choose it for that. Batch 16 against 256 on 1,000 images,
# each trained until it fits them (train accuracy ≈ 100 %): the gap
# between training and held-out accuracy.

# %%
reg_runs = {}
for b, epochs in [(16, 4 if QUICK else 25), (256, 10 if QUICK else 200)]:
    keras.utils.set_random_seed(0)
    model = tfnn.build_mlp(hidden=(256,))
    trainer, h = train(small_x, small_y, model, "adam", batch_size=b,
                       epochs=epochs)
    _, train_acc = trainer.evaluate(small_x, small_y)
    _, val_acc = trainer.evaluate(x_val, y_val)
    reg_runs[b] = (100 * train_acc, 100 * val_acc)
    print(f"batch {b:3d}, {epochs:3d} epochs: train {100 * train_acc:.1f} %,"
          f" held-out {100 * val_acc:.2f} %, gap "
          f"{100 * (train_acc - val_acc):.2f} points")
gap16 = reg_runs[16][0] - reg_runs[16][1]
gap256 = reg_runs[256][0] - reg_runs[256][1]
print(f"Measured: gap {gap16:.2f} (batch 16) vs {gap256:.2f} (batch 256): "
      f"small batches regularize {verdict(gap16 < gap256)}; by "
      f"{gap256 - gap16:.2f} points, i.e. slightly (< 3): "
      f"{verdict(0 < gap256 - gap16 < 3)}")

# %% [markdown]
# **Claim**: "the regularizing effect is small" — **holds**: both fit the
# 1,000 images and the held-out gaps differ by a few tenths of a point
# (printed above); that small batches regularize at all is therefore not
# shown here (one seed) — the note's advice not to lower the batch size
# for it stands.

# %% [markdown]
# ## 6. Optimizer — Learning rate, SGD, Momentum, NAG, Adam
#
# ### Learning Rate
#
# Change the learning rate on a **log scale** (0.1 → 0.001 …) and read the
# curves: too slow, too fast or good. A coarse sweep, SGD, one value per
# decade:

# %%
lrs = [1e-3, 1e-1, 10.0] if QUICK else [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]
lr_runs = {}
for lr in lrs:
    keras.utils.set_random_seed(0)
    model = tfnn.build_mlp(hidden=(64,))
    trainer, h = train(x_train, y_train, model,
                       optimizers.get("sgd", learning_rate=lr),
                       validation=(x_val, y_val))
    lr_runs[lr] = h
    print(f"lr {lr:7g}: val acc {100 * h.val_accuracy[-1]:6.2f} %, "
          f"last batch losses {np.round(h.step_loss[-3:], 3)}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
axes[0].plot(lrs, [100 * lr_runs[lr].val_accuracy[-1] for lr in lrs],
             marker="o")
axes[0].set(xscale="log", xlabel="learning rate",
            ylabel="validation accuracy (%)")
for lr in lrs:
    loss = np.array(lr_runs[lr].step_loss)
    axes[1].plot(np.clip(loss, 0, 5), label=f"lr {lr:g}", lw=0.8)
axes[1].set(xlabel="update", ylabel="batch loss (clipped at 5)")
axes[1].legend(fontsize=8)
fig.tight_layout()
accs = [100 * lr_runs[lr].val_accuracy[-1] for lr in lrs]
best_lr = lrs[int(np.nanargmax(accs))]
print(f"Measured: best lr {best_lr:g} ({max(accs):.2f} %); the accuracy "
      f"spans {min(accs):.1f}–{max(accs):.1f} % over "
      f"{len(lrs) - 1} decades, the best inside the range: "
      f"{verdict(lrs[0] < best_lr < lrs[-1])}")

# %% [markdown]
# **Claim: holds.** Too small and the loss barely moves in the epoch; too
# large and it jumps around or blows up; the good value sits in between,
# and one value per decade was enough to find its decade. Finer:
# [docs/experiments.md §11](../docs/experiments.md) (13 values) and §12
# (random search).
#
# ### SGD and its two weaknesses; Momentum, NAG, Adam
#
# SGD takes a gradient step on a random mini-batch. Its weaknesses: (1)
# when the gradient differs a lot between dimensions it struggles to
# reach the minimum; (2) it can stop at a saddle point or a local minimum.
# **Momentum** adds inertia, $v \leftarrow \mu v - \eta g,\ w \leftarrow w
# + v$; **NAG** takes the gradient where the inertia is about to carry
# $w$; **Adam** puts inertia on both the direction and the step size.
# Each is a Keras optimizer from `tfnn.optimizers`, stepping a
# `keras.Variable`:

# %%
def descend(f, start, key, steps=60, **kwargs):
    """``steps`` steps of optimizer ``key`` on ``f`` from ``start``."""
    opt = optimizers.get(key, **kwargs)
    w = keras.Variable(np.array(start, dtype="float32"))
    opt.build([w])  # slots before the compiled step

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = f(w)
        opt.apply([tape.gradient(loss, w)], [w])
        return w.value

    path = [np.array(start, dtype="float32")]
    path += [step().numpy() for _ in range(steps)]
    return np.array(path)


def bowl(w):  # (1): 20× steeper along y than along x
    return w[0] ** 2 / 20 + w[1] ** 2


def saddle(w):  # (2): a saddle at the origin, minima at y = ±sqrt(2)
    return w[0] ** 2 - w[1] ** 2 + w[1] ** 4 / 4


keys = ("sgd", "momentum", "nag", "adam")
paths = {k: descend(bowl, [-7.0, 2.0], k, learning_rate=0.1) for k in keys}
escape = {}
for k in keys:
    p = descend(saddle, [-1.5, 1e-3], k, learning_rate=0.1)
    left = np.flatnonzero(np.abs(p[:, 1]) >= 1)
    escape[k] = int(left[0]) if left.size else None

fig, ax = plt.subplots(figsize=(6, 3.3))
gx, gy = np.meshgrid(np.linspace(-8, 2, 100), np.linspace(-2.5, 2.5, 60))
ax.contour(gx, gy, gx ** 2 / 20 + gy ** 2, levels=15, colors="lightgrey")
for k, p in paths.items():
    ax.plot(p[:, 0], p[:, 1], marker=".", ms=3, label=k)
ax.set(title="60 steps at lr 0.1 on x²/20 + y²")
ax.legend()
fig.tight_layout()
for k in keys:
    print(f"{k:9s} distance to the bowl's minimum after 60 steps "
          f"{np.linalg.norm(paths[k][-1]):.3f}; steps to leave the saddle "
          f"{escape[k]}")

# %% [markdown]
# **Momentum escaping a local minimum.** $f(x) = x^4 - 3x^2 + x$ has a
# shallow local minimum at $x \approx 1.13$ and the global one at $x
# \approx -1.30$. Start at $x = 2$, on the slope above the shallow one:

# %%
def double_well(w):
    return w ** 4 - 3 * w ** 2 + w


grid = np.linspace(-2.2, 2.2, 200)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
axes[0].plot(grid, double_well(grid), color="grey")
well = {}
for key, kwargs in [("sgd", {}), ("momentum", {}), ("nag", {}),
                    ("adam", {"learning_rate": 0.1})]:
    kwargs = {"learning_rate": 0.01, **kwargs}
    p = descend(double_well, 2.0, key, steps=200, **kwargs)
    well[key] = float(p[-1])
    axes[0].plot(p, double_well(p), marker=".", ms=3, lw=0.5, label=key)
    axes[1].plot(p, label=key)
axes[0].set(xlabel="x", ylabel="f(x)")
axes[1].set(xlabel="step", ylabel="x")
axes[1].legend()
fig.tight_layout()
for key, x_end in well.items():
    where = "global" if x_end < 0 else "local (stuck)"
    print(f"{key:9s} ends at x = {x_end:6.3f}: {where} minimum")

# A grid of settings: how robust is the escape?
grid_escape = {}
for key in ("sgd", "momentum", "nag"):
    for lr in (0.005, 0.01, 0.02):
        for mu in (0.5, 0.9):
            kwargs = {} if key == "sgd" else {"momentum": mu}
            p = descend(double_well, 2.0, key, steps=200,
                        learning_rate=lr, **kwargs)
            grid_escape[key, lr, mu] = float(p[-1]) < 0
for key in ("sgd", "momentum", "nag"):
    n = sum(v for (k, _, _), v in grid_escape.items() if k == key)
    print(f"{key:9s} escaped in {n} of 6 settings (lr 0.005/0.01/0.02 × "
          f"momentum 0.5/0.9)")

# %%
dist = {k: np.linalg.norm(paths[k][-1]) for k in keys}
print(f"Measured: bowl distance after 60 steps sgd {dist['sgd']:.2f}, "
      f"momentum {dist['momentum']:.3f}, nag {dist['nag']:.3f}, adam "
      f"{dist['adam']:.2f}; saddle escape steps {escape}; from x = 2 SGD "
      f"ends at {well['sgd']:.2f} (stuck: "
      f"{verdict(well['sgd'] > 0)}), momentum at {well['momentum']:.2f} "
      f"(escapes: {verdict(well['momentum'] < 0)})")

# %% [markdown]
# **Claims**: SGD crawls along the flat direction of the uneven bowl and
# lingers at the saddle; Momentum and NAG get closer and leave sooner —
# **holds**. Momentum escapes the shallow local minimum where plain SGD
# stops — **holds at these settings** (the grid shows it is not
# guaranteed: Momentum escaped in half of the six settings, plain SGD in
# none; NAG, whose look-ahead brakes earlier, in one). Adam at lr 0.1
# takes steps of about lr per coordinate: it leaves the saddle first but
# is slow on the long bowl and stays in the shallow well.
#
# ### "Adam mostly just works"
#
# SGD, Momentum, NAG and Adam on MNIST at their default learning rates
# (SGD family 0.01, Adam 0.001), batch 64:

# %%
opt_acc = {}
for key in ("sgd", "adam") if QUICK else keys:
    keras.utils.set_random_seed(0)
    model = tfnn.build_mlp(hidden=(128,))
    trainer, h = train(x_train, y_train, model, key,
                       validation=(x_val, y_val))
    opt_acc[key] = 100 * h.val_accuracy[-1]
    print(f"{key:9s} val acc {opt_acc[key]:.2f} %")
print(f"Measured: Adam {opt_acc['adam']:.2f} % vs the best of the others "
      f"{max(v for k, v in opt_acc.items() if k != 'adam'):.2f} %: Adam "
      f"works at its default (within a point of the best): "
      f"{verdict(opt_acc['adam'] >= max(opt_acc.values()) - 1)}; the "
      f"best: {verdict(opt_acc['adam'] >= max(opt_acc.values()))}")

# %% [markdown]
# **Claim** ("with Adam almost everything works"): **holds** — at its
# default learning rate Adam is within a point of the best (Momentum and
# NAG at lr 0.01 edge it out here) and far ahead of plain SGD. Every
# optimizer of the list on MNIST:
# [docs/experiments.md §10](../docs/experiments.md).
#
# ## What the note does not say
#
# The note has no learning-rate **schedule**: cosine decay (which tfnn
# offers as `tfnn.schedules.get("cosine", ...)`) is not in note 001, nor
# is any decay; only the log-scale choice of a constant rate.
