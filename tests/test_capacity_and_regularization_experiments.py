"""Capacity and regularization: depth against width, and dropout (experiments
15 and 8: depth_width, dropout): the notes' claims checked with numbers on
real MNIST in quick mode,

Each experiment runs once per session (the ``run_quick`` fixture); the
contract every experiment keeps is tested in test_experiments.py.
"""


import pytest

from tfnn.studies.experiments import depth_width

# Trains on real MNIST through session fixtures: the slow tier.
pytestmark = [pytest.mark.slow,
              pytest.mark.usefixtures("mnist_manual_dir",
                                      "mnist_builder")]



# --------------------------------------------------------------------------
# 15. Depth and width (notes 000, 003)
# --------------------------------------------------------------------------


def test_depth_width(run_quick):
    result = run_quick("depth_width")
    c = depth_width.claims(result)
    w = result["widths"]
    assert w[0]["hidden"][0] < w[-1]["hidden"][0]
    assert c["wider_gain"] > 0.01  # a wider 1-hidden-layer net beats it
    n = result["note000"]
    assert set(n) == {"784-64-10", "784-128-64-10"}
    assert n["784-128-64-10"]["parameters"] == 784 * 128 + 128 + 128 * 64 \
        + 64 + 64 * 10 + 10
    # note 000's layers: no activation after the 64-unit layer
    assert n["784-128-64-10"]["activations"] == ["relu", "linear"]
    assert n["784-64-10"]["activations"] == ["relu"]
    for r in n.values():
        assert r["output"] == "sigmoid"
        assert len(r["test_accuracies"]) == len(
            result["config"]["note000_seeds"])
        assert r["test_accuracy"] > 0.85


def test_depth_width_note000_verdict_follows_the_numbers(run_quick):
    """Note 000's 784-128-64-10 vs 784-64-10: the summary says the claim
    holds only when the mean gain exceeds the seed noise, and says plainly
    when it does not (at this short budget it is within noise)."""
    result = run_quick("depth_width")
    n = result["note000"]
    small, big = n["784-64-10"], n["784-128-64-10"]
    gain = big["test_accuracy"] - small["test_accuracy"]
    noise = max(0.003, 2 * max(small["test_accuracy_std"],
                               big["test_accuracy_std"]))
    text = depth_width.summarize(result)
    if gain > noise:
        assert "the extra layer's gain holds" in text
    else:
        assert "the extra layer's gain holds" not in text
        assert ("no clear difference" in text
                or "does NOT hold" in text)


# --------------------------------------------------------------------------
# 8. Dropout (notes 000, 002)
# --------------------------------------------------------------------------


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
