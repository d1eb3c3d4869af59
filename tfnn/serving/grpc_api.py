"""TensorFlow Serving's gRPC API, beside the REST one, on the same models.

The services and methods, with ``tensorflow-serving-api``'s protos::

    tensorflow.serving.PredictionService/Predict           PredictRequest
    tensorflow.serving.PredictionService/GetModelMetadata  signature_def
    tensorflow.serving.ModelService/GetModelStatus         version states

(``Classify``, ``Regress``, ``MultiInference`` and ``HandleReloadConfigRequest``
answer ``UNIMPLEMENTED``.) Given the REST app's
:class:`~tfnn.serving.metrics.ServingMetrics`, every call of
``Predict``, ``Classify``, ``Regress``, ``GetModelMetadata`` and
``GetModelStatus`` is counted and timed there (``entrypoint="GRPC"``, the
status its code's name). The servers share one
:class:`~tfnn.serving.repository.ModelRepository`: the same versions,
the same polling for new ones, the same loaded signatures
(``run_signature``), and the same input validation as the REST side
(``tfnn.serving.protocol.parse_request``: shapes, values per example,
batch limit, finite values, integer ranges). What a request gets wrong is
answered with TF Serving's status code and, where TF Serving has one, its
message:

==========================================  ==================================
request                                     status
==========================================  ==================================
no ``model_spec``; empty name               INVALID_ARGUMENT "Missing
                                            ModelSpec", "ModelSpec has no name
                                            specified."
unknown model or version                    NOT_FOUND "Servable not found for
                                            request: Specific(mnist, 9)"
unknown ``version_label``                   INVALID_ARGUMENT "Unrecognized
                                            servable version label: stable"
unknown ``signature_name``                  FAILED_PRECONDITION "Serving
                                            signature key "x" not found."
inputs missing, extra or misnamed           INVALID_ARGUMENT "input size does
                                            not match signature: …"
unreadable ``TensorProto``                  INVALID_ARGUMENT "tensor parsing
                                            error: images"
dtype other than the signature's            INVALID_ARGUMENT "Expects arg[0] to
                                            be float but uint8 is provided"
shape, batch size, NaN/inf, range           INVALID_ARGUMENT (the REST side's
                                            400 message)
unknown or repeated ``output_filter``       INVALID_ARGUMENT "output tensor
                                            alias not found in signature: …"
message over ``max_message_bytes``          RESOURCE_EXHAUSTED (gRPC's own)
a failure inside the model                  INTERNAL
==========================================  ==================================

A ``Predict`` response names the version that answered in ``model_spec``
(name, resolved ``signature_name``, ``version``) and holds the outputs
(all, or those of ``output_filter`` in its order) as ``TensorProto``'s
as ``tf.make_tensor_proto`` writes them (``tensor_content``: TF Serving's
``--enable_serialization_as_tensor_content``; ``tf.make_ndarray`` reads
both forms). ``GetModelMetadata`` answers ``metadata["signature_def"]``, a
``SignatureDefMap`` packed in an ``Any``; ``GetModelStatus`` lists the
versions newest first with ``AVAILABLE``, ``LOADING`` or ``END`` and an
error status, as the REST side's ``GET /v1/models/{name}`` does.

Reference: TensorFlow Serving's ``prediction_service.proto``,
``model_service.proto`` and their C++ implementations
(``model_servers/prediction_service_impl.cc``,
``model_servers/get_model_status_impl.cc``,
``servables/tensorflow/get_model_metadata_impl.cc``,
``servables/tensorflow/predict_util.cc``, ``model_servers/server_core.cc``
``ServableRequestFromModelSpec``), https://github.com/tensorflow/serving.
"""

from __future__ import annotations

import functools
import logging
import math
from concurrent import futures

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    status_pb2,
)

from tfnn.serving.metrics import ServingMetrics
from tfnn.serving.protocol import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_BYTES,
    ServingError,
    parse_request,
    servable_not_found,
)
from tfnn.serving.repository import ModelRepository, Servable, run_signature

logger = logging.getLogger(__name__)

DEFAULT_GRPC_PORT = 8500  # TF Serving's gRPC port (REST: 8501)
DEFAULT_SIGNATURE = "serving_default"
SIGNATURE_DEF = "signature_def"  # the one metadata field TF Serving knows
DEFAULT_MAX_WORKERS = 8  # request threads (TensorFlow releases the GIL)

_CODES = {  # the REST side's HTTP status -> gRPC status code
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
}
_STATES = get_model_status_pb2.ModelVersionStatus.State
_ERROR_CODES = status_pb2.StatusProto.DESCRIPTOR.fields_by_name[
    "error_code"].enum_type.values_by_name  # tensorflow.error.Code


class GrpcError(Exception):
    """An error answered with a gRPC status code and a message."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def invalid_argument(message: str) -> GrpcError:
    """An ``INVALID_ARGUMENT`` ``GrpcError``."""
    return GrpcError(grpc.StatusCode.INVALID_ARGUMENT, message)


def grpc_error(err: ServingError) -> GrpcError:
    """The REST side's error with the gRPC code of its HTTP status."""
    return GrpcError(_CODES.get(err.status, grpc.StatusCode.INTERNAL),
                     err.message)


# --------------------------------------------------------------------------
# Which version: ModelSpec
# --------------------------------------------------------------------------


def _check_spec(request) -> None:
    if not request.HasField("model_spec"):
        raise invalid_argument("Missing ModelSpec")


def resolve_servable(repo: ModelRepository, spec,
                     version_labels: dict[str, int] | None = None
                     ) -> Servable:
    """The version a ``ModelSpec`` asks for: ``version``, ``version_label``
    (looked up in ``version_labels``) or, with neither, the newest.

    Raises:
        GrpcError: INVALID_ARGUMENT (no name, unknown label), NOT_FOUND.
    """
    if not spec.name:
        raise invalid_argument("ModelSpec has no name specified.")
    choice = spec.WhichOneof("version_choice")
    version = None
    if choice == "version":
        version = spec.version.value
    elif choice == "version_label":
        version = (version_labels or {}).get(spec.version_label)
        if version is None:
            raise invalid_argument("Unrecognized servable version label: "
                                   f"{spec.version_label}")
    if spec.name != repo.name:
        raise grpc_error(servable_not_found(spec.name, version))
    try:
        return repo.get(version)
    except ServingError as err:
        raise grpc_error(err) from None


# --------------------------------------------------------------------------
# Predict
# --------------------------------------------------------------------------


def _dtype_name(enum: int) -> str:
    """TF's ``DataTypeString``: ``DT_FLOAT`` -> "float"."""
    try:
        return types_pb2.DataType.Name(enum)[3:].lower()
    except ValueError:
        return f"unknown dtype {enum}"


def _check_input_names(request, servable: Servable, key: str) -> None:
    """predict_util.cc's ``VerifyRequestInputsSize`` and
    saved_model/util.cc's ``GetInputValues``, with their messages."""
    sent = sorted(request.inputs)
    wanted = sorted(servable.signatures[key].inputs)
    if len(sent) != len(wanted):
        extra = sorted(set(sent) - set(wanted))
        missing = sorted(set(wanted) - set(sent))
        raise invalid_argument(
            f"input size does not match signature: {len(sent)}!="
            f"{len(wanted)} len({{{','.join(sent)}}}) != "
            f"len({{{','.join(wanted)}}}). Sent extra: {{{','.join(extra)}}}."
            f" Missing but required: {{{','.join(missing)}}}.")
    infos = servable.signature_def.get(key, {}).get("inputs", {})
    for alias in wanted:
        if alias not in request.inputs:
            feed = infos.get(alias, {}).get("name", alias)
            raise invalid_argument(
                f"Signature input alias: {alias}(feed name: {feed}) not "
                "found in request and no default value provided. Inputs "
                f"expected to be in the request {{{','.join(sent)}}}, or "
                "default input alias set: ")


def _to_array(alias: str, proto, max_bytes: int) -> np.ndarray:
    """A request's TensorProto as an array (TF's ``Tensor::FromProto``).

    The declared shape is checked before any memory is taken: a few bytes
    of ``float_val`` may declare (and TF would fill) a huge tensor.
    """
    shape = proto.tensor_shape
    if shape.unknown_rank or any(d.size < 0 for d in shape.dim):
        raise invalid_argument(f"tensor parsing error: {alias}")
    try:
        itemsize = tf.dtypes.as_dtype(proto.dtype).size
    except TypeError:
        raise invalid_argument(f"tensor parsing error: {alias}") from None
    count = math.prod(d.size for d in shape.dim)
    if count * max(itemsize, 1) > max_bytes:
        raise invalid_argument(
            f"'inputs' ('{alias}'): a tensor of {count} values exceeds the "
            f"limit of {max_bytes} bytes")
    try:
        return tf.make_ndarray(proto)
    except (ValueError, TypeError):
        raise invalid_argument(f"tensor parsing error: {alias}") from None


def _check_dtypes(request, sig) -> None:
    """Each input's dtype is the signature's (TF's session checks it before
    the graph runs; the REST side converts JSON numbers instead)."""
    for index, (alias, info) in enumerate(sig.inputs.items()):
        wanted = types_pb2.DataType.Value(info.dtype_name)
        got = request.inputs[alias].dtype
        if got != wanted:
            raise invalid_argument(
                f"Expects arg[{index}] to be {_dtype_name(wanted)} but "
                f"{_dtype_name(got)} is provided")


def tensor_proto(arr: np.ndarray):
    """``tf.make_tensor_proto(arr)``, the same message, built directly for
    a non-empty array of at least one axis (``tensor_content``: the raw
    bytes); other arrays go through ``tf.make_tensor_proto``."""
    if arr.ndim == 0 or arr.size == 0 or arr.dtype.kind not in "iuf":
        return tf.make_tensor_proto(arr)
    proto = tensor_pb2.TensorProto(
        dtype=tf.dtypes.as_dtype(arr.dtype).as_datatype_enum,
        tensor_content=np.ascontiguousarray(arr).tobytes())
    proto.tensor_shape.dim.extend(
        tensor_shape_pb2.TensorShapeProto.Dim(size=n) for n in arr.shape)
    return proto


def _output_names(request, sig) -> list[str]:
    """``output_filter`` checked as predict_util.cc does; all outputs (in
    the signature's order) when it is empty."""
    seen = []
    for alias in request.output_filter:
        if alias not in sig.outputs:
            raise invalid_argument(
                f"output tensor alias not found in signature: {alias} "
                f"Outputs expected to be in the set "
                f"{{{','.join(sorted(sig.outputs))}}}.")
        if alias in seen:
            raise invalid_argument(f"duplicate output tensor alias: {alias}")
        seen.append(alias)
    return seen or list(sig.outputs)


def predict(repo: ModelRepository, request, max_batch=DEFAULT_MAX_BATCH,
            max_bytes=DEFAULT_MAX_BODY_BYTES, version_labels=None):
    """Answers a ``PredictRequest`` as TF Serving's ``Predict`` does.

    Args:
        repo: the model's versions.
        request: a ``tensorflow.serving.PredictRequest``.
        max_batch: most examples per request. Defaults to 1024.
        max_bytes: largest tensor a request may declare. Defaults to 32 MiB.
        version_labels: ``{label: version}`` for ``model_spec.version_label``.
            Defaults to None (no labels).

    Returns:
        A ``tensorflow.serving.PredictResponse``.

    Raises:
        GrpcError: the status TF Serving answers (see the module's table).
    """
    _check_spec(request)
    servable = resolve_servable(repo, request.model_spec, version_labels)
    key = request.model_spec.signature_name or DEFAULT_SIGNATURE
    sig = servable.signatures.get(key)
    if sig is None:
        raise GrpcError(grpc.StatusCode.FAILED_PRECONDITION,
                        f'Serving signature key "{key}" not found.')
    # In TF Serving's order: names, tensors, output_filter, then what the
    # graph checks (dtypes, and here also shapes, batch, values).
    _check_input_names(request, servable, key)
    arrays = {alias: _to_array(alias, request.inputs[alias], max_bytes)
              for alias in sig.inputs}
    names = _output_names(request, sig)
    _check_dtypes(request, sig)
    try:
        _, arrays, _ = parse_request(
            {"signature_name": key, "inputs": arrays}, servable, max_batch)
        outputs = run_signature(sig, arrays)
    except ServingError as err:
        raise grpc_error(err) from None
    response = predict_pb2.PredictResponse()
    response.model_spec.name = repo.name
    response.model_spec.signature_name = key
    response.model_spec.version.value = servable.version
    for name in names:
        response.outputs[name].CopyFrom(tensor_proto(outputs[name]))
    return response


# --------------------------------------------------------------------------
# GetModelMetadata, GetModelStatus
# --------------------------------------------------------------------------


def model_metadata(repo: ModelRepository, request, version_labels=None):
    """Answers a ``GetModelMetadataRequest``: the version's SignatureDefs
    as a ``SignatureDefMap`` packed into ``metadata["signature_def"]``.

    Raises:
        GrpcError: INVALID_ARGUMENT (no spec, no or an unknown
            ``metadata_field``), NOT_FOUND (model, version).
    """
    _check_spec(request)
    if not request.metadata_field:
        raise invalid_argument("GetModelMetadataRequest must specify at "
                               "least one metadata_field")
    for field in request.metadata_field:
        if field != SIGNATURE_DEF:
            raise invalid_argument(f"Metadata field {field} is not supported")
    servable = resolve_servable(repo, request.model_spec, version_labels)
    defs = json_format.ParseDict(
        {"signature_def": servable.signature_def},
        get_model_metadata_pb2.SignatureDefMap())
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = repo.name
    response.model_spec.version.value = servable.version
    response.metadata[SIGNATURE_DEF].Pack(defs)
    return response


def model_status(repo: ModelRepository, request):
    """Answers a ``GetModelStatusRequest``: every version (newest first),
    or the one of ``model_spec.version``, with its state and status.

    Raises:
        GrpcError: INVALID_ARGUMENT (no spec), NOT_FOUND "Could not find
            version 9 of model mnist" / "Could not find any versions of
            model nope".
    """
    _check_spec(request)
    spec = request.model_spec
    version = spec.version.value if spec.HasField("version") else None
    missing = (f"Could not find version {version} of model {spec.name}"
               if version is not None
               else f"Could not find any versions of model {spec.name}")
    if spec.name != repo.name:
        raise GrpcError(grpc.StatusCode.NOT_FOUND, missing)
    try:
        rows = repo.status(version)
    except ServingError:
        raise GrpcError(grpc.StatusCode.NOT_FOUND, missing) from None
    response = get_model_status_pb2.GetModelStatusResponse()
    for row in rows:
        status = response.model_version_status.add()
        status.version = int(row["version"])
        status.state = _STATES.Value(row["state"])
        status.status.error_code = _ERROR_CODES[
            row["status"]["error_code"]].number
        status.status.error_message = row["status"]["error_message"]
    return response


# --------------------------------------------------------------------------
# The services
# --------------------------------------------------------------------------


def _answered_version(request, response) -> int | str:
    """The version that answered: the response's, or for a status
    request the one it asked for ("" for all)."""
    spec = getattr(response, "model_spec", None)
    if spec is not None:
        return spec.version.value
    asked = request.model_spec
    return asked.version.value if asked.HasField("version") else ""


def _answers_errors(api: str):
    """Aborts the call with a ``GrpcError``'s code and message; any other
    exception is logged and answered INTERNAL (the server keeps serving).
    Counts and times the call as ``api`` in the service's ``metrics``
    (when it has them)."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, request, context):
            call = (None if self.metrics is None else self.metrics.call(
                api, "GRPC", request.model_spec.name))
            try:
                response = method(self, request, context)
            except GrpcError as err:
                code, message = err.code, err.message
            except Exception as err:  # noqa: BLE001 - answered as INTERNAL
                logger.exception("%s failed", method.__name__)
                code, message = (grpc.StatusCode.INTERNAL,
                                 f"{type(err).__name__}: {err}")
            else:
                if call is not None:
                    call.version = _answered_version(request, response)
                    self.metrics.done(call, grpc.StatusCode.OK.name)
                return response
            if call is not None:
                self.metrics.done(call, code.name)
            context.abort(code, message)

        return wrapper

    return decorate


def _unimplemented():
    """What gRPC answers for a method a servicer leaves out."""
    raise GrpcError(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """``tensorflow.serving.PredictionService``: Predict, GetModelMetadata."""

    def __init__(self, repo: ModelRepository, max_batch: int, max_bytes: int,
                 version_labels: dict[str, int],
                 metrics: ServingMetrics | None = None):
        self.repo, self.max_batch, self.max_bytes = repo, max_batch, max_bytes
        self.version_labels, self.metrics = version_labels, metrics

    @_answers_errors("predict")
    def Predict(self, request, context):  # noqa: N802 - the proto's name
        return predict(self.repo, request, self.max_batch, self.max_bytes,
                       self.version_labels)

    @_answers_errors("classify")
    def Classify(self, request, context):  # noqa: N802
        _unimplemented()

    @_answers_errors("regress")
    def Regress(self, request, context):  # noqa: N802
        _unimplemented()

    @_answers_errors("metadata")
    def GetModelMetadata(self, request, context):  # noqa: N802
        return model_metadata(self.repo, request, self.version_labels)


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    """``tensorflow.serving.ModelService``: GetModelStatus."""

    def __init__(self, repo: ModelRepository,
                 metrics: ServingMetrics | None = None):
        self.repo, self.metrics = repo, metrics

    @_answers_errors("status")
    def GetModelStatus(self, request, context):  # noqa: N802
        return model_status(self.repo, request)


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


def _check_labels(version_labels) -> dict[str, int]:
    labels = dict(version_labels or {})
    for label, version in labels.items():
        if not isinstance(label, str) or not label or not isinstance(
                version, int) or isinstance(version, bool) or version < 1:
            raise ValueError("version_labels must map names to positive "
                             f"versions. Received: {label!r}: {version!r}")
    return labels


class GrpcServer:
    """TF Serving's gRPC services for a repository, on a port of ``host``.

    Usage::

        app = create_app("saved_models/mnist")
        with GrpcServer(app.state.repository, port=0) as server:
            channel = grpc.insecure_channel(server.target)

    Args:
        repository: the :class:`ModelRepository` (shared with the REST app).
        host: the address to listen on. Defaults to "127.0.0.1".
        port: the port; 0 picks a free one. Defaults to 8500 (TF Serving's).
        max_batch: most examples per request. Defaults to 1024.
        max_message_bytes: largest request message (and largest tensor a
            request may declare). Defaults to 32 MiB, the REST body bound.
        max_workers: threads answering requests. Defaults to 8.
        version_labels: ``{label: version}`` for ``model_spec.version_label``
            (TF Serving reads them from its model config). Defaults to None.
        metrics: where calls are counted and timed (the REST app's
            ``app.state.metrics``). Defaults to None (not counted).

    Raises:
        ValueError: a limit that is not positive, a malformed label.
        OSError: the port cannot be bound.
    """

    def __init__(self, repository: ModelRepository, host="127.0.0.1",
                 port=DEFAULT_GRPC_PORT, max_batch=DEFAULT_MAX_BATCH,
                 max_message_bytes=DEFAULT_MAX_BODY_BYTES,
                 max_workers=DEFAULT_MAX_WORKERS, version_labels=None,
                 metrics: ServingMetrics | None = None):
        if min(max_batch, max_message_bytes, max_workers) < 1:
            raise ValueError(
                "max_batch, max_message_bytes and max_workers must be "
                f"positive. Received: max_batch={max_batch}, "
                f"max_message_bytes={max_message_bytes}, "
                f"max_workers={max_workers}")
        labels = _check_labels(version_labels)
        self.repository, self.host = repository, host
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers, "tfnn-grpc"),
            options=[("grpc.max_receive_message_length", max_message_bytes),
                     ("grpc.max_send_message_length", 2**31 - 1)])
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionService(repository, max_batch, max_message_bytes,
                              labels, metrics), self.server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelService(repository, metrics), self.server)
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            self.port = self.server.add_insecure_port(address)
        except RuntimeError as err:
            raise OSError(f"cannot listen on {address}: {err}") from None
        if not self.port:  # older grpcio report a failed bind as port 0
            raise OSError(f"cannot listen on {address}")

    @property
    def target(self) -> str:
        """``host:port`` for ``grpc.insecure_channel``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def start(self) -> GrpcServer:
        self.server.start()
        logger.info("gRPC (TensorFlow Serving's PredictionService, "
                    "ModelService) on %s", self.target)
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until the server stops (or ``timeout`` seconds)."""
        return self.server.wait_for_termination(timeout)

    def stop(self, grace: float | None = 5.0, wait: bool = True):
        """Stops taking calls; running ones get ``grace`` seconds.

        Returns:
            A ``threading.Event``, set once stopped (``wait=False``
            returns at once).
        """
        stopped = self.server.stop(grace)
        if wait:
            stopped.wait()
        return stopped

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

