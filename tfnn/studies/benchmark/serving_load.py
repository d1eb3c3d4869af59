"""Serving speed: ``tfnn serve`` in its own process
(``tfnn.serving.process.ServeProcess``) under a loopback HTTP load, beside
an in-process call of the same SavedModel."""

from __future__ import annotations

import os
import time

import httpx
import numpy as np
import tensorflow as tf

from tfnn import data
from tfnn.serving.process import ServeProcess
from tfnn.shipping import list_versions


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
    with ServeProcess(model_dir) as server, \
            httpx.Client(timeout=30) as client:
        url = f"{server.model_url}:predict"

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
