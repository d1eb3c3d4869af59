"""Whole-pixel shifts of images, in NumPy: the offsets of test-time
augmentation (:mod:`tfnn.models.tta` builds them into Keras layers) and a
reference shift that needs no TensorFlow (the speedrun's PyTorch twin uses
it).

A shift ``(dy, dx)`` moves the content ``dy`` rows down and ``dx`` columns
right; pixels that move in from outside are ``fill``. Two patterns of
offsets with the largest shift r:

    grid   every (dy, dx) with |dy|, |dx| ≤ r          (2r + 1)² copies
    plus   (0, 0) and (±k, 0), (0, ±k) for k = 1 … r    4r + 1 copies
"""

from __future__ import annotations

import numpy as np

PATTERNS = ("grid", "plus")


def offsets(max_shift: int, pattern: str = "grid") -> list:
    """The ``pattern``'s (dy, dx) offsets up to ``max_shift``, ``(0, 0)``
    first.

    Raises:
        ValueError: a negative or fractional ``max_shift``, an unknown
            pattern.
    """
    if int(max_shift) != max_shift or max_shift < 0:
        raise ValueError(
            f"max_shift must be a non-negative integer. Received: {max_shift}")
    if pattern not in PATTERNS:
        raise ValueError(f"Unknown shift pattern {pattern!r}; choose from "
                         f"{list(PATTERNS)}")
    r = int(max_shift)
    if pattern == "plus":
        return [(0, 0)] + [o for k in range(1, r + 1)
                           for o in ((-k, 0), (k, 0), (0, -k), (0, k))]
    grid = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
    grid.remove((0, 0))
    return [(0, 0)] + grid


def shift_images(x, dy: int, dx: int, fill: float = 0.0) -> np.ndarray:
    """``x`` (n, H, W[, C]) moved ``dy`` rows down and ``dx`` columns
    right, ``fill`` where nothing moved in."""
    x = np.asarray(x)
    out = np.full_like(x, fill)
    h, w = x.shape[1], x.shape[2]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        x[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out
