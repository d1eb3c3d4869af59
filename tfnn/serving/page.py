"""The page of ``tfnn serve``: draw a digit, see what the model says.

``add_page_routes`` adds to the REST app (``tfnn.serving.app``)::

    GET /                                        the page (static/index.html)
    GET /static/{file}                           its CSS and JavaScript
    GET /v1/models                               the models served (tfnn's)
    GET /v1/models/{name}[/versions/{v}]/card    a version's model card

The page itself speaks only the REST API every client uses: the status
endpoint for the versions, ``:predict`` with the 28×28 grey pixels
(0..255; the SavedModel normalizes them) under the input ``images``, and
the card. It preprocesses a drawing as MNIST's digits were made
(``static/drawing.js``, the twin of ``tfnn.data.drawing``).

Every answer of the page's routes carries ``CONTENT_SECURITY_POLICY``: no
inline script or style, nothing from another origin, no framing; the
page's files are the package's own (``static/``, shipped as package data:
no CDN, it works offline).

Reference: W3C, "Content Security Policy Level 3",
https://www.w3.org/TR/CSP3/.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException

from tfnn.serving.card import model_card
from tfnn.serving.protocol import parse_version, servable_not_found
from tfnn.serving.repository import ModelRepository
from tfnn.shipping.versions import read_metadata

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "static")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def static_files(folder: str = STATIC_DIR) -> dict[str, str]:
    """``{file name: media type}`` of the files the page may load: the
    folder's own files with a known extension (nothing else is served, so
    no path can climb out of it)."""
    return {
        entry.name: MEDIA_TYPES[os.path.splitext(entry.name)[1]]
        for entry in os.scandir(folder)
        if entry.is_file() and os.path.splitext(entry.name)[1] in MEDIA_TYPES
    }


def _file(name: str, media_type: str) -> FileResponse:
    return FileResponse(os.path.join(STATIC_DIR, name),
                        media_type=media_type, headers=PAGE_HEADERS)


def _card(repo: ModelRepository, model_name: str, version):
    """The card of the version ``repo`` serves (newest when ``None``)."""
    if model_name != repo.name:
        raise servable_not_found(model_name)
    servable = repo.get(version)
    try:
        meta = read_metadata(servable.path)
    except (OSError, ValueError):
        meta = {}
    return model_card(repo.name, servable.version, meta)


def add_page_routes(app: FastAPI, repo: ModelRepository) -> None:
    """The page, its files, the model list and the model cards."""
    files = static_files()

    @app.get("/", include_in_schema=False)
    def page():
        return _file("index.html", files["index.html"])

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        if name not in files:
            raise HTTPException(404, f"no such file: {name}")
        return _file(name, files[name])

    @app.get("/v1/models")
    def models():
        return {"models": [{"name": repo.name}]}

    @app.get("/v1/models/{model_name}/card")
    def card(model_name: str):
        return _card(repo, model_name, None)

    @app.get("/v1/models/{model_name}/versions/{version}/card")
    def version_card(model_name: str, version: str):
        return _card(repo, model_name, parse_version(version))

