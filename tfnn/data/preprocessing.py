"""Input preprocessing of notes 001 ("Normalizing inputs") and 004 ("Data
Preprocessing"), with scalar statistics of the *training* part only:

    raw:          x                          (float32 in [0, 255])
    minmax:       x / 255                    (min-max scaling to [0, 1])
    standardize:  (x / 255 - mean) / std     (mean, std of x_train / 255)

One formula, written twice: in NumPy (``Preprocessor.__call__``, training)
and in TensorFlow (``Preprocessor.apply_tf``, inside the exported
SavedModel), so the served model cannot drift from the trained one.
TensorFlow is imported inside ``apply_tf`` only: ``import tfnn.data`` stays
cheap.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np

from tfnn.data.arrays import aligned_empty
from tfnn.registry import check_key

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

PREPROCESSING = ("raw", "minmax", "standardize")


def check_preprocessing(kind: str) -> str:
    """The registered key of ``kind`` (case and ``-`` folded).

    Raises:
        ValueError: naming the unknown kind and the valid ones.
    """
    return check_key(kind, PREPROCESSING, "preprocessing")


@dataclasses.dataclass(frozen=True)
class Preprocessor:
    """Input normalization of notes 001 and 004.

    raw:          x
    minmax:       x / 255
    standardize:  (x / 255 - mean) / std

    ``mean`` and ``std`` are scalar pixel statistics of the training set
    after ``/ 255`` (``Preprocessor.fit``), never of validation or test data.

    Args:
        kind: one of ``PREPROCESSING``. Defaults to "standardize".
        mean: training-set pixel mean after /255. Defaults to 0.0.
        std: training-set pixel standard deviation after /255. Defaults
            to 1.0.
    """

    kind: str = "standardize"  # raw | minmax | standardize
    mean: float = 0.0  # of x_train / 255; used by standardize only
    std: float = 1.0  # of x_train / 255; used by standardize only

    def __post_init__(self):
        object.__setattr__(self, "kind", check_preprocessing(self.kind))
        object.__setattr__(self, "mean", float(self.mean))
        object.__setattr__(self, "std", float(self.std))
        if not (math.isfinite(self.std) and self.std > 0):
            raise ValueError(
                f"std must be positive and finite. Received: std={self.std}"
            )
        if not math.isfinite(self.mean):
            raise ValueError(f"mean must be finite. Received: mean={self.mean}")

    @classmethod
    def fit(cls, kind: str, x_train) -> Preprocessor:
        """Computes the statistics ``kind`` needs from training images.

        Args:
            kind: one of ``PREPROCESSING``.
            x_train: training images, pixel values in [0, 255].

        Returns:
            A ``Preprocessor``; mean/std of ``x_train / 255`` for
            standardize, 0 and 1 otherwise.
        """
        kind = check_preprocessing(kind)
        if kind != "standardize":
            return cls(kind)
        x = np.asarray(x_train)
        if x.size == 0:
            raise ValueError("Cannot fit standardize on an empty x_train.")
        if x.dtype == np.uint8:
            # Exact statistics from integer sums (no float pass over the
            # pixels): with S1 = Σx, S2 = Σx², n pixels,
            # mean = S1 / (255 n), var = (n S2 − S1²) / (255 n)².
            n = x.size
            s1, s2 = _integer_sums(x)
            mean = s1 / (255 * n)
            std = math.sqrt((n * s2 - s1 * s1) / (255 * n) ** 2)
        else:
            x = x.astype(np.float64) / 255.0
            mean, std = float(x.mean()), float(x.std())
        return cls(kind, mean=mean, std=std)

    def __call__(self, x) -> np.ndarray:
        """NumPy version: a new float32 array of ``x``'s shape, aligned
        so that TensorFlow takes it without a copy (:mod:`tfnn.data.arrays`)."""
        # One new float32 array, then in place: the same float32 operations
        # as (x / 255 − mean) / std without a temporary per step (fresh
        # pages cost more than the arithmetic here).
        x = np.asarray(x)
        out = aligned_empty(x.shape, np.float32)
        if self.kind == "raw":
            np.copyto(out, x, casting="unsafe")
            return out
        np.divide(x, np.float32(255.0), out=out, dtype=np.float32)
        if self.kind == "minmax":
            return out
        out -= np.float32(self.mean)
        out /= np.float32(self.std)
        return out

    @property
    def background(self) -> float:
        """The preprocessed value of a black (0) pixel: what moves in at
        the edge when an image is shifted (test-time shifts)."""
        return float(self(np.zeros(1, np.uint8))[0])

    def apply_tf(self, x) -> tf.Tensor:
        """Graph version (same float32 math), for exported SavedModels."""
        import tensorflow as tf

        x = tf.cast(x, tf.float32)
        if self.kind == "raw":
            return x
        x = x / tf.constant(255.0, tf.float32)
        if self.kind == "minmax":
            return x
        mean = tf.constant(self.mean, tf.float32)
        std = tf.constant(self.std, tf.float32)
        return (x - mean) / std

    def to_dict(self) -> dict:
        return {"kind": self.kind, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessor:
        return cls(kind=d["kind"], mean=d.get("mean", 0.0),
                   std=d.get("std", 1.0))


def _integer_sums(x, chunk: int = 1 << 20) -> tuple[int, int]:
    """``(Σx, Σx²)`` of a uint8 array as exact Python integers, squaring
    ``chunk`` pixels at a time into one reused uint32 buffer (a uint32
    square of the whole array would be four times its size in fresh
    memory)."""
    flat = x.reshape(-1)
    buf = np.empty(min(chunk, flat.size), np.uint32)
    s1 = int(flat.sum(dtype=np.uint64))
    s2 = 0
    for i in range(0, flat.size, chunk):
        part = flat[i:i + chunk]
        sq = buf[:part.size]
        np.multiply(part, part, out=sq, dtype=np.uint32)
        s2 += int(sq.sum(dtype=np.uint64))
    return s1, s2
