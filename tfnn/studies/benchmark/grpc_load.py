"""Serving speed over gRPC: ``tfnn serve --grpc-port`` in its own process
(``tfnn.serving.process.ServeProcess``) under a loopback load, beside the
same requests over REST and an in-process call of the same SavedModel, all
in one run.

Each request is built once (a ``PredictRequest`` holding the images as a
float32 ``TensorProto``; a REST body of the images as JSON integers,
``serving_load.rest_predict_call``), so the timings are the round
trip: the client's send, the server's parsing, validation, model call and
answer, and the client's receipt. The in-process call does what the server
does with the model: the signature on a tensor, both outputs to NumPy. The
three are timed in turns (a round of each, several rounds), so every one
sees the same machine load; ``grpc_over_inprocess`` is the ratio of the
p50s. Ratios, never absolute numbers, are meant to be compared
(measurements: docs/).

Reference: TensorFlow Serving's ``PredictionService.Predict``
(``tensorflow_serving/apis/prediction_service.proto``) and its REST
``:predict``, https://www.tensorflow.org/tfx/serving/api_rest.
"""

from __future__ import annotations

import os
import time

import grpc
import httpx
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tfnn import data
from tfnn.serving.process import ServeProcess
from tfnn.shipping import list_versions
from tfnn.studies.benchmark.serving_load import rest_predict_call

TIMEOUT = 30.0  # seconds, every request


# --------------------------------------------------------------------------
# One request, three ways
# --------------------------------------------------------------------------


def grpc_predict_call(channel, model_name, images,
                      signature="serving_default"):
    """A function sending one prebuilt ``Predict`` of ``images`` (float32)."""
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    request.inputs["images"].CopyFrom(
        tf.make_tensor_proto(np.asarray(images, np.float32)))

    def call():
        return stub.Predict(request, timeout=TIMEOUT)

    return call


def inprocess_call(model_dir, images, signature="serving_default"):
    """A function calling the newest version's signature in this process
    (both outputs to NumPy, as the server does)."""
    version = list_versions(model_dir)[-1]
    loaded = tf.saved_model.load(os.path.join(model_dir, str(version)))
    fn = loaded.signatures[signature]
    tensor = tf.constant(np.asarray(images, np.float32))

    def call():
        return {k: v.numpy() for k, v in fn(images=tensor).items()}

    call.loaded = loaded  # keeps the variables alive
    return call


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------


def interleaved(calls: dict, requests: int, rounds: int = 4) -> dict:
    """Seconds of ``requests`` calls of each function, taken in turns:
    ``rounds`` rounds of ``requests / rounds`` calls each (after one
    warm-up call of each)."""
    for call in calls.values():
        call()
    times = {name: [] for name in calls}
    per_round = max(1, requests // rounds)
    for _ in range(rounds):
        for name, call in calls.items():
            for _ in range(per_round):
                t0 = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - t0)
    return times


def latency_summary(prefix: str, seconds) -> dict:
    """``{prefix}_requests_per_second``, ``_p50_ms`` and ``_p99_ms``."""
    seconds = np.asarray(seconds)
    return {
        f"{prefix}_requests_per_second": len(seconds) / float(seconds.sum()),
        f"{prefix}_p50_ms": 1e3 * float(np.percentile(seconds, 50)),
        f"{prefix}_p99_ms": 1e3 * float(np.percentile(seconds, 99)),
    }


def grpc_latencies(target, model_name, images, requests=200) -> dict:
    """Requests/s and p50/p99 of gRPC ``Predict`` against a running server
    (``target``: ``host:port``), one prebuilt request of ``images``."""
    with grpc.insecure_channel(target) as channel:
        call = grpc_predict_call(channel, model_name, images)
        times = interleaved({"grpc": call}, requests, rounds=1)
    return latency_summary("grpc", times["grpc"])


def grpc_serving_speed(model_dir, requests=200, batches=(1, 100),
                       images=None) -> dict:
    """gRPC ``Predict`` of ``tfnn serve --grpc-port`` (its own process),
    beside REST ``:predict`` on the same server and an in-process call of
    the same SavedModel, for each batch size.

    Args:
        model_dir: the model's base folder (its newest version is served).
        requests: timed requests of each kind per batch size. Defaults to 200.
        batches: batch sizes. Defaults to (1, 100).
        images: the raw test images to send. Defaults to MNIST's test set.

    Returns:
        ``{"batch_<b>": {grpc_/rest_/inprocess_ + requests_per_second,
        p50_ms, p99_ms; grpc_over_inprocess}}``.
    """
    x = data.load_arrays("mnist", "test")[0] if images is None else images
    out = {}
    with ServeProcess(model_dir, grpc=True) as server, \
            grpc.insecure_channel(server.target) as channel, \
            httpx.Client(timeout=TIMEOUT) as client:
        for b in batches:
            calls = {
                "inprocess": inprocess_call(model_dir, x[:b]),
                "rest": rest_predict_call(client, server.model_url, x[:b]),
                "grpc": grpc_predict_call(channel, server.name, x[:b]),
            }
            times = interleaved(calls, requests)
            row = {}
            for name, seconds in times.items():
                row.update(latency_summary(name, seconds))
            row["grpc_over_inprocess"] = (row["grpc_p50_ms"]
                                          / row["inprocess_p50_ms"])
            out[f"batch_{b}"] = row
    return out
