"""Experiments 5-9 (weight init, input normalization, BatchNorm, dropout,
batch size): the notes' claims, checked with numbers on real MNIST in quick
mode, plus the figure/JSON/summary contract."""

import json

import pytest

NAMES = ("weight_init", "input_normalization", "batch_norm", "dropout",
         "batch_size")

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mnist_manual_dir")]


# -- the contract --------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_outputs_plot_and_summary(name, run_quick, experiment_dir,
                                  check_figure):
    from tfnn.studies import experiments

    result = run_quick(name)
    module = experiments.get(name)
    assert (experiment_dir / f"{name}.png").stat().st_size > 10_000
    path = experiment_dir / f"{name}.json"
    loaded = json.loads(path.read_text())
    check_figure(module.plot(loaded))
    text = module.summarize(loaded)
    assert text == module.summarize(result)
    assert "\n" not in text.strip() and len(text) > 200


# -- 5. weight init ------------------------------------------------------


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


# -- 6. input normalization -----------------------------------------------


def test_normalized_inputs_reach_lower_loss_at_the_same_lr(run_quick):
    from tfnn.studies.experiments import input_normalization as m

    r = run_quick("input_normalization")
    lr = r["learning_rate"]
    raw = m._row(r, "raw", lr)
    raw_loss = float("inf") if raw["diverged"] else raw["final_loss"]
    for kind in ("minmax", "standardize"):
        assert m._row(r, kind, lr)["final_loss"] < 0.5 * raw_loss
    # Raw pixels blow the loss up on the way (unstable), normalized don't.
    assert raw["diverged"] or raw["peak_loss"] > 1e3
    for kind in ("minmax", "standardize"):
        row = m._row(r, kind, lr)
        assert row["peak_loss"] <= 1.2 * row["initial_loss"]


def test_normalized_inputs_win_at_their_best_lr(run_quick):
    from tfnn.studies.experiments import input_normalization as m

    r = run_quick("input_normalization")
    assert m.best(r, "standardize")["final_loss"] < \
        0.5 * m.best(r, "raw")["final_loss"]
    assert m.best(r, "minmax")["final_loss"] < m.best(r, "raw")["final_loss"]


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


# -- 7. batch norm --------------------------------------------------------


def test_bn_beats_no_bn_at_extreme_init_scales(run_quick):
    from tfnn.studies.experiments import batch_norm as m

    for ext in m.extremes(run_quick("batch_norm")):
        bn = ext["bn"]["test_accuracy"]
        plain = ext["plain"]["test_accuracy"] or 0.0
        assert bn > plain + 0.1, ext


def test_bn_train_and_inference_modes_agree_once_averages_settle(run_quick):
    from tfnn.studies.experiments import batch_norm as m

    r = run_quick("batch_norm")
    early, late = m.settling(r)
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


# -- 8. dropout -----------------------------------------------------------


def test_dropout_shrinks_the_generalization_gap(run_quick):
    runs = run_quick("dropout")["runs"]
    assert runs["0.0"]["train_accuracy"] > 0.99  # it does overfit
    assert runs["0.5"]["gap"] < runs["0.0"]["gap"]
    # The same seed draws the same weights and batches: paired comparison.
    for a, b in zip(runs["0.0"]["seeds"], runs["0.5"]["seeds"]):
        assert b["gap"] < a["gap"] + 0.005


def test_dropout_modes(run_quick):
    m = run_quick("dropout")["modes"]
    assert m["train_vs_train"] > 0.01 * m["logit_scale"]
    assert m["inference_vs_inference"] == 0.0
    for layer in m["layers"]:
        assert layer["zeroed_fraction"] == pytest.approx(layer["rate"],
                                                         abs=0.03)
        assert layer["survivor_scale_min"] == pytest.approx(
            layer["expected_scale"], rel=1e-4)
        assert layer["survivor_scale_max"] == pytest.approx(
            layer["expected_scale"], rel=1e-4)
        assert layer["mean_ratio"] == pytest.approx(1.0, abs=0.1)


# -- 9. batch size --------------------------------------------------------


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
