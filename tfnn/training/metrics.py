"""Evaluation helpers: accuracy and the confusion matrix."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true, y_pred, num_classes=10) -> np.ndarray:
    """``cm[i, j]`` = number of examples of class ``i`` predicted ``j``."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred differ in shape: {y_true.shape} vs "
            f"{y_pred.shape}"
        )
    flat = y_true * num_classes + y_pred
    return np.bincount(flat, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def format_confusion(cm: np.ndarray) -> str:
    """The matrix as text: rows true class, columns predicted class."""
    k = cm.shape[0]
    width = max(5, len(str(cm.max())) + 1)
    lines = ["true\\pred" + "".join(f"{j:>{width}}" for j in range(k))]
    for i in range(k):
        lines.append(f"{i:>9}" + "".join(f"{v:>{width}}" for v in cm[i]))
    return "\n".join(lines)
