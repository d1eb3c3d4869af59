"""Weight initialization, input normalization and BatchNorm (experiments 5-7:
weight_init, input_normalization, batch_norm): the notes' claims checked
with numbers on real MNIST in quick mode, and the figure/JSON/summary
contract.

Each experiment runs once per session (the ``run_quick`` fixture); the
contract every experiment keeps is tested in test_experiments.py.
"""


import pytest

from tfnn.studies.experiments import batch_norm, input_normalization

# Trains on real MNIST through session fixtures: the slow tier.
pytestmark = [pytest.mark.slow,
              pytest.mark.usefixtures("mnist_manual_dir",
                                      "mnist_builder")]



# --------------------------------------------------------------------------
# 5. Weight initialization (notes 003, 004)
# --------------------------------------------------------------------------


def test_zeros_init_keeps_units_identical(run_quick):
    r = run_quick("weight_init")
    sig = r["symmetry"]["zeros/sigmoid"]
    # With sigmoid (σ(0) = 0.5) the weights move away from 0 ...
    assert max(row["max_abs"] for row in sig) > 1e-5
    # ... yet every hidden unit keeps exactly the same weights.
    for rows in r["symmetry"].values():
        for row in rows:
            assert row["column_spread"] <= 1e-6 * max(row["max_abs"], 1e-30)
            assert row["distinct_units"] == 1
    # tanh(0) = 0: nothing but the output bias moves.
    assert all(row["max_abs"] == 0 for row in r["symmetry"]["zeros/tanh"])


def test_zeros_init_learns_only_the_class_prior(run_quick):
    r = run_quick("weight_init")
    acc = r["runs"]["tanh"]["zeros"]["test_accuracy"]
    assert acc == pytest.approx(r["majority_class_accuracy"], abs=0.01)
    assert acc < 0.15


def test_xavier_and_he_beat_small_and_unit_normal(run_quick):
    runs = run_quick("weight_init")["runs"]["tanh"]
    acc = {k: v["test_accuracy"] or 0.0 for k, v in runs.items()}
    worst_good = min(acc["xavier_normal"], acc["he_normal"])
    assert worst_good > 0.85
    assert worst_good > acc["small_normal"] + 0.2
    assert worst_good > acc["unit_normal"] + 0.2


# --------------------------------------------------------------------------
# 6. Input normalization (note 003)
# --------------------------------------------------------------------------


def test_normalized_inputs_reach_lower_loss_at_the_same_lr(run_quick):
    r = run_quick("input_normalization")
    lr = r["learning_rate"]
    raw = input_normalization._row(r, "raw", lr)
    raw_loss = float("inf") if raw["diverged"] else raw["final_loss"]
    for kind in ("minmax", "standardize"):
        assert (input_normalization._row(r, kind, lr)["final_loss"]
                < 0.5 * raw_loss)
    # Raw pixels blow the loss up on the way (unstable), normalized don't.
    assert raw["diverged"] or raw["peak_loss"] > 1e3
    for kind in ("minmax", "standardize"):
        row = input_normalization._row(r, kind, lr)
        assert row["peak_loss"] <= 1.2 * row["initial_loss"]


def test_normalized_inputs_win_at_their_best_lr(run_quick):
    r = run_quick("input_normalization")
    assert input_normalization.best(r, "standardize")["final_loss"] < \
        0.5 * input_normalization.best(r, "raw")["final_loss"]
    assert input_normalization.best(r, "minmax")["final_loss"] < \
        input_normalization.best(r, "raw")["final_loss"]


def test_input_curvature(run_quick):
    c = run_quick("input_normalization")["curvature"]
    # /255 divides every eigenvalue of E[xxᵀ] by 255², shape unchanged.
    assert c["raw"]["lambda_max"] / c["minmax"]["lambda_max"] == \
        pytest.approx(255.0 ** 2, rel=1e-4)
    assert c["raw"]["elongation"] == pytest.approx(c["minmax"]["elongation"],
                                                   rel=1e-4)
    # Centering makes the contours rounder.
    assert c["standardize"]["elongation"] < 0.9 * c["minmax"]["elongation"]


def test_standardize_uses_training_statistics(run_quick):
    st = run_quick("input_normalization")["input_stats"]
    assert st["raw"]["max"] == 255.0 and st["minmax"]["max"] == 1.0
    pre = st["standardize"]["preprocessor"]
    assert pre["mean"] == pytest.approx(0.1307, abs=2e-3)
    assert pre["std"] == pytest.approx(0.3081, abs=2e-3)


# --------------------------------------------------------------------------
# 7. Batch Normalization (notes 000, 002-004)
# --------------------------------------------------------------------------


def test_bn_beats_no_bn_at_extreme_init_scales(run_quick):
    for ext in batch_norm.extremes(run_quick("batch_norm")):
        bn = ext["bn"]["test_accuracy"]
        plain = ext["plain"]["test_accuracy"] or 0.0
        assert bn > plain + 0.1, ext


def test_bn_train_and_inference_modes_agree_once_averages_settle(run_quick):
    r = run_quick("batch_norm")
    early, late = batch_norm.settling(r)
    assert early > 0.2
    assert late < early / 5
    last = r["trace"][-1]
    assert abs(last["acc_train_mode"] - last["acc_inference_mode"]) < 0.03


def test_bn_batch_statistics_noise_follows_one_over_sqrt_m(run_quick):
    r = run_quick("batch_norm")
    for b in r["by_batch"].values():
        for m, row in b["stat_noise"].items():
            assert row["mean_noise"] == pytest.approx(row["mean_theory"],
                                                      rel=0.25), m
    noise = r["by_batch"]["128"]["stat_noise"]
    assert noise["16"]["mean_noise"] > 2 * noise["128"]["mean_noise"]
