"""The loss guard every loop shares, and the fit loop's resume.

:class:`tfnn.training.StopOnNonFinite` stops a run at a NaN/Inf loss and,
by note 004's babysitting rule, at a running loss above ``factor`` × the
initial loss (``loss_guard="stop"``; ``"warn"`` logs once, ``"off"``
skips the rule). The readable loop, the fast path and Keras's ``fit`` all
run it; a stopped run writes no model. ``--loop fit`` resumes from its
checkpoints bitwise, like the other loops.
"""

import json
import logging
import math
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

from tfnn import data, training
from tfnn.models import build_mlp
from tfnn.training import (
    Checkpoints,
    StopOnNonFinite,
    Trainer,
    TrainingDiverged,
)
from tfnn.training import whole_run as runner


@pytest.fixture(scope="module")
def tiny(mnist_builder):
    """512 standardized MNIST training images (and 5,000 / 10,000 for
    validation and test)."""
    return data.load("mnist", "standardize", 5000, train_limit=512)


@pytest.fixture(scope="module")
def small(mnist_builder):
    """2,048 standardized MNIST training images."""
    return data.load("mnist", "standardize", 5000, train_limit=2048)


def _weights(model):
    return [np.array(v) for v in model.weights]


class _Optimizer:
    """What the guard reads of an optimizer: iterations, learning rate."""

    def __init__(self, iterations=1, learning_rate=0.5):
        self.iterations = iterations
        self.learning_rate = learning_rate


def test_the_message_names_the_rate_of_the_step_that_blew_up():
    """Not the next step's: a schedule may have decayed it to 0 by then."""
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [2], [0.5, 0.0])
    optimizer = keras.optimizers.SGD(schedule)
    guard = StopOnNonFinite(optimizer, initial_loss=2.0)
    guard.on_epoch_begin(0)
    guard.on_train_batch_end(0, {"loss": 2.0})
    optimizer.iterations.assign(2)  # the second step made: next rate 0
    with pytest.raises(TrainingDiverged, match="the learning rate 0.5 is "
                       "too high"):
        guard.on_train_batch_end(1, {"loss": 100.0})


# -- the callback -------------------------------------------------------------


def test_explode_rule_stops_above_factor_times_the_initial_loss():
    guard = StopOnNonFinite(keras.optimizers.SGD(0.5), initial_loss=2.0)
    guard.on_epoch_begin(1)
    guard.on_train_batch_end(2, {"loss": 5.99})  # 2.995 × 2.0: goes on
    with pytest.raises(TrainingDiverged) as err:
        guard.on_train_batch_end(3, {"loss": 6.01})
    assert str(err.value) == (
        "Training stopped: the loss rose to 6.01, above 3 × the initial "
        "loss 2 (note 004's babysitting rule) at epoch 2, step 4. "
        "Exploding gradients: the learning rate 0.5 is too high for this "
        "model and initialization (note 004: try it 3-10x smaller on a log "
        "scale, or a smaller initial weight scale); no checkpoint was "
        "written.")


def test_warn_logs_once_and_nonfinite_still_stops(caplog):
    guard = StopOnNonFinite(keras.optimizers.SGD(0.5), loss_guard="warn",
                            factor=2.0, initial_loss=1.0)
    with caplog.at_level(logging.WARNING):
        for batch, loss in enumerate([1.5, 2.5, 9.0, 30.0]):
            guard.on_train_batch_end(batch, {"loss": loss})
    warnings = [r.message for r in caplog.records
                if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("Warning: the loss rose to 2.5, above 2 ×")
    assert warnings[0].endswith("Training goes on (loss_guard 'warn').")
    with pytest.raises(TrainingDiverged, match="the loss became nan"):
        guard.on_train_batch_end(4, {"loss": math.nan})


def test_off_skips_the_rule_but_not_nan():
    guard = StopOnNonFinite(keras.optimizers.SGD(0.5), loss_guard="off",
                            initial_loss=1.0)
    guard.on_train_batch_end(0, {"loss": 1e9})
    with pytest.raises(TrainingDiverged, match="the loss became inf"):
        guard.on_train_batch_end(1, {"loss": math.inf})


def test_without_initial_loss_the_first_step_is_the_reference():
    fresh = StopOnNonFinite(_Optimizer(iterations=1))
    fresh.on_train_batch_end(0, {"loss": 2.3})  # batch 0 after 1 step
    assert fresh.initial_loss == 2.3
    with pytest.raises(TrainingDiverged, match="above 3 × the initial "
                       "loss 2.3"):
        fresh.on_train_batch_end(1, {"loss": 7.0})
    # A resumed run (the optimizer has made steps before) has none.
    resumed = StopOnNonFinite(_Optimizer(iterations=501))
    resumed.on_train_batch_end(0, {"loss": 0.05})
    resumed.on_train_batch_end(1, {"loss": 100.0})
    assert resumed.initial_loss is None


@pytest.mark.parametrize("kwargs,message", [
    ({"loss_guard": "loud"}, "choose from \\['stop', 'warn', 'off'\\]"),
    ({"factor": 1.0}, "factor=1.0")])
def test_guard_arguments_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StopOnNonFinite(**kwargs)


# -- every loop, through the run ---------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("loop", ["custom", "fast", "fit"])
def test_every_loop_stops_adam_bn_at_lr_1e6(loop, tiny, tmp_path):
    """The issue's case: Adam + BatchNorm at lr 1e6 stays finite (the loss
    sits near 1e9) and used to end "successfully"."""
    tc = runner.RECOMMENDED_TRAIN.replace(
        learning_rate=1e6, epochs=2, train_limit=512, loop=loop)
    out = tmp_path / "run"
    with pytest.raises(TrainingDiverged) as err:
        runner.train(runner.RECOMMENDED_MODEL, tc, out_dir=str(out),
                     splits=tiny, progress=False)
    message = str(err.value)
    assert "above 3 × the initial loss" in message
    assert "at epoch 1," in message
    # the rate of the step that blew up: 1e6 · (1 + cos(π t / 8)) / 2,
    # t < 4 of 8 cosine steps (the fast path: its epoch's first, 1e6)
    rate = re.search(r"the learning rate (\S+) is too high", message)
    assert 5e5 < float(rate.group(1)) <= 1e6
    assert not (out / "model.keras").exists()
    assert not (out / "summary.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("loop", ["custom", "fit"])
def test_sgd_without_bn_at_lr_1e6_stops_nan_or_explode(loop, tiny,
                                                       tmp_path):
    model = runner.RECOMMENDED_MODEL.replace(batch_norm=False)
    tc = runner.RECOMMENDED_TRAIN.replace(
        optimizer="sgd", learning_rate=1e6, epochs=2, train_limit=512,
        loop=loop)
    with pytest.raises(TrainingDiverged, match="Exploding gradients"):
        runner.train(model, tc, out_dir=str(tmp_path / "run"), splits=tiny,
                     progress=False)
    assert not (tmp_path / "run" / "model.keras").exists()


@pytest.mark.slow
def test_warn_lets_the_run_finish_and_logs_once(tiny, caplog):
    tc = runner.RECOMMENDED_TRAIN.replace(
        learning_rate=1e6, epochs=1, train_limit=512, loop="custom",
        loss_guard="warn")
    with caplog.at_level(logging.WARNING):
        result = runner.train(runner.RECOMMENDED_MODEL, tc, splits=tiny,
                              progress=False)
    warned = [r for r in caplog.records if "above 3 × the initial loss"
              in r.getMessage()]
    assert len(warned) == 1
    initial = result.summary["initial_loss"]["loss"]
    assert result.history.loss[0] > 3 * initial


@pytest.mark.slow
@pytest.mark.parametrize("loop", ["custom", "fast", "fit"])
def test_default_recipe_stays_far_below_the_guard(loop, small):
    """Adam 1e-3, BatchNorm, dropout 0.2, cosine: two epochs on every loop
    run to the end, the loss below the initial one."""
    tc = runner.RECOMMENDED_TRAIN.replace(epochs=2, train_limit=2048,
                                          loop=loop)
    result = runner.train(runner.RECOMMENDED_MODEL, tc, splits=small,
                          progress=False)
    initial = result.summary["initial_loss"]["loss"]
    assert abs(initial - math.log(10)) < 0.2
    assert result.history.epoch == [1, 2]
    assert max(result.history.loss) < initial
    if result.history.step_loss:  # per-step losses: every one below 3×
        assert max(result.history.step_loss) < 1.5 * initial
    assert result.test_accuracy > 0.7


# -- the fit loop resumes bitwise --------------------------------------------


def _fit_loop_run(x, y, folder, epochs, stop_after=None):
    training.set_seed(1)
    model = build_mlp(hidden=(32,), batch_norm=True, dropout=0.3)
    trainer = Trainer(model, "adam")

    def crash(epoch, logs):
        if epoch + 1 == stop_after:
            raise KeyboardInterrupt  # killed after this epoch's checkpoint

    ckpt = os.path.join(folder, "checkpoints")
    history = training.fit_keras(
        trainer.model, trainer.optimizer, x, y, epochs=epochs,
        batch_size=100, seed=3, checkpoints=Checkpoints(trainer, ckpt),
        history_path=os.path.join(ckpt, "history.json"),
        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=crash)])
    return trainer, history


@pytest.mark.slow
def test_fit_loop_killed_after_epoch_1_resumes_bitwise(tiny, tmp_path):
    x, y = tiny.x_train, tiny.y_train
    whole, whole_history = _fit_loop_run(x, y, str(tmp_path / "a"), 3)
    with pytest.raises(KeyboardInterrupt):
        _fit_loop_run(x, y, str(tmp_path / "b"), 3, stop_after=1)
    saved = json.loads(
        (tmp_path / "b" / "checkpoints" / "history.json").read_text())
    assert saved["epoch"] == [1]
    resumed, history = _fit_loop_run(x, y, str(tmp_path / "b"), 3)
    assert int(resumed.optimizer.iterations) == 3 * 6  # 512 / 100: 6 steps
    for a, b in zip(_weights(whole.model), _weights(resumed.model),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert history.epoch == [1, 2, 3]
    assert history.loss == whole_history.loss  # bit for bit


@pytest.mark.slow
def test_fit_loop_cli_rerun_with_more_epochs_resumes(tiny, tmp_path):
    """``tfnn train --loop fit --epochs 1``, then ``--epochs 2`` on the
    same folder, ends where one ``--epochs 2`` run ends (a constant
    learning rate: the cosine schedule depends on the epochs)."""
    model = runner.RECOMMENDED_MODEL.replace(hidden=(32,))
    tc = runner.RECOMMENDED_TRAIN.replace(schedule="constant", loop="fit",
                                          train_limit=512, epochs=2)
    whole = runner.train(model, tc, out_dir=str(tmp_path / "a"),
                         splits=tiny, progress=False)
    runner.train(model, tc.replace(epochs=1), out_dir=str(tmp_path / "b"),
                 splits=tiny, progress=False)
    resumed = runner.train(model, tc, out_dir=str(tmp_path / "b"),
                           splits=tiny, progress=False)
    for a, b in zip(_weights(whole.model), _weights(resumed.model),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed.history.epoch == [1, 2]
    assert resumed.test_accuracy == whole.test_accuracy


# -- the command line ---------------------------------------------------------


@pytest.mark.slow
def test_cli_lr_1e6_exits_3_with_one_line(tmp_path, mnist_manual_dir):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-m", "tfnn.cli", "train", "--learning-rate", "1e6",
         "--epochs", "2", "--train-limit", "512", "--no-progress",
         "--manual-dir", mnist_manual_dir, "--out", "run"],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 3, done.stderr[-2000:]
    # "error:" (TensorFlow's own start-up lines on oneDNN CPUs speak of
    # "round-off errors")
    errors = [ln for ln in done.stderr.splitlines() if "error:" in ln]
    assert len(errors) == 1, errors
    assert errors[0].startswith("tfnn train: error: Training stopped: the "
                                "loss rose to ")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run" / "model.keras").exists()
