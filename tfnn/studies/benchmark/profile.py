"""Where one train step goes: its parts (batch gather, forward, forward +
loss + gradients, Adam's apply, the full step), each compiled and looped
in-graph as the fast path runs its step, timed beside the same parts of the
PyTorch step, and the profile as a Markdown table."""

from __future__ import annotations

import logging
import os
import statistics
import time

import numpy as np
import tensorflow as tf

from tfnn.models import build_model
from tfnn.nn import optimizers
from tfnn.runtime import ONEDNN
from tfnn.studies.benchmark.torch_models import (
    import_torch,
    torch_model,
    torch_step,
)
from tfnn.studies.benchmark.workload import tfnn_config
from tfnn.studies.mnist_runs import mnist
from tfnn.training import Trainer, epoch_order, loss_and_gradients, set_seed

logger = logging.getLogger(__name__)

PROFILE_PARTS = ("gather", "forward", "forward_backward", "apply", "step")


def tfnn_step_parts(trainer, x_all, y_all, order, batch):
    """The parts of the fast path's train step, each its own ``tf.function``
    that runs the part ``k`` times in a ``while_loop`` (as the fast path
    runs its steps; the loop XLA-compiled with its parts when the fast
    path's epoch is): ``parts[name](k)``.

    * ``gather``: the batch ``i`` of ``order`` gathered from the training
      set held as one tensor (as in :meth:`Trainer.epoch_function`);
    * ``forward``: ``model(x, training=True)``;
    * ``forward_backward``: :func:`tfnn.training.loss_and_gradients` (forward,
      loss, tape gradients);
    * ``apply``: ``optimizer.apply`` of fixed gradients (Adam);
    * ``step``: :meth:`Trainer.fast_step`, the fast path's own step;
    * ``call``: a part that does nothing (a scalar ``+ 1``, compiled like
      the others): what the loop and one compiled call cost by themselves,
      included in every other part.

    The parts other than ``gather`` see the first batch of ``order``; they
    are XLA-compiled when the fast path's step is (``trainer.fast_jit``).
    Each part's outputs are loop variables, so no iteration is pruned;
    ``apply`` and ``step`` change the model's weights on every call.
    """
    model, opt, jit = trainer.model, trainer.optimizer, trainer.fast_jit
    b = int(batch)
    x_all = tf.convert_to_tensor(x_all, tf.float32)
    y_all = tf.convert_to_tensor(y_all, tf.int64)
    order = tf.convert_to_tensor(order, tf.int32)
    steps = max(1, int(order.shape[0]) // b)
    xb, yb = tf.gather(x_all, order[:b]), tf.gather(y_all, order[:b])
    forward = tf.function(lambda x: model(x, training=True),
                          jit_compile=jit)
    grads_fn = tf.function(
        lambda x, y: loss_and_gradients(model, opt, x, y,
                                        trainer.from_logits),
        jit_compile=jit)
    grads = grads_fn(xb, yb)[2]  # traced here: no weight changes

    def apply(g):
        opt.apply(g, model.trainable_variables)
        return tf.identity(opt.iterations)

    apply = tf.function(apply, jit_compile=jit)
    step = trainer.fast_step()
    noop = tf.function(lambda i: i + 1, jit_compile=jit)

    rows = tf.reshape(order[:steps * b], [steps, b])

    def gather(i):
        idx = rows[i % steps]
        return tf.gather(x_all, idx), tf.gather(y_all, idx)

    bodies = {
        "gather": gather,
        "forward": lambda i: forward(xb),
        "forward_backward": lambda i: grads_fn(xb, yb),
        "apply": lambda i: apply(grads),
        "step": lambda i: step(xb, yb),
        "call": noop,
    }

    def repeat(body):
        def loop(k):
            out = body(k * 0)  # the first of k calls
            _, out = tf.while_loop(lambda i, out: i < k,
                                   lambda i, out: (i + 1, body(i)),
                                   (tf.constant(1), out))
            return out

        # The loop compiled as the fast path compiles its epoch: one XLA
        # computation when the fast path's is.
        return tf.function(loop, jit_compile=jit, input_signature=[
            tf.TensorSpec((), tf.int32)])

    return {name: repeat(body) for name, body in bodies.items()}


def torch_step_parts(arch, x_all, y_all, order, batch, seed=0,
                     threads=None):
    """The same parts for the torch path, each ``parts[name](k)`` calling it
    ``k`` times from Python (PyTorch eager, as the torch path trains); None
    when torch is not installed. ``forward`` records the autograd graph as
    training does; ``apply`` is the fused Adam ``step()``."""
    torch = import_torch()
    if torch is None:
        return None
    model, opt, loss_fn = torch_model(arch, seed, threads or os.cpu_count())
    model.train()
    b = int(batch)
    X = torch.from_numpy(np.ascontiguousarray(x_all, np.float32))
    Y = torch.from_numpy(np.asarray(y_all, np.int64))
    perm = torch.from_numpy(np.asarray(order, np.int64))
    steps = max(1, len(perm) // b)
    xb, yb = X[perm[:b]], Y[perm[:b]]

    def gather(k):
        for i in range(k):
            idx = perm[(i % steps) * b:(i % steps + 1) * b]
            X[idx], Y[idx]

    def forward(k):
        for _ in range(k):
            model(xb)

    def forward_backward(k):
        for _ in range(k):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xb), yb).backward()

    def apply(k):
        for _ in range(k):
            opt.step()

    def step(k):
        for _ in range(k):
            torch_step(model, opt, loss_fn, xb, yb)

    forward_backward(1)  # gradients for ``apply``
    step.model = model  # for tests
    return {"gather": gather, "forward": forward,
            "forward_backward": forward_backward, "apply": apply,
            "step": step}


def _profile_summary(ms):
    """Median ms per part plus backward and the rest, and each part's
    fraction of the full step."""
    ms = dict(ms)
    ms["backward"] = ms["forward_backward"] - ms["forward"]
    ms["rest"] = ms["step"] - ms["forward_backward"] - ms["apply"]
    return {"ms": ms,
            "fraction_of_step": {k: v / ms["step"] for k, v in ms.items()}}


def step_profile(arch="mlp", batch=128, repeats=20, inner=5, seed=0,
                 splits=None, torch=True):
    """Where one training step of tfnn's default path goes (and torch's).

    Each part of :func:`tfnn_step_parts` (and of :func:`torch_step_parts`)
    is warmed up, then timed ``repeats`` times, ``inner`` calls a time; the
    parts of both frameworks are interleaved within every repeat so they
    see the same machine load. Returns the median milliseconds per call of
    each part, ``backward = forward_backward − forward`` and ``rest = step −
    forward_backward − apply`` (what the step spends besides the two; < 0
    when the fused step beats its parts), each also as a fraction of the
    step, and the ratio of torch's step time to tfnn's (> 1: tfnn faster).
    """
    if splits is None:
        splits = mnist()
    x, y = splits.x_train, splits.y_train
    order = epoch_order(len(x), seed, 0)
    set_seed(seed)
    trainer = Trainer(build_model(tfnn_config(arch, seed)),
                      optimizers.get("adam", learning_rate=1e-3), fast=True)
    frameworks = {"tfnn": tfnn_step_parts(trainer, x, y, order, batch)}
    if torch:
        parts = torch_step_parts(arch, x, y, order, batch, seed)
        if parts is not None:
            frameworks["torch"] = parts
    load_before = os.getloadavg()[0]
    times = time_parts(frameworks, repeats, inner)
    out = {"arch": arch, "batch": int(batch), "repeats": repeats,
           "inner": inner, "xla": bool(trainer.fast_jit),
           "threads": os.cpu_count(), "onednn": os.environ.get(ONEDNN),
           # other processes' load shows here: 1-minute load averages
           "load_average": [load_before, os.getloadavg()[0]]}
    for f, t in times.items():
        out[f] = _profile_summary(t)
    if "torch" in out:
        out["torch_over_tfnn_step"] = (out["torch"]["ms"]["step"]
                                       / out["tfnn"]["ms"]["step"])
    logger.info("step profile %s: %s", arch, {
        f: {k: round(v, 3) for k, v in out[f]["ms"].items()}
        for f in frameworks})
    return out


def time_parts(frameworks, repeats, inner):
    """``{framework: {part: median ms per call}}`` of
    ``{framework: {part: fn}}``: every ``fn(inner)`` warmed up once
    (tracing, XLA, allocators), then timed ``repeats`` times, the parts of
    all frameworks interleaved within each repeat."""
    for parts in frameworks.values():
        for fn in parts.values():
            fn(inner)
    times = {f: {name: [] for name in parts}
             for f, parts in frameworks.items()}
    for _ in range(repeats):
        for f, parts in frameworks.items():
            for name, fn in parts.items():
                t0 = time.perf_counter()
                fn(inner)
                times[f][name].append(
                    1e3 * (time.perf_counter() - t0) / inner)
    return {f: {k: statistics.median(v) for k, v in t.items()}
            for f, t in times.items()}


def format_step_profile(profile) -> str:
    """One step profile as a Markdown table (ms and % of the step)."""
    frameworks = [f for f in ("tfnn", "torch") if f in profile]
    rows = ("gather", "forward", "backward", "forward_backward", "apply",
            "rest", "step", "call")
    kernels = {"1": "; oneDNN", "0": "; Eigen"}.get(profile.get("onednn"), "")
    lines = [f"#### One {profile['arch'].upper()} train step, batch "
             f"{profile['batch']} (median of {profile['repeats']}; tfnn "
             f"{'with' if profile['xla'] else 'without'} XLA{kernels})", "",
             "| part | " + " | ".join(f"{f} ms | {f} % of step"
                                      for f in frameworks) + " |",
             "|---|" + "---|---|" * len(frameworks)]
    for row in rows:
        cells = []
        for f in frameworks:
            if row not in profile[f]["ms"]:
                cells.append("– | –")
                continue
            ms = profile[f]["ms"][row]
            cells.append(f"{ms:.3f} | "
                         f"{100 * profile[f]['fraction_of_step'][row]:.0f} %")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    notes = [f"load average {profile['load_average'][0]:.1f} → "
             f"{profile['load_average'][1]:.1f} on {profile['threads']} "
             "CPUs"]
    if "torch_over_tfnn_step" in profile:
        notes.append("torch step / tfnn step = "
                     f"{profile['torch_over_tfnn_step']:.2f}x")
    lines += ["", "; ".join(notes)]
    return "\n".join(lines)
