"""The int8 calibration set: training images only.

Full-integer quantization needs each activation's range, measured on a
representative dataset. It is drawn from the training part of
``tfnn.data``'s split (``validation_size`` images are held out with
``seed``, as ``tfnn train`` does; the test split is never read)::

    train, _ = split of the 60,000 training images (validation held out)
    calibration = train[sorted(rng(seed).choice(len(train), n))]

``metadata.json`` records the draw (split, seed, count) and the SHA-256 of
the images' bytes, so a reader can redraw it and check that each one is a
training image.

Reference: LiteRT, "Post-training integer quantization" (a
``representative_dataset`` generator of real inputs),
https://ai.google.dev/edge/litert/models/post_training_integer_quant.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from tfnn.data import load_arrays, split_arrays

CALIBRATION_EXAMPLES = 500
CALIBRATION_BATCH = 50
VALIDATION_SIZE = 5000  # tfnn train's default hold-out
SPLIT_SEED = 0  # tfnn train's default split seed


def training_images(dataset: str = "mnist", manual_dir=None, data_dir=None,
                    validation_size: int = VALIDATION_SIZE,
                    split_seed: int = SPLIT_SEED) -> np.ndarray:
    """The training part of the split, raw pixels 0..255, uint8
    ``(N, 28, 28)`` (the validation images held out)."""
    train = load_arrays(dataset, "train", manual_dir, data_dir)
    test = load_arrays(dataset, "test", manual_dir, data_dir)
    splits = split_arrays(train, test, dataset, preprocessing="raw",
                          validation_size=validation_size, seed=split_seed)
    return splits.x_train.astype(np.uint8)


def calibration_set(dataset: str = "mnist", n: int = CALIBRATION_EXAMPLES,
                    seed: int = 0, manual_dir=None, data_dir=None
                    ) -> tuple[np.ndarray, dict[str, Any]]:
    """``n`` training images for int8 calibration, and their record.

    Returns:
        ``(images, record)``: float32 ``(n, 28, 28)`` raw pixels and the
        ``metadata.json`` entry (``split``, ``validation_size``,
        ``split_seed``, ``seed``, ``examples``, ``images_sha256``).
    """
    train = training_images(dataset, manual_dir, data_dir)
    picked = np.sort(np.random.default_rng(seed).choice(
        len(train), n, replace=False))
    images = train[picked]  # (n, 28, 28) uint8
    record = {
        "split": "train",
        "validation_size": VALIDATION_SIZE,
        "split_seed": SPLIT_SEED,
        "seed": seed,
        "examples": int(n),
        "images_sha256": hashlib.sha256(images.tobytes()).hexdigest(),
    }
    return images.astype(np.float32), record


def representative_dataset(images, batch_size: int = CALIBRATION_BATCH):
    """The converter's ``representative_dataset``: a function returning a
    generator of ``[batch]`` lists over ``images`` (and nothing else)."""

    def batches():
        for start in range(0, len(images), batch_size):
            yield [np.asarray(images[start:start + batch_size], np.float32)]

    return batches
