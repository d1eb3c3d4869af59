"""LiteRT, int8 and ONNX exports (tfnn.shipping.formats): real conversions of
a small trained MLP and CNN, each format scored on the real 10,000 test
images by its own runtime (ai_edge_litert, onnxruntime), and the committed
records' formats scoring what their metadata records."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from tfnn import cli
from tfnn.config import ModelConfig
from tfnn.data import load_arrays
from tfnn.models import build_model
from tfnn.shipping import export_savedmodel, formats, read_metadata
from tfnn.shipping.formats import calibration, catalog
from tfnn.shipping.formats.calibration import representative_dataset
from tfnn.shipping.formats.scoring import (
    NEAR_TIE,
    changed_images,
    check_format_files,
    unsettled,
)

pytestmark = pytest.mark.usefixtures("mnist_manual_dir")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTRA = ("tflite", "tflite_int8", "onnx")


def test_near_ties_may_fall_either_way_and_nothing_else():
    """An image may leave or join the recorded errors only when its two
    best probabilities are within one int8 step (1/256)."""
    p = np.full((4, 10), 0.0, np.float32)
    p[:, 0], p[:, 1] = 0.6, 0.4          # images 0, 1: settled
    p[2, 0], p[2, 1] = 0.5, 0.5          # image 2: an exact tie
    p[3, 0], p[3, 1] = 0.5, 0.5 - NEAR_TIE / 2  # image 3: within a step
    assert unsettled(p).tolist() == [False, False, True, True]
    assert changed_images([0, 2], [0, 3], p) == []   # 2 and 3: near-ties
    assert changed_images([0, 1], [0], p) == [1]     # 1 became wrong
    assert changed_images([], [0], p) == [0]         # 0 became right


def _hashes(images) -> set:
    """SHA-256 of each image's bytes."""
    return {hashlib.sha256(np.ascontiguousarray(x, np.uint8).tobytes())
            .hexdigest() for x in images}


@pytest.fixture(scope="module")
def mlp_version(mlp, mnist, tmp_path_factory):
    """The suite's trained MLP exported as a SavedModel alone, then given
    every format by ``add_formats_to_version`` (the committed records'
    path)."""
    base = tmp_path_factory.mktemp("saved_models")
    path = export_savedmodel(mlp, mnist.preprocessor, base, name="mlp",
                             dataset="mnist")
    assert "formats" not in read_metadata(path)
    assert formats.add_formats_to_version(path, ["all"]) == path
    return path


@pytest.fixture(scope="module")
def cnn_version(mnist, tmp_path_factory):
    """A small BN CNN (4 and 8 filters) trained one epoch on 3,000 images,
    exported with ``formats="all"`` in one go (``tfnn export --formats
    all``'s path)."""
    keras.utils.set_random_seed(0)
    config = ModelConfig(arch="cnn", filters=(4, 8), hidden=(16,),
                         batch_norm=True, bn_momentum=0.9)
    model = build_model(config)
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))
    model.fit(mnist.x_train[:3000], mnist.y_train[:3000], batch_size=50,
              epochs=1, verbose=0)
    base = tmp_path_factory.mktemp("saved_models")
    return export_savedmodel(model, mnist.preprocessor, base, name="cnn",
                             model_config=config, dataset="mnist",
                             formats="all")


@pytest.fixture(scope="module")
def test_split(mnist_builder):
    images, labels = load_arrays("mnist", "test")
    return images.astype(np.float32), labels


# --------------------------------------------------------------------------
# The bounds and the names
# --------------------------------------------------------------------------


def test_parse_formats_and_the_bounds():
    assert formats.parse_formats("saved_model") == ["saved_model"]
    assert formats.parse_formats("onnx, tflite") == [
        "saved_model", "tflite", "onnx"]
    assert formats.parse_formats("all") == list(formats.FORMATS)
    with pytest.raises(ValueError, match="'pb'.*tflite_int8"):
        formats.parse_formats("tflite,pb")
    # float: agreement >= 99.9 %, accuracy within 0.05 points
    catalog.check_bounds("tflite", 0.9800, 0.999, 0.9805)
    with pytest.raises(formats.FormatError, match="model.tflite: agrees"):
        catalog.check_bounds("tflite", 0.98, 0.9989, 0.98)
    with pytest.raises(formats.FormatError, match="model.onnx: accuracy"):
        catalog.check_bounds("onnx", 0.9794, 1.0, 0.98)
    # int8: at most 0.5 points below the float model, any agreement
    catalog.check_bounds("tflite_int8", 0.9750, 0.99, 0.98)
    with pytest.raises(formats.FormatError, match="model_int8.tflite"):
        catalog.check_bounds("tflite_int8", 0.9749, 0.99, 0.98)


def test_export_flags_are_checked_before_anything_loads(capsys):
    for argv, message in [
        (["--run", "r", "--formats", "tflite,pb"], "unknown format 'pb'"),
        (["--from-saved-model", "v"], "--from-saved-model adds formats"),
    ]:
        with pytest.raises(SystemExit) as info:
            cli.main(["export", *argv])
        assert info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]


# --------------------------------------------------------------------------
# Every format, scored by its own runtime
# --------------------------------------------------------------------------


# Each format is run again here on the first SUBSET test images (the export
# scored all 10,000): its errors there are exactly the recorded ones.
SUBSET = 1000


@pytest.mark.slow
@pytest.mark.parametrize("which", ["mlp_version", "cnn_version"])
def test_every_format_scores_its_record_in_its_own_runtime(which, request,
                                                           test_split):
    path = request.getfixturevalue(which)
    images, labels = test_split
    x, y = images[:SUBSET], labels[:SUBSET]
    meta = read_metadata(path)
    saved = formats.run_batches(formats.load_runner(path), x)["classes"]
    assert set(meta["formats"]) == set(EXTRA)
    for fmt, rec in meta["formats"].items():
        file = os.path.join(path, formats.FORMATS[fmt])
        assert rec["size_bytes"] == os.path.getsize(file)
        assert rec["sha256"] == hashlib.sha256(
            open(file, "rb").read()).hexdigest()
        assert rec["examples"] == len(labels) == 10_000
        assert rec["correct"] == len(labels) - len(rec["errors"])
        runner = formats.load_runner(file)
        assert type(runner).__name__ == (
            "OnnxRunner" if fmt == "onnx" else "LiteRTRunner")
        out = formats.run_batches(runner, x, batch_size=500)
        classes = out["classes"]
        assert out["probabilities"].shape == (SUBSET, 10)
        # int8 probabilities are multiples of 1/256 (softmax's output
        # scale): each within half a step, ten of them within 10/512.
        np.testing.assert_allclose(out["probabilities"].sum(axis=1), 1.0,
                                   atol=10 / 512 if fmt == "tflite_int8"
                                   else 1e-5)
        assert np.flatnonzero(classes != y).tolist() == [
            i for i in rec["errors"] if i < SUBSET]
        disagree = round((1 - rec["agreement"]) * len(labels))
        assert np.sum(classes != saved) <= disagree
        if fmt == "tflite_int8":  # within 0.5 points of float
            assert meta["test_accuracy"] - rec["accuracy"] <= 0.005
        else:  # >= 99.9 % agreement, within 0.05 points
            assert rec["agreement"] >= 0.999
            assert abs(rec["accuracy"] - meta["test_accuracy"]) <= 0.0005
    sizes = {f: r["size_bytes"] for f, r in meta["formats"].items()}
    assert sizes["tflite_int8"] < sizes["tflite"]


@pytest.mark.slow
def test_int8_calibration_draws_training_images_only(mlp_version):
    record = read_metadata(mlp_version)["formats"]["tflite_int8"][
        "calibration"]
    assert record["split"] == "train" and record["examples"] == 500
    images, again = calibration.calibration_set(seed=record["seed"])
    assert again == record  # the recorded draw, redrawn
    fed = np.concatenate([b[0] for b in representative_dataset(images)()])
    assert fed.shape == (500, 28, 28)
    np.testing.assert_array_equal(fed, images)  # the converter sees these
    fed_hashes = _hashes(fed)
    assert len(fed_hashes) == 500
    train = calibration.training_images()
    (test_images, _), (all_train, _) = (load_arrays("mnist", "test"),
                                        load_arrays("mnist", "train"))
    assert fed_hashes <= _hashes(train)
    assert not fed_hashes & _hashes(test_images)
    held_out = _hashes(all_train) - _hashes(train)  # the validation images
    assert len(held_out) > 4900 and not fed_hashes & held_out


# --------------------------------------------------------------------------
# tfnn verify, tampered and damaged files
# --------------------------------------------------------------------------


def _flip(path, at=4096):
    with open(path, "r+b") as fh:
        fh.seek(at)
        byte = fh.read(1)
        fh.seek(at)
        fh.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.slow
def test_verify_prints_every_format_and_names_a_tampered_file(
        mlp_version, tmp_path, capsys):
    assert cli.main(["verify", mlp_version]) == 0
    out = capsys.readouterr().out.splitlines()
    meta = read_metadata(mlp_version)
    assert len(out) == 4 and out[0].endswith(": OK")
    for fmt in EXTRA:
        line = next(x for x in out if x.startswith(formats.FORMATS[fmt]))
        assert line == formats.format_line(meta["formats"][fmt]) + ": OK"
        assert f"{meta['formats'][fmt]['size_bytes']:,} bytes" in line
    for fmt in ("tflite", "onnx"):
        copy = tmp_path / fmt / "1"
        shutil.copytree(mlp_version, copy)
        culprit = copy / formats.FORMATS[fmt]
        _flip(culprit)
        with pytest.raises(SystemExit) as info:
            cli.main(["verify", str(copy)])
        assert info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"tfnn verify: error: {culprit} is damaged: its "
                       "SHA-256 is not the one metadata.json records; "
                       "export it again"]


@pytest.mark.parametrize("file", ["model.tflite", "model.onnx"])
def test_a_file_that_does_not_load_is_named_in_one_line(file, tmp_path):
    path = tmp_path / file
    path.write_bytes(b"not a model" * 100)
    with pytest.raises(formats.FormatError) as info:
        formats.load_runner(path)
    message = str(info.value)
    assert message.startswith(f"{path} cannot be loaded (")
    assert "\n" not in message and message.endswith("export it again")


@pytest.mark.slow
def test_verify_names_a_file_whose_record_was_rewritten(mlp_version,
                                                        tmp_path, capsys):
    copy = tmp_path / "1"
    shutil.copytree(mlp_version, copy)
    culprit = copy / "model.onnx"
    culprit.write_bytes(b"garbage")
    meta = json.loads((copy / "metadata.json").read_text())
    meta["formats"]["onnx"]["sha256"] = hashlib.sha256(b"garbage").hexdigest()
    (copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(SystemExit) as info:
        cli.main(["verify", str(copy)])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"tfnn verify: error: {culprit} cannot be loaded (")


# --------------------------------------------------------------------------
# Without the extra
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_without_the_extra_export_exits_2_naming_it(mlp_version, tmp_path):
    copy = tmp_path / "mlp" / "1"
    shutil.copytree(mlp_version, copy, ignore=shutil.ignore_patterns(
        "model*"))
    before = sorted(os.listdir(copy))
    code = ("import sys\n"
            "for m in ('ai_edge_litert', 'tf2onnx', 'onnxruntime'):\n"
            "    sys.modules[m] = None  # as if not installed\n"
            "from tfnn.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    for fmt, module in (("tflite", "ai_edge_litert"), ("onnx", "tf2onnx")):
        done = subprocess.run(
            [sys.executable, "-c", code, "export", "--from-saved-model",
             str(copy), "--formats", fmt],
            capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr[-2000:]
        assert done.stderr.strip().splitlines() == [
            f"tfnn export: error: format {fmt} needs {module}, which is not "
            "installed: pip install 'tfnn[export]'"]
    assert sorted(os.listdir(copy)) == before  # nothing written
    assert os.listdir(copy.parent) == ["1"]


# --------------------------------------------------------------------------
# tfnn predict --model, latency
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_predict_runs_each_format_locally(mlp_version, test_split, tmp_path,
                                          capsys):
    images, _ = test_split
    npy = tmp_path / "digits.npy"
    np.save(npy, images[:20].astype(np.uint8))
    big = tmp_path / "big.png"  # a 56×56 picture: made into an MNIST digit
    Image.fromarray(np.kron(images[0], np.ones((2, 2))).astype(np.uint8)
                    ).save(big)
    answers = {}
    for fmt, file in formats.FORMATS.items():
        model = mlp_version if fmt == "saved_model" else os.path.join(
            mlp_version, file)
        assert cli.main(["predict", "--model", model, "--json", str(npy),
                         str(big)]) == 0
        rows = json.loads(capsys.readouterr().out)
        answers[fmt] = [r["class"] for r in rows]
        assert rows[-1]["image"] == str(big) and len(rows) == 21
    saved = formats.run_batches(formats.load_runner(mlp_version),
                                images[:20])["classes"].tolist()
    assert answers["saved_model"][:20] == saved
    assert answers["tflite"] == answers["onnx"] == answers["saved_model"]
    assert answers["saved_model"][-1] == saved[0]  # the enlarged digit
    assert cli.main(["predict", "--model", str(tmp_path / "no.onnx"),
                     str(npy)]) == 1


@pytest.mark.slow
def test_format_latency_times_every_format(mlp_version):
    rows = formats.format_latency(mlp_version, batch_sizes=(1, 10),
                                  repeats=3)
    assert [(r["format"], r["batch"]) for r in rows] == [
        (f, b) for f in formats.FORMATS for b in (1, 10)]
    meta = read_metadata(mlp_version)
    for r in rows:
        assert r["p50_ms"] > 0
        assert r["images_per_s"] == pytest.approx(r["batch"] * 1e3
                                                  / r["p50_ms"])
        if r["format"] != "saved_model":
            assert r["size_bytes"] == meta["formats"][r["format"]][
                "size_bytes"]
    table = formats.latency_table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    assert table[2].startswith("| saved_model | `saved_model.pb` |")


# --------------------------------------------------------------------------
# The committed records
# --------------------------------------------------------------------------


COMMITTED = ["saved_models/mnist/1", "saved_models/mnist_mlp_record/1",
             "saved_models/mnist_cnn_record/3"]


@pytest.mark.slow
@pytest.mark.parametrize("version", COMMITTED)
def test_committed_formats_score_what_their_metadata_records(version,
                                                             test_split):
    """The reference model: ``tfnn verify``'s check, every format on all
    10,000 test images. The records (the CNN record has 3 CNNs × 9 shifts
    in its graph: about 11 s per 1,000 images and format here): their
    files' SHA-256, then each format on its recorded errors and the first
    100 other images, each one right or wrong as recorded."""
    path = os.path.join(ROOT, version)
    meta = read_metadata(path)
    images, labels = test_split
    assert set(meta["formats"]) == set(EXTRA)
    # int8 stores each weight in one byte instead of four (the files are
    # mostly weights: 0.67 to 1.3 million of them)
    sizes = {f: r["size_bytes"] for f, r in meta["formats"].items()}
    assert sizes["tflite_int8"] < 0.3 * sizes["tflite"]
    for rec in meta["formats"].values():
        assert rec["correct"] == len(labels) - len(rec["errors"])
        assert rec["accuracy"] == rec["correct"] / len(labels)
    if version == "saved_models/mnist/1":
        result, rows = formats.verify_version(path)
        assert result["accuracy"] == meta["test_accuracy"]
        assert [r["format"] for r in rows] == list(EXTRA)
        assert [r["correct"] for r in rows] == [
            meta["formats"][f]["correct"] for f in EXTRA]
        return
    assert set(check_format_files(path, meta)) == set(EXTRA)
    for fmt, rec in meta["formats"].items():
        picked = sorted(set(range(100)) | set(rec["errors"]))
        runner = formats.load_runner(os.path.join(path, rec["file"]))
        out = formats.run_batches(runner, images[picked], batch_size=100)
        wrong = np.array(picked)[out["classes"] != labels[picked]]
        # each image right or wrong as recorded, but near-ties (another
        # CPU's kernels may round those the other way)
        probabilities = np.zeros((len(labels), 10), np.float32)
        probabilities[picked] = out["probabilities"]
        assert changed_images(wrong, rec["errors"], probabilities) == [], fmt


# --------------------------------------------------------------------------
# tfnn export --run --formats, and a format outside its bounds
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_export_run_with_formats_and_a_format_outside_its_bounds(
        mlp, write_run, tmp_path, capsys):
    base = tmp_path / "saved_models"
    run = str(write_run(mlp, tmp_path / "run", (64,)))
    assert cli.main(["export", "--run", run, "--base", str(base), "--name",
                     "mlp", "--formats", "tflite"]) == 0
    out = capsys.readouterr().out.splitlines()
    meta = read_metadata(base / "mlp" / "1")
    assert set(meta["formats"]) == {"tflite"}
    assert out[-1] == formats.format_line(meta["formats"]["tflite"])
    # The same function, but hidden unit 0 now outputs relu(10,000) and
    # feeds nothing: the float model's outputs are unchanged, while int8's
    # one scale for that layer's activations (range [0, 10,000]: 39 per
    # step) rounds every other unit to zero.
    broken = keras.models.clone_model(mlp)
    broken.set_weights(mlp.get_weights())
    first, second = [layer for layer in broken.layers
                     if isinstance(layer, keras.layers.Dense)][:2]
    kernel, bias = first.get_weights()
    kernel[:, 0], bias[0] = 0.0, 1e4
    first.set_weights([kernel, bias])
    kernel, bias = second.get_weights()
    kernel[0, :] = 0.0
    second.set_weights([kernel, bias])
    run = str(write_run(broken, tmp_path / "broken", (64,)))
    with pytest.raises(SystemExit) as info:
        cli.main(["export", "--run", run, "--base", str(base), "--name",
                  "broken", "--formats", "tflite_int8"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        "tfnn export: error: model_int8.tflite: int8 accuracy ")
    assert "points below the float model's" in err[0]
    assert os.listdir(base / "broken") == []  # nothing published
