"""Writing a SavedModel for TensorFlow Serving, atomically.

The two signatures (``tfnn.shipping.metadata``) do the model's own
preprocessing in the graph (the training set's mean and std travel with
the model) and call the model with ``training=False`` (BN uses its moving
statistics, dropout is off)::

    x = preprocess(reshape(images, [-1, 28, 28]))
    z = model(x, training=False)
    probabilities = z if the model ends in softmax else softmax(z)
    classes = argmax(z)

The export is atomic: everything is written into a hidden temporary folder
inside the model's base folder (``TMP_PREFIX``; TF Serving ignores names
that are not numbers) and renamed to ``<version>/`` at the end; on any
error the temporary folder is removed, so a server never sees half a
version. A process killed mid-export (SIGKILL) cannot remove its folder:
the next export does (``remove_stale_exports``: its owner's pid is in its
name). With a dataset, the written SavedModel is reloaded and scored
before it is published (``score_export``), and so is every extra format
(LiteRT, int8, ONNX: ``tfnn.shipping.formats``), by its own runtime.

Reference: TensorFlow's "Using the SavedModel format" guide (a
``tf.Module`` with ``tf.function`` signatures of explicit input specs),
https://www.tensorflow.org/guide/saved_model.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import time
from typing import Any

import numpy as np
import tensorflow as tf

from tfnn.config import ModelConfig
from tfnn.data import Preprocessor, load_arrays
from tfnn.models import load_model
from tfnn.provenance import command_line
from tfnn.shipping.formats.build import add_formats
from tfnn.shipping.formats.catalog import EXTRA_FORMATS, parse_formats, require
from tfnn.shipping.metadata import (
    INPUT_NAME,
    SIGNATURES,
    arrays_sha256,
    data_checksums,
    example_shape_of,
    export_record,
    output_kind,
    write_metadata,
)
from tfnn.shipping.verification import (
    VerificationError,
    check_recorded_accuracy,
    compare_predictions,
    predict_in_memory,
    predict_saved,
)
from tfnn.shipping.versions import (
    export_temp_prefix,
    list_versions,
    remove_stale_exports,
    version_number,
)

logger = logging.getLogger(__name__)


class ExportError(RuntimeError):
    """The export could not be written, or it failed its own check."""


# --------------------------------------------------------------------------
# The serving functions
# --------------------------------------------------------------------------


def _serving_fn(model, preprocessor, example_shape, kind):
    """``images`` (any shape with prod(shape[1:]) pixels) → outputs dict."""
    size = math.prod(example_shape)

    def serve(images):
        shape = tf.shape(images)
        check = tf.debugging.assert_equal(
            tf.reduce_prod(shape[1:]), tf.constant(size, shape.dtype),
            message=f"each example of '{INPUT_NAME}' must have {size} values "
            f"(shape [batch, {', '.join(map(str, example_shape))}] or "
            f"[batch, {size}])",
        )
        with tf.control_dependencies([check]):
            x = tf.reshape(images, (-1, *example_shape))  # (batch, 28, 28)
        x = preprocessor.apply_tf(x)
        z = model(x, training=False)  # (batch, classes)
        z = tf.cast(z, tf.float32)
        probabilities = z if kind == "softmax" else tf.nn.softmax(z, axis=-1)
        return {
            "probabilities": probabilities,
            "classes": tf.argmax(z, axis=-1, output_type=tf.int64),
        }

    return serve


def _write_savedmodel(model, preprocessor, path, kind) -> None:
    shape = example_shape_of(model)
    # A plain tf.Module holding the model's variables once. (Keras 3's
    # ExportArchive writes every variable twice, `variables` and
    # `_all_variables`, doubling the export's size on disk.)
    module = tf.Module()
    module.weights = list(model.weights)
    signatures = {}
    for key, dtype in SIGNATURES.items():
        fn = tf.function(
            _serving_fn(model, preprocessor, shape, kind),
            input_signature=[tf.TensorSpec(None, dtype, name=INPUT_NAME)],
        )
        setattr(module, key, fn)
        signatures[key] = fn
    tf.saved_model.save(module, path, signatures=signatures)


# --------------------------------------------------------------------------
# Steps of an export
# --------------------------------------------------------------------------


def _new_version_dir(base_dir, name, version) -> str:
    """``base_dir[/name]/<version>``: the given version, else highest + 1.

    Creates the base folder. Raises ``ValueError`` for a version that is
    not a positive integer and ``ExportError`` for one that exists.
    """
    base = os.path.abspath(os.fspath(base_dir))
    if name is not None:
        base = os.path.join(base, name)
    if version is not None and (isinstance(version, bool)
                                or int(version) != version
                                or version_number(str(int(version))) is None):
        raise ValueError(
            f"version must be a positive integer. Received: version={version}"
        )
    os.makedirs(base, exist_ok=True)
    if version is None:
        version = max(list_versions(base), default=0) + 1
    final = os.path.join(base, str(int(version)))
    if os.path.exists(final):
        raise ExportError(f"{final} already exists; versions are immutable")
    return final


def _publish(tmp, final) -> None:
    """Renames the finished temporary folder to its version folder."""
    os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
    try:
        os.rename(tmp, final)
    except OSError as err:
        raise ExportError(
            f"could not publish {final} (another export?): {err}"
        ) from err


def _checked_formats(formats, dataset) -> list[str]:
    """``parse_formats(formats)``, each one's extra installed, and a
    dataset to score the formats beyond the SavedModel on."""
    formats = parse_formats(formats)
    if any(f in EXTRA_FORMATS for f in formats):
        require(formats)
        if dataset is None:
            raise ValueError("formats beyond the SavedModel are scored on a "
                             "test set: give dataset")
    return formats


def score_export(path, model, preprocessor, dataset, claimed, manual_dir,
                 data_dir) -> dict[str, Any]:
    """Scores the SavedModel written at ``path`` on ``dataset``'s test set.

    It must predict the in-memory model's class on every image and, when
    ``claimed`` is given, reproduce that accuracy.

    Returns:
        The metadata entries: ``dataset``, ``test_accuracy``,
        ``test_correct``, ``test_examples``, ``test_set_sha256``,
        ``data_checksums``.

    Raises:
        ExportError: a prediction or the claimed accuracy differs.
    """
    images, labels = load_arrays(dataset, "test", manual_dir, data_dir)
    loaded = tf.saved_model.load(path)
    classes, _ = predict_saved(loaded.signatures["serving_default"],
                               images.astype(np.float32))
    try:
        expected, tied = predict_in_memory(model, preprocessor, images,
                                           ties=True)
        at_ties = compare_predictions(
            classes, expected, "the export and the in-memory model", tied)
        correct = int(np.sum(classes == labels))
        if claimed is not None:  # measured in memory: ties may count apart
            check_recorded_accuracy(correct, len(labels), claimed, at_ties)
    except VerificationError as err:
        raise ExportError(str(err)) from err
    logger.info("export scores %.4f (%d/%d) on %s test", correct / len(labels),
                correct, len(labels), dataset)
    return {
        "dataset": dataset,
        "test_accuracy": correct / len(labels),
        "test_correct": correct,
        "test_examples": int(len(labels)),
        "test_set_sha256": arrays_sha256(images, labels),
        "data_checksums": (data_checksums(manual_dir)
                           if dataset == "mnist" else None),
    }


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------


def export_savedmodel(
    model,
    preprocessor,
    base_dir,
    name: str | None = None,
    version: int | None = None,
    metadata: dict[str, Any] | None = None,
    *,
    model_config=None,
    dataset: str | None = None,
    manual_dir=None,
    data_dir=None,
    formats=("saved_model",),
) -> str:
    """Exports ``model`` as ``base_dir[/name]/<version>/``, atomically.

    Args:
        model: a Keras model taking ``(batch, 28, 28)`` preprocessed images.
        preprocessor: the ``tfnn.data.Preprocessor`` it was trained with.
        base_dir: the model's base folder (``saved_models/mnist``), or the
            folder of all models when ``name`` is given.
        name: the model's name: exports into ``base_dir/name``. Defaults to
            None (``base_dir`` is the model's base folder).
        version: the version number. Defaults to None (highest + 1, or 1).
        metadata: extra entries for ``metadata.json`` (``train_config``,
            ``command``, ``test_accuracy`` claimed by training …). Defaults
            to None.
        model_config: the ``ModelConfig`` (or dict); must agree with the
            model's output layer. Defaults to ``metadata["model_config"]``.
        dataset: when given ("mnist"), the written SavedModel is reloaded
            with ``tf.saved_model.load`` and scored on this dataset's test
            set before it is published: it must agree with the in-memory
            model on every image, and with a claimed ``test_accuracy``; the
            measured accuracy is recorded. Defaults to None (no scoring; the
            given ``test_accuracy`` is recorded as is).
        manual_dir: folder of the official files (checksums, data).
        data_dir: tfds's data folder.
        formats: "saved_model", "tflite", "tflite_int8", "onnx" or "all"
            (``tfnn.shipping.formats``), each scored on ``dataset``'s test
            set by its own runtime. Defaults to the SavedModel alone.

    Returns:
        The version folder's path.

    Raises:
        ExportError: the version exists, or the export disagrees with the
            in-memory model or the claimed accuracy. Nothing is published.
        FormatError: a missing extra, a format outside its bounds.
    """
    formats = _checked_formats(formats, dataset)
    meta = dict(metadata or {})
    if model_config is None:
        model_config = meta.get("model_config")
    if model_config is not None and not isinstance(model_config, dict):
        model_config = model_config.to_dict()
    kind = output_kind(model, model_config)
    final = _new_version_dir(base_dir, name, version)
    base = os.path.dirname(final)
    remove_stale_exports(base)
    tmp = tempfile.mkdtemp(prefix=export_temp_prefix(), dir=base)
    try:
        start = time.perf_counter()
        _write_savedmodel(model, preprocessor, tmp, kind)
        record = export_record(model, preprocessor, os.path.basename(base),
                               int(os.path.basename(final)), kind,
                               model_config, dataset, meta)
        if dataset is not None:
            record.update(score_export(
                tmp, model, preprocessor, dataset, meta.get("test_accuracy"),
                manual_dir, data_dir,
            ))
            section = add_formats(tmp, formats, dataset, manual_dir, data_dir)
            record.update({"formats": section} if section else {})
        write_metadata(tmp, record)
        _publish(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("exported %s (%.1f s)", final, time.perf_counter() - start)
    return final


def export_run(
    run_dir,
    base_dir="saved_models",
    name: str = "mnist",
    version: int | None = None,
    manual_dir=None,
    data_dir=None,
    command: str | None = None,
    formats=("saved_model",),
) -> str:
    """Exports a training run (``model.keras`` + ``summary.json``).

    The SavedModel is scored on the run's test set before it is published
    and must reproduce the run's ``test_accuracy``.

    Args:
        run_dir: the folder ``tfnn train --out`` wrote.
        base_dir: the folder of all models. Defaults to "saved_models".
        name: the model's name. Defaults to "mnist".
        version: see ``export_savedmodel``.
        manual_dir: see ``export_savedmodel``.
        data_dir: see ``export_savedmodel``.
        command: the export command to record. Defaults to ``sys.argv``.
        formats: see ``export_savedmodel``.

    Returns:
        The version folder's path.
    """
    run_dir = os.fspath(run_dir)
    with open(os.path.join(run_dir, "summary.json")) as fh:
        summary = json.load(fh)
    missing = [k for k in ("model_config", "preprocessor", "dataset")
               if k not in summary]
    if missing:
        raise ValueError(f"{run_dir}/summary.json lacks {missing}")
    config = ModelConfig.from_dict(summary["model_config"])
    model = load_model(os.path.join(run_dir, "model.keras"), compile=False)
    metadata = {
        "train_config": summary.get("train_config"),
        "train_command": summary.get("command"),
        "run_dir": os.path.abspath(run_dir),
        "command": command or command_line(),
    }
    if summary.get("test_accuracy") is not None:
        metadata["test_accuracy"] = float(summary["test_accuracy"])
    return export_savedmodel(
        model,
        Preprocessor.from_dict(summary["preprocessor"]),
        base_dir,
        name=name,
        version=version,
        metadata=metadata,
        model_config=config,
        dataset=summary["dataset"],
        manual_dir=manual_dir,
        data_dir=data_dir,
        formats=formats,
    )
