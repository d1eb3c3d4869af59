"""What an exported version says about itself: signatures and metadata.json.

Two signatures take the images as the world sends them, raw pixel values in
0..255, shaped ``[batch, 28, 28]`` or ``[batch, 784]`` (any shape whose
per-example size is 784), under the input name ``images``::

    serving_default   float32 images
    serving_uint8     uint8 images

and return::

    probabilities   float32 [batch, 10]   softmax(z)
    classes         int64   [batch]       argmax(z)

where ``z`` is what the model outputs (:func:`output_kind`): logits, or note
000's sigmoid scores (trained as logits); a ``softmax`` model's output
already is ``probabilities``.

``metadata.json`` (format ``METADATA_FORMAT``, beside ``saved_model.pb``;
TF Serving skips it) records what made the model and what it scores: the
model and training configs, the preprocessor's statistics, the signatures,
library versions, the command, the test set's checksums and the measured
test accuracy. ``verify`` checks a version against it.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from typing import Any

import keras
import numpy as np

from tfnn.atomic_json import write_json
from tfnn.data import OFFICIAL_FILES, check_official_file, resolve_manual_dir
from tfnn.provenance import command_line, versions
from tfnn.shipping.versions import METADATA_FILE

INPUT_NAME = "images"
OUTPUT_NAMES = ("probabilities", "classes")
SIGNATURES = {  # signature key -> input dtype
    "serving_default": "float32",
    "serving_uint8": "uint8",
}
METADATA_FORMAT = "tfnn-savedmodel/1"


# --------------------------------------------------------------------------
# The model's side of the signatures
# --------------------------------------------------------------------------


def example_shape_of(model) -> tuple:
    """The model's per-example input shape, e.g. ``(28, 28)``.

    Raises:
        ValueError: the shape is not fully defined (the signatures reshape
            every request to it).
    """
    shape = tuple(model.input_shape[1:])
    if not shape or any(d is None for d in shape):
        raise ValueError(
            "The model needs a fully defined input shape to export. "
            f"Received: input_shape={model.input_shape}"
        )
    return shape


def _final_activation(model) -> str:
    """"softmax", "sigmoid" or "logits", read off the model's last layer."""
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

    Raises:
        ValueError: the config and the model's last layer disagree.
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


def signature_info(example_shape=(28, 28), num_classes=10) -> dict[str, Any]:
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


def data_checksums(manual_dir=None, dataset: str = "mnist"
                   ) -> dict[str, dict[str, str]] | None:
    """SHA-256 of the four official files in the manual folder, when known
    (each checked before it is decompressed: ``check_official_file``).

    Returns:
        ``{file: {"sha256": of the .gz, "idx_sha256": of its content}}``,
        or None when no folder with the four files is known.

    Raises:
        CorruptDataError: a damaged file (named).
    """
    folder = resolve_manual_dir(manual_dir)
    if folder is None:
        return None
    paths = {f: os.path.join(folder, f) for f in OFFICIAL_FILES}
    if not all(os.path.isfile(p) for p in paths.values()):
        return None
    return {f: check_official_file(dataset, p) for f, p in paths.items()}


def arrays_sha256(images, labels) -> str:
    """SHA-256 of the test arrays as scored: the bytes of the uint8 images,
    then of the int64 labels (``metadata.json``'s ``test_set_sha256``)."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------
# metadata.json
# --------------------------------------------------------------------------


def export_record(model, preprocessor, name: str, version: int, kind: str,
                  model_config: dict[str, Any] | None,
                  dataset: str | None,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``metadata.json`` of a new version, before it is scored.

    Args:
        model: the exported Keras model.
        preprocessor: its ``tfnn.data.Preprocessor``.
        name: the model's name (its base folder's name).
        version: the version number.
        kind: :func:`output_kind` of the model.
        model_config: the ``ModelConfig`` as a dict, or None.
        dataset: the dataset it is scored on, or None.
        extra: entries that override the defaults (``train_config``,
            ``command``, a claimed ``test_accuracy`` …); ``model_config``
            always stays the given one. Defaults to None.

    Returns:
        The record; ``test_accuracy`` and ``data_checksums`` are None unless
        ``extra`` gives them (scoring fills them in).
    """
    record = {
        "format": METADATA_FORMAT,
        "name": name,
        "version": int(version),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model_config": model_config,
        "output": kind,
        "preprocessor": preprocessor.to_dict(),
        "input_name": INPUT_NAME,
        "signatures": signature_info(example_shape_of(model),
                                     int(model.output_shape[-1])),
        "versions": versions(),
        "command": command_line(),
        "dataset": dataset,
        "data_checksums": None,
        "test_accuracy": None,
    }
    record.update(extra or {})
    record["model_config"] = model_config
    return record


def write_metadata(version_dir, record: dict[str, Any]) -> None:
    """Writes ``record`` as the version's ``metadata.json`` (atomically)."""
    write_json(os.path.join(os.fspath(version_dir), METADATA_FILE), record)
