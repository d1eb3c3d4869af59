"""TensorFlow Serving's REST API, the wire side: requests in, JSON out.

The endpoints (``tfnn.serving.app`` routes them)::

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
status (400 bad input, 404 unknown model or version, 408 body not received
in time, 413 body too large, 415 not JSON) or 500. Inputs are validated
here, against the signature's dtypes and shapes, before the model runs.

A request body is bounded while it is read (``read_body``), never after:
its declared ``Content-Length`` is checked before the first byte is read,
a streamed (chunked) body is cut off at the byte limit, and the whole body
must arrive within ``body_timeout`` seconds; an error answered before the
body is fully read closes the connection (``ServingError.close``), so that
nothing more of it is read. A body within the byte limit that holds more
values than ``max_batch`` examples can (``value_limit``: a JSON document of
``n`` leaf values has ``n - 1`` commas) is read to its end without being
kept, then answered 400 on a connection that stays open: a server that
closes on unread bytes resets the connection, and a client still sending
its body would never read the answer.

Reference: TensorFlow Serving, "RESTful API" (request and response formats,
model status and metadata), https://www.tensorflow.org/tfx/serving/api_rest.

NumPy and orjson only (the JSON parser and writer of predictions): the
CLI reads the server's defaults (the limits, the poll interval) from here
for ``tfnn serve --help``, which must not wait for TensorFlow.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from tfnn.shipping.versions import version_number

logger = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 1024  # examples per request
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024  # 32 MiB
DEFAULT_BODY_TIMEOUT = 30.0  # seconds for a whole request body to arrive
# Least seconds between scans of the model folder for new versions (TF
# Serving's --file_system_poll_wait_seconds: 1); tfnn.serving.repository's.
DEFAULT_POLL_INTERVAL = 1.0
# Media types taken as JSON: JSON itself, and what clients send by default
# for a raw text body (``curl -d`` sends application/x-www-form-urlencoded;
# TF Serving's examples use it).
JSON_MEDIA_TYPES = ("application/json", "application/x-www-form-urlencoded",
                    "text/plain")


class ServingError(Exception):
    """An error answered as ``{"error": message}`` with an HTTP status.

    ``close``: answer with ``Connection: close`` (the body was not read to
    its end, and will not be).
    """

    def __init__(self, status: int, message: str, close: bool = False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close


class ClientDisconnected(ServingError):
    """The client went away before its body was read (nobody to answer)."""

    def __init__(self, message: str):
        super().__init__(499, message, close=True)  # nginx's 499


def bad_request(message: str) -> ServingError:
    """A 400 ``ServingError``."""
    return ServingError(400, message)


def servable_not_found(name: str, version: int | None = None
                       ) -> ServingError:
    """TF Serving's 404: ``Servable not found for request: Latest(name)``
    or ``Specific(name, version)``."""
    what = (f"Specific({name}, {version})" if version is not None
            else f"Latest({name})")
    return ServingError(404, f"Servable not found for request: {what}")


# --------------------------------------------------------------------------
# What a signature takes
# --------------------------------------------------------------------------


@dataclass
class TensorInfo:
    """A signature's input or output: dtype and static shape."""

    name: str
    dtype: Any  # numpy dtype
    dtype_name: str  # DT_FLOAT …
    shape: list[int | None] | None  # None: unknown rank

    def example_size(self) -> int | None:
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
    inputs: dict[str, TensorInfo]
    outputs: dict[str, TensorInfo]
    example_sizes: dict[str, int | None] = field(default_factory=dict)


# --------------------------------------------------------------------------
# URLs and bodies
# --------------------------------------------------------------------------


def parse_version(text: str) -> int:
    """The ``{v}`` of a URL as a version number (404 unless it is one).

    ``tfnn.shipping.versions.version_number`` decides, as for the version
    folders: ASCII digits only ("²", "١" or "１" are not versions).
    """
    version = version_number(text)
    if version is None:
        raise ServingError(404, f"Malformed or unknown version "
                           f"'{_shorten(text)}'")
    return version


def _shorten(text: str, most: int = 64) -> str:
    return text if len(text) <= most else text[:most] + "…"


def check_content_type(value: str | None) -> None:
    """415 unless the request's ``Content-Type`` is one taken as JSON
    (``JSON_MEDIA_TYPES``; none given is taken as JSON too)."""
    if value is None:
        return
    media = value.split(";", 1)[0].strip().lower()
    if media and media not in JSON_MEDIA_TYPES and not media.endswith("+json"):
        raise ServingError(415, f"Unsupported Content-Type "
                           f"'{_shorten(value)}'; send application/json")


def body_expected(headers) -> bool:
    """Whether a request announces a body (``Content-Length`` > 0, or a
    ``Transfer-Encoding``)."""
    length = headers.get("content-length")
    return (headers.get("transfer-encoding") is not None
            or (length is not None and length.strip() not in ("", "0")))


def _declared_length(headers, max_bytes: int) -> int | None:
    """The ``Content-Length`` (400 malformed, 413 over the limit)."""
    declared = headers.get("content-length")
    if declared is None:
        return None
    declared = declared.strip()
    if not (declared.isascii() and declared.isdigit()):
        raise ServingError(400, "Malformed Content-Length header", close=True)
    if int(declared) > max_bytes:
        raise ServingError(
            413, f"Request body of {int(declared)} bytes exceeds the limit "
            f"of {max_bytes} bytes", close=True)
    return int(declared)


def value_limit(servable, max_batch: int) -> int | None:
    """The most values (numbers) a valid predict request can hold:
    ``max_batch`` examples of every input of the servable's largest
    signature; None when a signature's values per example are unknown."""
    per_example = []
    for sig in servable.signatures.values():
        sizes = [sig.example_sizes.get(n) for n in sig.inputs]
        if not sizes or any(s is None for s in sizes):
            return None
        per_example.append(sum(sizes))
    return max_batch * max(per_example) if per_example else None


async def read_body(request, max_bytes: int,
                    timeout: float | None = DEFAULT_BODY_TIMEOUT,
                    max_values: int | None = None) -> bytearray:
    """The request body, read within its limits (see the module docstring).

    Args:
        request: the Starlette request (its ASGI ``receive`` is read).
        max_bytes: the largest body (413 beyond it).
        timeout: seconds for the whole body to arrive (408 after them).
            None: no limit.
        max_values: ``value_limit`` (400 beyond it, once the rest of the
            body is read and dropped). None: no limit.

    Raises:
        ServingError: 400 (too many values; the body read to its end),
            408 or 413 (``close`` set when bytes of the body are left
            unread); a ``ClientDisconnected`` when the client went away.
    """
    declared = _declared_length(request.headers, max_bytes)
    try:
        async with asyncio.timeout(timeout):
            return await _receive(request.receive, max_bytes, max_values)
    except TimeoutError:
        raise ServingError(
            408, f"Request body not received within {timeout:g} s",
            close=True) from None
    except ClientDisconnected as gone:
        client = request.client
        logger.info("client %s disconnected %s (Content-Length: %s)",
                    f"{client[0]}:{client[1]}" if client else "?",
                    gone.message, declared)
        raise


async def drain_body(request, max_bytes: int,
                     timeout: float | None = DEFAULT_BODY_TIMEOUT) -> bool:
    """Reads and drops the request body within :func:`read_body`'s limits,
    for an error found before the body was read (an unknown model or
    version, a wrong content type).

    Answering with the body still unread would turn the server's close
    into a TCP reset, which can destroy the answer before the client has
    read it ("connection reset by peer" instead of the 404); a kept
    connection would instead read the body as its next request.

    Returns:
        Whether the body was read to its end (the connection may stay
        open); False when it broke a limit or the client went away (close
        it; a body over the byte limit is not read at all).
    """
    try:
        await read_body(request, max_bytes, timeout)
    except ServingError:
        return False
    return True


# A JSON document of n leaf values has n - 1 commas outside its strings;
# the slack covers the commas a valid request may hold in its strings.
_COMMA_SLACK = 1024


async def _receive(receive, max_bytes: int, max_values: int | None
                   ) -> bytearray:
    # One buffer, grown in place: the pieces uvicorn hands over are freed
    # as they come (thousands of them kept alive until a join would
    # fragment the heap, which then keeps its size after the request).
    # Past the value limit the rest of the body is read and dropped (the
    # 400 comes after it): closing with a body within the byte limit unread
    # would reset the connection before the client reads its answer.
    body, size, commas, more = bytearray(), 0, 0, True
    too_many = False
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected(f"after {size} body bytes")
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size > max_bytes:
            raise ServingError(413, f"Request body exceeds the limit of "
                               f"{max_bytes} bytes", close=more)
        if max_values is not None and not too_many:
            commas += chunk.count(b",")
            too_many = commas > max_values + _COMMA_SLACK
            if too_many:
                body = bytearray()  # freed: nothing more is kept
        if not too_many:
            body += chunk
    if too_many:
        raise ServingError(400, f"Request exceeds the batch limit: more "
                           f"than {max_values} values")
    return body


# Integer parts of 19 or more digits: orjson reads integers beyond 64 bits
# as floats, the standard library as Python ints (which NumPy refuses). The
# table maps digits to "0", "." to itself and all else to " ", so such a
# number is a space followed by 19 zeros.
_DIGITS = bytes(48 if 48 <= c <= 57 else c if c == 46 else 32
                for c in range(256))
_LONG_INTEGER = b" " + b"0" * 19


def _orjson_may_differ(raw) -> bool:
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    return _LONG_INTEGER in (b" " + bytes(raw)).translate(_DIGITS)


def parse_json(raw: bytes) -> Any:
    """The request body as JSON (400 ``JSON Parse error: …`` otherwise).

    orjson parses it (several times faster than ``json`` on a batch of
    images) when its answer is the standard library's. What orjson refuses
    (``NaN``, ``Infinity``, ``1e999``, lone surrogates, UTF-16/32, a BOM,
    nesting past 1024) or could read differently (integers of 19 or more
    digits) is parsed by ``json.loads``: the same values, the same errors
    and messages as with ``json`` alone.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    else:
        if not _orjson_may_differ(raw):
            return value
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise bad_request(f"JSON Parse error: {err}") from None


# --------------------------------------------------------------------------
# Request parsing and validation (before the model runs)
# --------------------------------------------------------------------------


def _holds_bools(value, ndim: int) -> bool:
    """Whether nested lists that NumPy read as a rectangular ``ndim``-D
    array of numbers hold a ``True`` or ``False`` (NumPy reads them as 1
    and 0)."""
    flat = value
    for _ in range(ndim - 1):
        flat = itertools.chain.from_iterable(flat)
    return bool in set(map(type, flat))


def _integer_array(value) -> np.ndarray | None:
    """Nested lists of Python ints as an int64 array, as ``np.asarray``
    reads them but without its search for a common type (several times
    faster on a batch of images); None where ``np.asarray`` could answer
    differently (ragged or empty lists, integers beyond int64)."""
    if not isinstance(value, list):
        return None
    try:
        arr = np.array(value, dtype=np.int64)
    except (ValueError, TypeError, OverflowError):
        return None
    return arr if arr.size else None


def _as_array(value, info: TensorInfo, example_size, where: str,
              max_batch: int, bools_possible: bool = True,
              integers: bool = False) -> np.ndarray:
    """A validated array of ``info``'s dtype with a batch axis
    (``integers``: ``value`` holds no number but JSON integers)."""
    arr = _integer_array(value) if integers else None
    try:
        if arr is None:
            arr = np.asarray(value)
    except (ValueError, TypeError, OverflowError) as err:
        raise bad_request(f"{where}: not a rectangular array of numbers "
                          f"(rows of different lengths?): {err}") from None
    kind = arr.dtype.kind
    if (kind in "iuf" and bools_possible and arr.ndim > 0
            and not isinstance(value, np.ndarray)
            and _holds_bools(value, arr.ndim)):
        kind = "b"
    if kind not in "iuf":
        what = {"b": "booleans", "U": "strings", "S": "strings",
                "O": "non-numeric or ragged values"}.get(kind, arr.dtype.name)
        raise bad_request(f"{where}: expected numbers for "
                          f"{info.dtype_name}, got {what}")
    if arr.ndim == 0:
        raise bad_request(
            f"{where}: expected a batch of examples, got a scalar")
    batch = arr.shape[0]
    if batch == 0:
        raise bad_request(f"{where}: empty batch")
    if batch > max_batch:
        raise bad_request(f"{where}: batch of {batch} examples exceeds the "
                          f"limit of {max_batch}")
    if info.shape is not None and len(info.shape) != arr.ndim:
        raise bad_request(f"{where}: shape {list(arr.shape)} does not "
                          f"match the signature's {info.shape}")
    if info.shape is not None:
        for got, want in zip(arr.shape[1:], info.shape[1:]):
            if want is not None and want >= 0 and got != want:
                raise bad_request(
                    f"{where}: shape {list(arr.shape)} does not match "
                    f"the signature's {info.shape}")
    if example_size is not None:
        per = math.prod(arr.shape[1:])
        if arr.ndim < 2 or per != example_size:
            raise bad_request(
                f"{where}: shape {list(arr.shape)} has {per} values per "
                f"example; expected [batch, ...] with {example_size} values "
                f"per example (e.g. [batch, {example_size}])"
            )
    target = info.dtype
    if target.kind in "iu":
        if kind == "f":
            raise bad_request(f"{where}: expected integers for "
                              f"{info.dtype_name}, got floating-point values")
        limits = np.iinfo(target)
        if arr.min() < limits.min or arr.max() > limits.max:
            raise bad_request(f"{where}: values outside [{limits.min}, "
                              f"{limits.max}] for {info.dtype_name}")
        return arr.astype(target, copy=False)
    if target.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            out = arr.astype(target, copy=False)
        if not np.isfinite(out).all():
            raise bad_request(f"{where}: values must be finite numbers within "
                              f"{info.dtype_name}'s range")
        return out
    raise bad_request(
        f"{where}: inputs of type {info.dtype_name} are not supported")


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
        raise bad_request(f"{where}: {' and '.join(parts)}; signature "
                          f"'{sig.key}' expects input {_expected_inputs(sig)}")


# What a JSON body of integers, lists and objects holds besides its
# strings; what is left of it must be object keys ("name":), and the one
# string value allowed, the top level's "signature_name".
_INTEGER_BYTES = b"0123456789-,[]{} \t\r\n"
_KEYS = re.compile(rb'(?:"[^"\\]*":)*')


def integers_only(raw: bytes | bytearray, body: Any) -> bool:
    """Whether every number of the JSON body ``raw`` (parsed: ``body``)
    is an integer and no value but the top level's ``signature_name`` is
    a string, read off the bytes: no ``.``, exponent, ``true``, ``false``,
    ``null`` or string among the values."""
    rest = bytes(raw).translate(None, _INTEGER_BYTES)
    key = body.get("signature_name") if isinstance(body, dict) else None
    if isinstance(key, str):
        pair = (b'"signature_name":"'
                + key.encode("utf-8", "surrogatepass").translate(
                    None, _INTEGER_BYTES) + b'"')
        if rest.count(b'"signature_name":') != 1 or pair not in rest:
            return False
        rest = rest.replace(pair, b"", 1)
    return _KEYS.fullmatch(rest) is not None


def decode_request(raw: bytes | bytearray, servable, max_batch: int):
    """Validates a predict request's raw JSON body: ``parse_json``, then
    ``parse_request`` (which looks for booleans among the numbers only
    when the body spells one, and reads a body of integers only
    (``integers_only``) straight into int64 arrays)."""
    body = parse_json(raw)
    bools_possible = b"true" in raw or b"false" in raw
    return parse_request(body, servable, max_batch, bools_possible,
                         not bools_possible and integers_only(raw, body))


def parse_request(body: Any, servable, max_batch: int,
                  bools_possible: bool = True, integers: bool = False):
    """Validates a predict request.

    Args:
        body: the parsed JSON body.
        servable: the version asked for (``tfnn.serving.repository.Servable``:
            its ``signatures`` by key).
        max_batch: most examples per request.
        bools_possible: whether ``body`` may hold ``true``/``false`` among
            its numbers (they are refused: NumPy would read them as 1 and
            0). Defaults to True (looked for).
        integers: whether every number of ``body`` is an integer and no
            value a string (``integers_only``): its arrays are read as
            int64 directly, the same arrays ``np.asarray`` finds. Defaults
            to False.

    Returns:
        ``(signature, {input: array}, "row" | "columnar")``.

    Raises:
        ServingError: 400 naming what is wrong.
    """
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object with "
                          "'instances' or 'inputs'")
    key = body.get("signature_name", "serving_default")
    if not isinstance(key, str):
        raise bad_request("'signature_name' must be a string")
    sig = servable.signatures.get(key)
    if sig is None:
        raise bad_request(f"Serving signature name: \"{key}\" not found in "
                          "signature def; available: "
                          f"{sorted(servable.signatures)}")
    if "instances" in body and "inputs" in body:
        raise bad_request(
            "Request has both 'instances' and 'inputs'; send one")
    if "instances" in body:
        return sig, _parse_rows(body["instances"], sig, max_batch,
                                bools_possible, integers), "row"
    if "inputs" in body:
        return sig, _parse_columns(body["inputs"], sig, max_batch,
                                   bools_possible, integers), "columnar"
    raise bad_request("Missing 'instances' or 'inputs' key")


def _parse_rows(instances, sig: Signature, max_batch: int,
                bools_possible: bool, integers: bool = False):
    if not isinstance(instances, list):
        raise bad_request("'instances' must be a list (one entry per example)")
    if not instances:
        raise bad_request("'instances': empty batch")
    if len(instances) > max_batch:
        raise bad_request(f"'instances': batch of {len(instances)} examples "
                          f"exceeds the limit of {max_batch}")
    named = [isinstance(x, dict) for x in instances]
    if any(named) and not all(named):
        raise bad_request(
            "'instances' mixes named ({input: value}) and bare rows")
    if not all(named):
        if len(sig.inputs) != 1:
            raise bad_request(f"'instances' must be objects naming the inputs "
                              f"{_expected_inputs(sig)}")
        columns = {next(iter(sig.inputs)): instances}
    else:
        names = list(instances[0])
        for i, row in enumerate(instances):
            _check_names(list(row), sig, f"instances[{i}]")
        columns = {n: [row[n] for row in instances] for n in names}
    return {
        n: _as_array(v, sig.inputs[n], sig.example_sizes.get(n),
                     f"'instances' ('{n}')", max_batch, bools_possible,
                     integers)
        for n, v in columns.items()
    }


def _parse_columns(inputs, sig: Signature, max_batch: int,
                   bools_possible: bool, integers: bool = False):
    if isinstance(inputs, dict):
        _check_names(list(inputs), sig, "'inputs'")
        columns = inputs
    elif len(sig.inputs) == 1:
        columns = {next(iter(sig.inputs)): inputs}
    else:
        raise bad_request(f"'inputs' must be an object naming the inputs "
                          f"{_expected_inputs(sig)}")
    arrays = {
        n: _as_array(v, sig.inputs[n], sig.example_sizes.get(n),
                     f"'inputs' ('{n}')", max_batch, bools_possible,
                     integers)
        for n, v in columns.items()
    }
    batches = {a.shape[0] for a in arrays.values()}
    if len(batches) > 1:
        raise bad_request(
            f"'inputs' have different batch sizes {sorted(batches)}")
    return arrays


# --------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------


def format_response(outputs: dict[str, np.ndarray], style: str):
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


def encode_response(outputs: dict[str, np.ndarray], style: str
                    ) -> bytes | None:
    """``format_response`` as compact UTF-8 JSON, written by orjson.

    The numbers are those of Starlette's ``JSONResponse`` (both write each
    float's shortest round-trip digits; only the exponent's spelling may
    differ: ``1e-5`` for ``1e-05``). Returns None where only the standard
    encoder gives the same answer: non-finite floats (which it refuses),
    types orjson does not write (bytes, complex, integers beyond 64 bits).
    """
    for arr in outputs.values():
        if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
            return None
    try:
        return orjson.dumps(format_response(outputs, style))
    except TypeError:
        return None


def status_response(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """GetModelStatus: ``{"model_version_status": rows}``."""
    return {"model_version_status": rows}


def metadata_response(name: str, version: int,
                      signature_def: dict[str, Any]) -> dict[str, Any]:
    """GetModelMetadata: the model spec and its SignatureDef map."""
    return {
        "model_spec": {"name": name, "signature_name": "",
                       "version": str(version)},
        "metadata": {"signature_def": {"signature_def": signature_def}},
    }
