"""A benchmark function in a fresh Python process.

Some settings act only before TensorFlow is imported (oneDNN's kernels,
``TF_ENABLE_ONEDNN_OPTS``): a measurement with another value runs in a
process of its own. :func:`in_subprocess` starts
``python -m tfnn.studies.benchmark.worker FUNCTION KWARGS_JSON OUT_JSON``
(:mod:`~tfnn.studies.benchmark.worker`) with the environment changed and
reads the function's JSON result back from ``OUT_JSON``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

WORKER = "tfnn.studies.benchmark.worker"


def in_subprocess(function, env, **kwargs):
    """``function(**kwargs)`` (a name of :data:`~tfnn.studies.benchmark.
    worker.FUNCTIONS`) run in a fresh Python process whose environment adds
    ``env``; its JSON result, with ``env`` recorded under "env" when the
    result is a dict. Its log goes to this process's stderr.

    Raises:
        RuntimeError: the process failed (unknown function, an error in
            it): its log says why.
    """
    with tempfile.TemporaryDirectory(prefix="tfnn-bench-") as tmp:
        out = os.path.join(tmp, "result.json")
        proc = subprocess.run(
            [sys.executable, "-m", WORKER, function, json.dumps(kwargs), out],
            env={**os.environ, **env}, check=False)
        if proc.returncode or not os.path.exists(out):
            raise RuntimeError(f"benchmark.{function} failed in a subprocess "
                               f"(exit {proc.returncode}); its log is above")
        with open(out) as fh:
            result = json.load(fh)
    return {**result, "env": env} if isinstance(result, dict) else result
