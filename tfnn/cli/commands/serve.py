"""``tfnn serve --model-dir saved_models/mnist``: TF Serving's REST API,
and with ``--grpc-port 8500`` its gRPC API too (one process, one model
repository); TF Serving's Prometheus metrics of both at
``/monitoring/prometheus/metrics`` (``tfnn.serving.metrics``).

The defaults come from ``tfnn.serving`` (NumPy only); the server itself
(FastAPI, uvicorn, TensorFlow) is imported when the command runs, not for
``tfnn --help``.
"""

from __future__ import annotations

import argparse

from tfnn import serving
from tfnn.serving import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_POLL_INTERVAL,
)
from tfnn.serving.protocol import DEFAULT_BODY_TIMEOUT
from tfnn.shipping.versions import version_number


def version_label(text: str) -> tuple[str, int]:
    """``stable=2`` -> ``("stable", 2)`` (``--version-label``)."""
    label, _, version = text.partition("=")
    number = version_number(version)
    if not label or number is None:
        raise argparse.ArgumentTypeError(
            f"expected LABEL=VERSION (e.g. stable=2). Received: {text!r}")
    return label, number


def port(text: str) -> int:
    """``--port``, ``--grpc-port``: a TCP port, 0 to 65535 (0: any free)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"expected a port in 0..65535. Received: {text!r}")
    return value


def seconds(text: str) -> float:
    """``--body-timeout``: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected a positive number of seconds. Received: {text!r}")
    return value


def add_arguments(parser):
    parser.add_argument("--model-dir", required=True,
                        help="model base folder (holding 1/, 2/ …)")
    parser.add_argument("--name", default=None,
                        help="model name in URLs (default: folder name)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port, default=8501)
    parser.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH)
    parser.add_argument("--max-body-mb", type=float,
                        default=DEFAULT_MAX_BODY_BYTES / 2**20)
    parser.add_argument("--poll-interval", type=float,
                        default=DEFAULT_POLL_INTERVAL,
                        help="seconds between scans for new versions")
    parser.add_argument("--body-timeout", type=seconds,
                        default=DEFAULT_BODY_TIMEOUT, metavar="SECONDS",
                        help="seconds a request body may take to arrive; "
                        "a slower one is answered 408 and its connection "
                        "closed (default: %(default)g)")
    # Off by default: a second `tfnn serve` (another --port) would collide
    # on TF Serving's 8500, and REST is what most clients here speak.
    parser.add_argument("--grpc-port", type=port, default=None,
                        help="also serve TF Serving's gRPC API on this port "
                        "(TF Serving's: 8500; default: off)")
    parser.add_argument("--version-label", type=version_label,
                        action="append", default=[], metavar="LABEL=VERSION",
                        help="a version label for gRPC's "
                        "model_spec.version_label (repeatable)")


def run(args) -> int:
    # FastAPI and TensorFlow load with serve (tfnn.lazy): here, not at
    # ``tfnn serve --help``.
    serving.serve(args.model_dir, name=args.name, host=args.host,
                  port=args.port, max_batch=args.max_batch,
                  max_body_bytes=int(args.max_body_mb * 2**20),
                  poll_interval=args.poll_interval,
                  body_timeout=args.body_timeout, grpc_port=args.grpc_port,
                  version_labels=dict(args.version_label))
    return 0
