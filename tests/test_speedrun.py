"""``tfnn speedrun``: the recipes, one seed in-process, seeds in fresh
processes, the command line. Correctness only: no test depends on time
beyond the invariant that a process's wall time contains the run in it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tfnn import cli
from tfnn.config import ModelConfig
from tfnn.models import build_model
from tfnn.nn import schedules
from tfnn.studies import speedrun
from tfnn.studies.benchmark.speedrun_rows import (
    format_speedrun_rows,
    speedrun_rows,
)
from tfnn.studies.benchmark.workload import tfnn_config
from tfnn.studies.speedrun import timed_seeds
from tfnn.studies.speedrun.baselines import one_cycle, torch_seed
from tfnn.studies.torch_twin import torch_model
from tfnn.training import TrainConfig
from tfnn.training.loop_choice import choose_loop


@pytest.mark.parametrize("arch", speedrun.ARCHS)
def test_recipe_configs_round_trip(arch):
    """The recipe's dicts build valid configs that survive JSON (a run's
    summary.json holds them) and carry the seed."""
    model, train = speedrun.configs(arch, seed=7)
    assert model.arch == arch and train.seed == 7
    assert train.schedule == "one_cycle"
    assert ModelConfig.from_dict(json.loads(json.dumps(model.to_dict()))) \
        == model
    assert TrainConfig.from_dict(json.loads(json.dumps(train.to_dict()))) \
        == train
    r = speedrun.recipe(arch)
    assert {k: v for k, v in model.to_dict().items() if k in r["model"]} \
        == r["model"]
    r["model"]["arch"] = "changed"  # a copy: the recipe stays
    assert speedrun.RECIPES[arch]["model"]["arch"] == arch


def test_the_cnn_recipe_is_a_stride_two_bn_convnet_on_the_fast_path():
    model, train = speedrun.configs("cnn")
    assert (model.downsample, model.filters, model.hidden,
            model.batch_norm) == ("stride", (32, 48), (64,), True)
    assert train.drop_remainder  # 429 full batches an epoch
    choice = choose_loop(build_model(model), train, 55_000, 1)
    assert (choice.loop, choice.xla) == ("fast", False)  # convs: no XLA
    assert speedrun.recipe("cnn")["target"] == 0.99
    # its prediction: the mean softmax over the image and 4 one-pixel
    # shifts (chosen on validation, see the recipes' docstring)
    assert speedrun.recipe("cnn")["test_shifts"] == {"max_shift": 1,
                                                     "pattern": "plus"}
    with pytest.raises(ValueError, match="choose from"):
        speedrun.configs("rnn")


@pytest.mark.slow
@pytest.mark.parametrize("arch", speedrun.ARCHS)
def test_one_epoch_on_a_subset_trains(mnist_builder, arch):
    """1,500 images, one epoch: far above chance (10 %) on the real test
    set, one validation score per epoch."""
    r = speedrun.run_seed(arch, seed=1, train_limit=1500, epochs=1)
    assert r["epochs"] == 1 and len(r["val_accuracy"]) == 1
    # The steps taken: 1500 // 128 = 11 full batches, and a 12th of 92
    # images where the recipe keeps the last batch.
    drop = speedrun.recipe(arch)["train"].get("drop_remainder", False)
    assert r["steps"] == (11 if drop else 12), r
    assert r["test_accuracy"] > 0.5 and r["plain_test_accuracy"] > 0.5, r
    if "test_shifts" not in speedrun.recipe(arch):
        assert r["test_accuracy"] == r["plain_test_accuracy"]
    assert 0 < r["train_seconds"] <= r["run_seconds"]


@pytest.mark.slow
def test_race_times_each_seed_in_its_own_process(mnist_builder):
    """Each seed in a fresh process: its wall time contains the run's
    own (imports and start come on top); a subset cannot reach 99 %, so
    the race says so and the median is the middle seed's time."""
    result = speedrun.race("mlp", seeds=2, first_seed=3, train_limit=600,
                           epochs=1)
    runs = result["runs"]
    assert [r["seed"] for r in runs] == [3, 4]
    assert all(r["seconds"] > r["run_seconds"] for r in runs)
    assert runs[0]["test_accuracy"] != runs[1]["test_accuracy"]  # seeded
    assert not result["all_reached"] and not any(r["reached"] for r in runs)
    assert result["median_seconds"] == pytest.approx(
        sum(r["seconds"] for r in runs) / 2)
    table = speedrun.format_table(result)
    assert table.count("| NO |") == 2 and "median" in table


@pytest.mark.parametrize("argv,message", [
    (["--seeds", "0"], "--seeds must be >= 1"),
    (["--target", "1.5"], "--target is a test accuracy in (0, 1]"),
    (["--epochs", "0"], "--epochs must be >= 1"),
    (["--arch", "rnn"], "invalid choice: 'rnn'"),
])
def test_bad_flags_are_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["speedrun", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


@pytest.mark.slow
def test_script_prints_the_table_and_exits_1_below_target(mnist_builder,
                                                          tmp_path):
    out = tmp_path / "race.json"
    proc = subprocess.run(
        [sys.executable, "scripts/speedrun.py", "--arch", "mlp", "--seeds",
         "1", "--train-limit", "500", "--epochs", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "| seed | seconds (process)" in proc.stdout
    saved = json.loads(out.read_text())
    assert saved["arch"] == "mlp" and len(saved["runs"]) == 1
    assert saved["recipe"] == speedrun.recipe("mlp")


def test_torch_twin_has_the_same_layers():
    """The same layers: PyTorch's parameters (weights, biases, γ, β) are
    as many as the Keras model's trainable ones, for the speedrun's
    recipes and the benchmark's models; what has no twin is refused."""
    torch = pytest.importorskip("torch")

    configs = [speedrun.configs(arch)[0] for arch in speedrun.ARCHS] + [
        tfnn_config(arch) for arch in ("mlp", "mlp_bn_dropout", "cnn")]
    for config in configs:
        net = torch_model(config.to_dict())
        keras_count = sum(int(v.numpy().size) for v in
                          build_model(config).trainable_variables)
        assert sum(p.numel() for p in net.parameters()) == keras_count
        assert tuple(net(torch.zeros((2, 28, 28))).shape) == (2, 10)
    with pytest.raises(ValueError, match="no PyTorch twin"):
        torch_model(ModelConfig(activation="tanh").to_dict())


@pytest.mark.slow
@pytest.mark.parametrize("arch", speedrun.ARCHS)
def test_torch_twin_takes_the_recipes_batches(mnist_builder, arch):
    """The PyTorch seed trains the recipe's batches: as many steps as
    tfnn's (the last short batch dropped where the recipe drops it), and
    learns (600 images, one epoch: far above chance)."""
    pytest.importorskip("torch")

    r = torch_seed(arch, seed=2, train_limit=600, epochs=1)
    drop = speedrun.recipe(arch)["train"].get("drop_remainder", False)
    assert r["steps"] == (600 // 128 if drop else -(-600 // 128)), r
    assert r["test_accuracy"] > 0.3 and r["epochs"] == 1


def test_race_side_by_side_takes_each_function_once():
    with pytest.raises(ValueError, match="each function once"):
        speedrun.race_side_by_side("mlp", ("run_seed", "run_seed"))


def test_one_cycle_in_python_is_the_schedules_formula():
    keras_one = schedules.get("one_cycle", 6e-3, 43, 3, warmup=0.2)
    for t in (0, 5, 25, 26, 27, 100, 128, 129):
        assert one_cycle(t, 129, 6e-3, 0.2) == pytest.approx(
            float(keras_one(t)), rel=1e-5, abs=1e-9), t


@pytest.mark.slow
def test_benchmark_rows_race_tfnn_and_torch(mnist_builder, monkeypatch):
    """The benchmark's speedrun rows: tfnn's race and (PyTorch installed)
    the torch twin's, in fresh processes, their seeds alternating
    (``race_side_by_side``; a spy on the real processes records the
    order), and their ratio; formatted."""
    started = []
    real = timed_seeds.in_subprocess

    def spy(module, function, env, **kwargs):
        started.append((function, kwargs["seed"]))
        return real(module, function, env, **kwargs)

    monkeypatch.setattr(timed_seeds, "in_subprocess", spy)
    rows = speedrun_rows(seeds=2, archs=("mlp",), train_limit=600, epochs=1)
    row = rows["mlp"]
    by = ["run_seed", "torch_seed"] if "torch" in row else ["run_seed"]
    assert started == [(f, seed) for seed in (0, 1) for f in by]
    assert [r["seed"] for r in row["tfnn"]["runs"]] == [0, 1]
    assert row["tfnn"]["runs"][0]["test_accuracy"] > 0.3
    if "torch" in row:  # the benchmark's optional PyTorch
        assert row["torch"]["by"] == "torch_seed"
        assert row["torch"]["runs"][0]["test_accuracy"] > 0.3
        assert row["torch_over_tfnn"] == pytest.approx(
            row["torch"]["median_seconds"] / row["tfnn"]["median_seconds"])
    text = "\n".join(format_speedrun_rows(rows))
    assert "| mlp to 98.0% | tfnn | 2 |" in text
