"""A run folder resumes only the configuration that made it.

``tfnn train`` resumes from the last checkpoint of its run folder, and the
default ``--out`` is the same for every MLP run, so a second command with
other flags lands in the first run's folder. The folder keeps the
configuration beside its checkpoints; a rerun of the same configuration
resumes (``--epochs`` may grow), any other is refused before a checkpoint
is read: exit 2, one line naming the folder, the fields that differ and
how to start afresh.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tfnn.config import ModelConfig
from tfnn.training import resume_check
from tfnn.training.config import TrainConfig
from tfnn.training.resume_check import (
    MAY_CHANGE,
    RunFolderMismatch,
    check_resume,
    config_record,
    differences,
    record_config,
)

MODEL = ModelConfig(hidden=(16,), dropout=0.2)
TRAIN = TrainConfig(epochs=1, train_limit=256)


def _with_checkpoint(folder, model=MODEL, train=TRAIN):
    """A run folder as a run leaves it after its first checkpoint."""
    record_config(str(folder), model, train)
    (folder / "checkpoints" / "checkpoint").write_text("ckpt-1")
    return str(folder)


# -- the rule, on JSON alone --------------------------------------------------


def test_same_configuration_differs_nowhere():
    record = config_record(MODEL, TRAIN)
    assert differences(record, config_record(MODEL, TRAIN)) == []
    assert record["model_config"]["hidden"] == [16]  # as JSON keeps it


def test_every_changed_field_is_named_old_to_new():
    saved = config_record(MODEL, TRAIN)
    new = config_record(MODEL.replace(hidden=(32, 8), activation="tanh"),
                        TRAIN.replace(optimizer="sgd", learning_rate=0.1))
    assert differences(saved, new) == [
        'activation: "relu" → "tanh"',
        "hidden: [16] → [32, 8]",
        "learning_rate: 0.001 → 0.1",
        'optimizer: "adam" → "sgd"',
    ]


def test_fields_that_may_change_on_resume_are_allowed():
    saved = config_record(MODEL, TRAIN)
    changes = {"epochs": 7, "jit": True, "deterministic": True,
               "histograms": True, "overfit_check": 64, "loss_guard": "warn",
               "loss_guard_factor": 5.0, "collective_timeout": 9.0,
               "startup_timeout": 9.0}
    assert set(changes) == MAY_CHANGE  # each one is tried here
    new = config_record(MODEL, TRAIN.replace(**changes))
    assert differences(saved, new) == []
    # and nothing of the model may change
    assert not MAY_CHANGE & set(MODEL.to_dict())


def test_a_field_missing_from_an_older_record_counts_as_its_default():
    saved = config_record(MODEL, TRAIN)
    del saved["model_config"]["downsample"]
    assert differences(saved, config_record(MODEL, TRAIN)) == []
    new = config_record(MODEL.replace(downsample="stride"), TRAIN)
    assert differences(saved, new) == ['downsample: "pool" → "stride"']


def test_nothing_to_resume_is_never_refused(tmp_path):
    check_resume(None, MODEL, TRAIN)
    check_resume(str(tmp_path / "absent"), MODEL, TRAIN)
    # a record but no checkpoint yet (a run stopped in its first epoch)
    record_config(str(tmp_path), MODEL, TRAIN)
    check_resume(str(tmp_path), MODEL.replace(dropout=0.5), TRAIN)


def test_check_resume_refuses_in_one_line_naming_folder_and_fields(
        tmp_path):
    folder = _with_checkpoint(tmp_path)
    check_resume(folder, MODEL, TRAIN.replace(epochs=3))
    with pytest.raises(RunFolderMismatch) as err:
        check_resume(folder, MODEL.replace(dropout=0.5), TRAIN)
    message = str(err.value)
    assert isinstance(err.value, ValueError)  # the CLI's exit 2
    assert "\n" not in message and folder in message
    assert "(dropout: 0.2 → 0.5)" in message and "another --out" in message


def test_an_older_folder_is_checked_against_its_summary(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "checkpoint").write_text("ckpt-1")
    with pytest.raises(RunFolderMismatch, match="no record of their "
                       "configuration"):
        check_resume(str(tmp_path), MODEL, TRAIN)
    summary = {**config_record(MODEL, TRAIN), "test_accuracy": 0.9}
    (tmp_path / resume_check.SUMMARY_FILE).write_text(json.dumps(summary))
    check_resume(str(tmp_path), MODEL, TRAIN)
    with pytest.raises(RunFolderMismatch, match=r"hidden: \[16\] → \[8\]"):
        check_resume(str(tmp_path), MODEL.replace(hidden=(8,)), TRAIN)


# -- the command line ---------------------------------------------------------

# The smallest run the flags allow: 1 epoch of 256 examples, 16 units.
BASE = ["--epochs", "1", "--train-limit", "256", "--hidden", "16",
        "--dropout", "0.2", "--no-progress"]


def _train(args, out, manual_dir):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "tfnn.cli", "train", *args, "--out", str(out),
         "--manual-dir", manual_dir],
        capture_output=True, text=True, timeout=300, env=env)


def _error_lines(stderr):
    return [ln for ln in stderr.splitlines()
            if "error:" in ln or "Traceback" in ln]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, mnist_manual_dir):
    """A finished ``--epochs 1`` run folder (read-only to the tests)."""
    out = tmp_path_factory.mktemp("resume") / "run"
    done = _train(BASE, out, mnist_manual_dir)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def _snapshot(folder):
    return {p: os.path.getmtime(os.path.join(folder, p))
            for p in os.listdir(folder)}


def _refused(first_run, mnist_manual_dir, args):
    before = _snapshot(first_run / "checkpoints")
    done = _train(args, first_run, mnist_manual_dir)
    assert done.returncode == 2, done.stderr[-3000:]
    errors = _error_lines(done.stderr)
    assert len(errors) == 1, done.stderr[-3000:]
    assert errors[0].startswith("tfnn train: error: ")
    assert str(first_run) in errors[0]
    assert "--out" in errors[0]  # how to start afresh
    # refused before any checkpoint was read: no restore, no TensorFlow
    # checkpoint warnings, nothing written into the folder
    assert "Resumed from" not in done.stderr
    others = done.stderr.replace(errors[0], "")
    assert "checkpoint" not in others.lower(), others[-3000:]
    assert _snapshot(first_run / "checkpoints") == before
    return errors[0]


@pytest.mark.slow
def test_changed_dropout_is_refused_naming_dropout(first_run,
                                                   mnist_manual_dir):
    args = [a if a != "0.2" else "0.5" for a in BASE]
    line = _refused(first_run, mnist_manual_dir, args)
    assert "configuration (dropout: 0.2 → 0.5):" in line  # only dropout


@pytest.mark.slow
def test_changed_hidden_sizes_are_refused_not_a_traceback(first_run,
                                                          mnist_manual_dir):
    args = [a if a != "16" else "32" for a in BASE]
    line = _refused(first_run, mnist_manual_dir, args)
    assert "configuration (hidden: [16] → [32]):" in line


@pytest.mark.slow
def test_same_config_with_more_epochs_resumes(first_run, mnist_manual_dir,
                                              tmp_path):
    out = tmp_path / "run"
    shutil.copytree(first_run, out)
    first = json.loads((out / "summary.json").read_text())
    args = [a if a != "1" else "2" for a in BASE]
    done = _train(args, out, mnist_manual_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Resumed from" in done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["history"]["epoch"] == [1, 2]
    # epoch 1 is the first run's, not trained again
    assert summary["history"]["loss"][0] == first["history"]["loss"][0]
    assert summary["train_config"]["epochs"] == 2
