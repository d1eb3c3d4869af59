"""Package-level promises: silent import, registries, CLI routing."""

import subprocess
import sys

import pytest


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


def test_public_api_is_reexported():
    import tfnn

    for name in ("activations", "initializers", "optimizers", "models",
                 "data", "training", "ModelConfig", "build_mlp", "build_cnn",
                 "Trainer", "TrainConfig"):
        assert getattr(tfnn, name) is not None
    with pytest.raises(AttributeError):
        tfnn.nonexistent  # noqa: B018


def test_registry_get_names_and_errors():
    from tfnn.registry import Registry

    reg = Registry("thing")
    reg.add("alpha", lambda scale=1: ("alpha", scale))
    assert reg.names() == ["alpha"]
    assert reg.get("ALPHA", scale=2) == ("alpha", 2)
    with pytest.raises(ValueError, match=r"Unknown thing 'beta'; choose "
                       r"from \['alpha'\]"):
        reg.get("beta")
    with pytest.raises(ValueError, match="registered twice"):
        reg.add("alpha", object)


def test_cli_help_lists_commands():
    done = subprocess.run([sys.executable, "-m", "tfnn.cli", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for command in ("train", "evaluate", "export", "verify", "serve"):
        assert command in done.stdout


@pytest.mark.slow
def test_cli_unknown_key_is_a_clear_error_not_a_traceback():
    done = subprocess.run(
        [sys.executable, "-m", "tfnn.cli", "train", "--optimizer", "adamw2"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "invalid choice" in done.stderr and "nag" in done.stderr
    assert "Traceback" not in done.stderr


def test_command_line_is_what_a_user_would_type_again():
    from tfnn.provenance import command_line

    assert command_line(["/venv/bin/tfnn", "train", "--epochs", "2"]) == \
        "tfnn train --epochs 2"
    assert command_line(["/repo/tfnn/cli/__main__.py", "train"]) == \
        "tfnn train"  # python -m tfnn.cli
    assert command_line(["scripts/mnist_accuracy.py", "--docs", "my docs"]) \
        == "python scripts/mnist_accuracy.py --docs 'my docs'"
    assert command_line([]) == ""
