"""Is a version folder intact? A damaged file, named in one line.

What ``tf.saved_model.load`` reads, file by file, and what goes wrong::

    saved_model.pb           must parse as a SavedModel protocol buffer
                             holding a MetaGraph (truncated: it does not)
    variables/variables.index  must open as the checkpoint's table (garbage:
                             "not an sstable")
    variables/variables.data-*  every tensor must read back (TensorFlow
                             checks each one's CRC32C; truncated: short read)
    metadata.json            tfnn's, when present: a JSON object

``check_savedmodel`` checks them in this order and raises
``SavedModelError`` (a ``ValueError``) naming the first damaged file;
``load_savedmodel`` loads a version and, when TensorFlow cannot, says which
file is to blame. ``tfnn verify`` checks first; the server
(``tfnn.serving.repository``) loads first and checks only when a load
fails, so an intact version costs nothing more.
"""

from __future__ import annotations

import glob
import os
import re

import tensorflow as tf
from google.protobuf.message import DecodeError
from tensorflow.core.protobuf import saved_model_pb2

from tfnn.shipping.versions import (
    SAVED_MODEL_FILE,
    SavedModelError,
    read_metadata,
)

VARIABLES_PREFIX = os.path.join("variables", "variables")
_AGAIN = "export the version again"


def one_line(err: BaseException, most: int = 300) -> str:
    """An exception's message on one line: no TF function-node prefix, no
    newlines, at most ``most`` characters."""
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", str(err))
    text = " ".join(text.split()) or type(err).__name__
    return text if len(text) <= most else text[:most] + "…"


def _check_graph(version_dir: str) -> None:
    path = os.path.join(version_dir, SAVED_MODEL_FILE)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise SavedModelError(f"{path} is missing; {_AGAIN}") from None
    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString(raw)
    except DecodeError as err:
        raise SavedModelError(
            f"{path} is damaged: not a SavedModel protocol buffer "
            f"({len(raw)} bytes, truncated or corrupted: {one_line(err)}); "
            f"{_AGAIN}") from None
    if not proto.meta_graphs:
        raise SavedModelError(
            f"{path} is damaged: it holds no MetaGraph ({len(raw)} bytes, "
            f"empty or truncated); {_AGAIN}")


def _check_variables(version_dir: str) -> None:
    prefix = os.path.join(version_dir, VARIABLES_PREFIX)
    index = prefix + ".index"
    if not os.path.isfile(index):
        return  # a SavedModel without variables; the load will tell
    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as err:  # noqa: BLE001 - OpError, IndexError …
        raise SavedModelError(
            f"{index} is damaged ({one_line(err)}); {_AGAIN}") from None
    shards = sorted(glob.glob(glob.escape(prefix) + ".data-*"))
    data = shards[0] if len(shards) == 1 else prefix + ".data-*"
    for name in sorted(reader.get_variable_to_shape_map()):
        try:
            reader.get_tensor(name)
        except Exception as err:  # noqa: BLE001 - DataLossError, IndexError
            raise SavedModelError(
                f"{data} is damaged (variable {name!r}: {one_line(err)}); "
                f"{_AGAIN}") from None


def check_savedmodel(version_dir) -> None:
    """Checks every file of a version folder (see the module docstring).

    Raises:
        SavedModelError: the first damaged or missing file, named with what
            is wrong and what to do, in one line.
    """
    version_dir = os.fspath(version_dir)
    _check_graph(version_dir)
    _check_variables(version_dir)
    read_metadata(version_dir)


def load_savedmodel(version_dir):
    """``tf.saved_model.load(version_dir)``; a failure names the file.

    Raises:
        SavedModelError: the SavedModel cannot be loaded: the damaged file
            (``check_savedmodel``), else TensorFlow's reason, in one line.
    """
    version_dir = os.fspath(version_dir)
    try:
        return tf.saved_model.load(version_dir)
    except Exception as err:  # noqa: BLE001 - diagnosed below
        check_savedmodel(version_dir)
        raise SavedModelError(
            f"{version_dir} cannot be loaded ({one_line(err)}); "
            f"{_AGAIN}") from None
