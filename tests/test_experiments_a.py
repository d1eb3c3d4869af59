"""Experiments 2, 3, 4, 10, 13 and 15 in quick mode: the notes' claims as
numbers (issue 4's "Must show" list), and the figure/JSON contract.

Each experiment runs once per session through the ``run_quick`` fixture,
which also writes NAME.png and NAME.json into ``experiment_dir``.
"""

import json
import math

import numpy as np
import pytest

# Trains on real MNIST through session fixtures: the slow tier.
pytestmark = pytest.mark.slow

NAMES = ["activation_histograms", "vanishing_gradient", "linear_collapse",
         "sanity_checks", "optimizer_paths", "depth_width"]


# --------------------------------------------------------------------------
# The contract every experiment keeps
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_files_plot_and_summary(name, run_quick, experiment_dir,
                                check_figure):
    from tfnn.studies import experiments

    run_quick(name)
    png = experiment_dir / f"{name}.png"
    js = experiment_dir / f"{name}.json"
    assert png.is_file() and png.stat().st_size > 10_000
    assert js.is_file()
    loaded = json.loads(js.read_text())
    module = experiments.get(name)
    # plot and summarize work on the JSON form (lists, string keys)
    check_figure(module.plot(loaded))
    text = module.summarize(loaded)
    assert isinstance(text, str) and len(text) > 200
    assert "\n" not in text.strip()  # one paragraph


# --------------------------------------------------------------------------
# 2. Activation histograms (note 004)
# --------------------------------------------------------------------------


def test_activation_histograms_note004(run_quick):
    from tfnn.studies.experiments import activation_histograms as m

    result = run_quick("activation_histograms")
    c = m.claims(result, "10x500")
    assert c["small_normal_ratio"] < 0.01  # tanh + 0.01·N collapses
    assert c["unit_normal_saturated"] > 0.85  # tanh + 1.0·N saturates
    assert 0.2 < c["xavier_ratio"] <= 1.0  # within a factor 5
    assert c["xavier_last_std"] > 0.1
    assert 0.5 < c["he_ratio"] < 2.0  # ReLU + He keeps the scale
    assert c["relu_xavier_shrink"] > 8.0  # ReLU + Xavier halves each layer
    r = result["architectures"]["10x500"]
    for s in r.values():
        assert len(s["std"]) == 10
        hist = np.asarray(s["histograms"])
        assert hist.shape == (10, result["config"]["bins"])
        np.testing.assert_allclose(hist.sum(axis=1), 1.0, atol=1e-9)
    # the 5 × 100 variant ran with the same settings
    assert set(result["architectures"]["5x100"]) == set(r)
    assert len(result["architectures"]["5x100"]["tanh_xavier"]["std"]) == 5
    assert "hold" in m.summarize(result)


def test_activation_histograms_first_layer_matches_formula(run_quick):
    """Layer 1 of tanh + Xavier: pre-activation std = sqrt(1/500)·sqrt(500)
    = 1, so std(tanh(z)) for z ~ N(0, 1) ≈ 0.63 (E[tanh²] ≈ 0.394)."""
    result = run_quick("activation_histograms")
    std1 = result["architectures"]["10x500"]["tanh_xavier"]["std"][0]
    assert std1 == pytest.approx(math.sqrt(0.394), rel=0.05)


# --------------------------------------------------------------------------
# 3. Vanishing gradient (notes 000, 003)
# --------------------------------------------------------------------------


def test_vanishing_gradient_norms(run_quick):
    result = run_quick("vanishing_gradient")
    g = result["gradients"]
    for name in ("sigmoid_small_normal", "sigmoid_xavier"):
        assert g[name]["first_over_last"] <= 0.01, name  # ≥ 100× smaller
        norms = np.asarray(g[name]["norm"][:-1])
        assert np.all(np.diff(norms) > 0), name  # grows toward the output
    assert 0.1 <= g["relu_he"]["first_over_last"] <= 10.0
    assert len(g["relu_he"]["norm"]) == result["config"]["depth"] + 1


def test_vanishing_gradient_training(run_quick):
    from tfnn.studies.experiments import vanishing_gradient as m

    result = run_quick("vanishing_gradient")
    target = result["config"]["target"]
    for depth, runs in result["training"].items():
        relu = runs["relu"]["steps_to"][str(float(target))]
        assert relu is not None, depth  # ReLU reaches the target
        assert runs["relu"]["test_accuracy"] > 0.85
    deep = result["training"]["10"]
    # the 10-layer sigmoid net does not learn in the budget
    assert deep["sigmoid"]["steps_to"][str(float(target))] is None
    assert deep["sigmoid"]["test_accuracy"] < 0.3
    speed = m.speedups(result)
    for depth, per in speed.items():
        assert per["sigmoid"]["ratio"] > 2.0, depth  # ReLU clearly faster
    text = m.summarize(result)
    assert "6×" in text


# --------------------------------------------------------------------------
# 4. Linear collapse (notes 003, 004)
# --------------------------------------------------------------------------


def test_linear_collapse(run_quick):
    result = run_quick("linear_collapse")
    assert len(result["rows"]) == len(result["config"]["depths"])
    for row in result["rows"]:
        # the same layers composed in float64 equal x·W + b to 1e-5
        assert row["max_abs_diff_float64"] <= 1e-5
        # the float32 Keras model: float32 rounding only
        assert row["max_rel_diff"] <= 1e-5
        assert row["same_predictions"] == 1.0
        assert row["bias_norm"] > 0  # trained: the bias term is exercised
        # affine: f(a+c) − f(a) − f(c) + f(0) = 0; ReLU: clearly not
        assert row["linear_additivity"] < 1e-5
        assert row["relu_additivity"] > 0.05
        assert row["relu_additivity"] > 1e4 * row["linear_additivity"]


def test_linear_collapse_depth_buys_nothing(run_quick):
    result = run_quick("linear_collapse")
    single = result["single_layer_test_accuracy"]
    for row in result["rows"]:
        assert abs(row["linear_test_accuracy"] - single) < 0.03
    assert max(r["relu_test_accuracy"] for r in result["rows"]) > max(
        r["linear_test_accuracy"] for r in result["rows"])


# --------------------------------------------------------------------------
# 13. Sanity checks (note 004)
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
    from tfnn.studies.experiments import sanity_checks as m

    result = run_quick("sanity_checks")
    v = m.lr_verdicts(result)
    assert v["too low"] == "barely moves"
    assert v["good"] == "learns"
    assert v["too high"].startswith("explodes")
    far = result["learning_rates"]["far too high"]
    assert far["diverged"] and "learning rate" in far["message"]
    assert "all pass" in m.summarize(result)


# --------------------------------------------------------------------------
# 10. Optimizer paths (notes 001, 003)
# --------------------------------------------------------------------------


def test_optimizer_paths_every_key(run_quick):
    from tfnn.nn import optimizers

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
    from tfnn.studies.experiments import optimizer_paths as m

    result = run_quick("optimizer_paths")
    c = m.claims(result)
    bowl, esc = c["bowl_distance"], c["saddle_escape"]
    for key in ("momentum", "nag", "adam"):
        assert bowl[key] < bowl["sgd"], key
        sgd_escape = esc["sgd"] if esc["sgd"] is not None else math.inf
        assert esc[key] is not None and esc[key] < sgd_escape, key
    assert "holds" in m.summarize(result)


# --------------------------------------------------------------------------
# 15. Depth and width (notes 003, 000)
# --------------------------------------------------------------------------


def test_depth_width(run_quick):
    from tfnn.studies.experiments import depth_width as m

    result = run_quick("depth_width")
    c = m.claims(result)
    w = result["widths"]
    assert w[0]["hidden"][0] < w[-1]["hidden"][0]
    assert c["wider_gain"] > 0.01  # a wider 1-hidden-layer net beats it
    n = result["note000"]
    assert set(n) == {"784-64-10", "784-128-64-10"}
    assert n["784-128-64-10"]["parameters"] == 784 * 128 + 128 + 128 * 64 \
        + 64 + 64 * 10 + 10
    for r in n.values():
        assert r["output"] == "sigmoid"
        assert len(r["test_accuracies"]) == len(
            result["config"]["note000_seeds"])
        assert r["test_accuracy"] > 0.85


def test_depth_width_note000_verdict_follows_the_numbers(run_quick):
    """Note 000's 784-128-64-10 vs 784-64-10: the summary says the claim
    holds only when the mean gain exceeds the seed noise, and says plainly
    when it does not (at this short budget it is within noise)."""
    from tfnn.studies.experiments import depth_width as m

    result = run_quick("depth_width")
    n = result["note000"]
    small, big = n["784-64-10"], n["784-128-64-10"]
    gain = big["test_accuracy"] - small["test_accuracy"]
    noise = max(0.003, 2 * max(small["test_accuracy_std"],
                               big["test_accuracy_std"]))
    text = m.summarize(result)
    if gain > noise:
        assert "note 000's claim holds" in text
    else:
        assert "note 000's claim holds" not in text
        assert ("no clear difference" in text
                or "does NOT hold" in text)
