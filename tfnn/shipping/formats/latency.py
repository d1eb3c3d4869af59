"""In-process latency of every format of a version, batch by batch.

Each format present in the version folder is loaded in its runtime
(``runners``), warmed up, and timed on the first ``batch`` test images::

    p50 = median over ``repeats`` calls of the wall time of one call
          (NumPy in, NumPy out: the conversions are part of the call)

Rows: format, file, size in bytes, batch, p50 in milliseconds and
images per second (batch / p50).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from tfnn.data import load_arrays
from tfnn.shipping.formats.catalog import FORMATS
from tfnn.shipping.formats.runners import load_runner
from tfnn.shipping.versions import resolve_version_dir


def _folder_bytes(version_dir) -> int:
    """The SavedModel's own files: saved_model.pb and variables/."""
    total = os.path.getsize(os.path.join(version_dir, FORMATS["saved_model"]))
    for root, _, files in os.walk(os.path.join(version_dir, "variables")):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def time_calls(fn, x, repeats: int, warmup: int = 3) -> float:
    """Median seconds of ``fn(x)`` over ``repeats`` calls, after
    ``warmup`` calls."""
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def format_latency(path, batch_sizes=(1, 100), repeats: int = 50,
                   manual_dir=None, data_dir=None) -> list[dict[str, Any]]:
    """Times every format present in the version at ``path``.

    Args:
        path: a version folder (or a model folder: its newest version).
        batch_sizes: images per call. Defaults to (1, 100).
        repeats: timed calls per row. Defaults to 50.
        manual_dir: folder of the official files.
        data_dir: tfds's data folder.

    Returns:
        One dict per format and batch size: ``format``, ``file``,
        ``size_bytes``, ``batch``, ``p50_ms``, ``images_per_s``.
    """
    version_dir = resolve_version_dir(path)
    images, _ = load_arrays("mnist", "test", manual_dir, data_dir)
    images = images.astype(np.float32)
    rows = []
    for fmt, file in FORMATS.items():
        target = os.path.join(version_dir, file)
        if not os.path.isfile(target):
            continue
        runner = load_runner(version_dir if fmt == "saved_model" else target)
        size = (_folder_bytes(version_dir) if fmt == "saved_model"
                else os.path.getsize(target))
        for batch in batch_sizes:
            p50 = time_calls(runner, images[:batch], repeats)
            rows.append({"format": fmt, "file": file, "size_bytes": size,
                         "batch": int(batch), "p50_ms": p50 * 1e3,
                         "images_per_s": batch / p50})
    return rows


def latency_table(rows) -> str:
    """``format_latency``'s rows as a Markdown table."""
    lines = ["| format | file | size | batch | p50 | images/s |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['format']} | `{r['file']}` | "
            f"{r['size_bytes'] / 2**20:.2f} MiB | {r['batch']} | "
            f"{r['p50_ms']:.3f} ms | {r['images_per_s']:,.0f} |")
    return "\n".join(lines)
