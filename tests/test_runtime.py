"""tfnn.runtime: oneDNN for convnets, chosen before TensorFlow is imported,
and TensorFlow and Keras imported without matplotlib where a process opts
in (checked in fresh processes: this one imported TensorFlow long ago)."""

import json
import os
import subprocess
import sys

import keras
import matplotlib.pyplot
import pytest
import tensorflow  # noqa: F401  (this process imported it long ago)

from tfnn import runtime

PROBE = ("import json, os, sys; {setup}; "
         "print(json.dumps([os.environ.get('TF_ENABLE_ONEDNN_OPTS'), "
         "'tensorflow' in sys.modules]))")


def _probe(setup, args=(), **env):
    clean = {k: v for k, v in os.environ.items() if k != runtime.ONEDNN}
    out = subprocess.run([sys.executable, "-c", PROBE.format(setup=setup),
                          *args], env={**clean, **env}, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_onednn_for_convnets_only():
    assert runtime.onednn_wanted("cnn") and not runtime.onednn_wanted("mlp")
    setup = "from tfnn.runtime import prefer_kernels_for as p; p('{}')"
    assert _probe(setup.format("cnn")) == ["1", False]
    assert _probe(setup.format("mlp")) == [None, False]
    # The user's own setting wins.
    assert _probe(setup.format("cnn"), TF_ENABLE_ONEDNN_OPTS="0") == \
        ["0", False]


def test_too_late_once_tensorflow_is_imported(monkeypatch):
    monkeypatch.delenv(runtime.ONEDNN, raising=False)
    assert runtime.prefer_kernels_for("cnn") is None
    assert runtime.ONEDNN not in os.environ


@pytest.mark.parametrize("args, expected", [
    (["--arch", "cnn", "--epochs", "1"], "1"),
    (["--arch=cnn"], "1"),
    (["--epochs", "1"], None),
    (["--config", "{cfg}"], "1"),
    (["--config", "{cfg}", "--arch", "mlp"], None),
])
def test_tfnn_train_picks_the_kernels_from_its_arguments(args, expected,
                                                         tmp_path):
    cfg = tmp_path / "cnn.json"
    cfg.write_text(json.dumps({"model": {"arch": "cnn"}}))
    args = [a.format(cfg=cfg) for a in args]
    # The kernels are chosen before TensorFlow's import, which train's
    # hook then makes (stubbed here, so the probe stays fast and can see
    # that TensorFlow was not loaded before the choice).
    setup = ("import tfnn.runtime as r; "
             "r.import_tensorflow_without_matplotlib = lambda: None; "
             "from tfnn.cli.commands.train import before_tensorflow; "
             "before_tensorflow(sys.argv[1:])")
    assert _probe(setup, args) == [expected, False]


HELD_BACK_PROBE = """
import json, sys
{call}
import keras
gallery = keras.visualization.plot_image_gallery
report = {{"tensorflow": "tensorflow" in sys.modules,
          "matplotlib_loaded": "matplotlib" in sys.modules,
          "plt": repr(gallery.__globals__["plt"])}}
import numpy as np
try:
    gallery(np.zeros((2, 4, 4, 3)))
    report["gallery"] = "drew"
except ImportError as err:
    report["gallery"] = "ImportError" if "matplotlib" in str(err) else str(err)
# tfnn's own figures import matplotlib when they draw, and still do.
from tfnn.studies import experiments
experiments.run("activations", out_dir=sys.argv[1], points=21)
report["matplotlib"] = type(sys.modules["matplotlib"]).__name__
print(json.dumps(report))
"""


@pytest.mark.slow
@pytest.mark.parametrize("call", [
    "from tfnn import runtime; assert runtime."
    "import_tensorflow_without_matplotlib()",
    # tfnn train's hook (--help: it loads no data)
    "from tfnn.cli.commands.train import before_tensorflow; "
    "before_tensorflow(['--help'])",
])
def test_keras_imports_without_matplotlib_and_tfnn_still_draws(call,
                                                                tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", HELD_BACK_PROBE.format(call=call),
         str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"tensorflow": True, "matplotlib_loaded": False,
                      "plt": "None", "gallery": "ImportError",
                      "matplotlib": "module"}
    assert (tmp_path / "activations.png").read_bytes()[:8] == \
        b"\x89PNG\r\n\x1a\n"


def test_nothing_is_held_back_once_matplotlib_or_keras_is_loaded():
    # This process imported both long ago: Keras keeps its helpers.
    assert runtime.import_tensorflow_without_matplotlib() is False
    gallery = keras.visualization.plot_image_gallery
    assert gallery.__globals__["plt"] is matplotlib.pyplot
    assert sys.modules["matplotlib"] is not None


def test_matplotlib_comes_back_when_the_import_fails(monkeypatch):
    """A failed import (a broken install, Ctrl-C) leaves matplotlib
    importable, not held back."""
    for name in ("keras", "matplotlib"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    seen = []

    def broken(name):
        seen.append(sys.modules["matplotlib"])  # held back meanwhile
        raise KeyboardInterrupt

    monkeypatch.setattr(runtime.importlib, "import_module", broken)
    with pytest.raises(KeyboardInterrupt):
        runtime.import_tensorflow_without_matplotlib()
    assert seen == [None] and "matplotlib" not in sys.modules
