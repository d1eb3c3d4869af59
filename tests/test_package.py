"""Package-level promises: silent import without side effects, registries,
CLI routing, ``python -m tfnn`` and ``tfnn --version``."""

import importlib.metadata
import json
import subprocess
import sys

import pytest

import tfnn
from tfnn.cli.router import distribution_version
from tfnn.provenance import command_line
from tfnn.registry import Registry


def test_import_tfnn_is_silent_and_needs_no_network():
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network touched')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "import tfnn\n"
        "assert 'tensorflow' not in __import__('sys').modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""


NO_SIDE_EFFECTS = """
import json, os, pkgutil, sys
before, env = list(sys.meta_path), dict(os.environ)
import tfnn
report = {"tfnn": [sys.meta_path == before, dict(os.environ) == env]}
if sys.argv[1] == "all":
    names = [m.name for m in pkgutil.walk_packages(tfnn.__path__, "tfnn.")
             if not m.name.endswith("__main__")]
    for name in names:
        __import__(name)
    report["modules"] = len(names)
    # TensorFlow's own imports add finders (absl's, six's): whose are they?
    report["all"] = [sorted({type(f).__module__ for f in sys.meta_path
                             if f not in before}),
                     all(f in sys.meta_path for f in before),
                     dict(os.environ) == env]
    import keras
    import matplotlib.pyplot
    helpers = (keras.visualization.plot_image_gallery,
               keras.visualization.plot_bounding_box_gallery)
    report["keras"] = [h.__globals__[g] is m for h, g, m in zip(
        helpers, ("plt", "patches"),
        (matplotlib.pyplot, sys.modules["matplotlib.patches"]))]
print(json.dumps(report))
"""


def _no_side_effects(what):
    done = subprocess.run([sys.executable, "-c", NO_SIDE_EFFECTS, what],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_tfnn_changes_neither_import_hooks_nor_environment():
    assert _no_side_effects("tfnn") == {"tfnn": [True, True]}


@pytest.mark.slow
def test_importing_every_module_changes_nothing_and_keras_stays_keras():
    # Every module of tfnn (TensorFlow and Keras with them): no import
    # hook of tfnn's in sys.meta_path (TensorFlow's dependencies add their
    # own), os.environ as it was, and Keras's gallery helpers hold
    # matplotlib's own modules, not stand-ins.
    report = _no_side_effects("all")
    assert report["modules"] > 50
    added, kept, same_env = report.pop("all")
    assert [m for m in added if m.split(".")[0] == "tfnn"] == []
    assert kept and same_env
    assert report == {"tfnn": [True, True], "keras": [True, True],
                      "modules": report["modules"]}


def test_public_api_is_reexported():
    for name in ("activations", "initializers", "optimizers", "models",
                 "data", "training", "ModelConfig", "build_mlp", "build_cnn",
                 "Trainer", "TrainConfig"):
        assert getattr(tfnn, name) is not None
    with pytest.raises(AttributeError):
        tfnn.nonexistent  # noqa: B018


def test_registry_get_names_and_errors():
    reg = Registry("thing")
    reg.add("alpha", lambda scale=1: ("alpha", scale))
    assert reg.names() == ["alpha"]
    assert reg.get("ALPHA", scale=2) == ("alpha", 2)
    with pytest.raises(ValueError, match=r"Unknown thing 'beta'; choose "
                       r"from \['alpha'\]"):
        reg.get("beta")
    with pytest.raises(ValueError, match="registered twice"):
        reg.add("alpha", object)


@pytest.mark.parametrize("module", ["tfnn", "tfnn.cli"])
def test_cli_help_lists_commands(module):
    done = subprocess.run([sys.executable, "-m", module, "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: tfnn ")
    for command in ("train", "evaluate", "export", "verify", "serve"):
        assert command in done.stdout


def test_version_names_tfnn_tensorflow_and_keras_without_importing_them():
    code = ("import sys\n"
            "from tfnn.cli import main\n"
            "try:\n"
            "    main(['--version'])\n"
            "except SystemExit as stop:\n"
            "    assert stop.code == 0, stop.code\n"
            "assert 'tensorflow' not in sys.modules\n"
            "assert 'keras' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    tf_version = importlib.metadata.version("tensorflow")
    keras_version = importlib.metadata.version("keras")
    assert done.stdout == (f"tfnn {tfnn.__version__} (TensorFlow "
                           f"{tf_version}, Keras {keras_version})\n")
    # python -m tfnn says the same
    again = subprocess.run([sys.executable, "-m", "tfnn", "--version"],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and again.stdout == done.stdout


def test_version_of_a_missing_distribution():
    assert distribution_version("no-such-distribution-here") == \
        "not installed"
    assert distribution_version("no-such-distribution-here", "keras") == \
        importlib.metadata.version("keras")


@pytest.mark.slow
def test_cli_unknown_key_is_a_clear_error_not_a_traceback():
    done = subprocess.run(
        [sys.executable, "-m", "tfnn.cli", "train", "--optimizer", "adamw2"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "invalid choice" in done.stderr and "nag" in done.stderr
    assert "Traceback" not in done.stderr


def test_command_line_is_what_a_user_would_type_again():
    assert command_line(["/venv/bin/tfnn", "train", "--epochs", "2"]) == \
        "tfnn train --epochs 2"
    assert command_line(["/repo/tfnn/cli/__main__.py", "train"]) == \
        "tfnn train"  # python -m tfnn.cli
    assert command_line(["scripts/mnist_accuracy.py", "--docs", "my docs"]) \
        == "python scripts/mnist_accuracy.py --docs 'my docs'"
    assert command_line([]) == ""
