"""Optimization: batch size, the optimizers, the learning rate and the
hyperparameter search (experiments 9-12: batch_size, optimizer_paths,
lr_sweep, random_search): the notes' claims checked with numbers on real
MNIST in quick mode,

Each experiment runs once per session (the ``run_quick`` fixture); the
contract every experiment keeps is tested in test_experiments.py.
"""

import math

import numpy as np
import pytest

from tfnn.nn import optimizers
from tfnn.studies.experiments import optimizer_paths
from tfnn.studies.experiments.random_search import fine_box

# Trains on real MNIST through session fixtures: the slow tier.
pytestmark = [pytest.mark.slow,
              pytest.mark.usefixtures("mnist_manual_dir",
                                      "mnist_builder")]



# --------------------------------------------------------------------------
# 9. Batch size (notes 000, 001)
# --------------------------------------------------------------------------


def test_batch16_wins_per_epoch_batch128_per_update(run_quick):
    r = run_quick("batch_size")
    small, large = r["note000"]["16"], r["note000"]["128"]
    assert small["updates"] > 7 * large["updates"]
    # Per epoch (note 000's axis) the small batch is ahead at lr 1e-4 ...
    assert small["epoch_loss"][-1] < large["epoch_loss"][-1]
    assert small["epoch_val_loss"][-1] < large["epoch_val_loss"][-1]
    # ... per update the large batch is.
    assert large["loss_at_equal_updates"] < small["loss_at_equal_updates"]


def test_batch_modes_update_counts(run_quick):
    r = run_quick("batch_size")
    modes, n = r["modes"], r["gd_n_train"]
    assert modes["0"]["updates_per_epoch"] == 1  # batch GD: 1 per epoch
    assert modes["0"]["updates"] == len(modes["0"]["train_loss"])
    assert modes["1"]["updates_per_epoch"] == n  # SGD: one per example
    assert modes["32"]["updates_per_epoch"] == -(-n // 32)
    # Per epoch, full-batch GD is the slowest of the four.
    final = {k: v["train_loss"][-1] for k, v in modes.items()}
    assert final["0"] == max(final.values())


# --------------------------------------------------------------------------
# 10. Optimizer paths (notes 001, 003)
# --------------------------------------------------------------------------


def test_optimizer_paths_every_key(run_quick):
    result = run_quick("optimizer_paths")
    keys = set(optimizers.names())
    assert len(keys) == 14
    for surface in ("bowl", "saddle"):
        per = result["paths"][surface]
        assert set(per) == keys
        for r in per.values():
            pts = np.asarray(r["points"])
            assert pts.shape == (result["config"]["steps"] + 1, 2)
            np.testing.assert_array_equal(
                pts[0], np.float32(result["surfaces"][surface]["start"]))
            assert r["learning_rate"] > 0
    assert set(result["mnist"]) == keys
    for r in result["mnist"].values():
        assert r["learning_rate"] > 0
        assert r["diverged"] or 0.0 <= r["final_val_accuracy"] <= 1.0


def test_optimizer_paths_first_step_is_the_rule(run_quick):
    """SGD's first step is w − lr·∇f: (−7, 2) − 0.95·(−0.7, 4)."""
    result = run_quick("optimizer_paths")
    r = result["paths"]["bowl"]["sgd"]
    lr = r["learning_rate"]
    expected = np.array([-7 - lr * (-0.7), 2 - lr * 4.0])
    np.testing.assert_allclose(r["points"][1], expected, rtol=1e-6)
    # gd and sgd are the same rule: identical paths on an exact gradient
    np.testing.assert_allclose(result["paths"]["bowl"]["gd"]["points"],
                               r["points"])


def test_optimizer_paths_sgd_struggles(run_quick):
    """Note 001: at the same lr, momentum/NAG/Adam end closer to the uneven
    bowl's minimum than SGD and leave the saddle sooner."""
    result = run_quick("optimizer_paths")
    c = optimizer_paths.claims(result)
    bowl, esc = c["bowl_distance"], c["saddle_escape"]
    for key in ("momentum", "nag", "adam"):
        assert bowl[key] < bowl["sgd"], key
        sgd_escape = esc["sgd"] if esc["sgd"] is not None else math.inf
        assert esc[key] is not None and esc[key] < sgd_escape, key
    assert "holds" in optimizer_paths.summarize(result)


# --------------------------------------------------------------------------
# 11. Learning-rate sweep (note 003)
# --------------------------------------------------------------------------


def test_lr_sweep_best_lr_is_strictly_inside_the_range(run_quick):
    result = run_quick("lr_sweep")
    runs = result["runs"]
    lrs = [r["lr"] for r in runs]
    assert lrs == sorted(lrs) and lrs[0] <= 1e-5 and lrs[-1] >= 10
    assert np.allclose(np.diff(np.log10(lrs)), np.log10(lrs[1] / lrs[0]))
    best = int(result["best"])
    assert 0 < best < len(runs) - 1
    assert runs[best]["val_accuracy"] > 0.6


def test_lr_sweep_too_low_barely_moves(run_quick):
    result = run_quick("lr_sweep")
    low, best = result["runs"][0], result["runs"][int(result["best"])]
    assert not low["diverged"] and not low["exploded"]
    assert low["relative_change"] < 0.05  # loss fell by < 5 % of L_0
    assert low["relative_change"] < 0.2 * best["relative_change"]
    assert low["val_accuracy"] < 0.3


def test_lr_sweep_too_high_explodes_or_ends_worse(run_quick):
    result = run_quick("lr_sweep")
    runs, best = result["runs"], result["runs"][int(result["best"])]
    top = runs[-1]
    assert top["diverged"] or top["exploded"]
    assert top["diverged"] or top["val_accuracy"] < best["val_accuracy"] - 0.2
    if not top["diverged"]:
        assert top["max_loss"] > 10 * top["initial_loss"]


# --------------------------------------------------------------------------
# 12. Random search (note 003)
# --------------------------------------------------------------------------


def test_random_search_records_every_trial(run_quick):
    result = run_quick("random_search")
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


def test_random_search_fine_box_inside_coarse_and_holds_best_coarse(run_quick):
    result = run_quick("random_search")
    coarse, fine = result["coarse_box"], result["fine_box"]
    best = result["trials"][int(result["best_coarse"])]
    assert best["stage"] == "coarse"
    for key in ("log10_lr", "log10_reg"):
        assert coarse[key][0] <= fine[key][0] < fine[key][1] <= coarse[key][1]
        assert fine[key][0] <= best[key] <= fine[key][1]
    # Fine means narrower: at least in lr, the parameter that matters most.
    assert (fine["log10_lr"][1] - fine["log10_lr"][0]
            < coarse["log10_lr"][1] - coarse["log10_lr"][0])


def test_random_search_fine_stage_keeps_up_with_the_coarse_best(run_quick):
    result = run_quick("random_search")
    trials = result["trials"]
    best_coarse = trials[int(result["best_coarse"])]["val_accuracy"]
    best_fine = trials[int(result["best_fine"])]["val_accuracy"]
    assert best_fine >= best_coarse - 0.02  # one short run: ±1-2 points
    assert result["best"] in (result["best_coarse"], result["best_fine"])


def test_fine_box_unit():
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
