"""TensorFlow Serving's gRPC API (tfnn.serving.grpc_api) over a real channel.

The REST app and the gRPC server run in this process on free ports of
127.0.0.1 and share one model repository; requests go through the official
``tensorflow_serving.apis`` stubs (PredictionServiceStub, ModelServiceStub).
Every call has a deadline. The model is a small MLP trained for 300 steps on
real MNIST, exported with tfnn.shipping, as in tests/test_serving.py. The
REST side's orjson parser and writer are checked against ``json`` here too.
"""

import json
import os
import random
import signal
import socket
import threading

import grpc
import httpx
import numpy as np
import orjson
import pytest
import tensorflow as tf
from google.protobuf import json_format
from prometheus_client.parser import text_string_to_metric_families
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from tfnn import serving
from tfnn import shipping as export
from tfnn.serving import grpc_api, metrics, protocol
from tfnn.serving.process import ServeProcess
from tfnn.studies.benchmark.grpc_load import grpc_serving_speed

pytestmark = pytest.mark.usefixtures("mnist_manual_dir")

MAX_BODY = 4 * 2**20  # the test servers' bound on a body / a message
MAX_BATCH = 1024
DEADLINE = 60  # seconds, every call
Code = grpc.StatusCode


def _classes(model, x):
    return np.argmax(model.predict(x, batch_size=1000, verbose=0), axis=-1)


class Servers:
    """The REST app and the gRPC server on one repository, with stubs."""

    def __init__(self, base, **grpc_kwargs):
        self.app = serving.create_app(base, max_batch=MAX_BATCH,
                                      max_body_bytes=MAX_BODY,
                                      poll_interval=0)
        self.rest = serving.BackgroundServer(self.app)
        self.grpc = grpc_api.GrpcServer(
            self.app.state.repository, port=0, max_batch=MAX_BATCH,
            max_message_bytes=MAX_BODY, metrics=self.app.state.metrics,
            **grpc_kwargs)

    def __enter__(self):
        self.rest.start()
        self.grpc.start()
        self.channel = grpc.insecure_channel(self.grpc.target)
        grpc.channel_ready_future(self.channel).result(timeout=DEADLINE)
        self.predict = prediction_service_pb2_grpc.PredictionServiceStub(
            self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)
        self.http = httpx.Client(base_url=self.rest.url, timeout=DEADLINE)
        return self

    def __exit__(self, *exc):
        self.http.close()
        self.channel.close()
        self.grpc.stop()
        self.rest.stop()


@pytest.fixture(scope="module")
def servers(mlp, mnist, tmp_path_factory):
    base = tmp_path_factory.mktemp("saved_models") / "mnist"
    path = export.export_savedmodel(mlp, mnist.preprocessor, base)
    with Servers(base) as running:
        running.version_dir = path
        yield running


def _request(images=None, name="mnist", signature="", version=None,
             label=None, output_filter=()):
    req = predict_pb2.PredictRequest()
    req.model_spec.name = name
    req.model_spec.signature_name = signature
    if version is not None:
        req.model_spec.version.value = version
    if label is not None:
        req.model_spec.version_label = label
    if images is not None:
        req.inputs["images"].CopyFrom(tf.make_tensor_proto(images))
    req.output_filter.extend(output_filter)
    return req


def _outputs(response):
    return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}


def _good_request_works(servers, mlp, mnist, mnist_raw):
    raw = mnist_raw[1][0][:2].astype(np.float32)
    out = _outputs(servers.predict.Predict(_request(raw), timeout=DEADLINE))
    assert out["classes"].tolist() == _classes(mlp, mnist.x_test[:2]).tolist()


def _dict(message):
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True)


# --------------------------------------------------------------------------
# Predict
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_predict_matches_rest_on_100_test_images(servers, mlp, mnist,
                                                 mnist_raw):
    raw = mnist_raw[1][0][:100]
    r = servers.http.post("/v1/models/mnist:predict",
                          json={"instances": raw.tolist()})
    assert r.status_code == 200, r.text
    rows = r.json()["predictions"]
    rest_probabilities = np.asarray([p["probabilities"] for p in rows])
    response = servers.predict.Predict(_request(raw.astype(np.float32)),
                                       timeout=DEADLINE)
    assert _dict(response.model_spec) == {
        "name": "mnist", "signature_name": "serving_default", "version": "1"}
    out = _outputs(response)
    assert set(out) == {"classes", "probabilities"}
    assert out["probabilities"].dtype == np.float32
    assert out["probabilities"].shape == (100, 10)
    assert out["classes"].dtype == np.int64
    # REST writes each float32 exactly (shortest digits of its double).
    np.testing.assert_allclose(out["probabilities"], rest_probabilities,
                               rtol=1e-6, atol=1e-7)
    assert out["classes"].tolist() == [p["classes"] for p in rows]
    assert out["classes"].tolist() == _classes(
        mlp, mnist.x_test[:100]).tolist()


def test_signatures_versions_and_output_filter(servers, mlp, mnist,
                                               mnist_raw):
    raw = mnist_raw[1][0][:5]
    expected = _classes(mlp, mnist.x_test[:5]).tolist()
    for req in (_request(raw.astype(np.float32), signature="serving_default"),
                _request(raw.reshape(5, 784).astype(np.float32)),
                _request(raw, signature="serving_uint8"),
                _request(raw.astype(np.float32), version=1)):
        response = servers.predict.Predict(req, timeout=DEADLINE)
        assert _outputs(response)["classes"].tolist() == expected
        assert response.model_spec.version.value == 1
    response = servers.predict.Predict(
        _request(raw, signature="serving_uint8", output_filter=["classes"]),
        timeout=DEADLINE)
    assert list(response.outputs) == ["classes"]
    assert response.model_spec.signature_name == "serving_uint8"
    # float_val instead of tensor_content (TF Serving's default encoding).
    req = _request()
    tensor = req.inputs["images"]
    tensor.dtype = types_pb2.DT_FLOAT
    tensor.tensor_shape.dim.add(size=1)
    tensor.tensor_shape.dim.add(size=784)
    tensor.float_val.extend(raw[0].ravel().astype(float).tolist())
    got = _outputs(servers.predict.Predict(req, timeout=DEADLINE))
    assert got["classes"].tolist() == expected[:1]


@pytest.mark.slow
def test_concurrent_grpc_and_rest_clients(servers, mlp, mnist, mnist_raw):
    raw, n_threads, n_requests = mnist_raw[1][0], 6, 30
    expected = _classes(mlp, mnist.x_test[:n_threads * 4]).tolist()
    failures, done = [], []

    def worker(t):
        batch = raw[t * 4:(t + 1) * 4]
        for _ in range(n_requests):
            try:
                if t % 2:
                    rows = servers.http.post(
                        "/v1/models/mnist:predict",
                        json={"instances": batch.tolist()}).json()
                    got = [p["classes"] for p in rows["predictions"]]
                else:
                    got = _outputs(servers.predict.Predict(
                        _request(batch.astype(np.float32)),
                        timeout=DEADLINE))["classes"].tolist()
                assert got == expected[t * 4:(t + 1) * 4]
                done.append(1)
            except Exception as err:  # noqa: BLE001 - collected
                failures.append(repr(err))

    threads = [threading.Thread(target=worker, args=(t,))
               for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert failures == []
    assert len(done) == n_threads * n_requests


# --------------------------------------------------------------------------
# GetModelMetadata, GetModelStatus: as TF Serving (and the REST side)
# --------------------------------------------------------------------------


def _metadata_request(name="mnist", version=None, fields=("signature_def",)):
    req = get_model_metadata_pb2.GetModelMetadataRequest(
        metadata_field=list(fields))
    req.model_spec.name = name
    if version is not None:
        req.model_spec.version.value = version
    return req


def _status_request(name="mnist", version=None):
    req = get_model_status_pb2.GetModelStatusRequest()
    req.model_spec.name = name
    if version is not None:
        req.model_spec.version.value = version
    return req


def test_metadata_is_the_savedmodels_signature_def_map(servers):
    response = servers.predict.GetModelMetadata(_metadata_request(),
                                                timeout=DEADLINE)
    assert response.model_spec.name == "mnist"
    assert response.model_spec.version.value == 1
    assert list(response.metadata) == ["signature_def"]
    packed = response.metadata["signature_def"]
    assert packed.type_url == (
        "type.googleapis.com/tensorflow.serving.SignatureDefMap")
    defs = get_model_metadata_pb2.SignatureDefMap()
    assert packed.Unpack(defs)
    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(servers.version_dir, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    assert dict(defs.signature_def) == dict(
        saved.meta_graphs[0].signature_def)
    assert {"serving_default", "serving_uint8"} <= set(defs.signature_def)
    # The REST side answers the same message as JSON.
    as_json = _dict(response)
    assert as_json["metadata"]["signature_def"].pop("@type")
    assert as_json == servers.http.get("/v1/models/mnist/metadata").json()
    again = servers.predict.GetModelMetadata(_metadata_request(version=1),
                                             timeout=DEADLINE)
    assert again == response


def test_status_lists_the_versions_as_tf_serving(servers):
    expected = get_model_status_pb2.GetModelStatusResponse()
    row = expected.model_version_status.add(
        version=1, state=get_model_status_pb2.ModelVersionStatus.AVAILABLE)
    row.status.error_code = 0  # tensorflow.error.OK
    row.status.error_message = ""
    for version in (None, 1):
        response = servers.models.GetModelStatus(
            _status_request(version=version), timeout=DEADLINE)
        assert response == expected
    assert _dict(expected) == servers.http.get("/v1/models/mnist").json()


# --------------------------------------------------------------------------
# Errors: TF Serving's codes, a message, and the server keeps serving
# --------------------------------------------------------------------------


def _tensor(dtype, shape, **values):
    proto = tensor_pb2.TensorProto(dtype=dtype, **values)
    for size in shape:
        proto.tensor_shape.dim.add(size=size)
    return proto


def _with_inputs(**inputs):
    req = _request()
    for name, tensor in inputs.items():
        req.inputs[name].CopyFrom(tensor if isinstance(
            tensor, tensor_pb2.TensorProto) else tf.make_tensor_proto(tensor))
    return req


IMG = np.zeros((1, 28, 28), np.float32)
BAD_PREDICTS = [
    # (case, request, code, part of the message)
    ("no model_spec", predict_pb2.PredictRequest(), Code.INVALID_ARGUMENT,
     "Missing ModelSpec"),
    ("no model name", _request(IMG, name=""), Code.INVALID_ARGUMENT,
     "ModelSpec has no name specified."),
    ("unknown model", _request(IMG, name="nope"), Code.NOT_FOUND,
     "Servable not found for request: Latest(nope)"),
    ("unknown version", _request(IMG, version=9), Code.NOT_FOUND,
     "Servable not found for request: Specific(mnist, 9)"),
    ("unknown label", _request(IMG, label="stable"), Code.INVALID_ARGUMENT,
     "Unrecognized servable version label: stable"),
    ("unknown signature", _request(IMG, signature="nope"),
     Code.FAILED_PRECONDITION, 'Serving signature key "nope" not found.'),
    ("no inputs", _request(), Code.INVALID_ARGUMENT,
     "input size does not match signature: 0!=1"),
    ("extra input", _with_inputs(images=IMG, extra=IMG),
     Code.INVALID_ARGUMENT, "Sent extra: {extra}"),
    ("wrong input name", _with_inputs(pixels=IMG), Code.INVALID_ARGUMENT,
     "Signature input alias: images(feed name: serving_default_images:0) "
     "not found in request"),
    ("uint8 for float", _request(IMG.astype(np.uint8)),
     Code.INVALID_ARGUMENT, "Expects arg[0] to be float but uint8 is "
     "provided"),
    ("double for float", _request(IMG.astype(np.float64)),
     Code.INVALID_ARGUMENT, "but double is provided"),
    ("float for uint8", _request(IMG, signature="serving_uint8"),
     Code.INVALID_ARGUMENT, "to be uint8 but float is provided"),
    ("strings", _request(np.array([b"a"] * 784).reshape(1, 784)),
     Code.INVALID_ARGUMENT, "but string is provided"),
    ("wrong shape", _request(np.zeros((1, 3), np.float32)),
     Code.INVALID_ARGUMENT, "784"),
    ("wrong shape 27x28", _request(IMG[:, :27]), Code.INVALID_ARGUMENT,
     "784"),
    ("no batch axis", _request(np.zeros(784, np.float32)),
     Code.INVALID_ARGUMENT, "784"),
    ("scalar", _request(np.float32(3)), Code.INVALID_ARGUMENT, "scalar"),
    ("nan", _request(np.full((1, 784), np.nan, np.float32)),
     Code.INVALID_ARGUMENT, "finite"),
    ("infinite", _request(np.full((1, 784), np.inf, np.float32)),
     Code.INVALID_ARGUMENT, "finite"),
    ("empty batch", _request(np.zeros((0, 784), np.float32)),
     Code.INVALID_ARGUMENT, "empty batch"),
    ("oversized batch", _request(np.zeros((MAX_BATCH + 1, 1), np.uint8),
                                 signature="serving_uint8"),
     Code.INVALID_ARGUMENT, "exceeds the limit of 1024"),
    ("truncated tensor_content", _with_inputs(images=_tensor(
        types_pb2.DT_FLOAT, [1, 784], tensor_content=b"abc")),
     Code.INVALID_ARGUMENT, "tensor parsing error: images"),
    ("negative dimension", _with_inputs(images=_tensor(
        types_pb2.DT_FLOAT, [-1, 784], float_val=[0.0])),
     Code.INVALID_ARGUMENT, "tensor parsing error: images"),
    ("unknown rank", _with_inputs(images=tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT, float_val=[0.0],
        tensor_shape=tensor_shape_pb2.TensorShapeProto(unknown_rank=True))),
     Code.INVALID_ARGUMENT, "tensor parsing error: images"),
    ("no dtype", _with_inputs(images=_tensor(types_pb2.DT_INVALID, [1])),
     Code.INVALID_ARGUMENT, "tensor parsing error: images"),
    # 4 bytes of float_val that TF would fill into a 4 TB tensor.
    ("huge declared shape", _with_inputs(images=_tensor(
        types_pb2.DT_FLOAT, [10**6, 10**6], float_val=[0.0])),
     Code.INVALID_ARGUMENT, "exceeds the limit of"),
    ("unknown output_filter", _request(IMG, output_filter=["logits"]),
     Code.INVALID_ARGUMENT, "output tensor alias not found in signature: "
     "logits Outputs expected to be in the set {classes,probabilities}."),
    ("repeated output_filter", _request(IMG, output_filter=["classes"] * 2),
     Code.INVALID_ARGUMENT, "duplicate output tensor alias: classes"),
    ("message over the bound", _request(np.zeros((1400, 784), np.float32)),
     Code.RESOURCE_EXHAUSTED, "larger than max"),
]


@pytest.mark.parametrize("case,request_,code,message", BAD_PREDICTS,
                         ids=[c[0] for c in BAD_PREDICTS])
def test_bad_predict_gets_tf_servings_code_and_the_server_keeps_serving(
        case, request_, code, message, servers, mlp, mnist, mnist_raw):
    with pytest.raises(grpc.RpcError) as err:
        servers.predict.Predict(request_, timeout=DEADLINE)
    assert err.value.code() == code, err.value.details()
    assert message in err.value.details()
    _good_request_works(servers, mlp, mnist, mnist_raw)


BAD_QUERIES = [
    ("status: no model_spec", "GetModelStatus",
     get_model_status_pb2.GetModelStatusRequest(), Code.INVALID_ARGUMENT,
     "Missing ModelSpec"),
    ("status: unknown model", "GetModelStatus", _status_request("nope"),
     Code.NOT_FOUND, "Could not find any versions of model nope"),
    ("status: unknown version", "GetModelStatus", _status_request(version=9),
     Code.NOT_FOUND, "Could not find version 9 of model mnist"),
    ("metadata: no model_spec", "GetModelMetadata",
     get_model_metadata_pb2.GetModelMetadataRequest(
         metadata_field=["signature_def"]), Code.INVALID_ARGUMENT,
     "Missing ModelSpec"),
    ("metadata: no field", "GetModelMetadata", _metadata_request(fields=()),
     Code.INVALID_ARGUMENT, "must specify at least one metadata_field"),
    ("metadata: unknown field", "GetModelMetadata",
     _metadata_request(fields=("signature_def", "graph")),
     Code.INVALID_ARGUMENT, "Metadata field graph is not supported"),
    ("metadata: unknown model", "GetModelMetadata",
     _metadata_request("nope"), Code.NOT_FOUND,
     "Servable not found for request: Latest(nope)"),
    ("metadata: unknown version", "GetModelMetadata",
     _metadata_request(version=9), Code.NOT_FOUND,
     "Servable not found for request: Specific(mnist, 9)"),
    ("classify: not served", "Classify",
     classification_pb2.ClassificationRequest(), Code.UNIMPLEMENTED, ""),
]


@pytest.mark.parametrize("case,method,request_,code,message", BAD_QUERIES,
                         ids=[c[0] for c in BAD_QUERIES])
def test_bad_status_or_metadata_request(case, method, request_, code,
                                        message, servers, mlp, mnist,
                                        mnist_raw):
    stub = servers.models if method == "GetModelStatus" else servers.predict
    with pytest.raises(grpc.RpcError) as err:
        getattr(stub, method)(request_, timeout=DEADLINE)
    assert err.value.code() == code, err.value.details()
    assert message in (err.value.details() or "")
    _good_request_works(servers, mlp, mnist, mnist_raw)


def test_server_arguments_are_checked(servers):
    repo = servers.app.state.repository
    for kwargs in ({"max_batch": 0}, {"max_message_bytes": 0},
                   {"max_workers": 0}, {"version_labels": {"stable": 0}},
                   {"version_labels": {"": 1}}):
        with pytest.raises(ValueError, match="Received"):
            grpc_api.GrpcServer(repo, port=0, **kwargs)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="cannot listen"):
            grpc_api.GrpcServer(repo, port=taken.getsockname()[1])


# --------------------------------------------------------------------------
# New versions, labels
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_a_new_version_is_served_over_grpc_and_rest(
        mlp, train_mlp, mnist, mnist_raw, tmp_path):
    base = tmp_path / "mnist"
    export.export_savedmodel(mlp, mnist.preprocessor, base)
    raw = mnist_raw[1][0][:200].astype(np.float32)
    labels = {"stable": 1, "canary": 2}
    with Servers(base, version_labels=labels) as s:
        def grpc_classes(**spec):
            response = s.predict.Predict(_request(raw, **spec),
                                         timeout=DEADLINE)
            return (response.model_spec.version.value,
                    _outputs(response)["classes"].tolist())

        def rest_classes():
            r = s.http.post("/v1/models/mnist:predict",
                            json={"instances": raw.tolist()})
            return [p["classes"] for p in r.json()["predictions"]]

        v1 = _classes(mlp, mnist.x_test[:200]).tolist()
        assert grpc_classes() == (1, v1)
        with pytest.raises(grpc.RpcError) as err:  # canary: not there yet
            s.predict.Predict(_request(raw, label="canary"), timeout=DEADLINE)
        assert err.value.code() == Code.NOT_FOUND
        other = train_mlp(seed=1, steps=5)
        v2 = _classes(other, mnist.x_test[:200]).tolist()
        assert v2 != v1
        export.export_savedmodel(other, mnist.preprocessor, base)
        assert grpc_classes() == (2, v2)
        assert rest_classes() == v2  # the same repository
        assert grpc_classes(version=1) == (1, v1)
        assert grpc_classes(label="stable") == (1, v1)
        assert grpc_classes(label="canary") == (2, v2)
        status = s.models.GetModelStatus(_status_request(), timeout=DEADLINE)
        assert [(v.version, get_model_status_pb2.ModelVersionStatus.State.Name(
            v.state)) for v in status.model_version_status] == [
            (2, "AVAILABLE"), (1, "AVAILABLE")]
        assert s.predict.GetModelMetadata(
            _metadata_request(), timeout=DEADLINE).model_spec.version.value == 2
        # A broken version 3 is reported; version 2 keeps serving.
        (base / "3").mkdir()
        (base / "3" / "saved_model.pb").write_bytes(b"not a SavedModel")
        assert grpc_classes() == (2, v2)
        row = s.models.GetModelStatus(_status_request(version=3),
                                      timeout=DEADLINE).model_version_status
        assert len(row) == 1 and row[0].version == 3
        assert row[0].state == get_model_status_pb2.ModelVersionStatus.END
        assert row[0].status.error_code == 2  # tensorflow.error.UNKNOWN
        assert row[0].status.error_message
        assert _dict(row[0]) == s.http.get(
            "/v1/models/mnist/versions/3").json()["model_version_status"][0]


# --------------------------------------------------------------------------
# tfnn serve --grpc-port, and the load measurement
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_tfnn_serve_grpc_port_serves_both_apis(servers, mnist_raw):
    base = os.path.dirname(servers.version_dir)
    with ServeProcess(base, "--version-label", "stable=1",
                      grpc=True) as served:
        with grpc.insecure_channel(served.target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            raw = mnist_raw[1][0][:10]
            got = _outputs(stub.Predict(
                _request(raw, signature="serving_uint8", label="stable"),
                timeout=DEADLINE))["classes"]
        r = httpx.post(f"{served.model_url}:predict",
                       json={"instances": raw.tolist()}, timeout=DEADLINE)
        assert [p["classes"] for p in r.json()["predictions"]] == got.tolist()
    # uvicorn re-raises the SIGTERM it handled once both servers are down.
    assert served.returncode in (0, -signal.SIGTERM), served.log_text()[
        -2000:]


@pytest.mark.slow
def test_grpc_serving_speed_reports_latencies(servers, mnist_raw):
    base = os.path.dirname(servers.version_dir)
    result = grpc_serving_speed(base, requests=5, batches=(1, 4),
                                images=mnist_raw[1][0][:10])
    assert set(result) == {"batch_1", "batch_4"}
    for row in result.values():
        for key in ("grpc_p50_ms", "grpc_p99_ms", "rest_p50_ms",
                    "inprocess_p50_ms", "grpc_over_inprocess"):
            assert row[key] > 0, key
        assert row["grpc_p99_ms"] >= row["grpc_p50_ms"]


# --------------------------------------------------------------------------
# The REST side's orjson: the same values and errors as json
# --------------------------------------------------------------------------


JSON_BODIES = [
    b'{"instances": [[1, 2.5, -0.0, 1e-7, 1E2]]}', b"[1, 2, 3]", b"3",
    b'{"a": 1, "a": 2}', b'"\\u0000\\u00e9"', b" [1] \n",
    b"[18446744073709551615]", b"[18446744073709551616]",
    b"[-9223372036854775809]", b"[123456789012345678901.5]",
    b"[0.1234567890123456789012]", b"[1e400]", b"[-1e400]", b"[1e-400]",
    b"[NaN]", b"[Infinity, -Infinity]", b'"\\ud800"', b"\xef\xbb\xbf[1]",
    '[1, 2]'.encode("utf-16"), b"\xff\xfe{}", b'{"instances": [[1, 2',
    b"[1,]", b"", b"[" * 2000 + b"]" * 2000, b"[" * 900 + b"]" * 900,
    b'{"x": "\xc3\xa9"}', b'{"x": "\xe9"}', '{"a": [1, 2]}', "[NaN]",
]


def _parse(raw, loads):
    try:
        return "ok", loads(raw)
    except protocol.ServingError as err:
        return "error", err.status, err.message
    except (ValueError, RecursionError) as err:
        return "error", 400, f"JSON Parse error: {err}"


@pytest.mark.parametrize("raw", JSON_BODIES, ids=range(len(JSON_BODIES)))
def test_fast_json_parses_as_json_does(raw):
    got, want = _parse(raw, protocol.parse_json), _parse(raw, json.loads)
    assert got[0] == want[0]
    # repr tells 1 from 1.0, nan from nan, and lists from tuples.
    assert repr(got) == repr(want)


def test_fast_json_reads_random_numbers_exactly():
    rng = random.Random(0)
    numbers = [rng.uniform(-1, 1) * 10.0 ** rng.randint(-300, 300)
               for _ in range(2000)]
    numbers += [float(np.float32(x)) for x in np.random.default_rng(0)
                .standard_normal(2000)]
    numbers += [rng.randint(-2**63, 2**64 - 1) for _ in range(500)]
    texts = [repr(x) for x in numbers] + [f"{x:.25g}" for x in numbers[:500]]
    raw = ("[" + ", ".join(texts) + "]").encode()
    assert repr(protocol.parse_json(raw)) == repr(json.loads(raw))


def test_fast_json_writes_the_same_predictions():
    rng = np.random.default_rng(0)
    outputs = {"probabilities": rng.random((100, 10), dtype=np.float32),
               "classes": rng.integers(0, 10, 100)}
    outputs["probabilities"][0, :3] = [1e-30, 3e38, 0.0]
    for style in ("row", "columnar"):
        encoded = protocol.encode_response(outputs, style)
        expected = protocol.format_response(outputs, style)
        assert repr(json.loads(encoded)) == repr(expected)
        assert repr(orjson.loads(encoded)) == repr(expected)
    # Where only json's answer is json's: left to the standard path.
    bad = dict(outputs, probabilities=np.full((2, 2), np.nan, np.float32))
    assert protocol.encode_response(bad, "row") is None
    assert protocol.encode_response(
        {"names": np.array([b"a", b"b"], object)}, "row") is None


def test_rest_answers_the_same_bytes_values_with_fast_json(servers,
                                                          mnist_raw):
    raw = mnist_raw[1][0][:100]
    r = servers.http.post("/v1/models/mnist:predict",
                          json={"instances": raw.tolist()})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    serve = tf.saved_model.load(servers.version_dir).signatures[
        "serving_default"]
    out = serve(images=tf.constant(raw, tf.float32))
    expected = protocol.format_response(
        {k: out[k].numpy() for k in ("classes", "probabilities")}, "row")
    assert repr(json.loads(r.content)) == repr(expected)



# --------------------------------------------------------------------------
# The REST side's integer bodies: the same arrays and errors as np.asarray
# --------------------------------------------------------------------------


INTEGER_BODIES = [
    ({"instances": [[0, 255, 7]] * 2}, True),
    ({"signature_name": "serving_default", "inputs": {"images": [[1] * 784]}},
     True),
    ({"instances": [[1, 2], [3]]}, True),  # ragged: np.asarray's error
    ({"instances": [[1, [2]]]}, True),
    ({"instances": [[]]}, True),  # empty: float64, as np.asarray reads it
    ({"instances": [[2**63] * 784]}, True),  # uint64, as np.asarray reads it
    ({"instances": [[-1] * 784]}, True),
    ({"instances": "123"}, False),  # strings are never read as numbers
    ({"instances": [["1"] * 784]}, False),
    ({"inputs": {"images": "7"}}, False),
    ({"instances": [[1.5] * 784]}, False),
    ({"instances": [[1e2] * 784]}, False),
    ({"instances": [[True] * 784]}, False),
    ({"instances": [[None] * 784]}, False),
    ({"signature_name": "s1", "inputs": {"signature_name": [[1]]}}, False),
]


def _outcome(call):
    try:
        sig, arrays, style = call()
    except protocol.ServingError as err:
        return "error", err.status, err.message
    return sig.key, style, {n: (a.dtype.str, a.shape, a.tobytes())
                            for n, a in arrays.items()}


@pytest.mark.parametrize("body,integers", INTEGER_BODIES,
                         ids=range(len(INTEGER_BODIES)))
def test_integer_bodies_read_as_numpy_reads_them(servers, body, integers):
    raw = json.dumps(body).encode()
    assert protocol.integers_only(raw, body) is integers
    servable = servers.app.state.repository.get()
    got = _outcome(lambda: protocol.decode_request(raw, servable, MAX_BATCH))
    want = _outcome(lambda: protocol.parse_request(
        json.loads(raw), servable, MAX_BATCH, integers=False))
    assert got == want


# --------------------------------------------------------------------------
# Prometheus metrics (tfnn.serving.metrics)
# --------------------------------------------------------------------------


def _scrape(servers):
    """``{(metric, labels...): value}`` of the metrics endpoint."""
    r = servers.http.get(metrics.METRICS_PATH)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            labels = tuple(sample.labels.get(k, "")
                           for k in (*metrics.LABELS, "le"))
            values[(sample.name, *labels)] = sample.value
    return values


def test_metrics_count_and_time_every_rest_and_grpc_request(servers,
                                                          mnist_raw):
    before = _scrape(servers)
    images = mnist_raw[1][0][:3]
    version = os.path.basename(servers.version_dir)
    http = servers.http
    assert http.post("/v1/models/mnist:predict", json={
        "instances": images.tolist()}).status_code == 200
    assert http.post("/v1/models/mnist:predict", json={
        "instances": [[1, 2]]}).status_code == 400
    assert http.get("/v1/models/nope/metadata").status_code == 404
    assert http.get(f"/v1/models/mnist/versions/{version}").status_code == 200
    servers.predict.Predict(_request(images.astype(np.float32)),
                            timeout=DEADLINE)
    with pytest.raises(grpc.RpcError):
        servers.predict.Predict(_request(name="nope"), timeout=DEADLINE)
    with pytest.raises(grpc.RpcError):
        servers.predict.Classify(classification_pb2.ClassificationRequest(),
                                 timeout=DEADLINE)
    made = {("mnist", version, "predict", "REST", "200"): 1,
            ("mnist", "", "predict", "REST", "400"): 1,
            ("", "", "metadata", "REST", "404"): 1,
            ("mnist", version, "status", "REST", "200"): 1,
            ("mnist", version, "predict", "GRPC", "OK"): 1,
            ("", "", "predict", "GRPC", "NOT_FOUND"): 1,
            ("", "", "classify", "GRPC", "UNIMPLEMENTED"): 1}
    after = _scrape(servers)

    def delta(name, labels, le=""):
        key = (name, *labels, le)
        return after.get(key, 0) - before.get(key, 0)

    counted = {key[1:-1] for key in after
               if key[0] == "tfnn_serving_requests_total"
               and delta(key[0], key[1:-1])}
    assert counted == set(made)
    for labels, n in made.items():
        assert delta("tfnn_serving_requests_total", labels) == n
        count = delta("tfnn_serving_request_latency_seconds_count", labels)
        assert count == n
        assert delta("tfnn_serving_request_latency_seconds_sum", labels) > 0
        buckets = [delta("tfnn_serving_request_latency_seconds_bucket",
                         labels, le) for le in
                   [*(repr(float(b)) for b in metrics.LATENCY_BUCKETS),
                    "+Inf"]]
        assert buckets == sorted(buckets) and buckets[-1] == count


def test_serving_metrics_keep_their_own_registry():
    one, two = metrics.ServingMetrics("m"), metrics.ServingMetrics("m")
    call = one.call("predict", "REST", "m")
    call.version = 2
    one.done(call, 200)
    one.done(one.call("status", "GRPC", "other"), "OK")
    labels = {"model_name": "m", "version": "2", "api": "predict",
              "entrypoint": "REST", "status": "200"}
    assert one.registry.get_sample_value("tfnn_serving_requests_total",
                                         labels) == 1
    assert two.registry.get_sample_value("tfnn_serving_requests_total",
                                         labels) is None
    assert one.registry.get_sample_value("tfnn_serving_requests_total", {
        **labels, "model_name": "", "version": "", "api": "status",
        "entrypoint": "GRPC", "status": "OK"}) == 1
    body, media_type = one.exposition()
    assert b"tfnn_serving_request_latency_seconds_bucket" in body
    assert media_type.startswith("text/plain")
    with pytest.raises(ValueError, match="api='train'"):
        one.call("train", "REST", "m")


def test_tensor_proto_is_make_tensor_protos_message():
    rng = np.random.default_rng(0)
    for arr in (rng.random((3, 10), dtype=np.float32), np.arange(7),
                rng.integers(0, 255, (2, 28, 28)).astype(np.uint8),
                np.array([True, False]), np.asfortranarray(np.eye(3)),
                np.zeros((0, 10), np.float32), np.array(5)):
        assert (grpc_api.tensor_proto(arr).SerializeToString()
                == tf.make_tensor_proto(arr).SerializeToString()), arr
