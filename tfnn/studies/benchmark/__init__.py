"""Training and serving speed, measured side by side in one run.

Paths (all on the real MNIST training set, the same architecture, He-normal
init, Adam 1e-3, batch 128, the same epochs):

* ``tfnn``     – tfnn's default training path (``Trainer(fast=True)``: the
                 whole epoch in one compiled function, XLA for the dense step);
* ``readable`` – the readable per-step loop (``Trainer(fast=False)``);
* ``fit``      – Keras ``compile``/``fit``;
* ``torch``    – PyTorch eager with ``Adam(fused=True)`` (optional: skipped
                 with a message when torch is not installed;
                 ``pip install torch==2.13.0``).

Epochs are interleaved (one epoch of each path in turn, several rounds), so
every path sees the same machine load; the first epoch of each path is its
warm-up (tracing/compilation) and is reported as compile time. Examples/s is
the median over the remaining epochs. Achieved GFLOP/s is examples/s times
the model's training FLOPs per example (forward 2 FLOPs per multiply-add,
backward twice the forward), compared with a float32 matrix product's rate
measured in the same run. Ratios, never absolute numbers, are meant to be
compared; tests never depend on them.

The CNN runs twice, each in a fresh process (:func:`in_subprocess`): with
oneDNN's kernels, which ``tfnn train --arch cnn`` turns on
(:mod:`tfnn.runtime`), and with TensorFlow's default on this CPU (Eigen).

:func:`step_profile` shows where one train step goes: the median ms of the
batch gather, the forward pass, forward + loss + gradients, Adam's apply and
the full step, each compiled and looped in-graph as the fast path runs its
step, beside the same parts of the PyTorch step.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List

import numpy as np

from tfnn.provenance import versions

from tfnn.runtime import ONEDNN, onednn_wanted

logger = logging.getLogger(__name__)

MLP_HIDDEN = (256, 256)
CNN_FILTERS = (32, 64)
CNN_HIDDEN = (128,)


def matmul_peak(n=2048, repeats=10) -> float:
    """GFLOP/s of an ``n × n`` float32 matrix product (best of ``repeats``)."""
    import tensorflow as tf

    a = tf.random.normal((n, n))
    f = tf.function(lambda a: tf.matmul(a, a))
    f(a).numpy()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(a).numpy()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def mlp_flops_per_example(hidden=MLP_HIDDEN, inputs=784, classes=10):
    """Training FLOPs per example: 6 × multiply-adds of the dense layers."""
    sizes = (inputs, *hidden, classes)
    return 6 * sum(a * b for a, b in zip(sizes, sizes[1:]))


def cnn_flops_per_example(filters=CNN_FILTERS, hidden=CNN_HIDDEN, side=28,
                          k=3, classes=10):
    """Training FLOPs per example of the benchmark CNN (same-padded 3×3
    convs, 2×2 max-pool after each), 6 × multiply-adds."""
    macs, c_in = 0, 1
    for c_out in filters:
        macs += side * side * k * k * c_in * c_out
        side //= 2
        c_in = c_out
    sizes = (side * side * c_in, *hidden, classes)
    macs += sum(a * b for a, b in zip(sizes, sizes[1:]))
    return 6 * macs


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


@dataclass
class Path:
    """One way to train: ``epoch(e)`` trains an epoch, ``accuracy()`` tests."""

    name: str
    epoch: Callable[[int], None]
    accuracy: Callable[[], float]
    seconds: List[float] = field(default_factory=list)
    rss_growth_mb: float = 0.0


def _tfnn_config(arch, seed):
    """The benchmark's MLP (784-256-256-10) or CNN (32/64 conv, dense 128)."""
    from tfnn.config import ModelConfig

    return ModelConfig(arch=arch, hidden=MLP_HIDDEN if arch == "mlp"
                       else CNN_HIDDEN, filters=CNN_FILTERS,
                       initializer="he_normal",
                       initializer_kwargs={"seed": seed})


def _tfnn_paths(arch, splits, batch, seed, which):
    import keras

    from tfnn import training
    from tfnn.models import build_model

    cfg = _tfnn_config(arch, seed)
    x, y = splits.x_train, splits.y_train
    paths = []
    for name in which:
        if name in ("tfnn", "readable"):
            trainer = training.Trainer(build_model(cfg),
                                       keras.optimizers.Adam(1e-3),
                                       fast=name == "tfnn")
            def epoch(e, trainer=trainer):
                trainer.run_epoch(x, y, batch, e, seed)

            paths.append(Path(name, epoch, lambda t=trainer: t.evaluate(
                splits.x_test, splits.y_test)[1]))
        elif name == "fit":
            model = build_model(cfg)
            model.compile(keras.optimizers.Adam(1e-3),
                          keras.losses.SparseCategoricalCrossentropy(
                              from_logits=True))

            def epoch(e, model=model):
                model.fit(x, y, batch_size=batch, epochs=1, verbose=0,
                          shuffle=True)

            def acc(model=model):
                pred = model.predict(splits.x_test, batch_size=2000,
                                     verbose=0).argmax(-1)
                return float((pred == splits.y_test).mean())

            paths.append(Path("fit", epoch, acc))
    return paths


def _import_torch():
    try:
        import torch
    except ImportError:
        logger.warning("PyTorch is not installed: skipping the torch path "
                       "(pip install torch==2.13.0)")
        return None
    return torch


def _torch_model(arch, seed, threads):
    """The benchmark's model in PyTorch with fused Adam and its loss."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    if arch == "mlp":
        sizes = (784, *MLP_HIDDEN, 10)
        layers = [nn.Flatten()]
        for a, b in zip(sizes, sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        model = nn.Sequential(*layers[:-1])
    else:
        layers, c_in = [nn.Unflatten(1, (1, 28))], 1
        for c_out in CNN_FILTERS:
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(),
                       nn.MaxPool2d(2)]
            c_in = c_out
        side = 28 // 2 ** len(CNN_FILTERS)
        layers += [nn.Flatten(), nn.Linear(side * side * c_in, CNN_HIDDEN[0]),
                   nn.ReLU(), nn.Linear(CNN_HIDDEN[0], 10)]
        model = nn.Sequential(*layers)
    for m in model.modules():  # He normal, zero bias: the same scheme
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    return model, opt, nn.CrossEntropyLoss()


def _torch_step(model, opt, loss_fn, xb, yb):
    """One PyTorch train step, as the torch path runs it."""
    loss = loss_fn(model(xb), yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def _torch_path(arch, splits, batch, seed, threads):
    torch = _import_torch()
    if torch is None:
        return None
    model, opt, loss_fn = _torch_model(arch, seed, threads)
    X = torch.from_numpy(np.ascontiguousarray(splits.x_train))
    Y = torch.from_numpy(splits.y_train.astype(np.int64))
    gen = torch.Generator().manual_seed(seed)

    def epoch(e):
        model.train()
        perm = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), batch):
            idx = perm[i:i + batch]
            _torch_step(model, opt, loss_fn, X[idx], Y[idx])

    def accuracy():
        model.eval()
        with torch.no_grad():
            xt = torch.from_numpy(np.ascontiguousarray(splits.x_test))
            pred = torch.cat([model(xt[i:i + 2000]).argmax(1)
                              for i in range(0, len(xt), 2000)])
        return float((pred.numpy() == splits.y_test).mean())

    return Path("torch", epoch, accuracy)


def _paths(arch, splits, batch, seed, names):
    """The requested paths, built; torch is left out when not installed."""
    runs = _tfnn_paths(arch, splits, batch, seed,
                       [p for p in names if p != "torch"])
    if "torch" in names:
        torch_path = _torch_path(arch, splits, batch, seed, os.cpu_count())
        if torch_path is not None:
            runs.append(torch_path)
    return runs


def run_training(arch="mlp", epochs=4, batch=128, seed=0, n_train=None,
                 paths=("tfnn", "readable", "fit", "torch"), splits=None):
    """Interleaved epochs of every path; returns a dict of results."""
    if splits is None:
        from tfnn.studies.common import mnist, subset

        splits = subset(mnist(), n_train)
    flops = (mlp_flops_per_example() if arch == "mlp"
             else cnn_flops_per_example())
    runs = _paths(arch, splits, batch, seed, paths)
    n = len(splits.x_train)
    for e in range(epochs):
        for p in runs:
            gc.collect()
            before = _rss_mb()
            t0 = time.perf_counter()
            p.epoch(e)
            p.seconds.append(time.perf_counter() - t0)
            if e == 0:
                p.rss_growth_mb = _rss_mb() - before
            logger.info("%s %s epoch %d: %.2f s (%.0f ex/s)", arch, p.name,
                        e + 1, p.seconds[-1], n / p.seconds[-1])
    out = {}
    for p in runs:
        steady = p.seconds[1:] or p.seconds
        median = statistics.median(steady)
        ex_s = n / median
        out[p.name] = {
            "examples_per_second": ex_s,
            "gflops": ex_s * flops / 1e9,
            "compile_seconds": max(0.0, p.seconds[0] - median),
            "epoch_seconds": p.seconds,
            "test_accuracy": p.accuracy(),
            "rss_growth_mb": p.rss_growth_mb,
        }
    return {"arch": arch, "examples": n, "epochs": epochs, "batch": batch,
            "flops_per_example": flops, "paths": out,
            "onednn": os.environ.get(ONEDNN)}


def time_to_accuracy(target, arch="mlp", max_epochs=10, batch=128, seed=0,
                     paths=("tfnn", "torch"), splits=None):
    """Training seconds (evaluation excluded) until the test accuracy first
    reaches ``target``, per path; None when it never does."""
    if splits is None:
        from tfnn.studies.common import mnist

        splits = mnist()
    runs = _paths(arch, splits, batch, seed, paths)
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


# --------------------------------------------------------------------------
# Where one step goes
# --------------------------------------------------------------------------

PROFILE_PARTS = ("gather", "forward", "forward_backward", "apply", "step")


def tfnn_step_parts(trainer, x_all, y_all, order, batch):
    """The parts of the fast path's train step, each its own ``tf.function``
    that runs the part ``k`` times in a graph ``while_loop`` (as the fast
    path runs its steps): ``parts[name](k)``.

    * ``gather``: the batch ``i`` of ``order`` gathered from the training
      set held as one tensor (as in :meth:`Trainer._epoch_fn`);
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
    import tensorflow as tf

    from tfnn import training

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
        lambda x, y: training.loss_and_gradients(model, opt, x, y,
                                                 trainer.from_logits),
        jit_compile=jit)
    grads = grads_fn(xb, yb)[2]  # traced here: no weight changes

    def apply(g):
        opt.apply(g, model.trainable_variables)
        return tf.identity(opt.iterations)

    apply = tf.function(apply, jit_compile=jit)
    step = trainer.fast_step()
    noop = tf.function(lambda i: i + 1, jit_compile=jit)

    def gather(i):
        idx = order[(i % steps) * b:(i % steps + 1) * b]
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

        return tf.function(loop, input_signature=[
            tf.TensorSpec((), tf.int32)])

    return {name: repeat(body) for name, body in bodies.items()}


def torch_step_parts(arch, x_all, y_all, order, batch, seed=0,
                     threads=None):
    """The same parts for the torch path, each ``parts[name](k)`` calling it
    ``k`` times from Python (PyTorch eager, as :func:`_torch_path` trains);
    None when torch is not installed. ``forward`` records the autograd
    graph as training does; ``apply`` is the fused Adam ``step()``."""
    torch = _import_torch()
    if torch is None:
        return None
    model, opt, loss_fn = _torch_model(arch, seed, threads or os.cpu_count())
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
            _torch_step(model, opt, loss_fn, xb, yb)

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
    import keras

    from tfnn import training
    from tfnn.models import build_model

    if splits is None:
        from tfnn.studies.common import mnist

        splits = mnist()
    x, y = splits.x_train, splits.y_train
    order = training.epoch_order(len(x), seed, 0)
    training.set_seed(seed)
    trainer = training.Trainer(build_model(_tfnn_config(arch, seed)),
                               keras.optimizers.Adam(1e-3), fast=True)
    frameworks = {"tfnn": tfnn_step_parts(trainer, x, y, order, batch)}
    if torch:
        parts = torch_step_parts(arch, x, y, order, batch, seed)
        if parts is not None:
            frameworks["torch"] = parts
    for parts in frameworks.values():  # warm-up: tracing, XLA, allocators
        for fn in parts.values():
            fn(inner)
    load_before = os.getloadavg()[0]
    times = {f: {name: [] for name in parts}
             for f, parts in frameworks.items()}
    for _ in range(repeats):
        for f, parts in frameworks.items():
            for name, fn in parts.items():
                t0 = time.perf_counter()
                fn(inner)
                times[f][name].append(
                    1e3 * (time.perf_counter() - t0) / inner)
    out = {"arch": arch, "batch": int(batch), "repeats": repeats,
           "inner": inner, "xla": bool(trainer.fast_jit),
           "threads": os.cpu_count(), "onednn": os.environ.get(ONEDNN),
           # other processes' load shows here: 1-minute load averages
           "load_average": [load_before, os.getloadavg()[0]]}
    for f, t in times.items():
        out[f] = _profile_summary({k: statistics.median(v)
                                   for k, v in t.items()})
    if "torch" in out:
        out["torch_over_tfnn_step"] = (out["torch"]["ms"]["step"]
                                       / out["tfnn"]["ms"]["step"])
    logger.info("step profile %s: %s", arch, {
        f: {k: round(v, 3) for k, v in out[f]["ms"].items()}
        for f in frameworks})
    return out


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


class _ServerProcess:
    """``tfnn serve`` in its own process on a free loopback port.

    Measured here: a uvicorn server in a thread of the client's own process
    answered a bare status GET in ~45 ms (client and server threads take
    turns at the GIL with TensorFlow's threads around), the same server in
    its own process in ~1.4 ms. Users run the server as a process, so that
    is what is timed.
    """

    def __init__(self, model_dir, timeout=180.0):
        self.model_dir, self.timeout = model_dir, timeout

    def __enter__(self):
        import subprocess
        import sys

        import httpx

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.name = os.path.basename(os.path.normpath(self.model_dir))
        self.url = f"http://127.0.0.1:{port}/v1/models/{self.name}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tfnn", "serve", "--model-dir",
             self.model_dir, "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("tfnn serve exited with "
                                   f"{self.proc.returncode}")
            try:
                if httpx.get(self.url, timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"tfnn serve did not answer in {self.timeout} s")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except Exception:  # noqa: BLE001
            self.proc.kill()


def serving_speed(model_dir, requests=200, batches=(1, 100), splits=None):
    """Requests/s and p50/p99 latency of ``tfnn serve`` (its own process)
    over loopback HTTP, beside an in-process call of the same SavedModel."""
    import httpx
    import tensorflow as tf

    if splits is None:
        from tfnn import data

        x, _ = data.load_arrays("mnist", "test")
    else:
        x = splits
    out = {}
    with _ServerProcess(model_dir) as server:
        url = f"{server.url}:predict"
        versions = [int(v) for v in os.listdir(model_dir) if v.isdigit()]
        loaded = tf.saved_model.load(os.path.join(model_dir,
                                                  str(max(versions))))
        fn = loaded.signatures["serving_default"]
        with httpx.Client(timeout=30) as client:
            for b in batches:
                body = {"instances": x[:b].astype(int).tolist()}
                client.post(url, json=body).raise_for_status()
                lat = []
                for _ in range(requests):
                    t0 = time.perf_counter()
                    client.post(url, json=body).raise_for_status()
                    lat.append(time.perf_counter() - t0)
                images = tf.constant(x[:b].astype(np.float32))
                fn(images=images)
                inproc = []
                for _ in range(requests):
                    t0 = time.perf_counter()
                    fn(images=images)["classes"].numpy()
                    inproc.append(time.perf_counter() - t0)
                out[f"batch_{b}"] = {
                    "http_requests_per_second": len(lat) / sum(lat),
                    "http_p50_ms": 1e3 * float(np.percentile(lat, 50)),
                    "http_p99_ms": 1e3 * float(np.percentile(lat, 99)),
                    "inprocess_calls_per_second": len(inproc) / sum(inproc),
                    "inprocess_p50_ms": 1e3 * float(np.percentile(inproc,
                                                                  50)),
                }
    return out


def in_subprocess(function, env, **kwargs):
    """``function(**kwargs)`` of this module run in a fresh Python process
    whose environment adds ``env`` (settings that must precede ``import
    tensorflow``, such as ``TF_ENABLE_ONEDNN_OPTS``); its JSON result, with
    ``env`` recorded under "env". Its log goes to this process's stderr."""
    import subprocess
    import sys

    code = ("import json, logging, sys; from tfnn import benchmark; "
            "logging.basicConfig(level=logging.INFO, format='%(message)s'); "
            f"r = benchmark.{function}(**json.loads(sys.argv[1])); "
            "print('\\n@result ' + json.dumps(r))")
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(kwargs)],
                          env={**os.environ, **env}, stdout=subprocess.PIPE,
                          text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines()
             if ln.startswith("@result ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"benchmark.{function} failed in a subprocess "
                           f"(exit {proc.returncode}); its log is above")
    result = json.loads(lines[-1][len("@result "):])
    return {**result, "env": env} if isinstance(result, dict) else result


def run(epochs=4, cnn_epochs=2, cnn_train=10_000, time_to_acc=True,
        serving_dir="saved_models/mnist", out=None, profile=True,
        cnn_max_epochs=5) -> Dict:
    """The whole benchmark; writes JSON to ``out`` when given. ``profile``:
    add :func:`step_profile` of the MLP and the CNN ("step_profile")."""
    import platform

    t_start = time.perf_counter()
    peak = matmul_peak()
    logger.info("matmul peak: %.1f GFLOP/s", peak)
    report = {"machine": {"cpus": os.cpu_count(),
                          "platform": platform.platform(),
                          "python": platform.python_version()},
              "matmul_gflops": peak}
    report["mlp"] = run_training("mlp", epochs=epochs)
    # The CNN with the kernels `tfnn train --arch cnn` picks (oneDNN, see
    # tfnn.runtime) and with TensorFlow's default here (Eigen): a
    # per-process switch, so each runs in a fresh process.
    cnn = dict(arch="cnn", epochs=cnn_epochs, n_train=cnn_train,
               paths=["tfnn", "fit", "torch"])
    report["cnn"] = in_subprocess("run_training", {ONEDNN: "1"}, **cnn)
    report["cnn_eigen"] = in_subprocess("run_training", {ONEDNN: "0"}, **cnn)
    if time_to_acc:
        report["mlp_time_to_98"] = time_to_accuracy(0.98, "mlp", max_epochs=20)
        report["cnn_time_to_99"] = in_subprocess(
            "time_to_accuracy", {ONEDNN: "1"}, target=0.99, arch="cnn",
            max_epochs=cnn_max_epochs)
    if profile:
        report["step_profile"] = step_profiles()
    if serving_dir and os.path.isdir(serving_dir):
        report["serving"] = serving_speed(serving_dir)
    report["peak_after"] = matmul_peak()
    report["seconds"] = time.perf_counter() - t_start
    report["versions"] = versions(("torch",))
    if out:
        with open(out, "w") as fh:
            json.dump(report, fh, indent=2)
    return report


def step_profiles(archs=("mlp", "cnn"), **kwargs) -> Dict:
    """:func:`step_profile` of each arch; the CNN twice, in fresh processes,
    with oneDNN's kernels ("cnn", what ``tfnn train`` picks) and with
    Eigen's ("cnn_eigen"), as the benchmark trains it."""
    out = {}
    for arch in archs:
        if not onednn_wanted(arch):
            out[arch] = step_profile(arch, **kwargs)
            continue
        for key, flag in ((arch, "1"), (f"{arch}_eigen", "0")):
            out[key] = in_subprocess("step_profile", {ONEDNN: flag},
                                     arch=arch, **kwargs)
    return out


def run_profile(archs=("mlp", "cnn"), out=None, **kwargs) -> Dict:
    """Only :func:`step_profile` of each arch, as a report; JSON to ``out``
    when given."""
    report = {"step_profile": step_profiles(archs, **kwargs),
              "versions": versions(("torch",))}
    if out:
        with open(out, "w") as fh:
            json.dump(report, fh, indent=2)
    return report



def format_report(report) -> str:
    """The benchmark as a Markdown table plus the goal's ratios."""
    lines = []
    if "matmul_gflops" in report:
        lines += [f"matrix-product peak: {report['matmul_gflops']:.1f} "
                  "GFLOP/s (again at the end: "
                  f"{report.get('peak_after', float('nan')):.1f})", ""]
        peak = max(report["matmul_gflops"], report.get("peak_after", 0))
    titles = {"mlp": "MLP", "cnn": "CNN, oneDNN kernels (tfnn's choice)",
              "cnn_eigen": "CNN, Eigen kernels (TensorFlow's default here)"}
    for arch, title in titles.items():
        if arch not in report:
            continue
        r = report[arch]
        lines += [f"### {title} ({r['examples']} examples, batch "
                  f"{r['batch']}, {r['epochs']} epochs interleaved)", "",
                  "| path | examples/s | GFLOP/s | % of matmul peak | "
                  "compile s | test acc | RSS growth MB |",
                  "|---|---|---|---|---|---|---|"]
        for name, p in r["paths"].items():
            lines.append(
                f"| {name} | {p['examples_per_second']:,.0f} | "
                f"{p['gflops']:.1f} | {100 * p['gflops'] / peak:.0f} % | "
                f"{p['compile_seconds']:.1f} | {p['test_accuracy']:.4f} | "
                f"{p['rss_growth_mb']:.0f} |")
        paths = r["paths"]
        if "tfnn" in paths:
            base = paths["tfnn"]["examples_per_second"]
            ratios = [f"tfnn/{k} = {base / v['examples_per_second']:.2f}x"
                      for k, v in paths.items() if k != "tfnn"]
            lines += ["", "ratios: " + ", ".join(ratios)]
        lines.append("")
    for key, what in (("mlp_time_to_98", "MLP"), ("cnn_time_to_99", "CNN")):
        if key not in report:
            continue
        reached = []
        for name, v in report[key]["paths"].items():
            best = report[key].get("best", {}).get(name)
            never = f"{name}: not within {report[key].get('max_epochs')} " \
                "epochs" + (f" (best {100 * best['accuracy']:.2f} % at epoch "
                            f"{best['epoch']})" if best else "")
            reached.append(never if v is None else
                           f"{name}: {v['seconds']:.1f} s (epoch {v['epoch']})")
        lines += [f"time to {100 * report[key]['target']:.1f} % MNIST test "
                  f"accuracy ({what}): " + ", ".join(reached), ""]
    for profile in report.get("step_profile", {}).values():
        lines += [format_step_profile(profile), ""]
    if "serving" in report:
        lines += ["| serving | HTTP req/s | p50 ms | p99 ms | in-process "
                  "calls/s | in-process p50 ms |", "|---|---|---|---|---|---|"]
        for k, v in report["serving"].items():
            lines.append(
                f"| {k} | {v['http_requests_per_second']:.0f} | "
                f"{v['http_p50_ms']:.1f} | {v['http_p99_ms']:.1f} | "
                f"{v['inprocess_calls_per_second']:.0f} | "
                f"{v['inprocess_p50_ms']:.2f} |")
    return "\n".join(lines)
