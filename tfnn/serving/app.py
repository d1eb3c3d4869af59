"""The HTTP server: TensorFlow Serving's REST API on FastAPI and uvicorn.

``create_app`` routes the endpoints of ``tfnn.serving.protocol`` to one
:class:`~tfnn.serving.repository.ModelRepository`::

    GET  /v1/models/{name}[/versions/{v}]            status
    GET  /v1/models/{name}[/versions/{v}]/metadata   signature_def
    POST /v1/models/{name}[/versions/{v}]:predict    predictions

and, from ``tfnn.serving.page``, the page where a person draws a digit
(``GET /``, its ``/static/`` files under a Content-Security-Policy), the
models served (``GET /v1/models``) and a version's model card
(``GET /v1/models/{name}[/versions/{v}]/card``), and TF Serving's
Prometheus metrics of the three endpoints above, REST and gRPC
(``GET /monitoring/prometheus/metrics``, ``tfnn.serving.metrics``).

Every error, FastAPI's own included (unknown route 404, wrong method 405,
invalid path 400), is answered ``{"error": message}``; a failure inside the
model is a 500, and the server keeps serving after any error. The body is
read within ``max_body_bytes`` (413) and ``body_timeout`` seconds (408)
before it is parsed (``tfnn.serving.protocol.read_body``); one that breaks
either is answered and the connection closed. A body within them that
holds more values than ``max_batch`` examples can is read to its end
without being kept and answered 400; a request found wrong before its body
is read (an unknown model or version) has the body read within the same
limits before the answer (``drain_body``): either way the answer reaches
the client and the connection stays open. A body of more than
``INLINE_BODY_BYTES`` is parsed and run in a worker thread, so that
neither holds the event loop; a smaller one (a few images), and the
lookup of a loaded version, on the loop itself, where the hand-over to a
thread and back would take longer than the work. uvicorn runs on its C
HTTP parser and libuv's event loop (``SERVER_OPTIONS``); malformed HTTP,
and a request line and headers over ``MAX_HEAD_BYTES``, are answered 400
and the connection closed. The two ``:predict`` routes are Starlette's own
(the endpoint reads its path parameters), not FastAPI's.

Reference: TensorFlow Serving, "RESTful API",
https://www.tensorflow.org/tfx/serving/api_rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import socket
import sys
import threading
import time

import uvicorn
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tfnn.serving.metrics import METRICS_PATH, ServingMetrics
from tfnn.serving.page import add_page_routes
from tfnn.serving.protocol import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_BYTES,
    ServingError,
    body_expected,
    check_content_type,
    decode_request,
    drain_body,
    encode_response,
    format_response,
    metadata_response,
    parse_version,
    read_body,
    servable_not_found,
    status_response,
    value_limit,
)
from tfnn.serving.repository import (
    DEFAULT_POLL_INTERVAL,
    ModelRepository,
    run_signature,
)

logger = logging.getLogger(__name__)

# Bodies up to this size (a few images) are parsed and run on the event
# loop: the hand-over to a worker thread and back would cost more than the
# loop is held.
INLINE_BODY_BYTES = 16 * 2**10
# The most bytes a request's line and headers may take (h11's limit).
MAX_HEAD_BYTES = 16 * 2**10
LARGE_BUFFER_BYTES = 16 * 2**20  # allocations from here on get their own map
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


# --------------------------------------------------------------------------
# The steps of a request
# --------------------------------------------------------------------------


def _error(status: int, message: str, close: bool = False) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status,
                        headers={"connection": "close"} if close else None)


def _repository(repo: ModelRepository, model_name: str) -> ModelRepository:
    """``repo`` when it serves ``model_name``; 404 otherwise."""
    if model_name != repo.name:
        raise servable_not_found(model_name)
    return repo


def _metadata(repo: ModelRepository, model_name: str, version, call):
    servable = _repository(repo, model_name).get(version)
    call.version = servable.version
    return metadata_response(repo.name, servable.version,
                             servable.signature_def)


@contextlib.contextmanager
def _observed(metrics: ServingMetrics, api: str, model_name: str):
    """Times the request and counts it with its status
    (``tfnn.serving.metrics``); yields the ``Call`` (its ``version``)."""
    call = metrics.call(api, "REST", model_name)
    try:
        yield call
    except ServingError as err:
        call.version = ""
        metrics.done(call, err.status)
        raise
    except HTTPException as err:
        call.version = ""
        metrics.done(call, err.status_code)
        raise
    except asyncio.CancelledError:  # the client went away: nginx's 499
        call.version = ""
        metrics.done(call, 499)
        raise
    except BaseException:
        call.version = ""
        metrics.done(call, 500)
        raise
    metrics.done(call, 200)


def _predict(servable, raw: bytes, max_batch: int):
    """Parses and validates the body ``raw``, runs the signature, formats
    the answer (in a worker thread, or on the event loop for a small body)."""
    sig, arrays, style = decode_request(raw, servable, max_batch)
    try:
        outputs = run_signature(sig, arrays)
    except ServingError:
        raise
    except Exception as err:  # noqa: BLE001 - answered as a 500
        logger.exception("predict failed")
        raise ServingError(500, f"{type(err).__name__}: {err}") from None
    encoded = encode_response(outputs, style)  # orjson; None: FastAPI's
    if encoded is not None:
        return Response(encoded, media_type="application/json")
    return format_response(outputs, style)


# --------------------------------------------------------------------------
# The routes
# --------------------------------------------------------------------------


def _add_error_handlers(app: FastAPI) -> None:
    """Every error as ``{"error": message}`` with its status."""

    @app.exception_handler(ServingError)
    async def serving_error(request, exc: ServingError):
        return _error(exc.status, exc.message, exc.close)

    @app.exception_handler(Exception)
    async def internal_error(request, exc: Exception):
        # A bug, never the client's input: still JSON (Starlette logs the
        # traceback once and re-raises it to uvicorn after this answer).
        return _error(500, f"Internal error: {type(exc).__name__}",
                      close=True)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc: RequestValidationError):
        return _error(400, "; ".join(
            f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}"
            for e in exc.errors()
        ) or "invalid request")


def _add_status_routes(app: FastAPI, repo: ModelRepository,
                       metrics: ServingMetrics) -> None:
    """GetModelStatus and GetModelMetadata, newest or a given version."""

    @app.get("/v1/models/{model_name}")
    def model_status(model_name: str):
        with _observed(metrics, "status", model_name):
            return status_response(_repository(repo, model_name).status())

    @app.get("/v1/models/{model_name}/versions/{version}")
    def version_status(model_name: str, version: str):
        with _observed(metrics, "status", model_name) as call:
            number = parse_version(version)
            rows = _repository(repo, model_name).status(number)
            call.version = number
            return status_response(rows)

    @app.get("/v1/models/{model_name}/metadata")
    def model_metadata(model_name: str):
        with _observed(metrics, "metadata", model_name) as call:
            return _metadata(repo, model_name, None, call)

    @app.get("/v1/models/{model_name}/versions/{version}/metadata")
    def version_metadata(model_name: str, version: str):
        with _observed(metrics, "metadata", model_name) as call:
            return _metadata(repo, model_name, parse_version(version), call)


def _add_predict_routes(app: FastAPI, repo: ModelRepository, max_batch: int,
                        max_body_bytes: int, body_timeout: float,
                        metrics: ServingMetrics) -> None:
    """Predict, newest or a given version."""

    async def predict(request: Request, model_name: str, version, call):
        try:
            check_content_type(request.headers.get("content-type"))
            version = None if version is None else parse_version(version)
            models = _repository(repo, model_name)
            servable = (models.cached(version)
                        or await run_in_threadpool(models.get, version))
        except ServingError as err:
            # Wrong before the body is read: read it (within its limits)
            # before answering, or close the connection.
            if body_expected(request.headers):
                drained = await drain_body(request, max_body_bytes,
                                           body_timeout)
                err.close = err.close or not drained
            raise
        call.version = servable.version
        raw = await read_body(request, max_body_bytes, body_timeout,
                              value_limit(servable, max_batch))
        if len(raw) <= INLINE_BODY_BYTES:
            return _predict(servable, raw, max_batch)
        return await run_in_threadpool(_predict, servable, raw, max_batch)

    async def predict_route(request: Request):
        params = request.path_params
        model_name = params["model_name"]
        with _observed(metrics, "predict", model_name) as call:
            return await predict(request, model_name, params.get("version"),
                                 call)

    # Starlette's routes, not FastAPI's: the endpoint takes the request
    # and reads its path itself, where FastAPI would solve and validate
    # its parameters on every call (the body is never FastAPI's to read).
    for path in ("/v1/models/{model_name}:predict",
                 "/v1/models/{model_name}/versions/{version}:predict"):
        app.add_route(path, predict_route, methods=["POST"])


def _add_metrics_route(app: FastAPI, metrics: ServingMetrics) -> None:
    """TF Serving's Prometheus endpoint (``tfnn.serving.metrics``)."""

    @app.get(METRICS_PATH, include_in_schema=False)
    def prometheus_metrics():
        body, media_type = metrics.exposition()
        return Response(body, media_type=media_type)


# --------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------


def create_app(
    model_dir,
    name: str | None = None,
    max_batch: int = DEFAULT_MAX_BATCH,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    body_timeout: float | None = DEFAULT_BODY_TIMEOUT,
) -> FastAPI:
    """A FastAPI app serving the SavedModel versions under ``model_dir``.

    Args:
        model_dir: the model's base folder (``saved_models/mnist``).
        name: the model name in URLs. Defaults to the folder's name.
        max_batch: most examples per request. Defaults to 1024.
        max_body_bytes: largest request body. Defaults to 32 MiB.
        poll_interval: least seconds between scans for new versions.
            Defaults to 1.0.
        body_timeout: seconds a request body may take to arrive (408 and
            the connection closed after them); None: no limit. Defaults to
            30.

    Returns:
        The ``fastapi.FastAPI`` app; ``app.state.repository`` is the
        :class:`ModelRepository`, ``app.state.metrics`` its
        :class:`~tfnn.serving.metrics.ServingMetrics` (its own registry).

    Raises:
        ValueError: a limit that is not positive.
    """
    if max_batch < 1 or max_body_bytes < 1:
        raise ValueError(
            f"max_batch and max_body_bytes must be positive. Received: "
            f"max_batch={max_batch}, max_body_bytes={max_body_bytes}"
        )
    if body_timeout is not None and not body_timeout > 0:
        raise ValueError(
            f"body_timeout must be positive or None. Received: "
            f"body_timeout={body_timeout}"
        )
    repo = ModelRepository(model_dir, name=name, poll_interval=poll_interval)
    app = FastAPI(title=f"tfnn serving: {repo.name}",
                  description="TensorFlow Serving's REST API")
    metrics = ServingMetrics(repo.name)
    app.state.repository, app.state.metrics = repo, metrics
    _add_error_handlers(app)
    _add_status_routes(app, repo, metrics)
    _add_predict_routes(app, repo, max_batch, max_body_bytes, body_timeout,
                        metrics)
    _add_metrics_route(app, metrics)
    add_page_routes(app, repo)
    return app


# --------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------


def return_large_buffers_to_the_os(threshold=LARGE_BUFFER_BYTES) -> bool:
    """Makes glibc give request-sized buffers back to the OS when freed.

    glibc raises its mmap threshold to the size of each large block freed
    (up to 32 MiB), after which blocks of request size (bodies up to the
    32 MiB limit, their arrays) come from the heap and up to twice that
    stays with the process in every arena: RSS that never comes back. A
    fixed threshold (``mallopt(M_MMAP_THRESHOLD)``, which also turns the
    adjustment off) maps each block of ``threshold`` bytes or more on its
    own and unmaps it when freed.

    Returns:
        Whether it was set (False off glibc).
    """
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):
        return False


def serve(model_dir, name=None, host="127.0.0.1", port=8501,
          log_level="info", grpc_port=None, version_labels=None,
          **app_kwargs) -> None:
    """Serves ``model_dir`` with uvicorn until interrupted.

    Args:
        model_dir: the model's base folder.
        name: the model name in URLs. Defaults to the folder's name.
        host: the address to listen on. Defaults to "127.0.0.1".
        port: the port. Defaults to 8501 (TF Serving's REST port).
        log_level: uvicorn's log level. Defaults to "info".
        grpc_port: when given, TF Serving's gRPC API on this port too
            (``tfnn.serving.grpc_api``; TF Serving's is 8500), sharing the
            REST app's model repository, limits and metrics. Defaults to
            None (off).
        version_labels: ``{label: version}`` for gRPC's
            ``model_spec.version_label``. Defaults to None.
        **app_kwargs: ``create_app``'s limits and ``poll_interval``.
    """
    return_large_buffers_to_the_os()
    app = create_app(model_dir, name=name, **app_kwargs)
    grpc_server = None
    if grpc_port is not None:
        # Here, not at the top: a REST-only server (and every create_app
        # user) does not load grpc and TF Serving's protocol buffers.
        from tfnn.serving.grpc_api import GrpcServer

        grpc_server = GrpcServer(
            app.state.repository, host=host, port=grpc_port,
            max_batch=app_kwargs.get("max_batch", DEFAULT_MAX_BATCH),
            max_message_bytes=app_kwargs.get("max_body_bytes",
                                             DEFAULT_MAX_BODY_BYTES),
            version_labels=version_labels, metrics=app.state.metrics,
        ).start()
    if grpc_server is None:
        uvicorn.run(app, host=host, port=port, log_level=log_level,
                    **SERVER_OPTIONS)
        return
    server = _DrainsGrpc(uvicorn.Config(app, host=host, port=port,
                                        log_level=log_level,
                                        **SERVER_OPTIONS), grpc_server)
    try:
        server.run()
    finally:
        grpc_server.stop()
    if not server.started:
        raise SystemExit(3)  # as uvicorn.run: the port could not be bound


class _DrainsGrpc(uvicorn.Server):
    """uvicorn's server, which on shutdown (SIGTERM, Ctrl-C) also stops
    the gRPC server while its own connections drain: running calls get
    ``GrpcServer.stop``'s grace (uvicorn then re-raises the signal, so code
    after ``run()`` would not get the chance)."""

    def __init__(self, config, grpc_server):
        super().__init__(config)
        self.grpc_server = grpc_server

    async def shutdown(self, sockets=None):
        stopped = self.grpc_server.stop(wait=False)
        await super().shutdown(sockets)
        await asyncio.to_thread(stopped.wait)


class HeadLimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering a request whose line and
    headers pass ``MAX_HEAD_BYTES`` 400 and closing (httptools, unlike h11,
    sets no limit: it would keep whatever a client sends).

    A complete head is measured (its line and headers) when parsed; one
    still arriving is counted per chunk received (a chunk that also ends
    the message before it, counted whole), so that it cannot grow past
    the limit before it ends.
    """

    head_bytes = None  # None: no head being read

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_bytes = 0

    def on_headers_complete(self) -> None:
        self.head_bytes = None
        size = len(self.url) + sum(len(k) + len(v) + 4
                                   for k, v in self.headers)
        if size > MAX_HEAD_BYTES:
            # The parser answers a callback's error as invalid HTTP: 400.
            raise ValueError("request line and headers too large")
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.head_bytes is None or self.transport.is_closing():
            return
        self.head_bytes += len(data)
        if self.head_bytes > MAX_HEAD_BYTES:
            self.head_bytes = None
            msg = "Request line and headers too large."
            self.logger.warning(msg)
            self.send_400_response(msg)


# uvicorn's C HTTP parser (with a limit on the head) and libuv's event loop
# (what uvicorn[standard] installs), in place of its pure-Python h11 parser
# and asyncio's own loop (docs/performance.md, "Serving: where the time
# goes"); uvloop has no Windows build.
SERVER_OPTIONS = {"http": HeadLimitedHttpTools,
                  "loop": "asyncio" if sys.platform == "win32" else "uvloop"}


class BackgroundServer:
    """uvicorn in a daemon thread on a free port (tests, benchmarks).

    Usage::

        with BackgroundServer(create_app("saved_models/mnist")) as server:
            httpx.get(server.url + "/v1/models/mnist")
    """

    def __init__(self, app, host="127.0.0.1", port=0, log_level="warning"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()[:2]
        self.server = uvicorn.Server(uvicorn.Config(
            app, log_level=log_level, timeout_keep_alive=30,
            **SERVER_OPTIONS,
        ))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]},
            daemon=True, name=f"uvicorn-{self.port}",
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout=30.0) -> BackgroundServer:
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
