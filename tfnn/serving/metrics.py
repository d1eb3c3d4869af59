"""Prometheus metrics of a server, as TensorFlow Serving exposes them.

TF Serving (with ``--monitoring_config_file``) answers
``GET /monitoring/prometheus/metrics`` with, among others, a request count
(``:tensorflow:serving:request_count``) and a latency histogram
(``:tensorflow:serving:request_latency``). ``tfnn serve`` answers the same
path (``tfnn.serving.app``) with, in Prometheus' text format::

    tfnn_serving_requests_total{model_name, version, api, entrypoint,
                                status}
    tfnn_serving_request_latency_seconds_bucket{..., le}   (_sum, _count)

``api``: ``predict``, ``classify``, ``regress``, ``metadata`` or
``status``; ``entrypoint``: ``REST`` or ``GRPC``; ``status``: the HTTP
status (``"200"``, ``"400"`` …) or the gRPC code (``OK``,
``INVALID_ARGUMENT`` …); ``version``: the version that answered (empty
where none did: an unknown version, a status request for all versions);
``model_name``: the served model's name (empty for a name it does not
serve, so that what clients type cannot grow the label set). The latency
is the handler's, from the request's arrival to its answer (its body read,
parsed, run and encoded), in seconds.

Each :class:`ServingMetrics` keeps its own registry, never
``prometheus_client``'s global one: two servers in one process (tests)
count apart, and importing this module registers nothing.

Reference: TensorFlow Serving, "Monitoring configuration"
(``prometheus_config``, the ``/monitoring/prometheus/metrics`` path),
https://www.tensorflow.org/tfx/serving/serving_config; Prometheus, "Metric
and label naming", https://prometheus.io/docs/practices/naming/.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

METRICS_PATH = "/monitoring/prometheus/metrics"  # TF Serving's
LABELS = ("model_name", "version", "api", "entrypoint", "status")
APIS = ("predict", "classify", "regress", "metadata", "status")
ENTRYPOINTS = ("REST", "GRPC")
# Upper bounds in seconds: 100 µs doubling to 26 s (a batch-1 call to a
# full batch on a slow machine).
LATENCY_BUCKETS = tuple(1e-4 * 2**k for k in range(19))


class Call:
    """One request being timed: set ``version`` once it is known and
    ``status`` (or leave them: see :meth:`ServingMetrics.call`)."""

    __slots__ = ("api", "entrypoint", "model_name", "version", "status",
                 "start")

    def __init__(self, api: str, entrypoint: str, model_name: str):
        self.api, self.entrypoint = api, entrypoint
        self.model_name = model_name
        self.version = ""
        self.status = None
        self.start = time.perf_counter()


class ServingMetrics:
    """The request count and latency histogram of one served model.

    Args:
        model_name: the served model's name (the only ``model_name`` label
            value besides "").

    Usage::

        metrics = ServingMetrics("mnist")
        call = metrics.call("predict", "REST", "mnist")
        call.version = "1"
        metrics.done(call, "200")
        metrics.exposition()    # (bytes, content type)
    """

    def __init__(self, model_name: str):
        self.model_name = model_name
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tfnn_serving_requests", "Requests answered, by model, version, "
            "API, entrypoint and status", LABELS, registry=self.registry)
        self.latency = Histogram(
            "tfnn_serving_request_latency_seconds", "Seconds from a "
            "request's arrival to its answer", LABELS,
            buckets=LATENCY_BUCKETS, registry=self.registry)

    def call(self, api: str, entrypoint: str, model_name: str) -> Call:
        """A :class:`Call` timed from now (``model_name`` as requested)."""
        if api not in APIS or entrypoint not in ENTRYPOINTS:
            raise ValueError(f"unknown api or entrypoint. Received: "
                             f"api={api!r}, entrypoint={entrypoint!r}")
        known = model_name if model_name == self.model_name else ""
        return Call(api, entrypoint, known)

    def done(self, call: Call, status) -> None:
        """Counts ``call`` answered with ``status`` and observes its
        seconds."""
        labels = (call.model_name, str(call.version), call.api,
                  call.entrypoint, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(
            time.perf_counter() - call.start)

    def exposition(self) -> tuple[bytes, str]:
        """The registry in Prometheus' text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
