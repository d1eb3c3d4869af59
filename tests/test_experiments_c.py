"""Experiments 11, 12 and 16 (quick mode, real MNIST): the notes' claims."""

import json
import math

import numpy as np
import pytest

from tfnn.studies import experiments

# Trains on real MNIST through session fixtures: the slow tier.
pytestmark = pytest.mark.slow

NAMES = ("lr_sweep", "random_search", "assignment_steps")


@pytest.fixture(scope="module")
def quick(run_quick, mnist_builder):
    return run_quick


# --------------------------------------------------------------------------
# 11. Learning-rate sweep
# --------------------------------------------------------------------------


def test_lr_sweep_best_lr_is_strictly_inside_the_range(quick):
    result = quick("lr_sweep")
    runs = result["runs"]
    lrs = [r["lr"] for r in runs]
    assert lrs == sorted(lrs) and lrs[0] <= 1e-5 and lrs[-1] >= 10
    assert np.allclose(np.diff(np.log10(lrs)), np.log10(lrs[1] / lrs[0]))
    best = int(result["best"])
    assert 0 < best < len(runs) - 1
    assert runs[best]["val_accuracy"] > 0.6


def test_lr_sweep_too_low_barely_moves(quick):
    result = quick("lr_sweep")
    low, best = result["runs"][0], result["runs"][int(result["best"])]
    assert not low["diverged"] and not low["exploded"]
    assert low["relative_change"] < 0.05  # loss fell by < 5 % of L_0
    assert low["relative_change"] < 0.2 * best["relative_change"]
    assert low["val_accuracy"] < 0.3


def test_lr_sweep_too_high_explodes_or_ends_worse(quick):
    result = quick("lr_sweep")
    runs, best = result["runs"], result["runs"][int(result["best"])]
    top = runs[-1]
    assert top["diverged"] or top["exploded"]
    assert top["diverged"] or top["val_accuracy"] < best["val_accuracy"] - 0.2
    if not top["diverged"]:
        assert top["max_loss"] > 10 * top["initial_loss"]


# --------------------------------------------------------------------------
# 12. Random search, coarse → fine
# --------------------------------------------------------------------------


def test_random_search_records_every_trial(quick):
    result = quick("random_search")
    cfg, trials = result["config"], result["trials"]
    assert len(trials) == cfg["coarse_trials"] + cfg["fine_trials"]
    assert [t["stage"] for t in trials] == (
        ["coarse"] * cfg["coarse_trials"] + ["fine"] * cfg["fine_trials"])
    for t in trials:
        assert {"lr", "reg", "val_accuracy", "stage"} <= set(t)
        assert math.isclose(t["lr"], 10 ** t["log10_lr"])
        assert math.isclose(t["reg"], 10 ** t["log10_reg"])
        box = result["coarse_box"] if t["stage"] == "coarse" else \
            result["fine_box"]
        for key in ("log10_lr", "log10_reg"):
            assert box[key][0] <= t[key] <= box[key][1]
    # The test set is read once, for the trial the validation set chose.
    assert "test_accuracy" not in trials[0]
    assert 0.5 < result["best_test_accuracy"] <= 1.0


def test_random_search_fine_box_inside_coarse_and_holds_best_coarse(quick):
    result = quick("random_search")
    coarse, fine = result["coarse_box"], result["fine_box"]
    best = result["trials"][int(result["best_coarse"])]
    assert best["stage"] == "coarse"
    for key in ("log10_lr", "log10_reg"):
        assert coarse[key][0] <= fine[key][0] < fine[key][1] <= coarse[key][1]
        assert fine[key][0] <= best[key] <= fine[key][1]
    # Fine means narrower: at least in lr, the parameter that matters most.
    assert (fine["log10_lr"][1] - fine["log10_lr"][0]
            < coarse["log10_lr"][1] - coarse["log10_lr"][0])


def test_random_search_fine_stage_keeps_up_with_the_coarse_best(quick):
    result = quick("random_search")
    trials = result["trials"]
    best_coarse = trials[int(result["best_coarse"])]["val_accuracy"]
    best_fine = trials[int(result["best_fine"])]["val_accuracy"]
    assert best_fine >= best_coarse - 0.02  # one short run: ±1-2 points
    assert result["best"] in (result["best_coarse"], result["best_fine"])


def test_fine_box_unit():
    from tfnn.studies.experiments.random_search import fine_box

    coarse = {"log10_lr": [-5.0, 0.0], "log10_reg": [-5.0, 1.0]}
    trials = [
        {"log10_lr": -1.0, "log10_reg": -4.9, "val_accuracy": 0.9,
         "diverged": False},
        {"log10_lr": -2.0, "log10_reg": -3.0, "val_accuracy": 0.8,
         "diverged": False},
        {"log10_lr": -0.1, "log10_reg": 0.5, "val_accuracy": 0.95,
         "diverged": True},
        {"log10_lr": -4.0, "log10_reg": 0.0, "val_accuracy": 0.1,
         "diverged": False},
    ]
    box = fine_box(trials, coarse, top_k=2, margin=0.5)
    assert box == {"log10_lr": [-2.5, -0.5], "log10_reg": [-5.0, -2.5]}


# --------------------------------------------------------------------------
# 16. The assignment, step by step
# --------------------------------------------------------------------------


def test_assignment_every_stage_config_builds_and_changes_something():
    from tfnn.models import build_model
    from tfnn.studies.experiments import assignment_steps

    built = assignment_steps.configs()
    assert [n for n, _, _ in built] == assignment_steps.STAGE_NAMES
    previous = None
    for name, mc, tc in built:
        model = build_model(mc)
        assert model.output_shape == (None, 10), name
        if previous is not None:
            assert (mc, tc) != previous, f"{name} changes nothing"
        previous = (mc, tc)
    first, last = built[0], built[-1]
    assert first[1].activation == "sigmoid" and first[1].output == "sigmoid"
    assert first[1].hidden == (64,) and first[2].optimizer == "sgd"
    assert last[1].arch == "cnn" and last[1].batch_norm


def test_assignment_trains_every_stage_and_records_accuracies(quick):
    from tfnn.studies.experiments.assignment_steps import STAGE_NAMES

    result = quick("assignment_steps")
    rows = result["stages"]
    assert [r["name"] for r in rows] == STAGE_NAMES
    n_seeds = len(result["config"]["seeds"])
    for r in rows:
        for key in ("val_accuracy", "test_accuracy"):
            assert len(r[key]) == n_seeds
            assert all(0.0 <= a <= 1.0 for a in r[key])
            assert r[key + "_mean"] == pytest.approx(np.mean(r[key]))
    gains = [r["test_gain"] for r in rows[1:]]
    assert sum(gains) == pytest.approx(
        rows[-1]["test_accuracy_mean"] - rows[0]["test_accuracy_mean"])


def test_assignment_final_stage_beats_the_baseline(quick):
    result = quick("assignment_steps")
    rows = result["stages"]
    assert rows[-1]["test_accuracy_mean"] > rows[0]["test_accuracy_mean"] + 0.2
    assert rows[-1]["val_accuracy_mean"] > rows[0]["val_accuracy_mean"] + 0.2


# --------------------------------------------------------------------------
# Every experiment of this file: figure, files, summary
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_plot_files_and_summary(quick, experiment_dir, name, check_figure):
    module = experiments.get(name)
    result = quick(name)
    check_figure(module.plot(result))
    assert (experiment_dir / f"{name}.png").is_file()
    loaded = json.loads((experiment_dir / f"{name}.json").read_text())
    text = module.summarize(loaded)
    assert "%" in text and "NOT" not in text
