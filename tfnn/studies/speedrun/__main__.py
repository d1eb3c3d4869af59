"""``python -m tfnn.studies.speedrun FUNCTION KWARGS_JSON OUT_JSON``: one
seed of a speedrun recipe (``run_seed``), of its PyTorch twin
(``torch_seed``) or of keras.io's recipe (``keras_io_seed``) in this fresh
process, its result written to ``OUT_JSON``;
:func:`~tfnn.studies.speedrun.timed_seeds.race` starts it. Nothing here imports
TensorFlow before the function does (the PyTorch seed never does)."""

from __future__ import annotations

import os
import sys

from tfnn.studies.processes import worker_main
from tfnn.studies.speedrun.baselines import keras_io_seed, torch_seed
from tfnn.studies.speedrun.timed_seeds import MODULE, run_seed

FUNCTIONS = {"run_seed": run_seed, "torch_seed": torch_seed,
             "keras_io_seed": keras_io_seed}

if __name__ == "__main__":
    status = worker_main(FUNCTIONS, f"python -m {MODULE}", __doc__)
    # The result is written and closed: end now. Python's teardown of a
    # process that ran TensorFlow (its modules, graphs and thread pools)
    # is time the speedrun's user would wait for and nothing needs
    # (measured: docs/performance.md).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
