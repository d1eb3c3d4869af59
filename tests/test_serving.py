"""TensorFlow Serving's REST API over real HTTP (tfnn.serving and its client).

uvicorn runs in a background thread on a free port of 127.0.0.1; requests
go through httpx (and http.client for a raw header). The model is a small
MLP trained for 300 steps on real MNIST, exported with tfnn.shipping.
"""

import ast
import http.client
import json
import logging
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfnn import cli, serving
from tfnn import shipping as export
from tfnn.serving import app as serving_app

pytestmark = pytest.mark.usefixtures("mnist_manual_dir")
logger = logging.getLogger(__name__)

MAX_BODY = 4 * 2**20  # the test server's bound (default: 32 MiB)
MAX_BATCH = 1024


def _classes(model, x):
    return np.argmax(model.predict(x, batch_size=1000, verbose=0), axis=-1)


@pytest.fixture(scope="module")
def server(mlp, mnist, tmp_path_factory):
    base = tmp_path_factory.mktemp("saved_models") / "mnist"
    path = export.export_savedmodel(mlp, mnist.preprocessor, base)
    app = serving.create_app(base, max_batch=MAX_BATCH,
                             max_body_bytes=MAX_BODY, poll_interval=0)
    with serving.BackgroundServer(app) as running:
        running.version_dir = path
        yield running


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def test_the_server_runs_on_httptools_and_uvloop(server):
    # BackgroundServer and serve take SERVER_OPTIONS: uvicorn's C parser
    # (its head limited) and libuv's loop, not h11 and asyncio's loop.
    assert server.server.config.http_protocol_class is (
        serving_app.HeadLimitedHttpTools)
    listening = server.server.servers[0]
    assert type(listening).__module__.startswith("uvloop")


def _raw_answer(server, pieces) -> bytes:
    """The first line the server answers ``pieces`` sent one by one."""
    with socket.create_connection((server.host, server.port), 30) as sock:
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(0.01)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n")[0]


_STATUS = b"GET /v1/models/mnist HTTP/1.1\r\nHost: x\r\n"
_HEAD = serving_app.MAX_HEAD_BYTES


@pytest.mark.parametrize("pieces, status", [
    ([b"HELLO THERE\r\n\r\n"], 400),
    ([b"POST /v1/models/mnist:predict HTTP/1.1\r\nHost: x\r\n"
      b"Content-Length: 5\r\nContent-Length: 7\r\n\r\n{\"a\":1}"], 400),
    ([b"POST /v1/models/mnist:predict HTTP/1.1\r\nHost: x\r\n"
      b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"], 400),
    ([_STATUS + b"X: " + b"a" * _HEAD + b"\r\n\r\n"], 400),
    ([_STATUS] + [b"X-%d: %s\r\n" % (i, b"a" * 1000)
                  for i in range(_HEAD // 1000 + 1)] + [b"\r\n"], 400),
    ([_STATUS + b"X: " + b"a" * (_HEAD - 200) + b"\r\n\r\n"], 200),
], ids=["garbage", "two lengths", "bad chunk", "one large header",
        "many headers in pieces", "a head within the limit"])
def test_malformed_http_and_large_heads_are_answered_400(server, pieces,
                                                         status):
    assert _raw_answer(server, pieces).startswith(b"HTTP/1.1 %d" % status)


def _post(client, body, path="/v1/models/mnist:predict"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, content=data,
                       headers={"content-type": "application/json"})


def _good_request_works(client, mlp, mnist, mnist_raw):
    r = _post(client, {"instances": mnist_raw[1][0][:2].tolist()})
    assert r.status_code == 200, r.text
    got = [p["classes"] for p in r.json()["predictions"]]
    assert got == _classes(mlp, mnist.x_test[:2]).tolist()


# What the server may import from tfnn: itself, the version folders' layout
# (plain os), their integrity checks (TensorFlow only), the batching
# helper (the client's batches) and the lazy-export helper every package's
# __init__ uses.
# tfnn.data.drawing: NumPy only, the client's MNIST-style preprocessing of
# large pictures (imported when one is read).
SERVING_MAY_IMPORT = ("tfnn.serving", "tfnn.shipping.versions",
                      "tfnn.shipping.integrity", "tfnn.batched_inference",
                      "tfnn.data.drawing", "tfnn.lazy")


@pytest.mark.slow
def test_serving_needs_no_model_or_training_code():
    folder = pathlib.Path(serving.__file__).parent
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            wrong = [n for n in names if n.split(".")[0] == "tfnn" and not
                     n.startswith(SERVING_MAY_IMPORT)]
            assert not wrong, (path.name, wrong)
    # At run time too: the app and the client load no other tfnn module
    # (tfnn.shipping's package is lazy), and the client loads no TensorFlow.
    code = ("import sys\n"
            "import tfnn.serving.client\n"
            "assert 'tensorflow' not in sys.modules\n"
            "assert 'fastapi' not in sys.modules\n"
            "from tfnn.serving import create_app\n"
            "import json\n"
            "print(json.dumps([m for m in sys.modules if m[:4] == 'tfnn']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    # ``import tfnn`` itself loads tfnn.runtime (its process-wide settings).
    assert [m for m in loaded
            if m not in ("tfnn", "tfnn.runtime", "tfnn.shipping")
            and not m.startswith(SERVING_MAY_IMPORT)] == []


# --------------------------------------------------------------------------
# Status and metadata
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_model_status(client):
    for path in ("/v1/models/mnist", "/v1/models/mnist/versions/1"):
        r = client.get(path)
        assert r.status_code == 200
        assert r.json() == {"model_version_status": [{
            "version": "1", "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""},
        }]}


def test_metadata_matches_the_signatures(client, server):
    r = client.get("/v1/models/mnist/metadata")
    assert r.status_code == 200
    body = r.json()
    assert body["model_spec"] == {"name": "mnist", "signature_name": "",
                                  "version": "1"}
    defs = body["metadata"]["signature_def"]["signature_def"]
    loaded = tf.saved_model.load(server.version_dir)
    for key, dtype in (("serving_default", "DT_FLOAT"),
                       ("serving_uint8", "DT_UINT8")):
        fn = loaded.signatures[key]
        spec = fn.structured_input_signature[1]
        assert list(defs[key]["inputs"]) == list(spec) == ["images"]
        images = defs[key]["inputs"]["images"]
        assert images["dtype"] == dtype
        assert images["tensor_shape"]["unknown_rank"] is True
        assert spec["images"].shape.rank is None
        assert spec["images"].dtype.name == {"DT_FLOAT": "float32",
                                             "DT_UINT8": "uint8"}[dtype]
        outputs = defs[key]["outputs"]
        assert set(outputs) == set(fn.structured_outputs) == {
            "probabilities", "classes"}
        for name, out in fn.structured_outputs.items():
            shape = outputs[name]["tensor_shape"]
            dims = [int(d["size"]) for d in shape["dim"]]
            assert dims == [-1 if d is None else d for d in out.shape.as_list()]
        assert outputs["probabilities"]["dtype"] == "DT_FLOAT"
        assert outputs["classes"]["dtype"] == "DT_INT64"
        assert defs[key]["method_name"] == "tensorflow/serving/predict"
    assert client.get("/v1/models/mnist/versions/1/metadata").json() == body


# --------------------------------------------------------------------------
# Predictions
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_thousand_test_images_match_in_process(client, server, mlp, mnist,
                                               mnist_raw):
    raw = mnist_raw[1][0][:1000]
    serve = tf.saved_model.load(server.version_dir).signatures[
        "serving_default"]
    classes, probabilities = [], []
    start = time.perf_counter()
    for i in range(0, 1000, 100):
        r = _post(client, {"instances": raw[i:i + 100].tolist()})
        assert r.status_code == 200, r.text
        rows = r.json()["predictions"]
        assert len(rows) == 100 and set(rows[0]) == {"classes",
                                                     "probabilities"}
        classes += [row["classes"] for row in rows]
        probabilities += [row["probabilities"] for row in rows]
    logger.info("1,000 images in 10 requests: %.2f s",
                time.perf_counter() - start)
    np.testing.assert_array_equal(classes, _classes(mlp, mnist.x_test[:1000]))
    expected = np.concatenate([
        serve(images=tf.constant(raw[i:i + 100], tf.float32))[
            "probabilities"].numpy() for i in range(0, 1000, 100)
    ])
    np.testing.assert_allclose(np.asarray(probabilities, np.float32),
                               expected, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_row_and_columnar_formats_shapes_and_signatures(client, mlp, mnist,
                                                        mnist_raw):
    raw = mnist_raw[1][0][:5]
    expected = _classes(mlp, mnist.x_test[:5]).tolist()
    flat = raw.reshape(5, 784).tolist()
    bodies = [
        {"instances": raw.tolist()},
        {"instances": flat},
        {"instances": [{"images": img} for img in raw.tolist()]},
        {"instances": (raw / 1.0).tolist(), "signature_name":
         "serving_default"},
        {"instances": raw.tolist(), "signature_name": "serving_uint8"},
        {"inputs": raw.tolist()},
        {"inputs": {"images": flat}},
        {"inputs": {"images": raw.tolist()}, "signature_name":
         "serving_uint8"},
    ]
    for body in bodies:
        r = _post(client, body)
        assert r.status_code == 200, (body.keys(), r.text)
        out = r.json()
        if "instances" in body:
            assert [p["classes"] for p in out["predictions"]] == expected
        else:
            assert out["outputs"]["classes"] == expected
            assert np.asarray(out["outputs"]["probabilities"]).shape == (5, 10)
    one = _post(client, {"instances": raw[:1].tolist()},
                path="/v1/models/mnist/versions/1:predict")
    assert one.json()["predictions"][0]["classes"] == expected[0]


def _zeros(n):
    return [[0] * 784 for _ in range(n)]


IMG = [[0] * 28 for _ in range(28)]
BAD_BODIES = [
    # (case, body, status, part of the error message)
    ("malformed json", b'{"instances": [[1, 2', 400, "JSON"),
    ("not utf-8", b"\xff\xfe{}", 400, "JSON"),
    ("not an object", b"[1, 2, 3]", 400, "JSON object"),
    ("no instances or inputs", {"foo": [1]}, 400, "instances"),
    ("both formats", {"instances": [IMG], "inputs": [IMG]}, 400, "both"),
    ("instances not a list", {"instances": 3}, 400, "list"),
    ("wrong shape", {"instances": [[1, 2, 3]]}, 400, "784"),
    ("wrong shape 27x28", {"instances": [IMG[:27]]}, 400, "784"),
    ("one image without batch axis", {"inputs": [0] * 784}, 400, "784"),
    ("scalar", {"inputs": 3}, 400, "scalar"),
    ("ragged rows", {"instances": [IMG, IMG[:5]]}, 400, "rectangular"),
    ("strings", {"instances": [["a"] * 784]}, 400, "numbers"),
    ("nulls", {"instances": [[None] * 784]}, 400, "numbers"),
    ("booleans", {"instances": [[True] * 784]}, 400, "numbers"),
    ("b64 object", {"inputs": {"images": {"b64": "AAAA"}}}, 400, "numbers"),
    ("infinite", b'{"instances": [[' + b"1e999, " * 783 + b"1]]}", 400,
     "finite"),
    ("nan", b'{"instances": [[' + b"NaN, " * 783 + b"1]]}", 400, "finite"),
    ("floats for uint8", {"signature_name": "serving_uint8",
                          "instances": [[0.5] * 784]}, 400, "integers"),
    ("out of uint8 range", {"signature_name": "serving_uint8",
                            "instances": [[300] * 784]}, 400, "[0, 255]"),
    ("empty batch (rows)", {"instances": []}, 400, "empty batch"),
    ("empty batch (columns)", {"inputs": []}, 400, "empty batch"),
    ("oversized batch (rows)", {"instances": _zeros(MAX_BATCH + 1)}, 400,
     "exceeds"),
    ("oversized batch (columns)", {"inputs": _zeros(MAX_BATCH + 1)}, 400,
     "exceeds"),
    ("unknown signature", {"signature_name": "nope", "instances": [IMG]},
     400, "nope"),
    ("signature_name not a string", {"signature_name": 3,
                                     "instances": [IMG]}, 400, "string"),
    ("wrong input name (columns)", {"inputs": {"pixels": [IMG]}}, 400,
     "expects input 'images'"),
    ("wrong input name (rows)", {"instances": [{"pixels": IMG}]}, 400,
     "expects input 'images'"),
    ("mixed named and bare rows", {"instances": [{"images": IMG}, IMG]}, 400,
     "mixes"),
]


@pytest.mark.parametrize("case,body,status,message", BAD_BODIES,
                         ids=[c[0] for c in BAD_BODIES])
@pytest.mark.slow
def test_bad_input_gets_4xx_and_the_server_keeps_serving(
        case, body, status, message, client, mlp, mnist, mnist_raw):
    r = _post(client, body)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    _good_request_works(client, mlp, mnist, mnist_raw)


@pytest.mark.parametrize("method,path,status", [
    ("POST", "/v1/models/nope:predict", 404),
    ("POST", "/v1/models/mnist/versions/9:predict", 404),
    ("POST", "/v1/models/mnist/versions/x:predict", 404),
    ("GET", "/v1/models/nope", 404),
    ("GET", "/v1/models/mnist/versions/9", 404),
    ("GET", "/v1/models/nope/metadata", 404),
    ("GET", "/v1/models/mnist/versions/9/metadata", 404),
    ("GET", "/v2/nothing", 404),
    ("PUT", "/v1/models/mnist:predict", 405),
])
def test_unknown_model_or_version_is_404(method, path, status, client, mlp,
                                         mnist, mnist_raw):
    r = client.request(method, path, json={"instances": [IMG]})
    assert r.status_code == status, r.text
    assert r.json()["error"]
    _good_request_works(client, mlp, mnist, mnist_raw)


def test_body_size_is_bounded(server, client, mlp, mnist, mnist_raw):
    # By Content-Length: answered before any byte of the body is read.
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    conn.putrequest("POST", "/v1/models/mnist:predict")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(10 * 2**30))
    conn.endheaders()
    r = conn.getresponse()
    assert r.status == 413
    assert "exceeds" in json.loads(r.read())["error"]
    conn.close()
    # By the actual length of a chunked body (no Content-Length).
    chunk = b" " * 2**20

    def body():
        for _ in range(MAX_BODY // len(chunk) + 1):
            yield chunk

    r = client.post("/v1/models/mnist:predict", content=body())
    assert r.status_code == 413
    assert "exceeds" in r.json()["error"]
    _good_request_works(client, mlp, mnist, mnist_raw)


def test_default_bounds():
    assert serving.DEFAULT_MAX_BATCH == 1024
    assert serving.DEFAULT_MAX_BODY_BYTES == 32 * 2**20


@pytest.mark.slow
def test_concurrent_clients(server, mlp, mnist, mnist_raw):
    raw, n_threads, n_requests = mnist_raw[1][0], 8, 50
    expected = _classes(mlp, mnist.x_test[:n_threads * 4])
    failures, done = [], []

    def worker(t):
        batch = raw[t * 4:(t + 1) * 4].tolist()
        with httpx.Client(base_url=server.url, timeout=60) as c:
            for _ in range(n_requests):
                try:
                    r = _post(c, {"instances": batch})
                    got = [p["classes"] for p in r.json()["predictions"]]
                    assert r.status_code == 200
                    assert got == expected[t * 4:(t + 1) * 4].tolist()
                    done.append(1)
                except Exception as err:  # noqa: BLE001 - collected
                    failures.append(repr(err))

    threads = [threading.Thread(target=worker, args=(t,))
               for t in range(n_threads)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    seconds = time.perf_counter() - start
    logger.info("%d requests in %.2f s: %.0f requests/s", len(done), seconds,
                len(done) / seconds)
    assert failures == []
    assert len(done) == n_threads * n_requests


# --------------------------------------------------------------------------
# New versions
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_a_new_version_dropped_into_the_folder_is_served(
        mlp, train_mlp, mnist, mnist_raw, tmp_path):
    base = tmp_path / "mnist"
    export.export_savedmodel(mlp, mnist.preprocessor, base)
    raw = mnist_raw[1][0][:200]
    app = serving.create_app(base, poll_interval=0)
    with serving.BackgroundServer(app) as running, httpx.Client(
            base_url=running.url, timeout=60) as c:
        def classes(path="/v1/models/mnist:predict"):
            r = _post(c, {"instances": raw.tolist()}, path=path)
            assert r.status_code == 200, r.text
            return [p["classes"] for p in r.json()["predictions"]]

        v1 = _classes(mlp, mnist.x_test[:200]).tolist()
        assert classes() == v1
        # Version 2: a different model, exported atomically into the folder.
        other = train_mlp(seed=1, steps=5)
        v2 = _classes(other, mnist.x_test[:200]).tolist()
        assert v2 != v1
        export.export_savedmodel(other, mnist.preprocessor, base)
        assert classes() == v2
        status = c.get("/v1/models/mnist").json()["model_version_status"]
        assert [(s["version"], s["state"]) for s in status] == [
            ("2", "AVAILABLE"), ("1", "AVAILABLE")]
        assert c.get("/v1/models/mnist/metadata").json()["model_spec"][
            "version"] == "2"
        assert classes("/v1/models/mnist/versions/1:predict") == v1
        # A broken version 3 is reported; version 2 keeps serving.
        (base / "3").mkdir()
        (base / "3" / "saved_model.pb").write_bytes(b"not a SavedModel")
        assert classes() == v2
        status = c.get("/v1/models/mnist/versions/3").json()[
            "model_version_status"][0]
        assert status["state"] == "END"
        assert status["status"]["error_code"] == "UNKNOWN"
        assert status["status"]["error_message"]


# --------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------


def test_tfnn_predict_prints_the_classes(server, mlp, mnist, mnist_raw,
                                         tmp_path, capsys):
    raw = mnist_raw[1][0]
    npy = tmp_path / "three.npy"
    np.save(npy, raw[:3])
    png = tmp_path / "digit.png"
    Image.fromarray(np.asarray(raw[3])).save(png)
    url = server.url + "/v1/models/mnist"
    assert cli.main(["predict", "--url", url, str(npy), str(png)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    printed = [int(re.search(r"class (\d)", ln).group(1)) for ln in lines]
    assert printed == _classes(mlp, mnist.x_test[:4]).tolist()
    assert lines[0].startswith(f"{npy}[0]") and lines[3].startswith(str(png))
    assert cli.main(["predict", "--url", server.url + "/v1/models/nope",
                     str(npy)]) == 1


def test_model_checks_shapes_when_metadata_is_missing(server, mlp, mnist,
                                                      mnist_raw, tmp_path):
    shutil.copytree(server.version_dir, tmp_path / "m" / "1")
    (tmp_path / "m" / "1" / "metadata.json").unlink()
    app = serving.create_app(tmp_path / "m", name="mnist")
    with serving.BackgroundServer(app) as running, httpx.Client(
            base_url=running.url, timeout=60) as c:
        r = _post(c, {"instances": _zeros(2)[:1] + [[0] * 784]})
        assert r.status_code == 200
        r = _post(c, {"inputs": [[0] * 785]})
        assert r.status_code == 400
        assert "784 values" in r.json()["error"]
        _good_request_works(c, mlp, mnist, mnist_raw)
