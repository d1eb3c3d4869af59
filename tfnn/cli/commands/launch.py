"""``tfnn launch --workers N [--port-base P] [--restarts K] -- <tfnn train
flags>``: one multi-worker run on this machine.

Starts N ``tfnn train … --strategy multiworker`` processes on loopback,
each with its ``TF_CONFIG`` (worker 0 the chief), streams the chief's
output, stops every worker when one fails or on Ctrl-C, and optionally
restarts the group from the last checkpoint (see
``tfnn.training.launch``; docs/distributed.md).
"""

from __future__ import annotations

import argparse

from tfnn.training.launch import LaunchConfig, launch


def add_arguments(parser):
    parser.add_argument("--workers", type=int, required=True,
                        help="worker processes (worker 0 is the chief)")
    parser.add_argument("--port-base", type=int, default=None,
                        help="worker i listens on 127.0.0.1:PORT_BASE+i "
                        "(default: free ports)")
    parser.add_argument("--restarts", type=int, default=0,
                        help="restart the whole group up to K times after a "
                        "lost worker; it resumes from the last checkpoint "
                        "(default: 0)")
    parser.add_argument("--log-dir", default=None,
                        help="worker-I.log and workers.json (default: a "
                        "temporary folder, kept only on failure)")
    parser.add_argument("--grace", type=float, default=5.0,
                        help="seconds between SIGTERM and SIGKILL when "
                        "stopping workers (default: 5)")
    parser.add_argument("train_args", nargs=argparse.REMAINDER,
                        metavar="-- TRAIN_FLAGS",
                        help="the flags of `tfnn train`, after --")


def run(args) -> int:
    config = LaunchConfig(workers=args.workers, port_base=args.port_base,
                          restarts=args.restarts, log_dir=args.log_dir,
                          grace=args.grace, verbose=args.verbose)
    return launch(args.train_args, config)
