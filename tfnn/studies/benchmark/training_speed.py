"""The training paths, timed side by side: interleaved epochs and time to
a target accuracy (the machine's rates to compare with:
:mod:`~tfnn.studies.benchmark.ceiling`).

Paths (the same architecture, He-normal init, Adam 1e-3, batch and
epochs): ``tfnn`` (``Trainer(fast=True)``, the default), ``prototype``
(:func:`prototype_path`: the whole-epoch XLA technique written from
scratch, no tfnn code; plain MLPs only), ``readable``
(``Trainer(fast=False)``), ``fit`` (Keras ``compile``/``fit``) and
``torch`` (:mod:`~tfnn.studies.benchmark.torch_models`; left out when
PyTorch is not installed).
"""

from __future__ import annotations

import gc
import logging
import os
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from tfnn.models import build_model
from tfnn.nn import optimizers
from tfnn.runtime import ONEDNN
from tfnn.studies.benchmark.torch_models import torch_path
from tfnn.studies.benchmark.workload import (
    MLP_HIDDEN,
    PATHS,
    TrainingPath,
    cnn_flops_per_example,
    mlp_flops_per_example,
    tfnn_config,
)
from tfnn.studies.mnist_runs import mnist, subset
from tfnn.training import Trainer

logger = logging.getLogger(__name__)


def _rss_mb() -> float:
    import psutil  # the benchmark's optional extra (tfnn[bench])

    return psutil.Process().memory_info().rss / 2**20


def _trainer_path(name, cfg, splits, batch, seed):
    """A :class:`Trainer` path: the fast path ("tfnn") or the readable
    per-step loop ("readable")."""
    trainer = Trainer(build_model(cfg),
                      optimizers.get("adam", learning_rate=1e-3),
                      fast=name == "tfnn")

    def epoch(e):
        trainer.run_epoch(splits.x_train, splits.y_train, batch, e, seed)

    def accuracy():
        return trainer.evaluate(splits.x_test, splits.y_test)[1]

    return TrainingPath(name, epoch, accuracy)


def _fit_path(cfg, splits, batch):
    """Keras's own ``compile``/``fit`` on the same model."""
    model = build_model(cfg)
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))

    def epoch(e):
        model.fit(splits.x_train, splits.y_train, batch_size=batch,
                  epochs=1, verbose=0, shuffle=True)

    def accuracy():
        pred = model.predict(splits.x_test, batch_size=2000,
                             verbose=0).argmax(-1)
        return float((pred == splits.y_test).mean())

    return TrainingPath("fit", epoch, accuracy)


def prototype_path(splits, batch, seed):
    """The prototype technique as its own path, with no tfnn code: a
    minimal Keras MLP (784-256-256-10, ReLU, He normal) and ONE
    ``tf.function(jit_compile=True)`` per epoch that draws the
    permutation in-graph (``argsort`` of ``stateless_uniform``), reshapes
    it to ``[steps, batch]`` and runs a ``tf.while_loop`` over its rows,
    gathering each batch from the captured training tensors, with Keras's
    Adam. The last partial batch is dropped (as the prototype does)."""
    keras.utils.set_random_seed(seed)
    init = keras.initializers.HeNormal(seed)
    model = keras.Sequential(
        [keras.Input(splits.x_train.shape[1:]), keras.layers.Flatten()]
        + [keras.layers.Dense(units, activation="relu",
                              kernel_initializer=init)
           for units in MLP_HIDDEN]
        + [keras.layers.Dense(10, kernel_initializer=init)])
    opt = keras.optimizers.Adam(1e-3)
    opt.build(model.trainable_variables)
    x = tf.constant(splits.x_train, tf.float32)
    y = tf.constant(splits.y_train, tf.int32)
    n = len(splits.x_train)
    steps = n // batch

    @tf.function(jit_compile=True)
    def run_epoch(epoch_seed):
        perm = tf.argsort(tf.random.stateless_uniform([n], seed=epoch_seed))
        rows = tf.reshape(perm[:steps * batch], [steps, batch])

        def body(i, total):
            xb, yb = tf.gather(x, rows[i]), tf.gather(y, rows[i])
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(
                        yb, model(xb, training=True)))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return i + 1, total + loss

        return tf.while_loop(lambda i, t: i < steps, body,
                             (tf.constant(0), tf.constant(0.0)))[1] / steps

    def epoch(e):
        run_epoch(tf.constant([seed, e])).numpy()

    def accuracy():
        pred = model.predict(splits.x_test, batch_size=2000,
                             verbose=0).argmax(-1)
        return float((pred == splits.y_test).mean())

    return TrainingPath("prototype", epoch, accuracy, examples=steps * batch)


def build_paths(arch, splits, batch, seed, names):
    """The requested paths (of :data:`PATHS`), built in that order; torch
    is left out when it is not installed."""
    cfg = tfnn_config(arch, seed)
    runs = []
    for name in names:
        if name in ("tfnn", "readable"):
            runs.append(_trainer_path(name, cfg, splits, batch, seed))
        elif name == "fit":
            runs.append(_fit_path(cfg, splits, batch))
        elif name == "prototype" and arch == "mlp":
            runs.append(prototype_path(splits, batch, seed))
    if "torch" in names:
        path = torch_path(arch, splits, batch, seed, os.cpu_count())
        if path is not None:
            runs.append(path)
    return runs


def _steady(p, n, flops):
    """One path's numbers: the first epoch is its warm-up (tracing,
    compilation), reported as compile time; examples/s is the median over
    the other epochs, of the examples an epoch of the path trains (``n``
    unless it drops the last partial batch)."""
    median = statistics.median(p.seconds[1:] or p.seconds)
    n = p.examples or n
    ex_s = n / median
    return {"examples_per_second": ex_s, "examples_per_epoch": n,
            "gflops": ex_s * flops / 1e9,
            "compile_seconds": max(0.0, p.seconds[0] - median),
            "epoch_seconds": p.seconds,
            "test_accuracy": p.accuracy(),
            "rss_growth_mb": p.rss_growth_mb}


def run_training(arch="mlp", epochs=4, batch=128, seed=0, n_train=None,
                 paths=PATHS, splits=None):
    """Interleaved epochs of every path (one epoch of each in turn, so
    every path sees the same machine load); returns a dict of results.

    The order rotates by one path each round ("rounds" in the result), so
    no path always runs right after the same other one: with a fixed order
    the fast path always followed PyTorch's epoch and measured slower than
    alone beside the prototype (docs/performance.md).

    Achieved GFLOP/s is examples/s times the model's training FLOPs per
    example (:mod:`~tfnn.studies.benchmark.workload`).
    """
    if splits is None:
        splits = subset(mnist(), n_train)
    flops = (mlp_flops_per_example() if arch.startswith("mlp")
             else cnn_flops_per_example())
    runs = build_paths(arch, splits, batch, seed, paths)
    n = len(splits.x_train)
    rounds = []
    for e in range(epochs):
        shift = e % len(runs)
        order = runs[shift:] + runs[:shift]
        rounds.append([p.name for p in order])
        for p in order:
            gc.collect()
            before = _rss_mb()
            t0 = time.perf_counter()
            p.epoch(e)
            p.seconds.append(time.perf_counter() - t0)
            if e == 0:
                p.rss_growth_mb = _rss_mb() - before
            logger.info("%s %s epoch %d: %.2f s (%.0f ex/s)", arch, p.name,
                        e + 1, p.seconds[-1],
                        (p.examples or n) / p.seconds[-1])
    return {"arch": arch, "examples": n, "epochs": epochs, "batch": batch,
            "flops_per_example": flops, "rounds": rounds,
            "paths": {p.name: _steady(p, n, flops) for p in runs},
            "onednn": os.environ.get(ONEDNN)}


def time_to_accuracy(target, arch="mlp", max_epochs=10, batch=128, seed=0,
                     paths=("tfnn", "torch"), splits=None):
    """Training seconds (evaluation excluded) until the test accuracy first
    reaches ``target``, per path; None when it never does."""
    if splits is None:
        splits = mnist()
    runs = build_paths(arch, splits, batch, seed, paths)
    out, best = {}, {}
    for p in runs:
        spent, reached, curve = 0.0, None, []
        for e in range(max_epochs):
            t0 = time.perf_counter()
            p.epoch(e)
            spent += time.perf_counter() - t0
            curve.append(p.accuracy())
            if curve[-1] >= target:
                reached = {"seconds": spent, "epoch": e + 1,
                           "accuracy": curve[-1]}
                break
        out[p.name] = reached
        top = int(np.argmax(curve))
        best[p.name] = {"accuracy": curve[top], "epoch": top + 1,
                        "curve": curve}
        logger.info("%s reaches %.3f: %s", p.name, target, reached)
    return {"arch": arch, "target": target, "max_epochs": max_epochs,
            "paths": out, "best": best}
