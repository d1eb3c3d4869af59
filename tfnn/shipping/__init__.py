"""Shipping a trained model: SavedModel export for TensorFlow Serving.

Layout (TensorFlow Serving's)::

    saved_models/<name>/<version>/saved_model.pb
                                 /variables/
                                 /metadata.json  (tfnn's; TF Serving skips it)

Two signatures take the images as the world sends them, raw pixel values in
0..255, shaped ``[batch, 28, 28]`` or ``[batch, 784]`` (any shape whose
per-example size is 784), under the input name ``images``:

    serving_default   float32 images
    serving_uint8     uint8 images

Both do the model's own preprocessing in the graph (the training set's mean
and std travel with the model), call the model with ``training=False`` (BN
uses its moving statistics, dropout is off) and return::

    probabilities   float32 [batch, 10]   softmax(z)
    classes         int64   [batch]       argmax(z)

where ``z`` is what the model outputs: logits, or note 000's sigmoid scores
(trained as logits); a ``softmax`` model's output already is ``probabilities``.

The export is atomic: everything is written into a hidden temporary folder
inside the model's base folder (TF Serving ignores names that are not
numbers) and renamed to ``<version>/`` at the end; on any error the temporary
folder is removed, so a server never sees half a version.

Verification by accuracy (``verify``) loads the SavedModel with
``tf.saved_model.load`` only (no tfnn code, no custom objects) and scores the
real test set: the number of correct predictions must equal the recorded one
and, when the in-memory model is given, every prediction must agree.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import os
import platform
import shutil
import tempfile
import time
from typing import Any, Dict, Optional

import numpy as np

from tfnn.provenance import command_line, sha256, versions

logger = logging.getLogger(__name__)

INPUT_NAME = "images"
OUTPUT_NAMES = ("probabilities", "classes")
SIGNATURES = {  # signature key -> input dtype
    "serving_default": "float32",
    "serving_uint8": "uint8",
}
METADATA_FILE = "metadata.json"
METADATA_FORMAT = "tfnn-savedmodel/1"
TMP_PREFIX = ".tmp-export-"  # not a number: TF Serving skips it


class ExportError(RuntimeError):
    """The export could not be written, or it failed its own check."""


class VerificationError(RuntimeError):
    """A SavedModel does not score what it should."""


# --------------------------------------------------------------------------
# Versions and paths
# --------------------------------------------------------------------------


def list_versions(base_dir) -> list[int]:
    """Version numbers under a model base folder, ascending.

    A version is a folder named by a positive integer holding a
    ``saved_model.pb`` (TF Serving's rule; temporary folders don't count).
    """
    try:
        entries = list(os.scandir(base_dir))
    except FileNotFoundError:
        return []
    versions = []
    for entry in entries:
        if entry.name.isdigit() and entry.is_dir() and int(entry.name) > 0:
            if os.path.isfile(os.path.join(entry.path, "saved_model.pb")):
                versions.append(int(entry.name))
    return sorted(versions)


def resolve_version_dir(path) -> str:
    """``path`` itself when it holds a SavedModel, else its highest version.

    Raises:
        FileNotFoundError: neither a SavedModel nor a model base folder.
    """
    path = os.fspath(path)
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    versions = list_versions(path)
    if not versions:
        raise FileNotFoundError(
            f"{path} holds no SavedModel (saved_model.pb) and no version "
            "folders (1/, 2/ … with a saved_model.pb)"
        )
    return os.path.join(path, str(versions[-1]))


def read_metadata(version_dir) -> Dict[str, Any]:
    """The ``metadata.json`` of a version folder ({} when there is none)."""
    path = os.path.join(os.fspath(version_dir), METADATA_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path) as fh:
        return json.load(fh)


# --------------------------------------------------------------------------
# What the model outputs
# --------------------------------------------------------------------------


def _final_activation(model) -> str:
    """"softmax", "sigmoid" or "logits", read off the model's last layer."""
    import keras

    layer = model.layers[-1] if getattr(model, "layers", None) else None
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", str(act or "")).lower()
    if name in ("softmax", "sigmoid"):
        return name
    return "logits"


def output_kind(model, model_config=None) -> str:
    """How to turn the model's output ``z`` into probabilities.

    Args:
        model: the Keras model.
        model_config: a ``ModelConfig`` or its dict. Optional; its
            ``output`` field must agree with the model's last layer.

    Returns:
        "logits" (probabilities = softmax(z)), "sigmoid" (note 000's sigmoid
        scores, trained as logits: softmax(z)) or "softmax" (z already is).
    """
    detected = _final_activation(model)
    if model_config is None:
        return detected
    declared = (model_config.get("output") if isinstance(model_config, dict)
                else getattr(model_config, "output", None)) or "logits"
    if declared != detected:
        raise ValueError(
            f"The model config says output={declared!r} but the model's last "
            f"layer gives {detected!r}"
        )
    return declared


# --------------------------------------------------------------------------
# The serving functions
# --------------------------------------------------------------------------


def _example_shape(model) -> tuple:
    shape = tuple(model.input_shape[1:])
    if not shape or any(d is None for d in shape):
        raise ValueError(
            "The model needs a fully defined input shape to export. "
            f"Received: input_shape={model.input_shape}"
        )
    return shape


def _serving_fn(model, preprocessor, example_shape, kind):
    """``images`` (any shape with prod(shape[1:]) pixels) → outputs dict."""
    import tensorflow as tf

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


def signature_info(example_shape=(28, 28), num_classes=10) -> Dict[str, Any]:
    """The exported signatures, as recorded in ``metadata.json``."""
    size = math.prod(example_shape)
    return {
        key: {
            "inputs": {
                INPUT_NAME: {
                    "dtype": dtype,
                    "shape": None,  # unknown rank
                    "example_shape": list(example_shape),
                    "example_size": size,
                    "accepts": f"[batch, {', '.join(map(str, example_shape))}]"
                    f" or [batch, {size}], raw pixel values 0..255",
                }
            },
            "outputs": {
                "probabilities": {"dtype": "float32",
                                  "shape": [-1, num_classes]},
                "classes": {"dtype": "int64", "shape": [-1]},
            },
        }
        for key, dtype in SIGNATURES.items()
    }


# --------------------------------------------------------------------------
# Data identity
# --------------------------------------------------------------------------



def data_checksums(manual_dir=None) -> Optional[Dict[str, Dict[str, str]]]:
    """SHA-256 of the four official files in the manual folder, when known.

    Returns:
        ``{file: {"sha256": of the .gz, "idx_sha256": of its content}}``,
        or None when no folder with the four files is known.
    """
    from tfnn import data

    folder = data.resolve_manual_dir(manual_dir)
    if folder is None:
        return None
    paths = {f: os.path.join(folder, f) for f in data.OFFICIAL_FILES}
    if not all(os.path.isfile(p) for p in paths.values()):
        return None
    return {
        f: {"sha256": sha256(p), "idx_sha256": sha256(p, gzip.open)}
        for f, p in paths.items()
    }


def arrayssha256(images, labels) -> str:
    """SHA-256 of the test arrays as scored (uint8 images, int64 labels)."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------


def predict_saved(signature, images, batch_size=1000):
    """Runs a loaded signature over ``images`` in batches.

    Returns:
        ``(classes int64 (N,), probabilities float32 (N, 10))``.
    """
    import tensorflow as tf

    dtype = signature.structured_input_signature[1][INPUT_NAME].dtype
    classes, probabilities = [], []
    for start in range(0, len(images), batch_size):
        batch = tf.constant(np.asarray(images[start:start + batch_size]),
                            dtype=dtype)
        out = signature(**{INPUT_NAME: batch})
        classes.append(out["classes"].numpy())
        probabilities.append(out["probabilities"].numpy())
    return np.concatenate(classes), np.concatenate(probabilities)


def predict_in_memory(model, preprocessor, images, batch_size=1000):
    """The in-memory model's classes on raw images (``training=False``)."""
    import keras

    shape = _example_shape(model)
    classes = []
    for start in range(0, len(images), batch_size):
        x = preprocessor(images[start:start + batch_size])
        x = x.reshape((-1, *shape))  # (batch, 28, 28)
        z = keras.ops.convert_to_numpy(model(x, training=False))
        classes.append(np.argmax(z, axis=-1).astype(np.int64))
    return np.concatenate(classes)


def _compare_predictions(got, expected, what) -> None:
    wrong = np.flatnonzero(got != expected)
    if wrong.size:
        raise VerificationError(
            f"{what}: {wrong.size} of {len(expected)} predictions differ "
            f"(first at test images {wrong[:10].tolist()})"
        )


def _check_recorded(correct, n, recorded) -> None:
    if recorded is None:
        raise VerificationError(
            "metadata.json records no test_accuracy to verify against"
        )
    recorded_correct = int(round(float(recorded) * n))
    if correct != recorded_correct or abs(correct / n - recorded) > 0.5 / n:
        raise VerificationError(
            f"accuracy mismatch: the SavedModel scores {correct / n:.4f} "
            f"({correct}/{n}) but {recorded!r} ({recorded_correct}/{n}) is "
            "recorded"
        )


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------



def _write_savedmodel(model, preprocessor, path, kind) -> None:
    import tensorflow as tf

    shape = _example_shape(model)
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


def export_savedmodel(
    model,
    preprocessor,
    base_dir,
    name: Optional[str] = None,
    version: Optional[int] = None,
    metadata: Optional[Dict[str, Any]] = None,
    *,
    model_config=None,
    dataset: Optional[str] = None,
    manual_dir=None,
    data_dir=None,
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

    Returns:
        The version folder's path.

    Raises:
        ExportError: the version exists, or the export disagrees with the
            in-memory model or the claimed accuracy. Nothing is published.
    """
    meta = dict(metadata or {})
    if model_config is None:
        model_config = meta.get("model_config")
    if model_config is not None and not isinstance(model_config, dict):
        model_config = model_config.to_dict()
    kind = output_kind(model, model_config)
    base = os.path.abspath(os.fspath(base_dir))
    if name is not None:
        base = os.path.join(base, name)
    if version is not None and (isinstance(version, bool)
                                or int(version) != version or version < 1):
        raise ValueError(
            f"version must be a positive integer. Received: version={version}"
        )
    os.makedirs(base, exist_ok=True)
    if version is None:
        version = max(list_versions(base), default=0) + 1
    final = os.path.join(base, str(int(version)))
    if os.path.exists(final):
        raise ExportError(f"{final} already exists; versions are immutable")

    shape = _example_shape(model)
    tmp = tempfile.mkdtemp(prefix=TMP_PREFIX, dir=base)
    try:
        start = time.perf_counter()
        _write_savedmodel(model, preprocessor, tmp, kind)
        record = {
            "format": METADATA_FORMAT,
            "name": os.path.basename(base),
            "version": int(version),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "model_config": model_config,
            "output": kind,
            "preprocessor": preprocessor.to_dict(),
            "input_name": INPUT_NAME,
            "signatures": signature_info(shape, int(model.output_shape[-1])),
            "versions": versions(),
            "command": command_line(),
            "dataset": dataset,
            "data_checksums": None,
            "test_accuracy": None,
        }
        record.update(meta)
        record["model_config"] = model_config
        if dataset is not None:
            record.update(_score_export(
                tmp, model, preprocessor, dataset, meta.get("test_accuracy"),
                manual_dir, data_dir,
            ))
        with open(os.path.join(tmp, METADATA_FILE), "w") as fh:
            json.dump(record, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
        try:
            os.rename(tmp, final)
        except OSError as err:
            raise ExportError(
                f"could not publish {final} (another export?): {err}"
            ) from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("exported %s (%.1f s)", final, time.perf_counter() - start)
    return final


def _score_export(path, model, preprocessor, dataset, claimed, manual_dir,
                  data_dir) -> Dict[str, Any]:
    """Scores the written SavedModel; returns the metadata entries."""
    import tensorflow as tf

    from tfnn import data

    images, labels = data.load_arrays(dataset, "test", manual_dir, data_dir)
    loaded = tf.saved_model.load(path)
    classes, _ = predict_saved(loaded.signatures["serving_default"],
                               images.astype(np.float32))
    try:
        _compare_predictions(
            classes, predict_in_memory(model, preprocessor, images),
            "the export and the in-memory model",
        )
        correct = int(np.sum(classes == labels))
        if claimed is not None:
            _check_recorded(correct, len(labels), claimed)
    except VerificationError as err:
        raise ExportError(str(err)) from err
    logger.info("export scores %.4f (%d/%d) on %s test", correct / len(labels),
                correct, len(labels), dataset)
    return {
        "dataset": dataset,
        "test_accuracy": correct / len(labels),
        "test_correct": correct,
        "test_examples": int(len(labels)),
        "test_set_sha256": arrayssha256(images, labels),
        "data_checksums": (data_checksums(manual_dir)
                           if dataset == "mnist" else None),
    }


def export_run(
    run_dir,
    base_dir="saved_models",
    name: str = "mnist",
    version: Optional[int] = None,
    manual_dir=None,
    data_dir=None,
    command: Optional[str] = None,
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

    Returns:
        The version folder's path.
    """
    import keras

    from tfnn import models  # noqa: F401  registers custom objects
    from tfnn.config import ModelConfig
    from tfnn.data import Preprocessor

    run_dir = os.fspath(run_dir)
    with open(os.path.join(run_dir, "summary.json")) as fh:
        summary = json.load(fh)
    missing = [k for k in ("model_config", "preprocessor", "dataset")
               if k not in summary]
    if missing:
        raise ValueError(f"{run_dir}/summary.json lacks {missing}")
    config = ModelConfig.from_dict(summary["model_config"])
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"),
                                    compile=False)
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
    )


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------


def verify(
    path,
    manual_dir=None,
    *,
    model=None,
    preprocessor=None,
    data_dir=None,
    batch_size: int = 1000,
) -> Dict[str, Any]:
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
        ``recorded_accuracy``, ``checked`` (what was compared), ``seconds``.

    Raises:
        VerificationError: any check fails; the message says which.
    """
    import tensorflow as tf

    from tfnn import data

    start = time.perf_counter()
    version_dir = resolve_version_dir(path)
    meta = read_metadata(version_dir)
    if not meta:
        raise VerificationError(f"{version_dir} has no {METADATA_FILE}")
    if meta.get("test_accuracy") is None:
        raise VerificationError(
            f"{version_dir}/{METADATA_FILE} records no test_accuracy to "
            "verify against"
        )
    dataset = meta.get("dataset") or "mnist"
    images, labels = data.load_arrays(dataset, "test", manual_dir, data_dir)
    n = len(labels)
    checked = []
    recorded_sha = meta.get("test_set_sha256")
    if recorded_sha is not None:
        if recorded_sha != arrayssha256(images, labels):
            raise VerificationError(
                f"the {dataset} test set differs from the one "
                f"{version_dir} was measured on (test_set_sha256)"
            )
        checked.append("test set checksum")

    loaded = tf.saved_model.load(version_dir)
    missing = [k for k in SIGNATURES if k not in loaded.signatures]
    if missing:
        raise VerificationError(f"{version_dir} lacks signatures {missing}")
    classes, _ = predict_saved(loaded.signatures["serving_default"],
                               images.astype(np.float32), batch_size)
    classes_u8, _ = predict_saved(loaded.signatures["serving_uint8"], images,
                                  batch_size)
    _compare_predictions(classes_u8, classes,
                         "serving_uint8 and serving_default")
    checked.append("serving_uint8 == serving_default")
    correct = int(np.sum(classes == labels))
    recorded = meta.get("test_accuracy")
    _check_recorded(correct, n, recorded)
    checked.append("recorded accuracy")
    if model is not None:
        if preprocessor is None:
            from tfnn.data import Preprocessor

            preprocessor = Preprocessor.from_dict(meta["preprocessor"])
        _compare_predictions(
            classes, predict_in_memory(model, preprocessor, images,
                                       batch_size),
            "the SavedModel and the in-memory model",
        )
        checked.append("in-memory model predictions")
    return {
        "path": version_dir,
        "dataset": dataset,
        "n": n,
        "correct": correct,
        "accuracy": correct / n,
        "recorded_accuracy": recorded,
        "checked": checked,
        "seconds": time.perf_counter() - start,
    }
