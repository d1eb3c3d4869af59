"""Serving speed: ``tfnn serve`` in its own process
(``tfnn.serving.process.ServeProcess``) under a loopback HTTP load, beside
an in-process call of the same SavedModel.

Each body is encoded once, before the timing (``rest_predict_call``): the
client's ``json.dumps`` of a batch of images would otherwise be timed as
the server's latency."""

from __future__ import annotations

import json
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


def rest_predict_call(client: httpx.Client, model_url, images):
    """A function posting one prebuilt ``:predict`` body of ``images``
    (the raw pixels as JSON integers)."""
    body = json.dumps({"instances": np.asarray(images).astype(int).tolist()})
    content = body.encode()
    headers = {"content-type": "application/json"}

    def call():
        client.post(f"{model_url}:predict", content=content,
                    headers=headers).raise_for_status()

    return call


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
        for b in batches:
            post = rest_predict_call(client, server.model_url, x[:b])
            post()  # warm-up
            lat = _latencies(post, requests)
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
