"""tfnn.runtime: oneDNN for convnets, chosen before TensorFlow is imported
(checked in fresh processes: this one imported TensorFlow long ago)."""

import json
import os
import subprocess
import sys

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
