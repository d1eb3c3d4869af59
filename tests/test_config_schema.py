"""Config files and training flags are checked before anything trains.

``tfnn train --config FILE`` reads a JSON/YAML file of ``model`` and
``train`` sections; :func:`tfnn.config_files.check_fields` checks every key and
value against the ModelConfig / TrainConfig type hints, and TrainConfig
checks ``optimizer_kwargs`` / ``schedule_kwargs`` against the factories'
signatures. Every bad input is exit 2 and one line on stderr, ``tfnn
train: error: ...``, naming what is wrong (and the file), no traceback.

The in-process cases point ``--manual-dir`` and ``--data-dir`` at empty
folders: a case that slipped through the checks would fail on the missing
data with another message instead of training.
"""

import dataclasses
import json
import os
import subprocess
import sys
import typing

import pytest

from tfnn.cli import main
from tfnn.config import ModelConfig
from tfnn.config_files import check_fields, load_config_file
from tfnn.nn import optimizers, schedules
from tfnn.training import TrainConfig

# (id, file name, file text, what the one error line must contain)
FILES = [
    ("misspelt section", "c.json", '{"modle": {"hidden": [8]}}',
     ["c.json", "unknown section 'modle'", "did you mean 'model'",
      "['model', 'train']"]),
    ("top-level list", "c.json", "[1, 2]",
     ["c.json", "mapping with the sections", "[1, 2] (list)"]),
    ("top-level string", "c.json", '"model"',
     ["c.json", "mapping with the sections", "'model' (str)"]),
    ("section a list", "c.json", '{"model": [1]}',
     ["c.json", "section 'model'", "mapping of ModelConfig", "[1] (list)"]),
    ("section null", "c.json", '{"train": null}',
     ["c.json", "section 'train'", "mapping of TrainConfig", "None"]),
    ("hidden a string", "c.json", '{"model": {"hidden": "abc"}}',
     ["c.json", "'hidden' must be a list of int", "hidden='abc' (str)"]),
    ("hidden of strings", "c.json", '{"model": {"hidden": ["8"]}}',
     ["'hidden' must be a list of int", "hidden=['8'] (list)"]),
    ("epochs a string", "c.json", '{"train": {"epochs": "3"}}',
     ["c.json", "section 'train'", "'epochs' must be an int",
      "epochs='3' (str)", "without quotes"]),
    ("epochs a float", "c.json", '{"train": {"epochs": 3.5}}',
     ["'epochs' must be an int", "epochs=3.5 (float)"]),
    ("epochs a bool", "c.json", '{"train": {"epochs": true}}',
     ["'epochs' must be an int", "epochs=True (bool)"]),
    ("lr a string", "c.json", '{"train": {"learning_rate": "0.1"}}',
     ["'learning_rate' must be a number", "learning_rate='0.1' (str)"]),
    ("bool an int", "c.json", '{"model": {"batch_norm": 1}}',
     ["'batch_norm' must be true or false", "batch_norm=1 (int)"]),
    ("dict a list", "c.json", '{"train": {"optimizer_kwargs": [1]}}',
     ["'optimizer_kwargs' must be a mapping", "[1] (list)"]),
    ("str a number", "c.json", '{"train": {"optimizer": 3}}',
     ["'optimizer' must be a string", "optimizer=3 (int)"]),
    ("optional wrong", "c.json", '{"train": {"train_limit": "all"}}',
     ["'train_limit' must be an int or null"]),
    ("unknown key", "c.json", '{"model": {"hiddn": [8]}}',
     ["c.json", "unknown key 'hiddn'", "did you mean 'hidden'",
      "'activation'"]),
    ("unknown train key", "c.json", '{"train": {"epoch": 2}}',
     ["unknown key 'epoch'", "did you mean 'epochs'"]),
    ("kwargs unknown in file", "c.json",
     '{"train": {"optimizer_kwargs": {"bogus": 1}}}',
     ["optimizer 'adam' takes no argument 'bogus'", "'beta_1'"]),
    ("not JSON", "c.json", "{bad json",
     ["c.json: not valid JSON", "line 1"]),
    ("not YAML", "c.yaml", "model: [1,\n",
     ["c.yaml: not valid YAML"]),
    ("YAML unknown key", "c.yaml", "model:\n  hiddn: [8]\n",
     ["c.yaml", "unknown key 'hiddn'"]),
    ("YAML 1e-3", "c.yaml", "train:\n  learning_rate: 1e-3\n",
     ["'learning_rate' must be a number", "write 1.0e-3"]),
]

# (id, flags, what the one error line must contain)
FLAGS = [
    ("kwargs a list", ["--optimizer-kwargs", "[1, 2]"],
     ["--optimizer-kwargs", "must be a JSON object", "[1, 2]"]),
    ("kwargs not JSON", ["--optimizer-kwargs", "{bad"],
     ["--optimizer-kwargs", "not valid JSON"]),
    ("schedule kwarg", ["--schedule", "step", "--schedule-kwargs",
                        '{"bogus": 3}'],
     ["schedule 'step' takes no argument 'bogus'",
      "['step_epochs', 'gamma']"]),
    ("constant kwarg", ["--schedule", "constant", "--schedule-kwargs",
                        '{"alpha": 0.1}'],
     ["schedule 'constant' takes no argument 'alpha'", "it takes none"]),
    ("optimizer kwarg", ["--optimizer", "adam", "--optimizer-kwargs",
                         '{"bogus": 1}'],
     ["optimizer 'adam' takes no argument 'bogus'", "'amsgrad'",
      "'beta_1'", "'clipnorm'"]),
    ("lr in kwargs", ["--optimizer", "sgd", "--optimizer-kwargs",
                      '{"learning_rate": 1}'],
     ["takes no argument 'learning_rate'", "the learning_rate field"]),
    ("nag's nesterov", ["--optimizer", "nag", "--optimizer-kwargs",
                        '{"nesterov": false}'],
     ["optimizer 'nag' takes no argument 'nesterov'"]),
    ("epochs not int", ["--epochs", "abc"],
     ["argument --epochs: invalid int value: 'abc'"]),
    ("loss guard choice", ["--loss-guard", "bogus"],
     ["argument --loss-guard: invalid choice: 'bogus'"]),
    ("loss guard factor", ["--loss-guard-factor", "0.5"],
     ["loss_guard_factor must be > 1", "0.5"]),
    ("out not writable", ["--out", "/dev/null/run"],
     ["cannot write the run folder --out /dev/null/run", "Not a directory"]),
    ("config missing", ["--config", "/nonexistent/c.json"],
     ["/nonexistent/c.json: config file not found"]),
]


def _error_line(argv, tmp_path, capsys):
    """Run ``tfnn train`` in-process; assert exit 2 and one stderr line
    starting ``tfnn train: error: ``; return that line."""
    empty = tmp_path / "no-data"
    empty.mkdir(exist_ok=True)
    if "--out" not in argv:
        argv = [*argv, "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit) as info:
        main(["train", "--epochs", "1", "--train-limit", "256",
              "--no-progress", "--manual-dir", str(empty), "--data-dir",
              str(empty), *argv])
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("tfnn train: error: "), lines
    assert "Traceback" not in lines[0]
    return lines[0]


@pytest.mark.parametrize("case,name,text,expected", FILES,
                         ids=[c[0] for c in FILES])
def test_bad_config_files_are_one_line_naming_the_key(case, name, text,
                                                      expected, tmp_path,
                                                      capsys):
    path = tmp_path / name
    path.write_text(text)
    line = _error_line(["--config", str(path)], tmp_path, capsys)
    for part in expected:
        assert part in line, (part, line)
    assert not (tmp_path / "run" / "summary.json").exists()


@pytest.mark.parametrize("case,flags,expected", FLAGS,
                         ids=[c[0] for c in FLAGS])
def test_bad_flags_are_one_line_naming_the_value(case, flags, expected,
                                                 tmp_path, capsys):
    line = _error_line(flags, tmp_path, capsys)
    for part in expected:
        assert part in line, (part, line)


def test_a_config_directory_is_one_line(tmp_path, capsys):
    line = _error_line(["--config", str(tmp_path)], tmp_path, capsys)
    assert f"{tmp_path}: Is a directory" in line


# -- the schema is the dataclasses' type hints ------------------------------


def _wrong_value(hint):
    """A value of a type ``hint`` does not take."""
    text = str(hint)
    if "dict" in text:
        return [1]
    if "tuple" in text:
        return "abc"
    if hint is str or "str" in text:
        return 3
    return "3"  # int, float, bool (and their optionals)


@pytest.mark.parametrize("cls", [ModelConfig, TrainConfig])
def test_every_field_is_checked_against_its_type_hint(cls):
    """Derived from the hints: a field added later is covered too."""
    hints = typing.get_type_hints(cls)
    defaults = cls().to_dict()
    check_fields(cls, defaults)  # every default passes
    json_defaults = json.loads(json.dumps(defaults))  # tuples as lists
    assert cls.from_dict(json_defaults) == cls()
    for f in dataclasses.fields(cls):
        bad = _wrong_value(hints[f.name])
        with pytest.raises(ValueError) as err:
            check_fields(cls, {f.name: bad}, "x.json: section 's'")
        message = str(err.value)
        assert message.startswith(f"x.json: section 's': '{f.name}' must be")
        assert f"Received: {f.name}={bad!r}" in message


def test_numbers_and_nulls_where_the_hints_allow_them():
    check_fields(TrainConfig, {"learning_rate": 1, "train_limit": None,
                               "optimizer_kwargs": {"momentum": 0.5}})
    check_fields(ModelConfig, {"hidden": [], "output_initializer": None})
    with pytest.raises(ValueError, match="'output_initializer' must be a "
                       "string or null"):
        check_fields(ModelConfig, {"output_initializer": 1})


def test_load_config_file_without_schema_only_parses(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"modle": {}}')
    assert load_config_file(str(path)) == {"modle": {}}
    empty = tmp_path / "e.yaml"
    empty.write_text("")
    assert load_config_file(str(empty), {"model": ModelConfig}) == {}


# -- kwargs against the factories' signatures -------------------------------


def test_optimizer_arguments_are_their_classes_constructor_arguments():
    for key in optimizers.names():
        built = optimizers.get(key)
        assert isinstance(built, optimizers.CLASSES[key]), key
        valid = optimizers.arguments(key)
        assert "learning_rate" not in valid and "clipnorm" in valid
    assert "momentum" in optimizers.arguments("momentum")
    assert {"beta_1", "beta_2", "epsilon", "amsgrad"} <= set(
        optimizers.arguments("adam"))
    assert {"initial_accumulator_value", "l1_regularization_strength",
            "l2_regularization_strength"} <= set(
        optimizers.arguments("proximal_adagrad"))
    assert "nesterov" not in optimizers.arguments("nag")
    assert "nesterov" in optimizers.arguments("sgd")
    # each listed argument is really taken: build with every one
    opt = optimizers.get("adam", beta_1=0.5, amsgrad=True, clipnorm=1.0)
    assert opt.beta_1 == 0.5 and opt.amsgrad and opt.clipnorm == 1.0
    opt = optimizers.get("proximal_adagrad", l1_regularization_strength=0.1)
    assert isinstance(opt, optimizers.ProximalAdagrad)


def test_schedule_arguments_come_from_the_factories():
    assert {n: schedules.arguments(n) for n in schedules.names()} == {
        "constant": [], "cosine": ["alpha"], "one_cycle": ["warmup"],
        "step": ["step_epochs", "gamma"]}


def test_train_config_checks_kwargs_before_any_data():
    TrainConfig(optimizer="nag", optimizer_kwargs={"momentum": 0.5})
    TrainConfig(schedule="step", schedule_kwargs={"gamma": 0.5})
    with pytest.raises(ValueError, match="schedule 'cosine' takes no "
                       "argument 'gamma'; its arguments are \\['alpha'\\]"):
        TrainConfig(schedule="cosine", schedule_kwargs={"gamma": 0.5})
    with pytest.raises(ValueError, match="must be a mapping"):
        TrainConfig(optimizer_kwargs=[1, 2])


# -- real processes -------------------------------------------------------


def _tfnn(args, cwd):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "tfnn.cli", "train", *args],
                          capture_output=True, text=True, timeout=300,
                          env=env, cwd=cwd)


@pytest.mark.slow
def test_subprocess_misspelt_section_exits_2_with_one_line(tmp_path):
    (tmp_path / "c.json").write_text('{"modle": {"hidden": [8]}}')
    done = _tfnn(["--config", "c.json", "--epochs", "1", "--train-limit",
                  "256", "--out", "run"], tmp_path)
    assert done.returncode == 2, done.stderr
    errors = [ln for ln in done.stderr.splitlines()
              if "tfnn train" in ln or "Traceback" in ln]
    assert errors == ["tfnn train: error: c.json: unknown section 'modle' "
                      "(did you mean 'model'?); valid sections are "
                      "['model', 'train']"]
    assert not (tmp_path / "run" / "summary.json").exists()


@pytest.mark.slow
def test_subprocess_valid_config_trains_right_after(tmp_path,
                                                    mnist_manual_dir):
    (tmp_path / "c.yaml").write_text(
        "model:\n  hidden: [16]\ntrain:\n  epochs: 2\n  train_limit: 2048\n"
        "  learning_rate: 1.0e-2\n  optimizer_kwargs: {beta_1: 0.8}\n")
    done = _tfnn(["--config", "c.yaml", "--out", "run", "--no-progress",
                  "--manual-dir", mnist_manual_dir], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["model_config"]["hidden"] == [16]
    assert summary["train_config"]["optimizer_kwargs"] == {"beta_1": 0.8}
    assert summary["train_config"]["loss_guard"] == "stop"
    loss = summary["history"]["loss"]
    assert len(loss) == 2 and loss[1] < loss[0] < summary["initial_loss"][
        "loss"]
    assert summary["test_accuracy"] > 0.6
