"""Serving speed: ``tfnn serve`` in its own process under a loopback HTTP
load, beside an in-process call of the same SavedModel."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import tensorflow as tf

from tfnn import data
from tfnn.shipping import list_versions


class _ServerProcess:
    """``tfnn serve`` in its own process on a free loopback port.

    A server in a thread of the client's own process would share its GIL
    with the client and TensorFlow's threads and its latency would measure
    their turn-taking; users run the server as a process, so that is what
    is timed.
    """

    def __init__(self, model_dir, timeout=180.0):
        self.model_dir, self.timeout = model_dir, timeout

    def __enter__(self):
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
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _latencies(call, requests, *args):
    """Seconds of each of ``requests`` calls of ``call(*args)``."""
    out = []
    for _ in range(requests):
        t0 = time.perf_counter()
        call(*args)
        out.append(time.perf_counter() - t0)
    return out


def serving_speed(model_dir, requests=200, batches=(1, 100), splits=None):
    """Requests/s and p50/p99 latency of ``tfnn serve`` (its own process)
    over loopback HTTP, beside an in-process call of the same SavedModel
    (its newest version). ``splits``: the raw test images to send (default:
    MNIST's test set)."""
    x = data.load_arrays("mnist", "test")[0] if splits is None else splits
    version = list_versions(model_dir)[-1]
    loaded = tf.saved_model.load(os.path.join(model_dir, str(version)))
    fn = loaded.signatures["serving_default"]

    def classes(images):
        return fn(images=images)["classes"].numpy()

    out = {}
    with _ServerProcess(model_dir) as server, \
            httpx.Client(timeout=30) as client:
        url = f"{server.url}:predict"

        def post(body):
            client.post(url, json=body).raise_for_status()

        for b in batches:
            body = {"instances": x[:b].astype(int).tolist()}
            post(body)  # warm-up
            lat = _latencies(post, requests, body)
            images = tf.constant(x[:b].astype(np.float32))
            classes(images)
            inproc = _latencies(classes, requests, images)
            out[f"batch_{b}"] = {
                "http_requests_per_second": len(lat) / sum(lat),
                "http_p50_ms": 1e3 * float(np.percentile(lat, 50)),
                "http_p99_ms": 1e3 * float(np.percentile(lat, 99)),
                "inprocess_calls_per_second": len(inproc) / sum(inproc),
                "inprocess_p50_ms": 1e3 * float(np.percentile(inproc, 50)),
            }
    return out
