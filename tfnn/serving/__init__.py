"""Serving SavedModels over TensorFlow Serving's REST API (FastAPI + uvicorn).

This module needs TensorFlow, NumPy and FastAPI only: no tfnn model or
training code, so a server starts fast and no change to the trainer can
break it. It serves one model's base folder in TF Serving's layout
(``<base>/<version>/saved_model.pb``) under a name:

    GET  /v1/models/{name}                        version status
    GET  /v1/models/{name}/versions/{v}
    GET  /v1/models/{name}/metadata               signature_def
    GET  /v1/models/{name}/versions/{v}/metadata
    POST /v1/models/{name}:predict                newest version
    POST /v1/models/{name}/versions/{v}:predict

Request bodies, as in TF Serving::

    {"signature_name": "serving_default",        (optional)
     "instances": [x_0, x_1, ...]}               row format
    {"inputs": X}  or  {"inputs": {"images": X}} columnar format

answered with ``{"predictions": [...]}`` (a list of ``{output: value}``
dicts per row when the signature has several outputs) or
``{"outputs": {...}}``. Every error is ``{"error": "..."}`` with a 4xx
status (400 bad input, 404 unknown model or version, 413 body too large) or
500; inputs are validated before the model runs, and the server keeps
serving after any error.

The newest version is loaded at start. The folder is polled (at most every
``poll_interval`` seconds, on requests) and a newer version dropped into it
is loaded and served from then on; a version that fails to load is
reported in the status and retried later, while the previous one keeps
serving. Explicit older versions are loaded on demand.
"""

import collections
import json
import logging
import math
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 1024  # examples per request
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024  # 32 MiB
DEFAULT_POLL_INTERVAL = 1.0  # seconds between folder scans (TF Serving: 1)
RETRY_INTERVAL = 10.0  # seconds before a failed version is loaded again
MAX_LOADED_VERSIONS = 3  # the newest plus recently requested older ones
METADATA_FILE = "metadata.json"  # tfnn's notes beside the SavedModel


class ServingError(Exception):
    """An error answered as ``{"error": message}`` with an HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _bad(message: str) -> ServingError:
    return ServingError(400, message)


# --------------------------------------------------------------------------
# One loaded version
# --------------------------------------------------------------------------


@dataclass
class TensorInfo:
    """A signature's input or output: dtype and static shape."""

    name: str
    dtype: Any  # numpy dtype
    dtype_name: str  # DT_FLOAT …
    shape: Optional[List[Optional[int]]]  # None: unknown rank

    def example_size(self) -> Optional[int]:
        """Values per example from the static shape, when fully known."""
        if self.shape is None or len(self.shape) < 2:
            return None
        if any(d is None or d < 0 for d in self.shape[1:]):
            return None
        return math.prod(self.shape[1:])


@dataclass
class Signature:
    """A callable signature with what is needed to validate its inputs."""

    key: str
    fn: Any
    inputs: Dict[str, TensorInfo]
    outputs: Dict[str, TensorInfo]
    example_sizes: Dict[str, Optional[int]] = field(default_factory=dict)


@dataclass
class Servable:
    """A loaded version: its signatures and TF Serving's signature_def."""

    version: int
    path: str
    signatures: Dict[str, Signature]
    signature_def: Dict[str, Any]  # JSON of the SavedModel's SignatureDefs
    loaded: Any = None  # keeps the restored object (and variables) alive


def _signature_defs(path: str) -> Dict[str, Any]:
    """The SignatureDef map of ``saved_model.pb`` as TF Serving prints it."""
    from google.protobuf import json_format
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as fh:
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
    import tensorflow as tf

    dtype = tf.dtypes.as_dtype(spec.dtype)
    from tensorflow.core.framework import types_pb2

    shape = None if spec.shape.rank is None else spec.shape.as_list()
    return TensorInfo(
        name=name,
        dtype=np.dtype(dtype.as_numpy_dtype),
        dtype_name=types_pb2.DataType.Name(dtype.as_datatype_enum),
        shape=shape,
    )


def _example_sizes(meta: Dict[str, Any], key: str, inputs) -> Dict[str, Any]:
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
    """Loads one version folder with ``tf.saved_model.load``."""
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    meta = {}
    meta_path = os.path.join(path, METADATA_FILE)
    if os.path.isfile(meta_path):
        try:
            with open(meta_path) as fh:
                meta = json.load(fh)
        except (OSError, ValueError) as err:
            logger.warning("ignoring unreadable %s: %s", meta_path, err)
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


# --------------------------------------------------------------------------
# The model folder
# --------------------------------------------------------------------------


def list_versions(base_dir: str) -> List[int]:
    """Version folders (positive integers holding saved_model.pb)."""
    try:
        entries = list(os.scandir(base_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(
        int(e.name) for e in entries
        if e.name.isdigit() and int(e.name) > 0 and e.is_dir()
        and os.path.isfile(os.path.join(e.path, "saved_model.pb"))
    )


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
        self._loaded: "collections.OrderedDict[int, Servable]" = (
            collections.OrderedDict()
        )
        self._failed: Dict[int, tuple] = {}  # version -> (message, time)
        self._on_disk: List[int] = []
        self._latest: Optional[int] = None  # newest loaded version
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
        on_disk = list_versions(self.base_dir)
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

    def _load(self, version: int) -> Optional[Servable]:
        with self._lock:
            if version in self._loaded:
                return self._loaded[version]
        path = os.path.join(self.base_dir, str(version))
        start = time.perf_counter()
        try:
            servable = load_servable(path, version)
        except Exception as err:  # noqa: BLE001 - reported in the status
            logger.error("could not load %s: %s", path, err)
            with self._lock:
                self._failed[version] = (f"{type(err).__name__}: {err}",
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

    def get(self, version: Optional[int] = None) -> Servable:
        """The newest version, or a given one (loaded on demand).

        Raises:
            ServingError: 404 when there is no such version.
        """
        self.poll()
        with self._lock:
            if version is None:
                if self._latest is not None:
                    return self._loaded[self._latest]
                raise ServingError(
                    404, f"Servable not found for request: Latest({self.name})"
                )
            if version in self._loaded:
                self._loaded.move_to_end(version)
                return self._loaded[version]
            on_disk = version in self._on_disk
        if on_disk:
            with self._load_lock:
                servable = self._load(version)
            if servable is not None:
                return servable
        raise ServingError(
            404, f"Servable not found for request: Specific({self.name}, "
            f"{version})"
        )

    def status(self, version: Optional[int] = None) -> List[Dict[str, Any]]:
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
            what = (f"Specific({self.name}, {version})" if version is not None
                    else f"Latest({self.name})")
            raise ServingError(
                404, f"Servable not found for request: {what}"
            )
        return rows


# --------------------------------------------------------------------------
# Request parsing and validation (before the model runs)
# --------------------------------------------------------------------------


def _as_array(value, info: TensorInfo, example_size, where: str,
              max_batch: int) -> np.ndarray:
    """A validated array of ``info``'s dtype with a batch axis."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError, OverflowError) as err:
        raise _bad(f"{where}: not a rectangular array of numbers "
                   f"(rows of different lengths?): {err}") from None
    kind = arr.dtype.kind
    if kind not in "iuf":
        what = {"b": "booleans", "U": "strings", "S": "strings",
                "O": "non-numeric or ragged values"}.get(kind, arr.dtype.name)
        raise _bad(f"{where}: expected numbers for {info.dtype_name}, got "
                   f"{what}")
    if arr.ndim == 0:
        raise _bad(f"{where}: expected a batch of examples, got a scalar")
    batch = arr.shape[0]
    if batch == 0:
        raise _bad(f"{where}: empty batch")
    if batch > max_batch:
        raise _bad(f"{where}: batch of {batch} examples exceeds the limit of "
                   f"{max_batch}")
    if info.shape is not None and len(info.shape) != arr.ndim:
        raise _bad(f"{where}: shape {list(arr.shape)} does not match the "
                   f"signature's {info.shape}")
    if info.shape is not None:
        for got, want in zip(arr.shape[1:], info.shape[1:]):
            if want is not None and want >= 0 and got != want:
                raise _bad(f"{where}: shape {list(arr.shape)} does not match "
                           f"the signature's {info.shape}")
    if example_size is not None:
        per = math.prod(arr.shape[1:])
        if arr.ndim < 2 or per != example_size:
            raise _bad(
                f"{where}: shape {list(arr.shape)} has {per} values per "
                f"example; expected [batch, ...] with {example_size} values "
                f"per example (e.g. [batch, {example_size}])"
            )
    target = info.dtype
    if target.kind in "iu":
        if kind == "f":
            raise _bad(f"{where}: expected integers for {info.dtype_name}, "
                       "got floating-point values")
        limits = np.iinfo(target)
        if arr.min() < limits.min or arr.max() > limits.max:
            raise _bad(f"{where}: values outside [{limits.min}, "
                       f"{limits.max}] for {info.dtype_name}")
        return arr.astype(target)
    if target.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            out = arr.astype(target)
        if not np.isfinite(out).all():
            raise _bad(f"{where}: values must be finite numbers within "
                       f"{info.dtype_name}'s range")
        return out
    raise _bad(f"{where}: inputs of type {info.dtype_name} are not supported")


def _expected_inputs(sig: Signature) -> str:
    return ", ".join(f"'{n}'" for n in sig.inputs)


def _check_names(names, sig: Signature, where: str) -> None:
    unknown = [n for n in names if n not in sig.inputs]
    missing = [n for n in sig.inputs if n not in names]
    if unknown or missing:
        parts = []
        if unknown:
            parts.append("unknown input " + ", ".join(f"'{n}'"
                                                        for n in unknown))
        if missing:
            parts.append("missing input " + ", ".join(f"'{n}'"
                                                        for n in missing))
        raise _bad(f"{where}: {' and '.join(parts)}; signature '{sig.key}' "
                   f"expects input {_expected_inputs(sig)}")


def parse_request(body: Any, servable: Servable, max_batch: int):
    """Validates a predict request.

    Returns:
        ``(signature, {input: array}, "row" | "columnar")``.

    Raises:
        ServingError: 400 naming what is wrong.
    """
    if not isinstance(body, dict):
        raise _bad("Request body must be a JSON object with 'instances' or "
                   "'inputs'")
    key = body.get("signature_name", "serving_default")
    if not isinstance(key, str):
        raise _bad("'signature_name' must be a string")
    sig = servable.signatures.get(key)
    if sig is None:
        raise _bad(f"Serving signature name: \"{key}\" not found in "
                   f"signature def; available: {sorted(servable.signatures)}")
    if "instances" in body and "inputs" in body:
        raise _bad("Request has both 'instances' and 'inputs'; send one")
    if "instances" in body:
        return sig, _parse_rows(body["instances"], sig, max_batch), "row"
    if "inputs" in body:
        return sig, _parse_columns(body["inputs"], sig, max_batch), "columnar"
    raise _bad("Missing 'instances' or 'inputs' key")


def _parse_rows(instances, sig: Signature, max_batch: int):
    if not isinstance(instances, list):
        raise _bad("'instances' must be a list (one entry per example)")
    if not instances:
        raise _bad("'instances': empty batch")
    if len(instances) > max_batch:
        raise _bad(f"'instances': batch of {len(instances)} examples exceeds "
                   f"the limit of {max_batch}")
    named = [isinstance(x, dict) for x in instances]
    if any(named) and not all(named):
        raise _bad("'instances' mixes named ({input: value}) and bare rows")
    if not all(named):
        if len(sig.inputs) != 1:
            raise _bad(f"'instances' must be objects naming the inputs "
                       f"{_expected_inputs(sig)}")
        columns = {next(iter(sig.inputs)): instances}
    else:
        names = list(instances[0])
        for i, row in enumerate(instances):
            _check_names(list(row), sig, f"instances[{i}]")
        columns = {n: [row[n] for row in instances] for n in names}
    return {
        n: _as_array(v, sig.inputs[n], sig.example_sizes.get(n),
                     f"'instances' ('{n}')", max_batch)
        for n, v in columns.items()
    }


def _parse_columns(inputs, sig: Signature, max_batch: int):
    if isinstance(inputs, dict):
        _check_names(list(inputs), sig, "'inputs'")
        columns = inputs
    elif len(sig.inputs) == 1:
        columns = {next(iter(sig.inputs)): inputs}
    else:
        raise _bad(f"'inputs' must be an object naming the inputs "
                   f"{_expected_inputs(sig)}")
    arrays = {
        n: _as_array(v, sig.inputs[n], sig.example_sizes.get(n),
                     f"'inputs' ('{n}')", max_batch)
        for n, v in columns.items()
    }
    batches = {a.shape[0] for a in arrays.values()}
    if len(batches) > 1:
        raise _bad(f"'inputs' have different batch sizes {sorted(batches)}")
    return arrays


def _tf_message(message: str) -> str:
    """The informative line of a TF runtime error (no node/stack noise)."""
    lines = [ln.strip() for ln in str(message).splitlines()]
    useful = [ln for ln in lines if ln and not ln.startswith(
        ("[[", "Graph execution error", "Detected at node", "<stack"))]
    text = useful[-1] if useful else "invalid argument"
    return text.replace("\\'", "'")


def run_signature(sig: Signature, arrays: Dict[str, np.ndarray]):
    """Calls the signature; TF's InvalidArgument becomes a 400."""
    import tensorflow as tf

    try:
        out = sig.fn(**{n: tf.constant(a) for n, a in arrays.items()})
    except tf.errors.InvalidArgumentError as err:
        raise _bad(_tf_message(err.message)) from None
    return {n: out[n].numpy() for n in sig.outputs}


def format_response(outputs: Dict[str, np.ndarray], style: str):
    """TF Serving's JSON: ``predictions`` (rows) or ``outputs`` (columns)."""
    lists = {n: a.tolist() for n, a in outputs.items()}
    if style == "columnar":
        return {"outputs": next(iter(lists.values())) if len(lists) == 1
                else lists}
    if len(lists) == 1:
        return {"predictions": next(iter(lists.values()))}
    names = list(lists)
    return {"predictions": [dict(zip(names, row))
                            for row in zip(*lists.values())]}


# --------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------


def _parse_version(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ServingError(404, f"Malformed or unknown version '{text}'")
    return int(text)


async def _read_body(request, max_bytes: int) -> bytes:
    """The request body, bounded by its Content-Length and actual length."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared = int(declared)
        except ValueError:
            raise _bad("Malformed Content-Length header") from None
        if declared > max_bytes:
            raise ServingError(
                413, f"Request body of {declared} bytes exceeds the limit "
                f"of {max_bytes} bytes"
            )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= max_bytes:
            chunks.append(chunk)
        elif size > 2 * max_bytes:  # read (and drop) at most twice the bound
            break
    if size > max_bytes:
        raise ServingError(
            413, f"Request body exceeds the limit of {max_bytes} bytes"
        )
    return b"".join(chunks)


def create_app(
    model_dir,
    name: Optional[str] = None,
    max_batch: int = DEFAULT_MAX_BATCH,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
):
    """A FastAPI app serving the SavedModel versions under ``model_dir``.

    Args:
        model_dir: the model's base folder (``saved_models/mnist``).
        name: the model name in URLs. Defaults to the folder's name.
        max_batch: most examples per request. Defaults to 1024.
        max_body_bytes: largest request body. Defaults to 32 MiB.
        poll_interval: least seconds between scans for new versions.
            Defaults to 1.0.

    Returns:
        The ``fastapi.FastAPI`` app; ``app.state.repository`` is the
        :class:`ModelRepository`.
    """
    from fastapi import FastAPI, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    if max_batch < 1 or max_body_bytes < 1:
        raise ValueError(
            f"max_batch and max_body_bytes must be positive. Received: "
            f"max_batch={max_batch}, max_body_bytes={max_body_bytes}"
        )
    repo = ModelRepository(model_dir, name=name, poll_interval=poll_interval)
    app = FastAPI(title=f"tfnn serving: {repo.name}",
                  description="TensorFlow Serving's REST API")
    app.state.repository = repo

    def error(status, message):
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(ServingError)
    async def _serving_error(request, exc: ServingError):
        return error(exc.status, exc.message)

    @app.exception_handler(HTTPException)
    async def _http_error(request, exc: HTTPException):
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, exc: RequestValidationError):
        return error(400, "; ".join(
            f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}"
            for e in exc.errors()
        ) or "invalid request")

    def model(model_name: str) -> ModelRepository:
        if model_name != repo.name:
            raise ServingError(
                404, f"Servable not found for request: Latest({model_name})"
            )
        return repo

    @app.get("/v1/models/{model_name}")
    def model_status(model_name: str):
        return {"model_version_status": model(model_name).status()}

    @app.get("/v1/models/{model_name}/versions/{version}")
    def version_status(model_name: str, version: str):
        return {"model_version_status":
                model(model_name).status(_parse_version(version))}

    def metadata(model_name, version):
        servable = model(model_name).get(version)
        return {
            "model_spec": {"name": repo.name, "signature_name": "",
                           "version": str(servable.version)},
            "metadata": {"signature_def": {
                "signature_def": servable.signature_def}},
        }

    @app.get("/v1/models/{model_name}/metadata")
    def model_metadata(model_name: str):
        return metadata(model_name, None)

    @app.get("/v1/models/{model_name}/versions/{version}/metadata")
    def version_metadata(model_name: str, version: str):
        return metadata(model_name, _parse_version(version))

    def predict_sync(model_name, version, body):
        servable = model(model_name).get(version)
        sig, arrays, style = parse_request(body, servable, max_batch)
        try:
            outputs = run_signature(sig, arrays)
        except ServingError:
            raise
        except Exception as err:  # noqa: BLE001 - answered as a 500
            logger.exception("predict failed")
            raise ServingError(500, f"{type(err).__name__}: {err}") from None
        return format_response(outputs, style)

    async def predict(request: Request, model_name: str, version):
        model(model_name)
        raw = await _read_body(request, max_body_bytes)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as err:
            raise _bad(f"JSON Parse error: {err}") from None
        return await run_in_threadpool(predict_sync, model_name, version,
                                       body)

    @app.post("/v1/models/{model_name}:predict")
    async def model_predict(request: Request, model_name: str):
        return await predict(request, model_name, None)

    @app.post("/v1/models/{model_name}/versions/{version}:predict")
    async def version_predict(request: Request, model_name: str,
                              version: str):
        return await predict(request, model_name, _parse_version(version))

    return app


# --------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------


def serve(model_dir, name=None, host="127.0.0.1", port=8501,
          log_level="info", **app_kwargs) -> None:
    """Serves ``model_dir`` with uvicorn until interrupted."""
    import uvicorn

    app = create_app(model_dir, name=name, **app_kwargs)
    uvicorn.run(app, host=host, port=port, log_level=log_level)


class BackgroundServer:
    """uvicorn in a daemon thread on a free port (tests, benchmarks).

    Usage::

        with BackgroundServer(create_app("saved_models/mnist")) as server:
            httpx.get(server.url + "/v1/models/mnist")
    """

    def __init__(self, app, host="127.0.0.1", port=0, log_level="warning"):
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()[:2]
        self.server = uvicorn.Server(uvicorn.Config(
            app, log_level=log_level, timeout_keep_alive=30,
        ))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]},
            daemon=True, name=f"uvicorn-{self.port}",
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout=30.0) -> "BackgroundServer":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout=10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
