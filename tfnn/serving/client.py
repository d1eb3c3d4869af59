"""A small client for TensorFlow Serving's REST API (``tfnn predict``).

Reads images from ``.png`` files (a 28×28 grayscale, pixel values 0..255;
MNIST digits are white on black; a larger picture, e.g. a 280×280 drawing
or a photo of a digit, ``.jpg`` too, is made into an MNIST digit by
``tfnn.data.drawing``) and ``.npy`` files (one ``(28, 28)`` image or a
batch ``(N, 28, 28)`` / ``(N, 784)``, as they are), posts them in the row format
to ``<url>:predict`` and returns classes and probabilities. Works against
``tfnn serve`` and TensorFlow Serving alike; needs NumPy, httpx and
Pillow only.

Reference: TensorFlow Serving, "RESTful API" (the row format's
``instances`` and ``predictions``),
https://www.tensorflow.org/tfx/serving/api_rest.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import httpx
import numpy as np
from PIL import Image

from tfnn.batched_inference import batch_slices

IMAGE_SHAPE = (28, 28)
IMAGE_SIZE = 784
PICTURES = (".png", ".jpg", ".jpeg")  # read with Pillow


def _grayscale(path) -> np.ndarray:
    """A picture file as grayscale uint8 (H, W)."""
    with Image.open(path) as img:
        return np.asarray(img.convert("L"), dtype=np.uint8)


def _picture(path) -> np.ndarray:
    """A picture file as a 28×28 digit: as it is when it is 28×28, else
    made into an MNIST digit (``tfnn.data.drawing``: polarity, 20×20 box,
    centre of mass) like the drawings of ``tfnn serve``'s page."""
    x = _grayscale(path)
    if x.shape == IMAGE_SHAPE:
        return x
    # Here, not at the top: the client (``tfnn predict``) loads no other
    # module of tfnn.data's package unless a large picture is read.
    from tfnn.data.drawing import mnist_style, to_ink

    try:
        return mnist_style(to_ink(x))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def load_images(paths: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Reads ``.png``, ``.jpg`` and ``.npy`` files into one batch.

    Args:
        paths: image files. A picture that is not 28×28 goes through
            ``tfnn.data.drawing.mnist_style`` (dark-on-light inverted).

    Returns:
        ``(images, labels)``: float32 ``(N, 28, 28)`` pixel values 0..255,
        and a label per image (``file`` or ``file[i]``).

    Raises:
        ValueError: an unknown extension, a wrong shape or an empty
            picture.
    """
    batches, labels = [], []
    for path in paths:
        ext = os.path.splitext(path)[1].lower()
        if ext == ".npy":
            x = np.load(path, allow_pickle=False)
            if x.shape in (IMAGE_SHAPE, (IMAGE_SIZE,)):
                x = x[None]
            if x.ndim < 2 or int(np.prod(x.shape[1:])) != IMAGE_SIZE:
                raise ValueError(
                    f"{path}: expected (28, 28), (N, 28, 28) or (N, 784) "
                    f"images. Received: shape={x.shape}"
                )
            names = ([path] if len(x) == 1
                     else [f"{path}[{i}]" for i in range(len(x))])
        elif ext in PICTURES:
            x, names = _picture(path)[None], [path]
        else:
            raise ValueError(f"{path}: unknown image type {ext!r}; use .png, "
                             ".jpg or .npy")
        batches.append(np.asarray(x, dtype=np.float32).reshape(-1, 28, 28))
        labels += names
    if not batches:
        raise ValueError("no images given")
    return np.concatenate(batches), labels


def predict_url(url: str) -> str:
    """``…/v1/models/mnist`` → ``…/v1/models/mnist:predict``."""
    url = url.rstrip("/")
    return url if url.endswith(":predict") else url + ":predict"


def predict(
    url: str,
    images,
    signature_name: str | None = None,
    batch_size: int = 256,
    timeout: float = 60.0,
) -> dict[str, np.ndarray]:
    """Posts images to a server; returns its outputs as arrays.

    Args:
        url: the model's URL, e.g. ``http://127.0.0.1:8501/v1/models/mnist``
            (``/versions/N`` allowed; ``:predict`` is appended).
        images: ``(N, 28, 28)`` or ``(N, 784)`` pixel values 0..255.
        signature_name: defaults to the server's ``serving_default``.
        batch_size: images per request. Defaults to 256.
        timeout: seconds per request. Defaults to 60.

    Returns:
        ``{"classes": int64 (N,), "probabilities": float32 (N, 10)}``.

    Raises:
        ConnectionError: the server cannot be reached.
        RuntimeError: the server answered an error (its message included).
    """
    x = np.asarray(images)
    integral = x.dtype.kind in "iu"
    endpoint = predict_url(url)
    out: dict[str, list] = {}
    with httpx.Client(timeout=timeout) as client:
        for rows in batch_slices(len(x), batch_size):
            batch = x[rows]
            body = {"instances": (batch.astype(np.int64) if integral
                                  else batch.astype(np.float64)).tolist()}
            if signature_name:
                body["signature_name"] = signature_name
            try:
                response = client.post(endpoint, json=body)
            except httpx.TransportError as err:
                raise ConnectionError(
                    f"cannot reach {endpoint}: {err}"
                ) from err
            try:
                payload = response.json()
            except ValueError:
                payload = {"error": response.text}
            if response.status_code != 200 or "error" in payload:
                raise RuntimeError(
                    f"{endpoint} answered {response.status_code}: "
                    f"{payload.get('error', payload)}"
                )
            for row in payload["predictions"]:
                for k, v in row.items():
                    out.setdefault(k, []).append(v)
    return {
        "classes": np.asarray(out.get("classes", []), dtype=np.int64),
        "probabilities": np.asarray(out.get("probabilities", []),
                                    dtype=np.float32),
    }


def format_predictions(labels, result) -> str:
    """One line per image: label, class, its probability, all ten."""
    lines = []
    width = max(len(s) for s in labels)
    for label, cls, probs in zip(labels, result["classes"],
                                 result["probabilities"]):
        ps = " ".join(f"{p:.3f}" for p in probs)
        lines.append(f"{label:<{width}}  class {int(cls)}  "
                     f"p={probs[int(cls)]:.4f}  [{ps}]")
    return "\n".join(lines)
