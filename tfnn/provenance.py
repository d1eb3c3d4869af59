"""Where a result came from.

The command that ran (as a user would type it again), the versions of the
libraries that ran it and SHA-256 checksums of the files it read. Run
summaries, export metadata, benchmark reports and the assignment's report
all record themselves through these helpers (and write themselves with
:func:`tfnn.atomic_json.write_json`).

This module is the bottom of the house: it imports nothing from tfnn and
nothing heavy at import time.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import platform
import shlex
import sys
from collections.abc import Sequence

from tfnn import __version__


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command that is running, as a user would type it again.

    ``tfnn train …`` under the console script or ``python -m tfnn.cli``,
    else ``python script …``.

    Args:
        argv: the argument vector. Defaults to ``sys.argv``.

    Returns:
        One shell-quoted line; ``""`` for an empty vector.
    """
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        return ""
    entry = os.path.normpath(argv[0]).split(os.sep)[-3:]
    if os.path.basename(argv[0]) == "tfnn" or entry == [
            "tfnn", "cli", "__main__.py"]:
        argv = ["tfnn", *argv[1:]]
    else:
        argv = ["python", *argv]
    return " ".join(shlex.quote(a) for a in argv)


def versions(extra: Sequence[str] = ()) -> dict[str, str]:
    """Versions of Python, tfnn, TensorFlow, Keras and NumPy.

    Args:
        extra: more importable package names to report when installed
            (``("torch",)`` for the benchmark); a missing one is left out.

    Returns:
        ``{package: version}``.
    """
    found = {"tfnn": __version__, "python": platform.python_version()}
    # Imported by name: the base of the house imports nothing heavy at
    # import time (they are loaded already wherever a run asks).
    for name in ("tensorflow", "keras", "numpy", *extra):
        try:
            found[name] = importlib.import_module(name).__version__
        except ImportError:
            pass
    return found


def sha256(path: str, opener=open) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks.

    Args:
        path: the file.
        opener: how to open it; ``gzip.open`` digests the decompressed
            content. Defaults to ``open``.
    """
    digest = hashlib.sha256()
    with opener(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
