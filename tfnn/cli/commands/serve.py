"""``tfnn serve --model-dir saved_models/mnist``: TF Serving's REST API."""

from __future__ import annotations

from tfnn.serving import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_POLL_INTERVAL,
)


def add_arguments(parser):
    parser.add_argument("--model-dir", required=True,
                        help="model base folder (holding 1/, 2/ …)")
    parser.add_argument("--name", default=None,
                        help="model name in URLs (default: folder name)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH)
    parser.add_argument("--max-body-mb", type=float,
                        default=DEFAULT_MAX_BODY_BYTES / 2**20)
    parser.add_argument("--poll-interval", type=float,
                        default=DEFAULT_POLL_INTERVAL,
                        help="seconds between scans for new versions")


def run(args) -> int:
    from tfnn.serving import serve

    serve(args.model_dir, name=args.name, host=args.host, port=args.port,
          max_batch=args.max_batch,
          max_body_bytes=int(args.max_body_mb * 2**20),
          poll_interval=args.poll_interval)
    return 0
