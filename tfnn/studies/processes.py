"""A study's function in a fresh Python process.

Some measurements need a process of their own: a setting that acts only
before TensorFlow is imported (oneDNN's kernels, ``TF_ENABLE_ONEDNN_OPTS``),
or a time that must count everything from a cold start (the speedrun).
:func:`in_subprocess` starts ``python -m MODULE FUNCTION KWARGS_JSON
OUT_JSON`` with the environment changed, times it from the start to the
exit, and reads the function's JSON result back from ``OUT_JSON``;
:func:`worker_main` is that module's ``main``, serving a dict of functions.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time

from tfnn.atomic_json import write_json


def in_subprocess(module, function, env=None, **kwargs):
    """``function(**kwargs)`` run by ``python -m module`` (a module whose
    ``main`` is :func:`worker_main`) in a fresh process whose environment
    adds ``env``. Its log goes to this process's stderr.

    Returns:
        Its JSON result; a dict gains "env" (``env``, when given) and
        "process_seconds" (the wall time from starting the process to its
        exit: interpreter start, imports and all).

    Raises:
        RuntimeError: the process failed (unknown function, an error in
            it): its log says why.
    """
    env = dict(env or {})
    with tempfile.TemporaryDirectory(prefix="tfnn-process-") as tmp:
        out = os.path.join(tmp, "result.json")
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", module, function, json.dumps(kwargs), out],
            env={**os.environ, **env}, check=False)
        seconds = time.perf_counter() - t0
        if proc.returncode or not os.path.exists(out):
            raise RuntimeError(f"{module} {function} failed in a subprocess "
                               f"(exit {proc.returncode}); its log is above")
        with open(out) as fh:
            result = json.load(fh)
    if not isinstance(result, dict):
        return result
    return {**result, **({"env": env} if env else {}),
            "process_seconds": seconds}


def worker_main(functions: dict, prog: str, doc: str, argv=None) -> int:
    """``prog FUNCTION KWARGS_JSON OUT_JSON``: calls ``functions[FUNCTION]``
    with the JSON keyword arguments and writes its result to ``OUT_JSON``
    (:func:`tfnn.atomic_json.write_json`); log lines go to stderr.

    Returns:
        The exit status: 0, or 2 for an unknown function.
    """
    p = argparse.ArgumentParser(prog=prog, description=doc)
    p.add_argument("function", help=f"one of {sorted(functions)}")
    p.add_argument("kwargs", help="its keyword arguments as a JSON object")
    p.add_argument("out", help="the JSON file its result goes to")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.function not in functions:
        logging.error("Unknown function %r; choose from %s", args.function,
                      sorted(functions))
        return 2
    write_json(args.out, functions[args.function](**json.loads(args.kwargs)))
    return 0
