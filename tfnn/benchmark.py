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


def _tfnn_paths(arch, splits, batch, seed, which):
    import keras

    from tfnn import training
    from tfnn.config import ModelConfig
    from tfnn.models import build_model

    cfg = ModelConfig(arch=arch, hidden=MLP_HIDDEN if arch == "mlp"
                      else CNN_HIDDEN, filters=CNN_FILTERS,
                      initializer="he_normal",
                      initializer_kwargs={"seed": seed})
    x, y = splits.x_train, splits.y_train
    paths = []
    for name in which:
        if name in ("tfnn", "readable"):
            trainer = training.Trainer(build_model(cfg),
                                       keras.optimizers.Adam(1e-3),
                                       fast=name == "tfnn")
            run = trainer._fast_epoch if trainer.fast else \
                trainer._readable_epoch

            def epoch(e, run=run):
                run(x, y, batch, e, seed, False, None, None)

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


def _torch_path(arch, splits, batch, seed, threads):
    try:
        import torch
        from torch import nn
    except ImportError:
        logger.warning("PyTorch is not installed: skipping the torch path "
                       "(pip install torch==2.13.0)")
        return None
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
    loss_fn = nn.CrossEntropyLoss()
    X = torch.from_numpy(np.ascontiguousarray(splits.x_train))
    Y = torch.from_numpy(splits.y_train.astype(np.int64))
    gen = torch.Generator().manual_seed(seed)

    def epoch(e):
        model.train()
        perm = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), batch):
            idx = perm[i:i + batch]
            loss = loss_fn(model(X[idx]), Y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

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
        from tfnn.experiments._common import mnist, subset

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
            "flops_per_example": flops, "paths": out}


def time_to_accuracy(target, arch="mlp", max_epochs=10, batch=128, seed=0,
                     paths=("tfnn", "torch"), splits=None):
    """Training seconds (evaluation excluded) until the test accuracy first
    reaches ``target``, per path; None when it never does."""
    if splits is None:
        from tfnn.experiments._common import mnist

        splits = mnist()
    runs = _paths(arch, splits, batch, seed, paths)
    out = {}
    for p in runs:
        spent, reached = 0.0, None
        for e in range(max_epochs):
            t0 = time.perf_counter()
            p.epoch(e)
            spent += time.perf_counter() - t0
            acc = p.accuracy()
            if acc >= target:
                reached = {"seconds": spent, "epoch": e + 1, "accuracy": acc}
                break
        out[p.name] = reached
        logger.info("%s reaches %.3f: %s", p.name, target, reached)
    return {"arch": arch, "target": target, "paths": out}


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
            [sys.executable, "-m", "tfnn.cli", "serve", "--model-dir",
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


def run(epochs=4, cnn_epochs=2, cnn_train=10_000, time_to_acc=True,
        serving_dir="saved_models/mnist", out=None) -> Dict:
    """The whole benchmark; writes JSON to ``out`` when given."""
    import platform

    t_start = time.perf_counter()
    peak = matmul_peak()
    logger.info("matmul peak: %.1f GFLOP/s", peak)
    report = {"machine": {"cpus": os.cpu_count(),
                          "platform": platform.platform(),
                          "python": platform.python_version()},
              "matmul_gflops": peak}
    report["mlp"] = run_training("mlp", epochs=epochs)
    report["cnn"] = run_training("cnn", epochs=cnn_epochs, n_train=cnn_train,
                                 paths=("tfnn", "fit", "torch"))
    if time_to_acc:
        report["mlp_time_to_98"] = time_to_accuracy(0.98, "mlp", max_epochs=20)
    if serving_dir and os.path.isdir(serving_dir):
        report["serving"] = serving_speed(serving_dir)
    report["peak_after"] = matmul_peak()
    report["seconds"] = time.perf_counter() - t_start
    report["versions"] = _versions()
    if out:
        with open(out, "w") as fh:
            json.dump(report, fh, indent=2)
    return report


def _versions():
    import keras
    import tensorflow as tf

    versions = {"tensorflow": tf.__version__, "keras": keras.__version__}
    try:
        import torch

        versions["torch"] = torch.__version__
    except ImportError:
        pass
    return versions


def format_report(report) -> str:
    """The benchmark as a Markdown table plus the goal's ratios."""
    lines = [f"matrix-product peak: {report['matmul_gflops']:.1f} GFLOP/s "
             f"(again at the end: {report.get('peak_after', float('nan')):.1f})",
             ""]
    peak = max(report["matmul_gflops"], report.get("peak_after", 0))
    for arch in ("mlp", "cnn"):
        if arch not in report:
            continue
        r = report[arch]
        lines += [f"### {arch.upper()} ({r['examples']} examples, batch "
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
    if "mlp_time_to_98" in report:
        reached = []
        for name, v in report["mlp_time_to_98"]["paths"].items():
            reached.append(f"{name}: never" if v is None else
                           f"{name}: {v['seconds']:.1f} s (epoch {v['epoch']})")
        lines += ["time to 98.0 % MNIST test accuracy (MLP): "
                  + ", ".join(reached), ""]
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
