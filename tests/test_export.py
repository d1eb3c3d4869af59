"""SavedModel export (tfnn.shipping): round trips, accuracy, atomicity.

Everything runs on the real MNIST test set (10,000 images). A small CNN with
BatchNorm and dropout is trained for 200 steps in a module fixture.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnn import cli
from tfnn import shipping as export
from tfnn.config import ModelConfig
from tfnn.data import Preprocessor
from tfnn.models import build_mlp, build_model
from tfnn.shipping import versions
from tfnn.shipping.verification import (
    VerificationError,
    check_recorded_accuracy,
    compare_predictions,
    predict_in_memory,
)

pytestmark = pytest.mark.usefixtures("mnist_manual_dir")
# Probabilities (in [0, 1]) of one model computed twice, in other batches or
# graphs agree within this (8 float32 ulps at 1.0), never bitwise.
PROBABILITY_ATOL = 1e-6


def _train(model, splits, steps=200, batch_size=128, seed=0):
    keras.utils.set_random_seed(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    n = steps * batch_size
    model.fit(splits.x_train[:n], splits.y_train[:n], batch_size=batch_size,
              epochs=1, shuffle=False, verbose=0)
    return model


def _classes(model, x):
    return np.argmax(model.predict(x, batch_size=1000, verbose=0), axis=-1)


@pytest.fixture(scope="module")
def cnn(mnist):
    keras.utils.set_random_seed(0)
    config = ModelConfig(arch="cnn", filters=(8, 16), hidden=(32,),
                         batch_norm=True, dropout=0.3)
    return config, _train(build_model(config), mnist)


@pytest.fixture(scope="module")
def cnn_export(cnn, mnist, tmp_path_factory):
    """The CNN as a training run, exported with ``tfnn export``."""
    config, model = cnn
    run = tmp_path_factory.mktemp("run")
    model.save(run / "model.keras")
    accuracy = float(np.mean(_classes(model, mnist.x_test) == mnist.y_test))
    (run / "summary.json").write_text(json.dumps({
        "model_config": config.to_dict(),
        "train_config": {"optimizer": "adam", "steps": 200},
        "preprocessor": mnist.preprocessor.to_dict(),
        "dataset": "mnist",
        "test_accuracy": accuracy,
        "command": "pytest tests/test_export.py",
    }))
    base = tmp_path_factory.mktemp("saved_models")
    code = cli.main(["export", "--run", str(run), "--name", "mnist",
                     "--base", str(base)])
    assert code == 0
    return str(base / "mnist" / "1"), accuracy


# --------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------


def _round_trip(model, preprocessor, raw, base):
    """Exports, reloads with tf.saved_model.load; compares to in memory."""
    path = export.export_savedmodel(model, preprocessor, base)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    out = serve(images=tf.constant(raw.astype(np.float32)))
    z = model(preprocessor(raw), training=False)
    kind = export.output_kind(model)
    probs = z if kind == "softmax" else keras.ops.softmax(z, axis=-1)
    np.testing.assert_array_equal(out["classes"].numpy(),
                                  np.argmax(z, axis=-1))
    np.testing.assert_allclose(out["probabilities"].numpy(), probs,
                               rtol=0, atol=PROBABILITY_ATOL)
    return path, out


ACTIVATIONS = ["relu", "sigmoid", "tanh", "leaky_relu", "elu", "prelu",
               "maxout", "crelu", "relu_x"]


@pytest.mark.slow
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mlp_round_trip_every_activation_family(activation, mnist, mnist_raw,
                                                tmp_path):
    keras.utils.set_random_seed(1)
    model = build_mlp(hidden=(24, 16), activation=activation,
                      batch_norm=True, dropout=0.2)
    # _round_trip asserts identical classes and probabilities to 1e-6.
    path, out = _round_trip(model, mnist.preprocessor, mnist_raw[1][0][:64],
                            tmp_path)
    assert out["classes"].shape == (64,)
    assert export.read_metadata(path)["output"] == "logits"


@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_probability_outputs_are_not_softmaxed_twice(output, mnist, mnist_raw,
                                                     tmp_path):
    keras.utils.set_random_seed(2)
    model = build_mlp(hidden=(16,), output=output)
    assert export.output_kind(model) == output
    _, out = _round_trip(model, mnist.preprocessor, mnist_raw[1][0][:32],
                         tmp_path)
    np.testing.assert_allclose(out["probabilities"].numpy().sum(-1), 1.0,
                               atol=1e-5)


def test_output_kind_must_agree_with_config():
    with pytest.raises(ValueError, match="softmax"):
        export.output_kind(build_mlp(hidden=(4,)), {"output": "softmax"})


@pytest.mark.slow
def test_trained_cnn_round_trip_is_deterministic(cnn, cnn_export, mnist,
                                                 mnist_raw):
    _, model = cnn
    path, _ = cnn_export
    serve = tf.saved_model.load(path).signatures["serving_default"]
    raw = mnist_raw[1][0][:500]
    images = tf.constant(raw.astype(np.float32))
    # Probabilities within PROBABILITY_ATOL: TensorFlow promises no bitwise
    # equality between calls, batch positions, kernels or threads (one
    # image's two copies in a batch differed by 1.3e-7 relative on a 2-core
    # x86 machine); the classes are equal.
    first, second = serve(images=images), serve(images=images)
    np.testing.assert_allclose(first["probabilities"].numpy(),
                               second["probabilities"].numpy(),
                               rtol=0, atol=PROBABILITY_ATOL)
    np.testing.assert_array_equal(first["classes"].numpy(),
                                  second["classes"].numpy())
    twice = serve(images=tf.constant(np.stack([raw[7], raw[7]]),
                                     dtype=tf.float32))
    np.testing.assert_allclose(twice["probabilities"].numpy()[0],
                               twice["probabilities"].numpy()[1],
                               rtol=0, atol=PROBABILITY_ATOL)
    # Inference mode: BN's moving statistics, no dropout.
    z = model(mnist.x_test[:500], training=False)
    np.testing.assert_array_equal(first["classes"].numpy(),
                                  np.argmax(z, axis=-1))
    np.testing.assert_allclose(first["probabilities"].numpy(),
                               keras.ops.softmax(z), rtol=0,
                               atol=PROBABILITY_ATOL)


def test_accepts_both_shapes_and_dtypes_and_rejects_wrong_size(cnn_export,
                                                               mnist_raw):
    path, _ = cnn_export
    loaded = tf.saved_model.load(path)
    raw = mnist_raw[1][0][:50]
    f, u = loaded.signatures["serving_default"], loaded.signatures[
        "serving_uint8"]
    a = f(images=tf.constant(raw, tf.float32))
    b = f(images=tf.constant(raw.reshape(50, 784), tf.float32))
    c = u(images=tf.constant(raw))
    for out in (b, c):  # other shapes, another signature's graph
        np.testing.assert_allclose(out["probabilities"].numpy(),
                                   a["probabilities"].numpy(),
                                   rtol=0, atol=PROBABILITY_ATOL)
    assert a["classes"].dtype == tf.int64
    with pytest.raises(tf.errors.InvalidArgumentError, match="784 values"):
        f(images=tf.zeros((2, 785)))


# --------------------------------------------------------------------------
# Without tfnn
# --------------------------------------------------------------------------

FRESH = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    path, npy = sys.argv[1:3]
    x = np.load(npy)
    m = tf.saved_model.load(path)
    f, u = m.signatures["serving_default"], m.signatures["serving_uint8"]
    a = f(images=tf.constant(x.astype(np.float32)))["classes"].numpy()
    b = f(images=tf.constant(x.reshape(len(x), 784).astype(np.float32)))
    c = u(images=tf.constant(x))["classes"].numpy()
    print(json.dumps({
        "tfnn_imported": any(k.split(".")[0] == "tfnn" for k in sys.modules),
        "default": a.tolist(), "flat": b["classes"].numpy().tolist(),
        "uint8": c.tolist(),
        "input": str(f.structured_input_signature[1]["images"].dtype.name),
    }))
""")


@pytest.mark.slow
def test_loads_and_scores_in_a_fresh_process_without_tfnn(cnn, cnn_export,
                                                           mnist, mnist_raw,
                                                           tmp_path):
    _, model = cnn
    path, _ = cnn_export
    npy = tmp_path / "x.npy"
    np.save(npy, mnist_raw[1][0][:200])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-c", FRESH, path, str(npy)], cwd=tmp_path,
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["tfnn_imported"] is False
    assert result["input"] == "float32"
    expected = _classes(model, mnist.x_test[:200]).tolist()
    assert result["default"] == result["flat"] == result["uint8"] == expected


# --------------------------------------------------------------------------
# Verification by accuracy
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_accuracy_on_all_test_images_equals_in_memory(cnn, cnn_export, mnist,
                                                      mnist_raw):
    _, model = cnn
    path, accuracy = cnn_export
    x_raw, y = mnist_raw[1]
    assert len(y) == 10_000
    serve = tf.saved_model.load(path).signatures["serving_uint8"]
    got = np.concatenate([
        serve(images=tf.constant(x_raw[i:i + 2000]))["classes"].numpy()
        for i in range(0, 10_000, 2000)
    ])
    expected = _classes(model, mnist.x_test)
    np.testing.assert_array_equal(got, expected)  # every image
    assert np.mean(got == y) == accuracy
    assert accuracy > 0.9
    meta = export.read_metadata(path)
    assert meta["test_accuracy"] == accuracy
    assert meta["test_correct"] == int(np.sum(expected == y))
    result = export.verify(path, model=model)
    assert result["accuracy"] == accuracy and result["n"] == 10_000
    assert "in-memory model predictions" in result["checked"]


@pytest.fixture(scope="module")
def tiny(mnist, tmp_path_factory):
    """An untrained MLP exported (and scored) by ``export_savedmodel``."""
    keras.utils.set_random_seed(3)
    model = build_mlp(hidden=(16,))
    base = tmp_path_factory.mktemp("tiny")
    path = export.export_savedmodel(model, mnist.preprocessor, base,
                                    name="mnist", dataset="mnist")
    return model, path


@pytest.mark.slow
def test_verify_fails_loudly_on_tampered_accuracy(tiny, tmp_path, capsys,
                                                  caplog):
    _, path = tiny
    meta = export.read_metadata(path)
    assert cli.main(["verify", path]) == 0
    assert f"{meta['test_accuracy']:.4f}" in capsys.readouterr().out
    fake = tmp_path / "mnist" / "1"
    shutil.copytree(path, fake)
    meta["test_accuracy"] += 0.0003  # three images
    (fake / "metadata.json").write_text(json.dumps(meta))
    assert cli.main(["verify", str(tmp_path / "mnist")]) == 1
    assert "accuracy mismatch" in caplog.text
    assert f"({meta['test_correct'] + 3}/10000) is recorded" in caplog.text
    with pytest.raises(export.VerificationError, match="accuracy mismatch"):
        export.verify(fake)
    meta["test_accuracy"] = None
    (fake / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(export.VerificationError, match="no test_accuracy"):
        export.verify(fake)


@pytest.mark.slow
def test_verify_fails_when_predictions_differ_from_the_model(tiny, mnist):
    model, path = tiny
    export.verify(path, model=model)
    keras.utils.set_random_seed(4)
    other = build_mlp(hidden=(16,))
    with pytest.raises(export.VerificationError, match="predictions differ"):
        export.verify(path, model=other, preprocessor=mnist.preprocessor)


def test_export_refuses_a_run_whose_accuracy_it_cannot_reproduce(
        tiny, mnist, tmp_path):
    model, path = tiny
    claimed = export.read_metadata(path)["test_accuracy"] + 0.01
    with pytest.raises(export.ExportError, match="accuracy mismatch"):
        export.export_savedmodel(
            model, mnist.preprocessor, tmp_path,
            metadata={"test_accuracy": claimed}, dataset="mnist",
        )
    assert os.listdir(tmp_path) == []


def test_metadata_records_what_made_the_model(cnn, cnn_export,
                                              mnist_manual_dir, mnist):
    config, _ = cnn
    path, _ = cnn_export
    meta = export.read_metadata(path)
    assert ModelConfig.from_dict(meta["model_config"]) == config
    assert meta["preprocessor"] == mnist.preprocessor.to_dict()
    assert meta["train_config"]["steps"] == 200
    assert meta["train_command"] == "pytest tests/test_export.py"
    assert meta["command"]
    assert meta["versions"]["tensorflow"] == tf.__version__
    assert meta["versions"]["keras"] == keras.__version__
    sig = meta["signatures"]["serving_default"]["inputs"]["images"]
    assert sig["dtype"] == "float32" and sig["example_size"] == 784
    sums = os.path.join(mnist_manual_dir, "SHA256SUMS")
    if os.path.isfile(sums):
        with open(sums) as fh:
            official = {name: digest for digest, name in
                        (line.split() for line in fh if line.strip())}
        for name, entry in meta["data_checksums"].items():
            assert entry["sha256"] == official[name]


# --------------------------------------------------------------------------
# Versions and atomicity
# --------------------------------------------------------------------------


def _boom_after(real):
    def boom(*args, **kwargs):
        real(*args, **kwargs)  # half the work is on disk …
        raise RuntimeError("simulated crash")

    return boom


@pytest.mark.parametrize("where", ["saved_model.save", "scoring"])
def test_crash_during_export_leaves_nothing_behind(where, monkeypatch,
                                                   tmp_path, mnist):
    model = build_mlp(hidden=(8,))
    if where == "saved_model.save":
        monkeypatch.setattr(tf.saved_model, "save",
                            _boom_after(tf.saved_model.save))
        dataset = None
    else:
        def crash(path, *args):
            assert os.path.isfile(os.path.join(path, "saved_model.pb"))
            raise RuntimeError("simulated crash")

        monkeypatch.setattr("tfnn.shipping.export.score_export", crash)
        dataset = "mnist"
    with pytest.raises(RuntimeError, match="simulated crash"):
        export.export_savedmodel(model, mnist.preprocessor, tmp_path,
                                 dataset=dataset)
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    path = export.export_savedmodel(model, mnist.preprocessor, tmp_path)
    assert path == str(tmp_path / "1")
    assert sorted(os.listdir(tmp_path)) == ["1"]


def test_versions_count_up_and_are_immutable(tmp_path, mnist):
    model = build_mlp(hidden=(8,))
    pre = mnist.preprocessor
    (tmp_path / "mnist" / "tmp-junk").mkdir(parents=True)
    first = export.export_savedmodel(model, pre, tmp_path, name="mnist")
    second = export.export_savedmodel(model, pre, tmp_path, name="mnist")
    assert [first, second] == [str(tmp_path / "mnist" / v) for v in "12"]
    assert export.list_versions(tmp_path / "mnist") == [1, 2]
    assert export.resolve_version_dir(tmp_path / "mnist") == second
    with pytest.raises(export.ExportError, match="already exists"):
        export.export_savedmodel(model, pre, tmp_path / "mnist", version=2)
    with pytest.raises(ValueError, match="version"):
        export.export_savedmodel(model, pre, tmp_path / "mnist", version=0)
    assert os.path.isfile(os.path.join(second, "metadata.json"))
    assert os.path.isdir(os.path.join(second, "variables"))


# --------------------------------------------------------------------------
# Damaged SavedModels and killed exports
# --------------------------------------------------------------------------

REPO_MODEL = os.path.join(os.path.dirname(__file__), os.pardir,
                          "saved_models", "mnist", "1")


def _data_file(version):
    return next(version.glob("variables/variables.data-*"))


def _cut(path, keep=0.5):
    raw = path.read_bytes()
    path.write_bytes(raw[:int(len(raw) * keep)])


def _flip_middle(path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


DAMAGES = [
    # (case, damage(version folder) -> the file named, what the line says)
    ("truncated saved_model.pb",
     lambda v: _cut(v / "saved_model.pb") or v / "saved_model.pb",
     "damaged: not a SavedModel protocol buffer"),
    ("empty saved_model.pb",
     lambda v: _cut(v / "saved_model.pb", 0) or v / "saved_model.pb",
     "holds no MetaGraph"),
    ("bit-flipped variables.data", lambda v: _flip_middle(_data_file(v))
     or _data_file(v), "Checksum does not match"),
    ("truncated variables.data", lambda v: _cut(_data_file(v))
     or _data_file(v), "damaged"),
    ("garbage variables.index",
     lambda v: (v / "variables" / "variables.index").write_bytes(
         os.urandom(300)) and v / "variables" / "variables.index",
     "not an sstable"),
    ("invalid metadata.json",
     lambda v: (v / "metadata.json").write_text("{\"dataset\": ") and
     v / "metadata.json", "is not valid JSON"),
    ("metadata.json not an object",
     lambda v: (v / "metadata.json").write_text("[1, 2]") and
     v / "metadata.json", "is not a JSON object"),
]


@pytest.fixture
def repo_model_copy(tmp_path):
    if not os.path.isfile(os.path.join(REPO_MODEL, "saved_model.pb")):
        pytest.skip("saved_models/mnist/1 is not in the checkout")
    copy = tmp_path / "mnist" / "1"
    shutil.copytree(REPO_MODEL, copy)
    return copy


def test_an_intact_version_passes_the_integrity_check(repo_model_copy):
    export.check_savedmodel(repo_model_copy)
    assert "serving_default" in export.load_savedmodel(
        repo_model_copy).signatures


@pytest.mark.parametrize("case,damage,what", DAMAGES,
                         ids=[d[0] for d in DAMAGES])
def test_verify_names_a_damaged_file_in_one_line(case, damage, what,
                                                 repo_model_copy, capsys):
    culprit = damage(repo_model_copy)
    with pytest.raises(export.SavedModelError) as info:
        export.check_savedmodel(repo_model_copy)
    assert str(info.value).startswith(str(culprit))
    assert what in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["verify", str(repo_model_copy)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"tfnn verify: error: {culprit}")
    assert "Traceback" not in err[0]


@pytest.mark.parametrize("case,damage,what", DAMAGES[:5],
                         ids=[d[0] for d in DAMAGES[:5]])
def test_load_savedmodel_names_the_file_tensorflow_chokes_on(
        case, damage, what, repo_model_copy):
    culprit = damage(repo_model_copy)
    with pytest.raises(export.SavedModelError, match=what) as info:
        export.load_savedmodel(repo_model_copy)
    assert str(info.value).startswith(str(culprit))


def test_export_version_flag_takes_ascii_digits_only(capsys):
    for bad in ("١", "１", "²", "0", "+1", " 1", "1_0"):
        with pytest.raises(SystemExit) as info:
            cli.main(["export", "--run", "nowhere", "--version", bad])
        assert info.value.code == 2
        assert "--version" in capsys.readouterr().err.splitlines()[-1]
    assert export.version_number("12") == 12
    assert [export.version_number(s) for s in ("²", "١", "１", "0", "-1",
                                                "9" * 30, "", None)] == [
        None] * 8


def test_stale_export_folders_are_removed(tmp_path):
    prefix = versions.TMP_PREFIX
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(30)
    mine = versions.export_temp_prefix()  # .tmp-export-<pid>@<host>-
    host = mine[len(prefix):-1].split("@", 1)[1]
    old = time.time() - versions.STALE_EXPORT_SECONDS - 60
    folders = {
        f"{prefix}{dead.pid}@{host}-abc": True,  # owner dead: stale
        f"{mine}abc": False,  # this process: running
        f"{prefix}1@{host}-abc": False,  # pid 1 runs
        f"{prefix}legacy-old": True,  # owner unknown, old
        f"{prefix}legacy-new": False,  # owner unknown, recent
        f"{prefix}{dead.pid}@otherhost-old": True,  # other host, old
        f"{prefix}{dead.pid}@otherhost-new": False,  # other host, recent
        "1": False,  # versions are never touched
    }
    for name in folders:
        (tmp_path / name).mkdir()
        (tmp_path / name / "saved_model.pb").write_bytes(b"x")
        if name.endswith("-old"):
            os.utime(tmp_path / name, (old, old))
    removed = export.remove_stale_exports(tmp_path)
    assert sorted(os.path.basename(p) for p in removed) == sorted(
        n for n, stale in folders.items() if stale)
    assert sorted(os.listdir(tmp_path)) == sorted(
        n for n, stale in folders.items() if not stale)


@pytest.mark.slow
def test_a_sigkilled_export_is_cleaned_up_by_the_next(tiny, mnist, write_run,
                                                      tmp_path):
    model, _ = tiny
    run = write_run(model, tmp_path / "run", (16,))
    base = tmp_path / "saved_models"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tfnn.cli", "export", "--run", str(run),
         "--base", str(base)], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env={**os.environ,
                                        "TF_CPP_MIN_LOG_LEVEL": "3"})
    deadline = time.monotonic() + 120
    try:
        while not list((base / "mnist").glob(versions.TMP_PREFIX + "*")):
            assert proc.poll() is None, "the export ended before the kill"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(30)
    left = list((base / "mnist").glob(versions.TMP_PREFIX + "*"))
    assert len(left) == 1 and f"{proc.pid}@" in left[0].name
    assert export.list_versions(base / "mnist") == []  # never served
    path = export.export_savedmodel(model, mnist.preprocessor, base,
                                    name="mnist")
    assert sorted(os.listdir(base / "mnist")) == ["1"]
    assert path == str(base / "mnist" / "1")


# ------------------------------------------------------------------ ties


def test_predictions_may_differ_only_on_ties():
    """A SavedModel computes in another float order than the in-memory
    model: where the two best scores tie, either class is right (counted,
    and allowed as that much accuracy slack); anywhere else a difference
    is an error."""
    got, expected = np.array([1, 2, 3, 4]), np.array([1, 2, 9, 4])
    tied = np.array([False, False, True, False])
    assert compare_predictions(got, expected, "x", tied) == 1
    assert compare_predictions(expected, expected, "x", tied) == 0
    with pytest.raises(VerificationError, match="1 of 4 predictions"):
        compare_predictions(got, expected, "x")
    with pytest.raises(VerificationError, match="first at test images"):
        compare_predictions(got, expected, "x", ~tied)
    check_recorded_accuracy(7, 10, 0.8, slack=1)
    with pytest.raises(VerificationError, match="accuracy mismatch"):
        check_recorded_accuracy(7, 10, 0.8)
    with pytest.raises(VerificationError, match="accuracy mismatch"):
        check_recorded_accuracy(6, 10, 0.8, slack=1)


def test_in_memory_ties_are_the_top_two_scores_within_tolerance():
    model = keras.Sequential([
        keras.Input((28, 28)), keras.layers.Flatten(),
        keras.layers.Dense(10, kernel_initializer="zeros")])
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28))
    classes, tied = predict_in_memory(model, Preprocessor("minmax"),
                                      images, ties=True)
    assert tied.all() and (classes == 0).all()  # every score 0: all tie
    kernel = np.zeros((784, 10), np.float32)
    kernel[:, 3] = 1.0  # class 3 wins by the sum of the pixels
    model.layers[-1].kernel.assign(kernel)
    classes, tied = predict_in_memory(model, Preprocessor("minmax"),
                                      images, ties=True)
    assert not tied.any() and (classes == 3).all()
    np.testing.assert_array_equal(
        predict_in_memory(model, Preprocessor("minmax"), images), classes)
