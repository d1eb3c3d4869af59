"""Each format run by its own runtime: ``load_runner(path)``.

A runner maps a batch of raw images, float32 ``(N, 28, 28)`` pixel values
0..255, to ``{"classes": int64 (N,), "probabilities": float32 (N, 10)}``:

    SavedModel folder   tf.saved_model.load, ``serving_default``
    ``.tflite``         ai_edge_litert.interpreter.Interpreter (XNNPack)
    ``.onnx``           onnxruntime.InferenceSession (CPU)

The LiteRT and ONNX runners call no TensorFlow: they run the file as a
phone or an ONNX service would.

Reference: LiteRT, "LiteRT Interpreter API" (``resize_tensor_input``,
``allocate_tensors``, ``invoke``),
https://ai.google.dev/edge/litert/inference, and ONNX Runtime's Python
API, https://onnxruntime.ai/docs/api/python/api_summary.html.
"""

from __future__ import annotations

import importlib
import os

import numpy as np

from tfnn.batched_inference import map_batches
from tfnn.shipping.formats.catalog import INSTALL_EXTRA, FormatError
from tfnn.shipping.integrity import load_savedmodel, one_line
from tfnn.shipping.metadata import INPUT_NAME, OUTPUT_NAMES

THREADS = None  # the runtime's default (one per core)


def _import_runtime(name: str, path):
    try:
        return importlib.import_module(name)
    except ImportError:
        raise FormatError(f"{path} needs {name}, which is not installed: "
                          f"{INSTALL_EXTRA}") from None


def _damaged(path, err) -> FormatError:
    return FormatError(f"{path} cannot be loaded ({one_line(err, 200)}); "
                       "export it again")


class LiteRTRunner:
    """A ``.tflite`` file in ``ai_edge_litert``'s interpreter; the input is
    resized to each new batch size."""

    def __init__(self, path, num_threads=THREADS):
        interpreter = _import_runtime("ai_edge_litert.interpreter", path)
        self.path = os.fspath(path)
        try:
            self.interpreter = interpreter.Interpreter(
                model_path=self.path, num_threads=num_threads)
            self.interpreter.allocate_tensors()
        except Exception as err:  # noqa: BLE001 - ValueError, RuntimeError
            raise _damaged(path, err) from None
        self.input = self.interpreter.get_input_details()[0]["index"]
        # The outputs by rank: classes (N,), probabilities (N, 10).
        self.outputs = {
            ("classes" if len(d["shape"]) == 1 else "probabilities"):
            d["index"] for d in self.interpreter.get_output_details()}
        self.batch = None

    def __call__(self, images) -> dict[str, np.ndarray]:
        images = np.ascontiguousarray(images, dtype=np.float32)
        if len(images) != self.batch:
            self.interpreter.resize_tensor_input(self.input, images.shape)
            self.interpreter.allocate_tensors()
            self.batch = len(images)
        self.interpreter.set_tensor(self.input, images)
        self.interpreter.invoke()
        return {name: self.interpreter.get_tensor(index).copy()
                for name, index in self.outputs.items()}


class OnnxRunner:
    """A ``.onnx`` file in an ``onnxruntime`` CPU session."""

    def __init__(self, path):
        ort = _import_runtime("onnxruntime", path)
        self.path = os.fspath(path)
        try:
            self.session = ort.InferenceSession(
                self.path, providers=["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001 - onnxruntime's Fail …
            raise _damaged(path, err) from None

    def __call__(self, images) -> dict[str, np.ndarray]:
        feed = {INPUT_NAME: np.ascontiguousarray(images, dtype=np.float32)}
        out = self.session.run(list(OUTPUT_NAMES), feed)
        return dict(zip(OUTPUT_NAMES, out))


class SavedModelRunner:
    """A SavedModel folder's ``serving_default`` (TensorFlow)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.loaded = load_savedmodel(self.path)
        self.signature = self.loaded.signatures["serving_default"]

    def __call__(self, images) -> dict[str, np.ndarray]:
        out = self.signature(**{INPUT_NAME: np.asarray(images, np.float32)})
        return {name: out[name].numpy() for name in OUTPUT_NAMES}


def load_runner(path):
    """The runner of a ``.tflite`` or ``.onnx`` file or a SavedModel folder.

    Raises:
        FormatError: an unknown kind of file, a missing runtime, or a file
            that does not load (named, one line).
        FileNotFoundError: nothing at ``path``.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such model file or folder")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".tflite":
        return LiteRTRunner(path)
    if ext == ".onnx":
        return OnnxRunner(path)
    if os.path.isdir(path):
        return SavedModelRunner(path)
    raise FormatError(f"{path}: not a SavedModel folder, .tflite or .onnx "
                      "file")


def run_batches(runner, images, batch_size: int = 1000) -> dict:
    """``runner`` over ``images`` in batches (``map_batches``): the joined
    ``classes`` (int64) and ``probabilities`` (float32)."""

    def both(batch):  # (batch, 1 + classes) float64 holds both exactly
        out = runner(batch)
        return np.column_stack([out["classes"], out["probabilities"]]
                               ).astype(np.float64)

    joined = map_batches(both, np.asarray(images, np.float32), batch_size)
    return {"classes": joined[:, 0].astype(np.int64),
            "probabilities": joined[:, 1:].astype(np.float32)}
