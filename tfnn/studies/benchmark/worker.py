"""``python -m tfnn.studies.benchmark.worker FUNCTION KWARGS_JSON OUT_JSON``:
one benchmark function, called with the JSON keyword arguments, its result
written to ``OUT_JSON``. The process that
:func:`~tfnn.studies.processes.in_subprocess` starts; its log goes to
stderr."""

from __future__ import annotations

import sys

from tfnn.studies.benchmark.profile import step_profile
from tfnn.studies.benchmark.training_speed import run_training, time_to_accuracy
from tfnn.studies.processes import worker_main

MODULE = "tfnn.studies.benchmark.worker"
# The functions a fresh process can run, by the names callers pass.
FUNCTIONS = {
    "run_training": run_training,
    "step_profile": step_profile,
    "time_to_accuracy": time_to_accuracy,
}


def main(argv=None) -> int:
    return worker_main(FUNCTIONS, f"python -m {MODULE}", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
