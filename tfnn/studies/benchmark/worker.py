"""``python -m tfnn.studies.benchmark.worker FUNCTION KWARGS_JSON OUT_JSON``:
one benchmark function, called with the JSON keyword arguments, its result
written to ``OUT_JSON`` (:func:`tfnn.provenance.write_json`). The process
that :func:`~tfnn.studies.benchmark.processes.in_subprocess` starts; its
log goes to stderr."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from tfnn.provenance import write_json
from tfnn.studies.benchmark.paths import run_training, time_to_accuracy
from tfnn.studies.benchmark.profile import step_profile

PROG = "python -m tfnn.studies.benchmark.worker"
# The functions a fresh process can run, by the names callers pass.
FUNCTIONS = {
    "run_training": run_training,
    "step_profile": step_profile,
    "time_to_accuracy": time_to_accuracy,
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__)
    p.add_argument("function", help=f"one of {sorted(FUNCTIONS)}")
    p.add_argument("kwargs", help="its keyword arguments as a JSON object")
    p.add_argument("out", help="the JSON file its result goes to")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.function not in FUNCTIONS:
        logging.error("Unknown benchmark function %r; choose from %s",
                      args.function, sorted(FUNCTIONS))
        return 2
    result = FUNCTIONS[args.function](**json.loads(args.kwargs))
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
