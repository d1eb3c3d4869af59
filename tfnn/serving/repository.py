"""The SavedModel versions of one model, loaded and kept as TF Serving does.

One model's base folder in TF Serving's layout
(``<base>/<version>/saved_model.pb``, ``tfnn.shipping.versions``) is served
under a name. The newest version is loaded at start. The folder is polled
(at most every ``poll_interval`` seconds, on requests) and a newer version
dropped into it is loaded and served from then on; a version that fails to
load (a damaged file: ``tfnn.shipping.integrity`` names it) is reported in
the status (``END``, ``UNKNOWN`` and the error, its paths relative to the
base folder) and retried after ``RETRY_INTERVAL`` seconds, while the other
versions keep serving. Explicit older versions are loaded on demand; at most
``MAX_LOADED_VERSIONS`` stay in memory.

A loaded version (:class:`Servable`) is read with ``tf.saved_model.load``
only: no tfnn model or training code, so a server starts fast and no
change to the trainer can break it.

Reference: TensorFlow Serving's ``FileSystemStoragePathSource`` (polling,
``--file_system_poll_wait_seconds``, default 1 s) and ``ServableState``
(the status's states), https://www.tensorflow.org/tfx/serving/api_rest.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2

from tfnn.serving.protocol import (
    DEFAULT_POLL_INTERVAL,
    Signature,
    TensorInfo,
    bad_request,
    servable_not_found,
)
from tfnn.shipping.integrity import load_savedmodel, one_line
from tfnn.shipping.versions import (
    METADATA_FILE,
    SAVED_MODEL_FILE,
    SavedModelError,
    list_versions,
    read_metadata,
)

logger = logging.getLogger(__name__)

RETRY_INTERVAL = 10.0  # seconds before a failed version is loaded again
MAX_LOADED_VERSIONS = 3  # the newest plus recently requested older ones


# --------------------------------------------------------------------------
# One loaded version
# --------------------------------------------------------------------------


@dataclass
class Servable:
    """A loaded version: its signatures and TF Serving's signature_def."""

    version: int
    path: str
    signatures: dict[str, Signature]
    signature_def: dict[str, Any]  # JSON of the SavedModel's SignatureDefs
    loaded: Any = None  # keeps the restored object (and variables) alive


def _signature_defs(path: str) -> dict[str, Any]:
    """The SignatureDef map of ``saved_model.pb`` as TF Serving prints it."""
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, SAVED_MODEL_FILE), "rb") as fh:
        proto.ParseFromString(fh.read())
    defs = proto.meta_graphs[0].signature_def
    result = {}
    for key, sig in defs.items():
        try:
            d = json_format.MessageToDict(
                sig, preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
            )
        except TypeError:  # protobuf < 5.26
            d = json_format.MessageToDict(
                sig, preserving_proto_field_name=True,
                including_default_value_fields=True,
            )
        result[key] = d
    return result


def _tensor_info(name: str, spec) -> TensorInfo:
    """A signature input's or output's dtype and static shape."""
    dtype = tf.dtypes.as_dtype(spec.dtype)
    shape = None if spec.shape.rank is None else spec.shape.as_list()
    return TensorInfo(
        name=name,
        dtype=np.dtype(dtype.as_numpy_dtype),
        dtype_name=types_pb2.DataType.Name(dtype.as_datatype_enum),
        shape=shape,
    )


def _example_sizes(meta: dict[str, Any], key: str, inputs) -> dict[str, Any]:
    """Values per example of each input: the static shape, else what the
    exporter recorded in metadata.json (for inputs of unknown rank)."""
    recorded = (meta.get("signatures", {}).get(key, {}).get("inputs", {}))
    sizes = {}
    for name, info in inputs.items():
        size = info.example_size()
        if size is None and isinstance(recorded.get(name), dict):
            size = recorded[name].get("example_size")
        sizes[name] = int(size) if size else None
    return sizes


def load_servable(path: str, version: int) -> Servable:
    """Loads one version folder with ``tf.saved_model.load``.

    The ``metadata.json`` beside it (when readable) gives the values per
    example of inputs of unknown rank.

    Raises:
        SavedModelError: a damaged file (named).
    """
    loaded = load_savedmodel(path)
    try:
        meta = read_metadata(path)
    except (OSError, ValueError) as err:
        logger.warning("ignoring unreadable %s: %s",
                       os.path.join(path, METADATA_FILE), one_line(err))
        meta = {}
    signatures = {}
    for key, fn in loaded.signatures.items():
        _, kwargs = fn.structured_input_signature
        inputs = {n: _tensor_info(n, s) for n, s in kwargs.items()}
        outputs = {
            n: _tensor_info(n, s)
            for n, s in sorted(fn.structured_outputs.items())
        }
        signatures[key] = Signature(
            key, fn, inputs, outputs, _example_sizes(meta, key, inputs)
        )
    return Servable(version, path, signatures, _signature_defs(path), loaded)


def _tf_message(message: str) -> str:
    """The informative line of a TF runtime error (no node/stack noise)."""
    lines = [ln.strip() for ln in str(message).splitlines()]
    useful = [ln for ln in lines if ln and not ln.startswith(
        ("[[", "Graph execution error", "Detected at node", "<stack"))]
    text = useful[-1] if useful else "invalid argument"
    return text.replace("\\'", "'")


def run_signature(sig: Signature, arrays: dict[str, np.ndarray]):
    """Calls the signature on validated arrays; returns its outputs.

    A shape the graph rejects (TF's ``InvalidArgumentError``, e.g. the
    export's "784 values" check) is answered 400 with TF's message.
    """
    try:
        out = sig.fn(**{n: tf.constant(a) for n, a in arrays.items()})
    except tf.errors.InvalidArgumentError as err:
        raise bad_request(_tf_message(err.message)) from None
    return {n: out[n].numpy() for n in sig.outputs}


# --------------------------------------------------------------------------
# The model folder
# --------------------------------------------------------------------------


class ModelRepository:
    """The versions of one model in a base folder, loaded as needed.

    Args:
        base_dir: the model's base folder (``saved_models/mnist``).
        name: the name clients use. Defaults to the folder's name.
        poll_interval: least seconds between two scans of the folder.
            Defaults to 1.0; 0 scans on every request.
        max_loaded: versions kept in memory. Defaults to 3.
    """

    def __init__(self, base_dir, name=None, poll_interval=DEFAULT_POLL_INTERVAL,
                 max_loaded=MAX_LOADED_VERSIONS):
        self.base_dir = os.path.abspath(os.fspath(base_dir))
        self.name = name or os.path.basename(self.base_dir.rstrip(os.sep))
        if poll_interval < 0:
            raise ValueError(
                f"poll_interval must be >= 0. Received: {poll_interval}"
            )
        self.poll_interval = float(poll_interval)
        self.max_loaded = max(1, int(max_loaded))
        self._lock = threading.Lock()  # guards the fields below
        self._load_lock = threading.Lock()  # one load at a time
        self._loaded: collections.OrderedDict[int, Servable] = (
            collections.OrderedDict()
        )
        self._scan_error: str | None = None  # why the last scan failed
        self._failed: dict[int, tuple] = {}  # version -> (message, time)
        self._on_disk: list[int] = []
        self._latest: int | None = None  # newest loaded version
        self._last_poll = -math.inf
        self.poll(force=True, wait=True)
        if self._latest is None:
            logger.warning("no loadable version of %s in %s yet (expected "
                           "<version>/saved_model.pb); waiting for one",
                           self.name, self.base_dir)

    # -- scanning ---------------------------------------------------------

    def poll(self, force=False, wait=False) -> None:
        """Scans the folder; loads a newer version when there is one.

        With ``wait=False`` a request that finds another thread loading
        goes on with the version already loaded.
        """
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_poll < self.poll_interval:
                return
            self._last_poll = now
        try:
            on_disk = list_versions(self.base_dir)
        except OSError as err:  # permissions …: keep serving what is loaded
            message = self.relative(one_line(err))
            if message != self._scan_error:
                logger.warning("cannot list %s: %s", self.base_dir, message)
            self._scan_error = message
            return
        self._scan_error = None
        with self._lock:
            self._on_disk = on_disk
            for v in [v for v in self._loaded if v not in on_disk]:
                del self._loaded[v]  # removed from disk: stop serving it
            if self._latest not in on_disk:
                self._latest = max(self._loaded, default=None)
        candidates = [v for v in on_disk if v > (self._latest or 0)
                      and not self._recently_failed(v, now)]
        if not candidates:
            return
        if not self._load_lock.acquire(blocking=wait):
            return
        try:
            for version in reversed(candidates):  # newest that loads
                if self._load(version) is not None:
                    with self._lock:
                        if version > (self._latest or 0):
                            self._latest = version
                    break
        finally:
            self._load_lock.release()

    def _recently_failed(self, version, now) -> bool:
        failed = self._failed.get(version)
        return failed is not None and now - failed[1] < RETRY_INTERVAL

    def relative(self, message: str) -> str:
        """``message`` with the base folder's paths made relative to it
        (clients see ``3/saved_model.pb``, not where the server keeps it)."""
        for root in {self.base_dir, os.path.realpath(self.base_dir)}:
            message = message.replace(root + os.sep, "").replace(root, ".")
        return message

    def _load(self, version: int) -> Servable | None:
        with self._lock:
            if version in self._loaded:
                return self._loaded[version]
        path = os.path.join(self.base_dir, str(version))
        start = time.perf_counter()
        try:
            servable = load_servable(path, version)
        except Exception as err:  # noqa: BLE001 - reported in the status
            message = one_line(err)
            if not isinstance(err, SavedModelError):
                message = f"{type(err).__name__}: {message}"
            logger.error("could not load %s version %d: %s", self.name,
                         version, message)
            with self._lock:
                self._failed[version] = (self.relative(message),
                                         time.monotonic())
            return None
        logger.info("loaded %s version %d from %s (%.2f s)", self.name,
                    version, path, time.perf_counter() - start)
        with self._lock:
            self._failed.pop(version, None)
            self._loaded[version] = servable
            while len(self._loaded) > self.max_loaded:
                oldest = next(v for v in self._loaded if v != self._latest
                              and v != version)
                del self._loaded[oldest]
        return servable

    # -- lookup -----------------------------------------------------------

    def get(self, version: int | None = None) -> Servable:
        """The newest version, or a given one (loaded on demand).

        Raises:
            ServingError: 404 when there is no such version.
        """
        self.poll()
        with self._lock:
            if version is None:
                if self._latest is not None:
                    return self._loaded[self._latest]
                raise servable_not_found(self.name)
            if version in self._loaded:
                self._loaded.move_to_end(version)
                return self._loaded[version]
            on_disk = (version in self._on_disk and not
                       self._recently_failed(version, time.monotonic()))
        if on_disk:
            with self._load_lock:
                servable = self._load(version)
            if servable is not None:
                return servable
        raise servable_not_found(self.name, version)

    def cached(self, version: int | None = None) -> Servable | None:
        """The version ``get`` would answer when that needs no scan of the
        folder and no load (no poll due, the version in memory); None
        otherwise. Cheap enough for the event loop, which then skips the
        thread ``get`` runs in."""
        if time.monotonic() - self._last_poll < self.poll_interval:
            with self._lock:
                key = self._latest if version is None else version
                if key in self._loaded:
                    if version is not None:
                        self._loaded.move_to_end(version)
                    return self._loaded[key]
        return None

    def status(self, version: int | None = None) -> list[dict[str, Any]]:
        """TF Serving's ``model_version_status`` entries."""
        self.poll()
        with self._lock:
            versions = set(self._on_disk) | set(self._loaded)
            rows = []
            for v in sorted(versions, reverse=True):
                if version is not None and v != version:
                    continue
                if v in self._failed and v not in self._loaded:
                    state, code, message = "END", "UNKNOWN", self._failed[v][0]
                elif v in self._loaded or v <= (self._latest or 0):
                    state, code, message = "AVAILABLE", "OK", ""
                else:
                    state, code, message = "LOADING", "OK", ""
                rows.append({
                    "version": str(v),
                    "state": state,
                    "status": {"error_code": code, "error_message": message},
                })
        if not rows:
            raise servable_not_found(self.name, version)
        return rows
