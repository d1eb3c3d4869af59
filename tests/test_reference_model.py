"""The committed reference model: saved_models/mnist/1."""

import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import tensorflow as tf

from tfnn.data import load_arrays
from tfnn.shipping import verify
from tfnn.shipping.verification import predict_saved

REF = pathlib.Path(__file__).resolve().parents[1] / "saved_models" / "mnist"
VERSION = REF / "1"


def _size_mb(folder, exclude=()):
    sizes = (p.stat().st_size for p in folder.rglob("*")
             if p.is_file() and p.name not in exclude)
    return sum(sizes) / 2**20


FORMAT_FILES = ("model.tflite", "model_int8.tflite", "model.onnx")


def test_reference_model_scores_its_recorded_accuracy(mnist_builder):
    meta = json.loads((VERSION / "metadata.json").read_text())
    result = verify(str(VERSION))  # loads with tf.saved_model.load only
    assert result["n"] == 10_000
    assert result["accuracy"] == meta["test_accuracy"]
    arch = meta["model_config"]["arch"]
    assert result["accuracy"] >= (0.993 if arch == "cnn" else 0.983)
    # The SavedModel (what TF Serving loads) within 5 MB; the LiteRT, int8
    # and ONNX files beside it hold the same weights again (float32 twice,
    # int8 once: 2.25 times the weights), so the folder within 12 MB.
    assert _size_mb(VERSION, exclude=FORMAT_FILES) <= 5.0
    assert _size_mb(VERSION) <= 12.0


def test_reference_model_has_no_near_tie_on_the_test_set(mnist_builder):
    """The exact accuracy above holds on any machine: no test image's two
    best log-probabilities are within 1e-4 of each other (the smallest gap
    is 0.0087), far beyond float32's differences between machines, batch
    shapes or kernels (~1e-6), so no class can flip."""
    images, _ = load_arrays("mnist", "test")
    signature = tf.saved_model.load(str(VERSION)).signatures["serving_uint8"]
    _, probabilities = predict_saved(signature, images)
    top2 = np.log(np.sort(probabilities, axis=1)[:, -2:])
    assert (top2[:, 1] - top2[:, 0]).min() > 1e-4


@pytest.mark.slow
def test_reference_model_serves_without_tfnn(mnist_raw):
    (_, _), (x_test, y_test) = mnist_raw
    code = f"""
import sys, numpy as np, tensorflow as tf
m = tf.saved_model.load({str(VERSION)!r})
x = np.load(sys.argv[1])
out = m.signatures["serving_uint8"](images=tf.constant(x))
print(" ".join(map(str, out["classes"].numpy())))
assert "tfnn" not in sys.modules
"""
    with tempfile.NamedTemporaryFile(suffix=".npy") as fh:
        np.save(fh.name, x_test[:200])
        done = subprocess.run([sys.executable, "-c", code, fh.name],
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    classes = np.array(done.stdout.split(), dtype=np.int64)
    assert (classes == y_test[:200]).mean() >= 0.97
