"""tfnn.runtime: oneDNN for convnets, chosen before TensorFlow is imported
(checked in fresh processes: this one imported TensorFlow long ago)."""

import copy
import importlib.machinery
import json
import os
import pickle
import subprocess
import sys
import types

import pytest

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
    import tensorflow  # noqa: F401

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
    setup = ("from tfnn.cli.commands.train import before_tensorflow; "
             "before_tensorflow(sys.argv[1:])")
    assert _probe(setup, args) == [expected, False]


KERAS_PROBE = """
import json, sys
{before}
import tfnn.training.whole_run  # imports Keras (and TensorFlow)
import keras
from keras.src.visualization import plot_bounding_box_gallery as b
from keras.src.visualization import plot_image_gallery as g
from tfnn import runtime
report = {{"loaded": "matplotlib" in sys.modules,
          "plt": type(g.plt).__name__, "patches": type(b.patches).__name__,
          "loader": type(keras.__loader__).__name__,
          "finders": sum(isinstance(f, runtime._KerasFinder)
                         for f in sys.meta_path)}}
import numpy as np
keras.visualization.plot_image_gallery(np.zeros((2, 4, 4, 3)),
                                       path=sys.argv[1])
report["after"] = "matplotlib.pyplot" in sys.modules
report["patch"] = b.patches.Patch.__module__
print(json.dumps(report))
"""


@pytest.mark.parametrize("before, loaded, plt", [
    ("", False, "DeferredModule"),
    # TensorFlow first: its import looks keras up without importing it.
    ("import tfnn, tensorflow", False, "DeferredModule"),
    # matplotlib already imported: Keras pays nothing for it, nothing done.
    ("import matplotlib.pyplot", True, "module"),
])
def test_keras_imports_without_matplotlib(before, loaded, plt, tmp_path):
    png = tmp_path / "gallery.png"
    out = subprocess.run(
        [sys.executable, "-c", KERAS_PROBE.format(before=before), str(png)],
        check=True, capture_output=True, text=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    assert report == {"loaded": loaded, "plt": plt, "patches": plt,
                      "loader": "SourceFileLoader", "finders": 0,
                      "after": True, "patch": "matplotlib.patches"}
    # Keras's helper still draws, through the deferred pyplot.
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_defer_matplotlib_is_a_no_op_once_keras_is_imported():
    import keras  # noqa: F401

    before = list(sys.meta_path)
    assert runtime.defer_matplotlib_in_keras() is False
    assert sys.meta_path == before


def test_deferred_module_imports_on_first_use():
    deferred = runtime.DeferredModule("json")
    assert deferred.dumps([1]) == "[1]" and "json" in repr(deferred)
    with pytest.raises(ModuleNotFoundError):
        assert runtime.DeferredModule("no_such_module_here").anything
    # Copies and pickles don't mistake their probes for the module's names.
    assert copy.deepcopy(deferred).dumps([2]) == "[2]"
    assert pickle.loads(pickle.dumps(deferred)).dumps([3]) == "[3]"


def test_a_failed_keras_import_still_leaves_working_helpers(monkeypatch):
    """If keras's own import raises (a broken install, Ctrl-C), matplotlib
    is no longer held back and the helpers loaded so far get their deferred
    module, so a retried import finds them working."""
    helper = types.ModuleType("fake_gallery")
    helper.plt = None
    monkeypatch.setitem(sys.modules, "fake_gallery", helper)
    monkeypatch.setattr(runtime, "KERAS_MATPLOTLIB",
                        (("fake_gallery", "plt", "json"),))
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)

    class Broken:
        def exec_module(self, module):
            assert sys.modules["matplotlib"] is None  # held back meanwhile
            raise KeyboardInterrupt

    broken = Broken()
    wrapped = runtime._MatplotlibHeldBack(broken)
    module = types.ModuleType("fake_keras")
    module.__spec__ = importlib.machinery.ModuleSpec("fake_keras", wrapped)
    with pytest.raises(KeyboardInterrupt):
        wrapped.exec_module(module)
    assert "matplotlib" not in sys.modules
    assert module.__loader__ is broken and module.__spec__.loader is broken
    assert helper.plt.dumps([1]) == "[1]"
