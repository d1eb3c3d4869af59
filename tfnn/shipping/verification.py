"""Verification by accuracy: a SavedModel must score what it claims.

``verify`` first checks that every file of the version is intact
(``tfnn.shipping.integrity``: a damaged file is named in one line), then
loads it with ``tf.saved_model.load`` only (no tfnn code, no custom objects,
as TF Serving would) and scores the real test set:

    correct = Σ [argmax z_i == y_i]  over the N test images
    correct == round(test_accuracy · N)   (metadata.json's test_accuracy)

and, when the in-memory model is given, every prediction must agree with
it. Both signatures are scored and must agree with each other. Every
comparison is exact (classes, not probabilities within a tolerance).

Named ``verification`` (not ``verify``) so that ``tfnn.shipping.verify`` is
the function, never this module.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfnn.batched_inference import map_batches
from tfnn.data import Preprocessor, load_arrays
from tfnn.shipping.integrity import check_savedmodel, load_savedmodel
from tfnn.shipping.metadata import (
    INPUT_NAME,
    SIGNATURES,
    arrays_sha256,
    example_shape_of,
)
from tfnn.shipping.versions import (
    METADATA_FILE,
    read_metadata,
    resolve_version_dir,
)

logger = logging.getLogger(__name__)


class VerificationError(RuntimeError):
    """A SavedModel does not score what it should."""


# --------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------


def predict_saved(signature, images, batch_size=1000):
    """Runs a loaded signature over ``images`` in batches (``map_batches``).

    Returns:
        ``(classes int64 (N,), probabilities float32 (N, 10))``.
    """
    dtype = signature.structured_input_signature[1][INPUT_NAME].dtype

    def both_outputs(batch):  # (batch, 1 + classes) float64
        out = signature(**{INPUT_NAME: tf.constant(np.asarray(batch),
                                                   dtype=dtype)})
        # One array per batch for map_batches: float64 holds the int64
        # classes (< 2**53) and every float32 probability exactly.
        return np.column_stack([out["classes"].numpy(),
                                out["probabilities"].numpy()]).astype(
                                    np.float64)

    joined = map_batches(both_outputs, images, batch_size)
    return joined[:, 0].astype(np.int64), joined[:, 1:].astype(np.float32)


# Two scores closer than this (relative to the top one, or absolutely below
# 1) are a tie: a float32 computation of the same model in another order
# (the SavedModel's graph, its fused ops) may rank them either way. The
# quick-mode models of the tests, barely trained, tie exactly.
TIE_TOLERANCE = 1e-6


def predict_in_memory(model, preprocessor, images, batch_size=1000,
                      ties=False):
    """The in-memory model's classes on raw images (``training=False``):
    ``argmax model(preprocessor(images))``, batch by batch.

    With ``ties``, also which images' two best scores tie
    (``top1 − top2 ≤ TIE_TOLERANCE · max(1, |top1|)``): ``(classes,
    tied)``."""
    shape = example_shape_of(model)

    def classes(batch):  # (batch, 2): the class and whether it is a tie
        x = preprocessor(batch).reshape((-1, *shape))  # (batch, 28, 28)
        z = keras.ops.convert_to_numpy(model(x, training=False))
        top2 = np.sort(z, axis=-1)[:, -2:]
        tied = top2[:, 1] - top2[:, 0] <= TIE_TOLERANCE * np.maximum(
            1.0, np.abs(top2[:, 1]))
        return np.column_stack([np.argmax(z, axis=-1), tied]).astype(np.int64)

    joined = map_batches(classes, images, batch_size)
    if ties:
        return joined[:, 0], joined[:, 1].astype(bool)
    return joined[:, 0]


def compare_predictions(got, expected, what, tied=None) -> int:
    """Raises ``VerificationError`` unless ``got == expected`` everywhere
    but on ``tied`` images (:func:`predict_in_memory`'s ties), where
    either class is right.

    Returns:
        How many tied images differ (logged).
    """
    differ = got != expected
    at_ties = differ & tied if tied is not None else np.zeros_like(differ)
    wrong = np.flatnonzero(differ & ~at_ties)
    if wrong.size:
        raise VerificationError(
            f"{what}: {wrong.size} of {len(expected)} predictions differ "
            f"(first at test images {wrong[:10].tolist()})"
        )
    if at_ties.any():
        logger.info("%s: %d predictions differ, each on a tie of the "
                    "in-memory model's two best scores (images %s)", what,
                    int(at_ties.sum()), np.flatnonzero(at_ties)[:10].tolist())
    return int(at_ties.sum())


def check_recorded_accuracy(correct, n, recorded, slack: int = 0) -> None:
    """Raises ``VerificationError`` unless ``correct`` of ``n`` is the
    recorded accuracy: ``|correct − round(recorded · n)| ≤ slack`` (the
    tied predictions that differ, else 0) and, exactly, ``|correct / n −
    recorded| <= 0.5 / n``."""
    if recorded is None:
        raise VerificationError(
            "metadata.json records no test_accuracy to verify against"
        )
    recorded_correct = int(round(float(recorded) * n))
    if abs(correct - recorded_correct) > slack or (
            not slack and abs(correct / n - recorded) > 0.5 / n):
        raise VerificationError(
            f"accuracy mismatch: the SavedModel scores {correct / n:.4f} "
            f"({correct}/{n}) but {recorded!r} ({recorded_correct}/{n}) is "
            "recorded"
        )


# --------------------------------------------------------------------------
# verify and its steps
# --------------------------------------------------------------------------


def _recorded_metadata(version_dir) -> dict[str, Any]:
    """The version's metadata, which must record a test accuracy."""
    meta = read_metadata(version_dir)
    if not meta:
        raise VerificationError(f"{version_dir} has no {METADATA_FILE}")
    if meta.get("test_accuracy") is None:
        raise VerificationError(
            f"{version_dir}/{METADATA_FILE} records no test_accuracy to "
            "verify against"
        )
    return meta


def _check_test_set(meta, images, labels, dataset, version_dir) -> bool:
    """Whether a recorded ``test_set_sha256`` was checked (raises when it
    differs from the arrays about to be scored)."""
    recorded_sha = meta.get("test_set_sha256")
    if recorded_sha is None:
        return False
    if recorded_sha != arrays_sha256(images, labels):
        raise VerificationError(
            f"the {dataset} test set differs from the one "
            f"{version_dir} was measured on (test_set_sha256)"
        )
    return True


def _saved_classes(version_dir, images, batch_size) -> np.ndarray:
    """Classes of ``serving_default`` (fed float32) after checking that
    ``serving_uint8`` predicts the same on every image."""
    loaded = load_savedmodel(version_dir)
    missing = [k for k in SIGNATURES if k not in loaded.signatures]
    if missing:
        raise VerificationError(f"{version_dir} lacks signatures {missing}")
    classes, _ = predict_saved(loaded.signatures["serving_default"],
                               images.astype(np.float32), batch_size)
    classes_u8, _ = predict_saved(loaded.signatures["serving_uint8"], images,
                                  batch_size)
    compare_predictions(classes_u8, classes,
                        "serving_uint8 and serving_default")
    return classes


def verify(
    path,
    manual_dir=None,
    *,
    model=None,
    preprocessor=None,
    data_dir=None,
    batch_size: int = 1000,
) -> dict[str, Any]:
    """Scores a SavedModel on the real test set and checks it.

    Loads with ``tf.saved_model.load`` only (no tfnn code in the model),
    feeds the raw uint8 test images through ``serving_default`` (as float32)
    and ``serving_uint8``, and checks:

    - both signatures predict the same classes;
    - correct predictions == ``metadata.json``'s ``test_accuracy`` · N;
    - the test set is the one the metadata was measured on (when recorded);
    - with ``model`` (and ``preprocessor``): the same class on every image.

    Args:
        path: a version folder, or a model base folder (highest version).
        manual_dir: folder of the official files. Defaults to
            ``$TFNN_MANUAL_DIR``.
        model: the in-memory Keras model. Optional.
        preprocessor: its ``Preprocessor``. Defaults to the metadata's.
        data_dir: tfds's data folder.
        batch_size: images per call. Defaults to 1000.

    Returns:
        A dict: ``path``, ``dataset``, ``n``, ``correct``, ``accuracy``,
        ``recorded_accuracy``, ``classes`` (``serving_default``'s, int64
        (N,)), ``checked`` (what was compared), ``seconds``.

    Raises:
        VerificationError: any check fails; the message says which.
        SavedModelError: a file of the version is damaged (a
            ``ValueError``, one line naming it).
    """
    start = time.perf_counter()
    version_dir = resolve_version_dir(path)
    check_savedmodel(version_dir)
    meta = _recorded_metadata(version_dir)
    dataset = meta.get("dataset") or "mnist"
    images, labels = load_arrays(dataset, "test", manual_dir, data_dir)
    n = len(labels)
    checked = []
    if _check_test_set(meta, images, labels, dataset, version_dir):
        checked.append("test set checksum")
    classes = _saved_classes(version_dir, images, batch_size)
    checked.append("serving_uint8 == serving_default")
    correct = int(np.sum(classes == labels))
    recorded = meta.get("test_accuracy")
    check_recorded_accuracy(correct, n, recorded)
    checked.append("recorded accuracy")
    if model is not None:
        if preprocessor is None:
            preprocessor = Preprocessor.from_dict(meta["preprocessor"])
        expected, tied = predict_in_memory(model, preprocessor, images,
                                           batch_size, ties=True)
        compare_predictions(classes, expected,
                            "the SavedModel and the in-memory model", tied)
        checked.append("in-memory model predictions")
    return {
        "path": version_dir,
        "dataset": dataset,
        "n": n,
        "correct": correct,
        "accuracy": correct / n,
        "recorded_accuracy": recorded,
        "classes": classes,
        "checked": checked,
        "seconds": time.perf_counter() - start,
    }
