"""The workflow the notes recommend: sanity checks before training, then the
assignment's staged improvements (experiments 13 and 16: sanity_checks,
assignment_steps): the notes' claims checked with numbers on real MNIST in
quick mode.

Each experiment runs once per session (the ``run_quick`` fixture); the
contract every experiment keeps is tested in test_experiments.py.
"""

import math

import numpy as np
import pytest

from tfnn.models import build_model
from tfnn.studies.experiments import assignment_steps, sanity_checks
from tfnn.studies.experiments.assignment_steps import STAGE_NAMES

# Trains on real MNIST through session fixtures: the slow tier.
pytestmark = [pytest.mark.slow,
              pytest.mark.usefixtures("mnist_manual_dir",
                                      "mnist_builder")]


# --------------------------------------------------------------------------
# 13. Sanity checks (note 003)
# --------------------------------------------------------------------------


def test_sanity_initial_loss_and_reg(run_quick):
    result = run_quick("sanity_checks")
    sweep = result["reg_sweep"]
    assert sweep[0]["reg"] == 0.0
    assert abs(sweep[0]["loss"] - math.log(10)) < 0.05
    losses = [r["loss"] for r in sweep]
    assert all(b > a for a, b in zip(losses, losses[1:]))  # rises with reg
    for r in sweep:  # L = data loss + reg·ΣW²
        assert r["loss"] == pytest.approx(r["predicted"], abs=1e-3)
    assert result["by_initializer"]["unit_normal"]["data_loss"] > 10


def test_sanity_overfit_twenty_examples(run_quick):
    result = run_quick("sanity_checks")
    o = result["overfit"]
    assert o["n"] == 20
    assert o["final_accuracy"] == 1.0
    assert o["first_epoch_100"] is not None
    assert o["loss"][-1] < 0.1 * o["loss"][0]
    assert o["overfit_check"]["reached"]


def test_sanity_learning_rates(run_quick):
    result = run_quick("sanity_checks")
    v = sanity_checks.lr_verdicts(result)
    assert v["too low"] == "barely moves"
    assert v["good"] == "learns"
    assert v["too high"].startswith("explodes")
    far = result["learning_rates"]["far too high"]
    assert far["diverged"] and "learning rate" in far["message"]
    assert "all pass" in sanity_checks.summarize(result)


# --------------------------------------------------------------------------
# 16. The assignment, one change at a time (note 003)
# --------------------------------------------------------------------------


def test_assignment_every_stage_config_builds_and_changes_something():
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


def test_assignment_trains_every_stage_and_records_accuracies(run_quick):
    result = run_quick("assignment_steps")
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


def test_assignment_final_stage_beats_the_baseline(run_quick):
    result = run_quick("assignment_steps")
    rows = result["stages"]
    assert rows[-1]["test_accuracy_mean"] > rows[0]["test_accuracy_mean"] + 0.2
    assert rows[-1]["val_accuracy_mean"] > rows[0]["val_accuracy_mean"] + 0.2
