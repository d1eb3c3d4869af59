"""JSON written atomically: a temporary file, then a rename, so a reader
never sees half a file (run summaries, histories, export metadata,
benchmark and experiment reports).

This module is the bottom of the house: it imports nothing from tfnn and
nothing heavy.
"""

from __future__ import annotations

import json
import os
from typing import Any


def to_jsonable(value: Any) -> Any:
    """NumPy arrays and scalars → lists and numbers, recursively (read
    through their ``tolist()``, so NumPy is not imported here)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # np.ndarray → list, np.generic → scalar
        return value.tolist()
    return value


def write_json(path: str, obj: Any, indent: int = 2) -> None:
    """Write ``obj`` as JSON atomically (temporary file + ``os.replace``).

    NumPy values are converted (``to_jsonable``); keys are sorted so that
    reruns diff cleanly.
    """
    tmp = os.path.join(os.path.dirname(path) or ".",
                       f".{os.path.basename(path)}.tmp")
    with open(tmp, "w") as fh:
        json.dump(to_jsonable(obj), fh, indent=indent, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)
