"""Activations and the gradients they pass (experiments 1-4: activations,
activation_histograms, vanishing_gradient, linear_collapse): the notes'
claims checked with numbers on real MNIST in quick mode, and the
figure/JSON/summary contract.

Each experiment runs once per session (the ``run_quick`` fixture); the
contract every experiment keeps is tested in test_experiments.py.
"""

import json
import math

import numpy as np
import pytest

from tfnn.studies import experiments
from tfnn.studies.experiments import activation_histograms, vanishing_gradient

# Trains on real MNIST through session fixtures: the slow tier.
pytestmark = [pytest.mark.slow,
              pytest.mark.usefixtures("mnist_manual_dir",
                                      "mnist_builder")]



# --------------------------------------------------------------------------
# 1. Activation functions (notes 000, 003)
# --------------------------------------------------------------------------


def test_activations_experiment_claims(run_quick, experiment_dir,
                                       check_figure):
    result = run_quick("activations")
    assert result["max_derivative"]["sigmoid"] == pytest.approx(0.25,
                                                                abs=1e-3)
    assert result["max_derivative"]["relu"] == 1.0
    assert result["saturated_fraction"]["sigmoid"] > 0.1
    assert (experiment_dir / "activations.png").exists()
    loaded = json.loads((experiment_dir / "activations.json").read_text())
    assert "holds" in experiments.get("activations").summarize(loaded)
    check_figure(experiments.get("activations").plot(loaded))


# --------------------------------------------------------------------------
# 2. Activation histograms (note 004)
# --------------------------------------------------------------------------


def test_activation_histograms_note004(run_quick):
    result = run_quick("activation_histograms")
    c = activation_histograms.claims(result, "10x500")
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
    assert "hold" in activation_histograms.summarize(result)


def test_activation_histograms_first_layer_matches_formula(run_quick):
    """Layer 1 of tanh + Xavier: pre-activation std = sqrt(1/500)·sqrt(500)
    = 1, so std(tanh(z)) for z ~ N(0, 1) ≈ 0.63 (E[tanh²] ≈ 0.394)."""
    result = run_quick("activation_histograms")
    std1 = result["architectures"]["10x500"]["tanh_xavier"]["std"][0]
    assert std1 == pytest.approx(math.sqrt(0.394), rel=0.05)


# --------------------------------------------------------------------------
# 3. Vanishing gradients (notes 000, 003)
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
    speed = vanishing_gradient.speedups(result)
    for depth, per in speed.items():
        assert per["sigmoid"]["ratio"] > 2.0, depth  # ReLU clearly faster
    text = vanishing_gradient.summarize(result)
    assert "6×" in text


# --------------------------------------------------------------------------
# 4. Linear collapse (note 003)
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
