"""Serving SavedModels over TensorFlow Serving's REST API (FastAPI + uvicorn).

    protocol    the REST API's wire side: request parsing and validation,
                response formatting, ServingError, version parsing, limits
    repository  one model's version folders: Servable, load_servable,
                run_signature, ModelRepository (polling for new versions)
    app         create_app (the routes), serve, BackgroundServer
    page        the page at ``GET /`` (draw a digit; static/, under a
                Content-Security-Policy), ``GET /v1/models``, the cards
    card        a version's model card from its metadata.json
    client      a small client for ``tfnn predict`` (NumPy and httpx only)
    grpc_api    TF Serving's gRPC API (PredictionService, ModelService) on
                the same repository: GrpcServer (``tfnn serve --grpc-port``)
    metrics     TF Serving's Prometheus metrics (request count, latency
                histogram) of both APIs: ServingMetrics, a registry per app
    process     ``tfnn serve`` in its own process: ServeProcess (tests,
                benchmarks)

The server needs TensorFlow, NumPy and FastAPI only: no tfnn model or
training code (it reads version folders through ``tfnn.shipping.versions``,
plain ``os``), so it starts fast and no change to the trainer can break it.

The names below load on first use (PEP 562), like ``tfnn``'s own: the
client and the CLI's ``tfnn serve --help`` (which reads the default limits)
load neither FastAPI nor TensorFlow.

Reference: TensorFlow Serving, "RESTful API",
https://www.tensorflow.org/tfx/serving/api_rest.
"""

from tfnn.lazy import lazy_exports

_EXPORTS = {
    "DEFAULT_MAX_BATCH": "tfnn.serving.protocol",
    "DEFAULT_MAX_BODY_BYTES": "tfnn.serving.protocol",
    "ServingError": "tfnn.serving.protocol",
    "parse_version": "tfnn.serving.protocol",
    "DEFAULT_POLL_INTERVAL": "tfnn.serving.protocol",
    "ModelRepository": "tfnn.serving.repository",
    "Servable": "tfnn.serving.repository",
    "load_servable": "tfnn.serving.repository",
    "BackgroundServer": "tfnn.serving.app",
    "create_app": "tfnn.serving.app",
    "serve": "tfnn.serving.app",
    "DEFAULT_GRPC_PORT": "tfnn.serving.grpc_api",
    "GrpcError": "tfnn.serving.grpc_api",
    "GrpcServer": "tfnn.serving.grpc_api",
    "ServeProcess": "tfnn.serving.process",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
