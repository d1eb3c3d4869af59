"""A format scores what it records: its runtime on the real test set.

Each format file is run by its own runtime (``runners``) on the N test
images and compared with the SavedModel's classes ``c_saved``::

    correct    = Σ [c_i == y_i]
    accuracy   = correct / N
    agreement  = Σ [c_i == c_saved_i] / N

``metadata.json``'s ``formats`` section records, per format, the file,
its size in bytes and SHA-256, ``accuracy``, ``correct``, ``agreement``
and ``errors`` (the indices of the test images it gets wrong). At export
the bounds of ``catalog.check_bounds`` decide; at ``verify`` the file's
SHA-256 is checked first (a tampered file is named), then it must load,
get each test image right or wrong as its ``errors`` record, and stay
inside its bounds. One allowance (:func:`unsettled`): an image whose two
best probabilities are within one int8 step (1/256) of each other may
fall either way, since another CPU's kernels (XNNPack and ONNX Runtime
pick them by instruction set) may round such a near-tie the other way;
the int8 files' outputs tie exactly on about 14 of the 10,000 images.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from tfnn.data import load_arrays
from tfnn.provenance import sha256
from tfnn.shipping.formats.catalog import (
    EXTRA_FORMATS,
    FORMATS,
    FormatError,
    check_bounds,
)
from tfnn.shipping.formats.runners import load_runner, run_batches
from tfnn.shipping.verification import verify
from tfnn.shipping.versions import read_metadata, resolve_version_dir


def format_line(rec) -> str:
    """One format's line, from its record or ``verify_formats``'s row:
    ``model.tflite: accuracy 0.9846 (9846/10000), agreement 100.00 % of
    the SavedModel's classes, 2,686,236 bytes``."""
    return (f"{rec['file']}: accuracy {rec['accuracy']:.4f} "
            f"({rec['correct']}/{rec['examples']}), agreement "
            f"{rec['agreement']:.2%} of the SavedModel's classes, "
            f"{rec['size_bytes']:,} bytes")


def file_record(path) -> dict[str, Any]:
    """``{"file", "size_bytes", "sha256"}`` of a format file."""
    return {"file": os.path.basename(path),
            "size_bytes": os.path.getsize(path),
            "sha256": sha256(os.fspath(path))}


# Two best probabilities closer than this may swap between kernels: one
# step of an int8 output quantized over [0, 1] (scale 1/256).
NEAR_TIE = 1.0 / 256


def unsettled(probabilities) -> np.ndarray:
    """Whether each row's two best probabilities are within ``NEAR_TIE``
    (bool, one per row)."""
    top2 = np.sort(np.asarray(probabilities), axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0] <= NEAR_TIE


def changed_images(errors, recorded_errors, probabilities) -> list[int]:
    """The images right where ``recorded_errors`` says wrong or wrong where
    it says right, leaving out near-ties (:func:`unsettled`)."""
    changed = np.setxor1d(np.asarray(errors, np.int64),
                          np.asarray(recorded_errors, np.int64))
    return changed[~unsettled(np.asarray(probabilities)[changed])].tolist()


def score_file(path, images, labels, saved_classes,
               batch_size: int = 1000) -> dict[str, Any]:
    """Runs a format file on ``images`` with its runtime and scores it.

    Returns:
        ``accuracy``, ``correct``, ``examples``, ``agreement`` (with
        ``saved_classes``),
        ``errors`` (indices of wrong predictions, ascending),
        ``probabilities`` (not for metadata.json) and ``seconds``.
    """
    start = time.perf_counter()
    out = run_batches(load_runner(path), images, batch_size)
    classes = out["classes"]
    wrong = np.flatnonzero(classes != labels)
    return {
        "accuracy": 1.0 - len(wrong) / len(labels),
        "correct": int(len(labels) - len(wrong)),
        "examples": int(len(labels)),
        "agreement": float(np.mean(classes == saved_classes)),
        "errors": wrong.tolist(),
        "probabilities": out["probabilities"],
        "seconds": time.perf_counter() - start,
    }


def score_formats(version_dir, formats, images, labels, saved_classes
                  ) -> dict[str, dict[str, Any]]:
    """Scores each of ``formats`` written in ``version_dir`` and checks its
    bounds against the SavedModel's ``saved_classes``.

    Returns:
        The ``formats`` section of ``metadata.json``.

    Raises:
        FormatError: a format outside its bounds (nothing is published).
    """
    saved_accuracy = float(np.mean(saved_classes == labels))
    section = {}
    for fmt in formats:
        if fmt not in EXTRA_FORMATS:
            continue
        path = os.path.join(version_dir, FORMATS[fmt])
        scored = score_file(path, images, labels, saved_classes)
        check_bounds(fmt, scored["accuracy"], scored["agreement"],
                     saved_accuracy)
        scored.pop("seconds")
        scored.pop("probabilities")
        section[fmt] = {**file_record(path), **scored}
    return section


def check_format_files(version_dir, meta) -> dict[str, str]:
    """Checks, before anything is run, that the format files of a version
    are the recorded ones.

    Returns:
        ``{format: path}`` of the recorded formats.

    Raises:
        FormatError: a file present but not recorded, a recorded one
            missing, or one whose SHA-256 is not the recorded one (named).
    """
    recorded = meta.get("formats") or {}
    paths = {}
    for fmt in EXTRA_FORMATS:
        path = os.path.join(version_dir, FORMATS[fmt])
        if fmt not in recorded:
            if os.path.exists(path):
                raise FormatError(f"{path} is not recorded in metadata.json's "
                                  "formats; export it again")
            continue
        if not os.path.isfile(path):
            raise FormatError(f"{path} is missing ({fmt} is recorded in "
                              "metadata.json); export it again")
        if sha256(path) != recorded[fmt].get("sha256"):
            raise FormatError(
                f"{path} is damaged: its SHA-256 is not the one "
                "metadata.json records; export it again")
        paths[fmt] = path
    return paths


def verify_formats(version_dir, meta, images, labels, saved_classes,
                   batch_size: int = 1000) -> list[dict[str, Any]]:
    """Checks every format of a version against its record.

    The files first (``check_format_files``), then each one must load, get
    every test image right or wrong as recorded but for near-ties
    (:func:`changed_images`), and stay inside its bounds (``FormatError``
    naming the file otherwise).

    Returns:
        Per format: ``format``, ``file``, ``size_bytes``, ``accuracy``,
        ``correct``, ``examples``, ``agreement``, ``seconds``.
    """
    recorded = meta.get("formats") or {}
    saved_accuracy = float(np.mean(saved_classes == labels))
    results = []
    for fmt, path in check_format_files(version_dir, meta).items():
        scored = score_file(path, images, labels, saved_classes, batch_size)
        changed = changed_images(scored["errors"],
                                 recorded[fmt].get("errors", []),
                                 scored["probabilities"])
        if changed:
            raise FormatError(
                f"{path} scores {scored['accuracy']:.4f} "
                f"({scored['correct']}/{len(labels)}) but metadata.json "
                f"records {recorded[fmt].get('accuracy')!r} (test images "
                f"{changed[:5]} differ from its recorded errors)")
        check_bounds(fmt, scored["accuracy"], scored["agreement"],
                     saved_accuracy)
        results.append({"format": fmt, "file": FORMATS[fmt],
                        "size_bytes": os.path.getsize(path),
                        **{k: scored[k] for k in
                           ("accuracy", "correct", "examples", "agreement",
                            "seconds")}})
    return results


def verify_version(path, manual_dir=None, data_dir=None
                   ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``tfnn verify``: the format files' checksums, the SavedModel
    (``tfnn.shipping.verify``), then every format by its runtime.

    Returns:
        ``(verify's result, verify_formats's rows)``.
    """
    version_dir = resolve_version_dir(path)
    meta = read_metadata(version_dir)
    check_format_files(version_dir, meta)
    result = verify(version_dir, manual_dir, data_dir=data_dir)
    images, labels = load_arrays(result["dataset"], "test", manual_dir,
                                 data_dir)
    rows = verify_formats(version_dir, meta, images.astype(np.float32),
                          labels, result["classes"])
    return result, rows
