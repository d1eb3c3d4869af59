"""What the speedrun is measured against, each seed in a fresh process as
the speedrun's own (:func:`~tfnn.studies.speedrun.timed_seeds.race`):

* :func:`torch_seed`: the same recipe in PyTorch (the same layers, BN
  momentum and ε, initializers, one-cycle schedule, Adam, batches and
  epochs), eager with fused Adam, channels-last convolutions (oneDNN's
  layout), MNIST read from the official files with NumPy (no TensorFlow
  in its process) and split and standardized as tfnn does, and the
  recipe's test-time shifts (:mod:`tfnn.data.shifts`);
* :func:`keras_io_seed`: keras.io's "Simple MNIST convnet" as its page
  trains it (Conv 32 → pool → Conv 64 → pool → dropout 0.5 → softmax,
  Adam 1e-3, batch 128, ``fit`` with 10 % validation), until its test
  accuracy reaches the target (keras.io's own figure: 99.0 % around epoch
  9); the test scores after each epoch are not counted in its time.

Both report ``run_seconds`` (in-process) and the test accuracy; the
caller's :func:`~tfnn.studies.processes.in_subprocess` adds the process's
wall time.
"""

from __future__ import annotations

import os
import time

import numpy as np

from tfnn.data import load_arrays, num_batches, read_official, split_arrays
from tfnn.data.shifts import offsets, shift_images
from tfnn.studies.speedrun.recipes import recipe
from tfnn.studies.torch_twin import torch_model


def one_cycle(step: int, total: int, peak: float, warmup: float) -> float:
    """:class:`tfnn.nn.schedules.OneCycle`'s formula in plain Python (for
    PyTorch's ``LambdaLR``): ``peak·(t+1)/W`` up to ``W = warmup·T``, then
    ``peak·(T−t)/(T−W)``."""
    w = max(1.0, warmup * total)
    if step < w:
        return peak * (step + 1) / w
    return peak * max(total - step, 0) / max(total - w, 1.0)


def torch_seed(arch="cnn", seed=0, train_limit=None, epochs=None,
               manual_dir=None) -> dict:
    """One seed of ``arch``'s recipe in PyTorch (see the module)."""
    t0 = time.perf_counter()
    import torch
    from torch import nn

    r = recipe(arch)
    train = r["train"]
    epochs = int(epochs or train["epochs"])
    torch.manual_seed(seed)
    torch.set_num_threads(os.cpu_count() or 1)
    splits = split_arrays(read_official("mnist", "train", manual_dir),
                          read_official("mnist", "test", manual_dir),
                          seed=seed, train_limit=train_limit)
    net = torch_model(r["model"])
    channels_last = r["model"]["arch"] == "cnn"
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    X = torch.from_numpy(np.ascontiguousarray(splits.x_train))
    Y = torch.from_numpy(splits.y_train.astype(np.int64))
    b = int(train["batch_size"])
    # The recipe's last, smaller batch: dropped (drop_last) or kept.
    steps = num_batches(len(X), b, bool(train.get("drop_remainder", False)))
    peak = float(train["learning_rate"])
    warmup = float(train["schedule_kwargs"].get("warmup", 0.2))
    opt = torch.optim.Adam(net.parameters(), lr=peak, eps=1e-7, fused=True)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: one_cycle(t, steps * epochs, peak, warmup) / peak)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)

    def probabilities(x):
        net.eval()
        with torch.no_grad():
            return torch.cat([net(torch.from_numpy(
                np.ascontiguousarray(x[i:i + 1000]))).softmax(1)
                for i in range(0, len(x), 1000)]).numpy()

    fill = splits.preprocessor.background

    def accuracy(x, y, shifts=None):
        # With the recipe's test-time shifts: the mean softmax over the
        # shifted copies, as tfnn's shifted_accuracy.
        copies = offsets(**shifts) if shifts else [(0, 0)]
        p = sum(probabilities(x if (dy, dx) == (0, 0)
                              else shift_images(x, dy, dx, fill))
                for dy, dx in copies)
        return float((p.argmax(1) == y).mean())

    t_train = time.perf_counter()
    val, taken = [], 0
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(X), generator=gen)
        for i in range(steps):
            idx = perm[i * b:(i + 1) * b]
            loss = loss_fn(net(X[idx]), Y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            taken += 1
        val.append(accuracy(splits.x_val, splits.y_val))
    train_seconds = time.perf_counter() - t_train
    shifts = r.get("test_shifts")
    return {"arch": arch, "seed": int(seed), "epochs": epochs,
            "test_accuracy": accuracy(splits.x_test, splits.y_test, shifts),
            "plain_test_accuracy": accuracy(splits.x_test, splits.y_test),
            "val_accuracy": val, "steps": taken,
            "train_seconds": train_seconds,
            "run_seconds": time.perf_counter() - t0,
            "torch": torch.__version__}


def keras_io_seed(seed=0, target=0.99, max_epochs=15, train_limit=None,
                  manual_dir=None, data_dir=None) -> dict:
    """keras.io's convnet recipe (see the module) until ``target`` test
    accuracy or ``max_epochs``; ``seconds_to_target`` counts training
    only from the process's first line (imports, data, ``fit``), not the
    per-epoch test scores."""
    t0 = time.perf_counter()
    import keras

    keras.utils.set_random_seed(seed)
    x, y = load_arrays("mnist", "train", manual_dir, data_dir)
    xt, yt = load_arrays("mnist", "test", manual_dir, data_dir)
    x = (x[:train_limit] if train_limit else x)[..., None] / np.float32(255)
    y = y[:train_limit] if train_limit else y
    xt = xt[..., None] / np.float32(255)
    L = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2),
        L.Flatten(), L.Dropout(0.5), L.Dense(10, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="adam",
                  metrics=["accuracy"])
    y1 = keras.utils.to_categorical(y, 10)
    curve, excluded, reached = [], 0.0, None
    for epoch in range(1, max_epochs + 1):
        model.fit(x, y1, batch_size=128, epochs=1, validation_split=0.1,
                  verbose=0)
        t_eval = time.perf_counter()
        acc = float((model.predict(xt, batch_size=1000, verbose=0)
                     .argmax(1) == yt).mean())
        excluded += time.perf_counter() - t_eval
        curve.append(acc)
        if acc >= target:
            reached = epoch
            break
    return {"seed": int(seed), "test_accuracy": curve[-1], "curve": curve,
            "epoch_reached": reached, "target": target,
            "seconds_to_target": (time.perf_counter() - t0 - excluded
                                  if reached else None),
            "run_seconds": time.perf_counter() - t0}
