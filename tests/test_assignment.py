"""Note 003's assignment (tfnn.studies.assignment): stages, augmentation,
ensembles, the report, and the committed record models on the real test
set."""

import glob
import json
import logging
import os

import numpy as np
import pytest
import tensorflow as tf

from tfnn.cli import main
from tfnn.config import ModelConfig
from tfnn.models import build_model
from tfnn.models.ensembles import ensemble_model, probabilities
from tfnn.shipping import verify
from tfnn.shipping.formats.scoring import changed_images
from tfnn.shipping.integrity import check_savedmodel, load_savedmodel
from tfnn.shipping.verification import predict_saved
from tfnn.studies import assignment
from tfnn.studies.measures import mean_std
from tfnn.training.loop_choice import fast_path_jit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- augmentation -------------------------------------------------------------


@pytest.mark.slow
def test_augmentation_moves_training_images_and_passes_inference_through():
    cfg = ModelConfig(hidden=(16,), augment_shift=0.1, augment_rotation=10,
                      initializer_kwargs={"seed": 3})
    model = build_model(cfg)
    plain = build_model(cfg.replace(augment_shift=0.0, augment_rotation=0.0))
    plain.set_weights(model.get_weights())
    rng = np.random.default_rng(0)
    x = np.zeros((64, 28, 28), np.float32)
    x[:, 10:18, 10:18] = rng.random((64, 8, 8))  # a blob away from the edges
    # Two graphs (with and without the inactive augmentation layers): the
    # same numbers within float32 rounding, not bitwise.
    np.testing.assert_allclose(model(x, training=False).numpy(),
                               plain(x, training=False).numpy(),
                               rtol=1e-6, atol=1e-6)
    shift = model.get_layer("random_shift")
    moved = shift(x[..., None], training=True).numpy()[..., 0]
    assert np.mean(np.abs(moved - x).sum(axis=(1, 2)) > 1e-3) > 0.9
    # A translation keeps the blob whole: same pixel mass (nearest fill
    # repeats the zero background).
    np.testing.assert_allclose(moved.sum(axis=(1, 2)), x.sum(axis=(1, 2)),
                               rtol=0.05)
    # XLA has no kernel for the image transform: the fast path must not
    # compile an augmenting model's step.
    assert fast_path_jit(model) is False and fast_path_jit(plain) is True


def test_config_rejects_bad_augmentation():
    with pytest.raises(ValueError, match="augment_shift"):
        ModelConfig(augment_shift=0.7)
    with pytest.raises(ValueError, match="convs_per_block"):
        ModelConfig(convs_per_block=0)


def test_convs_per_block_stacks_convolutions():
    model = build_model(ModelConfig(arch="cnn", filters=(4, 8), hidden=(8,),
                                    convs_per_block=2, batch_norm=True))
    convs = [layer for layer in model.layers if "linear" in layer.name
             and len(layer.get_weights()[0].shape) == 4]
    assert [c.get_weights()[0].shape[-1] for c in convs] == [4, 4, 8, 8]


# -- the journey --------------------------------------------------------------


def test_every_stage_changes_exactly_its_overrides():
    built = assignment.stage_configs(epochs=2, seed=5)
    assert [n for n, _, _ in built] == assignment.JOURNEY_NAMES
    assert set(assignment.WHY) >= set(assignment.JOURNEY_NAMES)
    for (name, m_changes, t_changes), prev, cur in zip(
            assignment.JOURNEY[1:], built, built[1:]):
        m0, m1 = prev[1].to_dict(), cur[1].to_dict()
        t0, t1 = prev[2].to_dict(), cur[2].to_dict()
        changed = {k for k in m1 if m1[k] != m0[k]} | {
            k for k in t1 if t1[k] != t0[k]}
        expected = set(m_changes) | set(t_changes)
        if "epochs_factor" in expected:
            expected = expected - {"epochs_factor"} | {"epochs"}
        # Only what the stage names changes (a named value may equal the
        # default, e.g. the cnn's filters).
        assert changed and changed <= expected, name
    by_name = {n: (m, t) for n, m, t in built}
    assert by_name["cosine_lr"][1].epochs == 2
    assert by_name["longer"][1].epochs == 6
    assert by_name["cnn"][1].epochs == 6  # the budget carries on
    assert by_name["cnn"][0].augments  # and so does the augmentation
    assert all(m.initializer_kwargs == {"seed": 5} and t.seed == 5
               for _, m, t in built)


def test_ensemble_model_outputs_log_of_the_mean_softmax():
    members = [build_model(ModelConfig(hidden=(8,),
                                       initializer_kwargs={"seed": s}))
               for s in (0, 1, 2)]
    x = np.random.default_rng(1).normal(size=(50, 28, 28)).astype("float32")
    ens = ensemble_model(members)
    expected = np.mean([tf.nn.softmax(m(x)).numpy() for m in members], 0)
    np.testing.assert_allclose(tf.nn.softmax(ens(x)).numpy(), expected,
                               atol=1e-6)
    np.testing.assert_allclose(probabilities(ens, x), expected,
                               atol=1e-6)


def test_mean_std_is_the_sample_std_over_seeds():
    # 1, 2, 3: mean 2, sample std sqrt((1 + 0 + 1) / (3 - 1)) = 1 (the
    # population std would be sqrt(2/3)).
    assert mean_std([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1.0))
    assert mean_std([0.97]) == (0.97, 0.0)  # one seed: no spread measured


@pytest.fixture(scope="module")
def quick_journey(mnist):
    return assignment.run(dict(assignment.QUICK), splits=mnist)


@pytest.mark.slow
def test_quick_journey_trains_every_stage(quick_journey):
    result = quick_journey
    rows = result["stages"]
    # the full run's stages (all but cnn_deeper, which only --stages names)
    assert [r["name"] for r in rows] == assignment.QUICK["stages"]
    assert assignment.QUICK["stages"] == assignment.JOURNEY_NAMES[:-1]
    for r in rows:
        assert len(r["test_accuracy"]) == len(assignment.QUICK["seeds"])
        assert 0.0 <= r["test_accuracy_mean"] <= 1.0
        assert r["parameters"] > 0 and r["seconds_mean"] > 0
    gains = [r["test_gain"] for r in rows[1:]]
    np.testing.assert_allclose(
        np.cumsum(gains), [r["test_accuracy_mean"] - rows[0][
            "test_accuracy_mean"] for r in rows[1:]], atol=1e-9)
    # One epoch on 2,000 images: note 000's sigmoid net (W = 0.01·N(0,1),
    # SGD 0.01) has barely left chance; the later stages are far above it.
    assert rows[0]["test_accuracy_mean"] < 0.5
    assert rows[-1]["test_accuracy_mean"] > rows[0]["test_accuracy_mean"] + 0.3
    assert set(result["records"]) == {"mlp", "cnn"}


@pytest.mark.slow
def test_best_model_errors_are_consistent(quick_journey):
    best = quick_journey["best"]
    cm = np.asarray(best["confusion"])
    n = quick_journey["n_test"]
    assert cm.sum() == n
    assert np.trace(cm) == n - len(best["misclassified"])
    assert best["test_accuracy"] == pytest.approx(np.trace(cm) / n)
    labels = quick_journey["splits"].y_test
    for idx, pred in zip(best["misclassified"], best["predicted"]):
        assert labels[idx] != pred
    assert all(0 < p <= 1 for p in best["probability"])


@pytest.mark.slow
def test_report_has_every_stage_and_figure(quick_journey, tmp_path):
    path = assignment.write_report(quick_journey, str(tmp_path), "cmd")
    text = open(path).read()
    for name in assignment.QUICK["stages"]:
        assert f"| {name} |" in text
    for png in ("stages", "confusion", "misclassified"):
        f = tmp_path / "assignment" / f"{png}.png"
        assert f.stat().st_size > 10_000
    saved = json.load(open(tmp_path / "assignment" / "assignment.json"))
    assert saved["best"]["confusion"] == quick_journey["best"]["confusion"]
    # the page again from the saved numbers alone: the same page
    assert saved["command"] == "cmd"
    assert open(assignment.rebuild_report(str(tmp_path))).read() == text


@pytest.mark.slow
def test_ensemble_row_and_record_export(mnist, tmp_path):
    config = dict(assignment.QUICK, stages=["baseline", "relu"],
                  seeds=[0, 1], ensembles=["relu"], n_test=None)
    result = assignment.run(config, splits=mnist)
    row, shifted = result["ensembles"]
    assert row["name"] == "ensemble of relu" and row["members"] == 2
    assert shifted["name"] == "ensemble of relu + shifts ±1 px"
    assert shifted["copies"] == 9 and shifted["members"] == 2
    # Test-time shifts of the single models: one row, one accuracy per seed,
    # its gain measured against the same models without shifts.
    (tta,) = result["tta"]
    assert tta["name"] == "relu + shifts ±1 px" and tta["members"] == 2
    plain = next(r for r in result["stages"] if r["name"] == "relu")
    for key in ("val", "test"):
        assert len(tta[f"{key}_accuracy"]) == 2
        assert tta[f"{key}_gain"] == pytest.approx(
            tta[f"{key}_accuracy_mean"] - plain[f"{key}_accuracy_mean"],
            abs=1e-12)
    assert set(result["records"]) == {"mlp"}
    exports = assignment.export_records(result, str(tmp_path))
    # Published only if the SavedModel predicted exactly what the in-memory
    # model predicts on all 10,000 test images; verify scores it again
    # from the SavedModel alone.
    checked = verify(exports["mlp"]["path"], model=result["models"]["mlp"])
    assert checked["n"] == 10_000
    assert checked["accuracy"] == exports["mlp"]["test_accuracy"]
    # The in-memory model and the SavedModel run different kernels: a
    # near-tie may go either way, so up to 5 of 10,000 images.
    assert checked["accuracy"] == pytest.approx(
        result["records"]["mlp"]["test_accuracy"], abs=5e-4)
    # A rerun finds that export instead of publishing a second version.
    assert assignment.existing_exports(result, str(tmp_path)) == exports
    other = dict(result, records={"mlp": dict(result["records"]["mlp"],
                                              label="something else")})
    assert assignment.existing_exports(other, str(tmp_path)) == {}
    assert assignment.export_records(result, str(tmp_path), only=[]) == {}


# -- the committed records -----------------------------------------------------


RECORDS = sorted(glob.glob(os.path.join(ROOT, "saved_models",
                                        "mnist_*_record", "*")))


@pytest.mark.parametrize("version_dir", RECORDS,
                         ids=[os.path.relpath(p, ROOT) for p in RECORDS])
@pytest.mark.slow
def test_committed_record_scores_its_recorded_accuracy(version_dir,
                                                       mnist_raw):
    """The MLP record: ``verify`` on all 10,000 test images. The CNN record
    (3 CNNs × 3×3 shifts in its graph, about 100 s for all 10,000 here,
    which ``tfnn verify`` spends): its files' checks, then the SavedModel
    on its errors, read from ``model.onnx``'s record (that file agrees
    with this SavedModel on all 10,000 images), and the first 500 others,
    each one right or wrong as recorded (near-ties either way)."""
    meta = json.load(open(os.path.join(version_dir, "metadata.json")))
    if "cnn" not in version_dir:
        result = verify(version_dir)  # tf.saved_model.load only
        assert result["n"] == 10_000
        assert result["accuracy"] == meta["test_accuracy"]
        return
    onnx = meta["formats"]["onnx"]
    assert onnx["agreement"] == 1.0
    assert onnx["examples"] - len(onnx["errors"]) == round(
        meta["test_accuracy"] * 10_000)
    check_savedmodel(version_dir)
    (_, _), (x_test, y_test) = mnist_raw
    picked = sorted(set(range(500)) | set(onnx["errors"]))
    signature = load_savedmodel(version_dir).signatures["serving_default"]
    classes, probs = predict_saved(signature,
                                   x_test[picked].astype(np.float32))
    wrong = np.array(picked)[classes != y_test[picked]]
    probabilities = np.zeros((10_000, 10), np.float32)
    probabilities[picked] = probs
    assert changed_images(wrong, onnx["errors"], probabilities) == []


@pytest.mark.slow
def test_an_interrupted_journey_resumes_from_saved_runs(mnist, tmp_path,
                                                        caplog):
    config = dict(assignment.QUICK, stages=["baseline", "relu"], seeds=[0])
    cache = str(tmp_path / "runs")
    first = assignment.run(config, splits=mnist, cache_dir=cache)
    # Lose the second run, as if the process died during it.
    os.remove(os.path.join(cache, "relu-seed0", "entry.json"))
    with caplog.at_level(logging.INFO, logger="tfnn.studies.assignment"):
        again = assignment.run(config, splits=mnist, cache_dir=cache)
    log = caplog.text
    assert "stage baseline, seed 0: read back" in log
    assert "stage relu, seed 0: 1 epochs" in log  # trained again
    base0, relu0 = first["stages"]
    base1, relu1 = again["stages"]
    assert base1["val_accuracy"] == base0["val_accuracy"]  # read back
    assert base1["test_accuracy"] == base0["test_accuracy"]
    # retrained from the same seed (CPU thread order may differ slightly)
    assert relu1["val_accuracy_mean"] == pytest.approx(
        relu0["val_accuracy_mean"], abs=0.02)
    # A changed config is not read back.
    other = dict(config, epochs=2, stages=["baseline"])
    with caplog.at_level(logging.INFO, logger="tfnn.studies.assignment"):
        caplog.clear()
        assignment.run(other, splits=mnist, cache_dir=cache)
    assert "stage baseline, seed 0: 2 epochs" in caplog.text


@pytest.mark.slow
def test_cli_writes_the_report(mnist_builder, tmp_path):
    docs = tmp_path / "docs"
    code = main(["assignment", "--quick", "--stages", "baseline", "relu",
                 "--seeds", "0", "1", "--ensembles", "relu",
                 "--docs", str(docs), "--cache-dir", str(tmp_path / "runs"),
                 "--saved-models", str(tmp_path / "saved")])
    assert code == 0
    text = (docs / "assignment.md").read_text()
    assert "| baseline |" in text and "| relu |" in text
    assert "ensemble of relu" in text
    assert not (tmp_path / "saved").exists()  # no --export, no export
    assert len(list((tmp_path / "runs").iterdir())) == 4  # 2 stages x 2
