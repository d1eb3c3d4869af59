"""The studies' arithmetic on measured numbers: ratios, percentages, the
mean ± std over seeds and a trailing moving average."""

from __future__ import annotations

import numpy as np


def ratio(a, b):
    """a / b, with 0/0 = nan and x/0 = inf."""
    a, b = float(a), float(b)
    if b == 0:
        return float("nan") if a == 0 else float("inf")
    return a / b


def percent(x):
    """A fraction as a percentage with two decimals: 0.98765 → "98.77 %"."""
    return f"{100 * float(x):.2f} %"


def mean_std(values):
    """``(mean, sample std)`` of ``values`` (one per seed).

    The std is the sample standard deviation, ``ddof=1``:
    ``sqrt(Σ(v − v̄)² / (n − 1))``, the spread the reports' "mean ± std
    over seeds" estimate for a new seed; 0.0 for a single value (no spread
    is measured).
    """
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return float(values.mean()), std


def trailing_mean(y, n):
    """Trailing moving average over ``n`` steps (fewer at the start), so
    a smoothed curve starts at step 0; returns ``(steps, means)``."""
    y = np.asarray(y, dtype=float)
    if n < 2 or len(y) == 0:
        return np.arange(len(y)), y
    c = np.cumsum(np.insert(y, 0, 0.0))
    i = np.arange(1, len(y) + 1)
    lo = np.maximum(0, i - n)
    return np.arange(len(y)), (c[i] - c[lo]) / (i - lo)
