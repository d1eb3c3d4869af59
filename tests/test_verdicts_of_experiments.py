"""The experiments' verdicts follow their numbers: each verdict is fed the
committed results (docs/figures/NAME.json) and versions of them where the
claim holds, fails or holds in part, and must say which; the pages
docs/experiments.md and docs/assignment.md are the code's output from the
committed numbers (``--from-json``: nothing trains); note 000's second
model is ported layer by layer. No training: the fast tier."""

import json
import os
import pathlib
import shutil

import keras
import numpy as np
import pytest

from tfnn.cli import main
from tfnn.studies import assignment, experiments, gallery
from tfnn.studies.experiments import (
    activations,
    assignment_steps,
    batch_norm,
    batch_size,
    depth_width,
    vanishing_gradient,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def saved(name):
    """The committed result of experiment ``name`` (a fresh copy)."""
    return json.loads((DOCS / "figures" / f"{name}.json").read_text())


def _set_accuracy(result, scale, plain=None, bn=None):
    for key, acc in (("plain", plain), ("bn", bn)):
        if acc is not None:
            row = next(r for r in result["scales"][key]
                       if r["scale"] == scale)
            row["test_accuracy"] = acc


# --------------------------------------------------------------------------
# Experiment 7: BatchNorm against no BatchNorm, scale by scale
# --------------------------------------------------------------------------


def test_bn_verdict_names_the_scales_where_no_bn_wins():
    r = saved("batch_norm")
    cmp = batch_norm.by_scale(r)
    behind = [row["scale"] for row in cmp["behind"]]
    assert behind == [0.03, 0.1]  # the committed numbers
    text = batch_norm.summarize(r)
    assert "Claims hold only in part" in text
    assert "Claims hold:" not in text
    assert ("no-BN wins at scale 0.03 (93.2 % vs 92.0 % with BN), and at "
            "scale 0.1 (93.7 % vs 93.0 % with BN)") in text
    assert "BN is ahead at 0.001, 0.01, 0.3, 1 and 3 and behind at 0.03 " \
        "and 0.1" in text
    # the training losses, each side as measured
    assert "lower training loss (last epoch's mean) at 0.1: 0.144 vs " \
        "0.221" in text
    assert "BN's training loss is the lower at 0.03: 0.151 vs 0.215" in text


def test_bn_verdict_holds_only_when_bn_wins_every_scale():
    r = saved("batch_norm")
    for scale in (0.03, 0.1):
        _set_accuracy(r, scale, plain=0.5)
    text = batch_norm.scale_verdict(r)
    assert text.startswith("Claims hold: BN is ahead of no-BN at every "
                           "scale (0.001, 0.01, 0.03, 0.1, 0.3, 1 and 3)")
    assert "no-BN wins" not in text and "NOT" not in text


def test_bn_verdict_moves_with_the_numbers():
    r = saved("batch_norm")
    for scale in (0.03, 0.1):
        _set_accuracy(r, scale, plain=0.5)
    _set_accuracy(r, 1.0, plain=0.9, bn=0.8)  # now no-BN wins at 1 only
    text = batch_norm.scale_verdict(r)
    assert "Claims hold only in part" in text
    assert "no-BN wins at scale 1 (90.0 % vs 80.0 % with BN)." in text
    assert "behind at 1." in text and "0.03 (" not in text
    # no-BN ahead at an extreme scale: BN no longer "rescues" both
    _set_accuracy(r, 3.0, plain=0.95)
    text = batch_norm.scale_verdict(r)
    assert "BN does not win at both extreme scales" in text
    assert "rescues" not in text
    # no-BN ahead (or level) everywhere
    for row in r["scales"]["plain"]:
        row["test_accuracy"] = 0.99
    _set_accuracy(r, 0.01, bn=0.99)  # a tie is not a BN win
    text = batch_norm.scale_verdict(r)
    assert text.startswith("Claims do NOT hold: BN is ahead at no scale")


def test_bn_verdict_says_when_the_modes_still_disagree():
    r = saved("batch_norm")
    r["trace"][-1]["rel_diff"] = r["trace"][1]["rel_diff"]
    text = batch_norm.summarize(r)
    assert "the modes still disagree at the end" in text
    assert "agree (gap < 1/5" not in text


def test_bn_diverged_run_loses_its_scale():
    r = saved("batch_norm")
    _set_accuracy(r, 0.3, bn=0.0)
    next(x for x in r["scales"]["bn"] if x["scale"] == 0.3)[
        "test_accuracy"] = None
    assert 0.3 in [x["scale"] for x in batch_norm.by_scale(r)["behind"]]
    assert "0.3 (86.3 % vs NaN with BN)" in batch_norm.scale_verdict(r)


# --------------------------------------------------------------------------
# Experiment 9: note 001's "fewer than 2,000 examples → batch GD"
# --------------------------------------------------------------------------


def test_batch_size_limits_judge_note_001s_rule_by_the_losses():
    r = saved("batch_size")
    text = batch_size.limits(r)
    assert text.startswith("**What this does not settle.**")
    assert "without BatchNorm (784-64-10" in text
    assert "Part 2 contradicts note 001's rule" in text
    assert "batch GD's training loss is 0.959 (test accuracy 70.0 %) " \
        "against 0.002 for SGD (89.7 %) and 0.049 for batch 32 " \
        "(88.1 %)" in text
    assert "the rule does NOT hold in this setting" in text
    # batch GD with the lowest loss: the rule holds
    r["modes"]["0"]["train_loss"][-1] = 0.001
    text = batch_size.limits(r)
    assert "Part 2 agrees with note 001's rule" in text
    assert "0.001 (test accuracy" in text
    assert "the rule holds in this setting" in text and "NOT" not in text


# --------------------------------------------------------------------------
# Experiment 15: note 000's two models, ported layer by layer
# --------------------------------------------------------------------------


def test_note000_second_model_has_no_activation_after_64():
    model = depth_width.note000_model(
        depth_width.NOTE000_MODELS["784-128-64-10"], seed=0)
    dense = [layer for layer in model.layers
             if isinstance(layer, keras.layers.Dense)]
    assert [d.units for d in dense] == [128, 64, 10]
    assert [d.activation.__name__ for d in dense] == ["relu", "linear",
                                                      "linear"]
    assert model.layers[-1].activation.__name__ == "sigmoid"
    assert model.count_params() == 784 * 128 + 128 + 128 * 64 + 64 \
        + 64 * 10 + 10
    # The 64-unit layer's output is its affine map of the ReLU layer's
    # output (no activation), and the model is sigmoid(affine ∘ affine).
    x = np.random.default_rng(0).normal(size=(8, 28, 28)).astype("float32")
    probe = keras.Model(model.inputs, [d.output for d in dense])
    h128, h64, logits = (np.asarray(t) for t in probe(x))
    out = np.asarray(model(x))
    w1, b1 = (np.asarray(v) for v in dense[0].weights)
    w2, b2 = (np.asarray(v) for v in dense[1].weights)
    w3, b3 = (np.asarray(v) for v in dense[2].weights)
    np.testing.assert_allclose(h128, np.maximum(x.reshape(8, -1) @ w1 + b1,
                                                0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h64, h128 @ w2 + b2, rtol=1e-5, atol=1e-5)
    assert (h64 < 0).any()  # a ReLU would have cut these
    np.testing.assert_allclose(logits, h64 @ w3 + b3, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-logits)), rtol=1e-5,
                               atol=1e-6)


def test_note000_first_model_keeps_its_relu():
    model = depth_width.note000_model(
        depth_width.NOTE000_MODELS["784-64-10"], seed=0)
    dense = [layer for layer in model.layers
             if isinstance(layer, keras.layers.Dense)]
    assert [(d.units, d.activation.__name__) for d in dense] == [
        (64, "relu"), (10, "linear")]
    assert model.count_params() == 784 * 64 + 64 + 64 * 10 + 10
    assert depth_width.QUICK["note000_models"] is depth_width.NOTE000_MODELS


def test_depth_width_limits_say_which_model_ran():
    r = saved("depth_width")
    big = r["note000"]["784-128-64-10"]
    big["activations"] = ["relu", "linear"]
    text = depth_width.limits(r)
    assert "builds it so (the 64-unit layer has no activation)" in text
    assert f"for {r['config']['note000_epochs']} epochs, not its 20" in text
    curve = " → ".join(f"{100 * v:.2f}" for v in big["val_accuracy"])
    assert f"validation accuracy goes {curve} %" in text
    big["activations"] = ["relu", "relu"]  # a run with the extra ReLU
    assert "gives the 64-unit layer a ReLU" in depth_width.limits(r)
    del big["activations"]  # results saved before the exact port
    assert "gives the 64-unit layer a ReLU" in depth_width.limits(r)


# --------------------------------------------------------------------------
# Claims: nothing credited to a note that does not say it
# --------------------------------------------------------------------------


def test_the_025_bound_and_cosine_decay_are_ours():
    for module in (activations, vanishing_gradient):
        assert "0.25" in module.CLAIM
        assert ("no note states it" in module.CLAIM
                or "ours, not the notes'" in module.CLAIM), module
    assert "(cosine decay) is ours" in assignment_steps.CLAIM
    why = assignment.WHY
    assert "note 001" not in why["cosine_lr"] and "ours" in why["cosine_lr"]
    assert not why["baseline"].startswith("note 000:")
    assert "the loss are ours" in why["baseline"]
    assert "it names no loss function" in depth_width.CLAIM


def test_activations_verdict_follows_the_derivatives():
    r = saved("activations")
    assert "Claim holds" in activations.summarize(r)
    r["max_derivative"]["sigmoid"] = 0.3
    assert "Claim does NOT hold" in activations.summarize(r)


# --------------------------------------------------------------------------
# The pages are the code's output from the committed numbers
# --------------------------------------------------------------------------


def _without_machine_line(text):
    return [line for line in text.splitlines()
            if not line.startswith("Machine: ")]


def test_gallery_page_is_rebuilt_from_the_saved_numbers(tmp_path,
                                                         monkeypatch):
    shutil.copytree(DOCS / "figures", tmp_path / "figures",
                    ignore=shutil.ignore_patterns("*.png"))
    ran = []
    monkeypatch.setattr(experiments, "run",
                        lambda *a, **k: ran.append(a) or {})
    path = gallery.rebuild_gallery(str(tmp_path))
    assert ran == []  # nothing trained
    text = open(path).read()
    assert _without_machine_line(text) == _without_machine_line(
        (DOCS / "experiments.md").read_text())
    assert "_not run yet_" not in text
    assert text.count("**What this does not") == 2  # §9 and §15


def test_cli_gallery_from_json_runs_nothing(tmp_path, monkeypatch):
    shutil.copytree(DOCS / "figures", tmp_path / "figures",
                    ignore=shutil.ignore_patterns("*.png"))
    monkeypatch.setattr(experiments, "run", lambda *a, **k: pytest.fail(
        "--from-json ran an experiment"))
    assert main(["experiment", "gallery", "--from-json", "--docs",
                 str(tmp_path)]) == 0
    assert "Claims hold only in part" in (tmp_path /
                                          "experiments.md").read_text()


def test_assignment_page_is_rebuilt_from_the_saved_numbers(tmp_path,
                                                            monkeypatch):
    (tmp_path / "assignment").mkdir()
    shutil.copy(DOCS / "assignment" / "assignment.json",
                tmp_path / "assignment")
    shutil.copy(DOCS / "assignment.md", tmp_path)
    # the page names the core count of the machine that trained
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert main(["assignment", "--from-json", "--docs", str(tmp_path)]) == 0
    assert (tmp_path / "assignment.md").read_text() == \
        (DOCS / "assignment.md").read_text()
    # without the page, the command saved with the numbers, else the default
    (tmp_path / "assignment.md").unlink()
    text = open(assignment.rebuild_report(str(tmp_path))).read()
    assert "Reproduce: `python scripts/mnist_accuracy.py` (" in text
    data = json.loads((tmp_path / "assignment" / "assignment.json")
                      .read_text())
    data["command"] = "tfnn assignment --export"
    (tmp_path / "assignment" / "assignment.json").write_text(
        json.dumps(data))
    text = open(assignment.rebuild_report(str(tmp_path))).read()
    assert "Reproduce: `tfnn assignment --export` (" in text


# --------------------------------------------------------------------------
# The other verdicts the tests check: each flips when its numbers do
# --------------------------------------------------------------------------


def _sgd_beats_momentum(r):
    r["same_lr"]["bowl"]["momentum"]["final_distance"] = 1e9


def _low_lr_learns(r):
    low, best = r["runs"][r["too_low"]], r["runs"][r["best"]]
    low["relative_change"] = best["relative_change"]


def _last_stage_worse(r):
    r["stages"][-1]["test_accuracy_mean"] = \
        r["stages"][0]["test_accuracy_mean"] - 0.01


def _initial_loss_off(r):
    r["reg_sweep"][0]["loss"] = r["ln10"] + 0.5


def _fine_box_wider(r):
    lo, hi = r["coarse_box"]["log10_lr"]
    r["fine_box"]["log10_lr"] = [lo, hi]


@pytest.mark.parametrize("name, held, change, failed", [
    ("optimizer_paths", "(note 001's claim holds)", _sgd_beats_momentum,
     "does NOT hold as stated"),
    ("lr_sweep", "holds.", _low_lr_learns, "does NOT hold as stated"),
    ("assignment_steps", "holds", _last_stage_worse, "does NOT hold"),
    ("sanity_checks", "all pass", _initial_loss_off, "do NOT all pass"),
    ("random_search", "worked as the note describes", _fine_box_wider,
     "did NOT behave as the note describes"),
])
def test_verdicts_flip_with_their_numbers(name, held, change, failed):
    module = experiments.get(name)
    r = saved(name)
    assert held in module.summarize(r)
    assert failed not in module.summarize(r)
    change(r)
    assert failed in module.summarize(r)
