"""The training loop: BN and dropout in training vs inference, babysitting,
checkpoints, Keras fit side by side, distribution and mixed precision."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnn.training import run

from tfnn.nn import schedules

from tfnn import training
from tfnn.config import ModelConfig
from tfnn.models import build_mlp
from tfnn.training import TrainConfig, Trainer, TrainingDiverged


@pytest.fixture(scope="module")
def small(mnist):
    """2,000 real training images and their labels (standardized)."""
    return mnist.x_train[:2000], mnist.y_train[:2000]


def _weights(model):
    return [np.array(v) for v in model.weights]


# -- BatchNorm in one custom-loop step ------------------------------------


def test_one_step_bn_moving_statistics_and_outputs(small):
    x, y = small[0][:64], small[1][:64]
    training.set_seed(0)
    model = build_mlp(hidden=(32,), batch_norm=True, dropout=0.3,
                      bn_momentum=0.9)
    trainer = Trainer(model, keras.optimizers.SGD(0.1))
    bn, linear = model.get_layer("bn_0"), model.get_layer("linear_0")
    w_before = linear.kernel.numpy()
    old_mean = bn.moving_mean.numpy().copy()
    old_var = bn.moving_variance.numpy().copy()

    trainer.step(x, y)

    # The BN input of that step: Linear (no bias) with the old weights.
    h = x.reshape(len(x), -1) @ w_before  # (batch, 32)
    mu_b, var_b = h.mean(axis=0), h.var(axis=0)  # biased, per feature
    momentum = 0.9  # Keras: the fraction of the old average kept
    np.testing.assert_allclose(
        bn.moving_mean.numpy(), old_mean + (1 - momentum) * (mu_b - old_mean),
        rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        bn.moving_variance.numpy(),
        old_var + (1 - momentum) * (var_b - old_var), rtol=1e-4, atol=1e-5)

    # An inference call changes nothing.
    before = _weights(model)
    model(x, training=False)
    for a, b in zip(before, _weights(model)):
        np.testing.assert_array_equal(a, b)

    # Training output: batch statistics; inference: moving averages.
    h2 = x.reshape(len(x), -1) @ linear.kernel.numpy()
    gamma, beta, eps = bn.gamma.numpy(), bn.beta.numpy(), bn.epsilon
    assert not np.allclose(gamma, 1.0)  # the step moved γ: a real check
    train_out = bn(tf.constant(h2), training=True).numpy()
    expected = (h2 - h2.mean(0)) / np.sqrt(h2.var(0) + eps) * gamma + beta
    np.testing.assert_allclose(train_out, expected, rtol=1e-4, atol=1e-4)
    infer_out = bn(tf.constant(h2), training=False).numpy()
    mm, mv = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    np.testing.assert_allclose(
        infer_out, (h2 - mm) / np.sqrt(mv + eps) * gamma + beta,
        rtol=1e-4, atol=1e-4)


# -- Dropout ----------------------------------------------------------------


def test_dropout_inference_is_the_no_dropout_path(small):
    x = small[0][:32]
    with_dropout = build_mlp(hidden=(64, 64), dropout=0.5)
    without = build_mlp(hidden=(64, 64), dropout=0.0)
    without.set_weights(with_dropout.get_weights())
    a = with_dropout(x, training=False).numpy()
    np.testing.assert_array_equal(a, with_dropout(x, training=False).numpy())
    np.testing.assert_allclose(a, without(x, training=False).numpy(),
                               rtol=1e-6)
    assert not np.allclose(a, with_dropout(x, training=True).numpy())


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_dropout_training_masks_and_inverted_scaling(rate):
    n = 200_000
    layer = keras.layers.Dropout(rate, seed=1)
    out = layer(tf.ones((n,)), training=True).numpy()
    zeros = np.mean(out == 0)
    # binomial: fraction of zeros ≈ rate within 4 standard errors
    assert abs(zeros - rate) < 4 * math.sqrt(rate * (1 - rate) / n)
    kept = out[out != 0]
    np.testing.assert_allclose(kept, 1 / (1 - rate), rtol=1e-6)
    # the mean is preserved: E[out] = 1, sd of the mean sqrt(r/(1-r)/n)
    assert abs(out.mean() - 1) < 4 * math.sqrt(rate / (1 - rate) / n)


# -- the default run ----------------------------------------------------------


def test_default_train_reaches_975_on_real_test_set(tmp_path):
    from tfnn.cli import main

    out = tmp_path / "run"
    code = main(["train", "--out", str(out), "--no-progress"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_accuracy"] >= 0.975
    assert summary["train_config"] == runner.RECOMMENDED_TRAIN.to_dict()
    assert summary["model_config"] == runner.RECOMMENDED_MODEL.to_dict()
    assert summary["examples_per_second"] > 0
    assert (out / "model.keras").exists()
    assert any((out / "tensorboard").iterdir())
    # evaluate agrees with the recorded accuracy on the 10,000 images
    from tfnn.training.evaluation import evaluate_run

    result = evaluate_run(str(out))
    assert result["n"] == 10_000
    assert result["accuracy"] == pytest.approx(summary["test_accuracy"],
                                               abs=1e-12)
    assert result["confusion_matrix"].sum() == 10_000
    assert np.trace(result["confusion_matrix"]) == result["correct"]


# -- babysitting ----------------------------------------------------------------


def test_initial_loss_is_ln10_with_small_weights_and_grows_with_reg(small):
    x, y = small
    small_w = Trainer(build_mlp(initializer="small_normal"), "sgd")
    init = small_w.initial_loss(x, y)
    assert init["expected"] == pytest.approx(math.log(10))
    assert abs(init["loss"] - math.log(10)) < 0.05
    reg = Trainer(build_mlp(initializer="small_normal", reg=1e-2), "sgd")
    assert reg.initial_loss(x, y)["loss"] > init["loss"] + 0.1


def test_run_reports_initial_loss_beside_ln10(mnist, caplog):
    caplog.set_level("INFO")
    runner.train(ModelConfig(hidden=(16,), initializer="unit_normal"),
                 TrainConfig(epochs=1, train_limit=500), splits=mnist,
                 progress=False)
    line = next(r.message for r in caplog.records
                if r.message.startswith("initial loss"))
    assert "ln(10) = 2.3026" in line


def test_overfit_check_reaches_100_percent_on_20_examples(small):
    result = training.overfit_check(ModelConfig(), TrainConfig(), *small,
                                    n=20)
    assert result["reached"] and result["accuracy"] == 1.0


def test_too_high_lr_stops_with_message_and_keeps_last_checkpoint(small,
                                                                  tmp_path):
    x, y = small
    training.set_seed(0)
    model = build_mlp(hidden=(32,), initializer="unit_normal")
    # lr 1e-3 for the first epoch (16 steps of 128), then 1e3.
    lr = keras.optimizers.schedules.PiecewiseConstantDecay([16], [1e-3, 1e3])
    trainer = Trainer(model, keras.optimizers.SGD(lr))
    ckpt_dir = str(tmp_path / "ckpt")
    trainer.fit(x, y, epochs=1, checkpoint_dir=ckpt_dir, progress=False)
    good = _weights(model)
    with pytest.raises(TrainingDiverged) as err:
        trainer.fit(x, y, epochs=3, checkpoint_dir=ckpt_dir, progress=False)
    message = str(err.value)
    assert "Exploding gradients" in message and "1000" in message
    assert "ckpt-1" in message
    assert tf.train.latest_checkpoint(ckpt_dir).endswith("ckpt-1")
    fresh = build_mlp(hidden=(32,), initializer="unit_normal")
    tf.train.Checkpoint(model=fresh).restore(
        tf.train.latest_checkpoint(ckpt_dir)).expect_partial()
    for a, b in zip(good, _weights(fresh)):
        np.testing.assert_array_equal(a, b)


def test_cli_divergence_is_a_message_not_a_traceback(tmp_path, caplog):
    from tfnn.cli import main

    # No BatchNorm: with it (the CLI's default) the network is invariant to
    # the weights' scale and even lr 1000 does not blow up.
    code = main(["train", "--optimizer", "sgd", "--learning-rate", "1000",
                 "--no-batch-norm", "--schedule", "constant",
                 "--initializer", "unit_normal", "--train-limit", "2000",
                 "--epochs", "1", "--out", str(tmp_path / "r"),
                 "--no-progress"])
    assert code == 3
    assert any("Exploding gradients" in r.message for r in caplog.records)


# -- checkpoints ----------------------------------------------------------------


def _resumable_run(x, y, ckpt_dir, epochs, stop_after=None, fast=False):
    training.set_seed(1)
    model = build_mlp(hidden=(32,), batch_norm=True, dropout=0.3)
    trainer = Trainer(model, "adam", fast=fast)

    def crash(epoch, history):
        if epoch == stop_after:
            raise KeyboardInterrupt  # the run is killed here

    trainer.fit(x, y, epochs=epochs, batch_size=100, seed=3,
                checkpoint_dir=ckpt_dir, progress=False, on_epoch_end=crash)
    return model


@pytest.mark.parametrize("fast", [False, True], ids=["readable", "fast"])
def test_interrupt_and_resume_gives_the_same_weights(small, tmp_path, fast):
    x, y = small
    whole = _resumable_run(x, y, str(tmp_path / "a"), epochs=3, fast=fast)
    with pytest.raises(KeyboardInterrupt):
        _resumable_run(x, y, str(tmp_path / "b"), epochs=3, stop_after=2,
                       fast=fast)
    resumed = _resumable_run(x, y, str(tmp_path / "b"), epochs=3, fast=fast)
    for a, b in zip(_weights(whole), _weights(resumed)):
        np.testing.assert_array_equal(a, b)
    history = json.loads((tmp_path / "b" / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3]


# -- batch modes, schedules ---------------------------------------------------


def test_gd_is_one_full_batch_step_per_epoch(small):
    cfg = TrainConfig(optimizer="gd")
    assert cfg.batch_size == 0
    x, y = small
    trainer = Trainer(build_mlp(hidden=(16,)), "gd")
    trainer.fit(x, y, epochs=2, batch_size=0, progress=False)
    assert int(trainer.optimizer.iterations) == 2


def test_fast_fit_with_progress_bar(small, capsys):
    # fit's default (progress=True) on the fast path: one bar line an epoch
    x, y = small[0][:300], small[1][:300]
    trainer = Trainer(build_mlp(hidden=(8,)), "adam", fast=True)
    history = trainer.fit(x, y, epochs=1, batch_size=128)
    assert int(trainer.optimizer.iterations) == 3
    assert "3/3" in capsys.readouterr().out
    assert history.loss and math.isfinite(history.loss[0])


@pytest.mark.parametrize("batch, drop, steps", [(1, False, 50), (16, False, 4),
                                                (16, True, 3)])
def test_batch_modes_step_counts(small, batch, drop, steps):
    x, y = small[0][:50], small[1][:50]
    trainer = Trainer(build_mlp(hidden=(8,)), "sgd")
    history = trainer.fit(x, y, epochs=1, batch_size=batch,
                          drop_remainder=drop, progress=False)
    assert int(trainer.optimizer.iterations) == steps
    assert len(history.step_loss) == steps


def test_schedules_follow_their_formulas():
    lr, spe, epochs = 0.1, 10, 9
    assert schedules.get("constant", lr, spe, epochs) == lr
    step = schedules.get("step", lr, spe, epochs, step_epochs=3, gamma=0.5)
    for t, expected in [(0, 0.1), (29, 0.1), (30, 0.05), (65, 0.025)]:
        assert float(step(t)) == pytest.approx(expected)
    cosine = schedules.get("cosine", lr, spe, epochs)
    total = spe * epochs
    for t in (0, 17, 45, 90):
        expected = lr * 0.5 * (1 + math.cos(math.pi * t / total))
        assert float(cosine(t)) == pytest.approx(expected, abs=1e-7)
    with pytest.raises(ValueError, match="cosine"):
        schedules.get("linear_warmup", lr, spe, epochs)


# -- traps ------------------------------------------------------------------------


def test_train_step_traces_once(small):
    x, y = small[0][:1000], small[1][:1000]
    trainer = Trainer(build_mlp(hidden=(16,)), "adam")
    trainer.fit(x, y, epochs=2, batch_size=300, progress=False)  # last: 100
    trainer.step(x[:300], y[:300])
    assert trainer.trace_count == 1


def test_two_models_train_in_one_process(small):
    x, y = small[0][:256], small[1][:256]
    for _ in range(2):
        trainer = Trainer(build_mlp(hidden=(16,)), "adam")
        loss, _ = trainer.step(x, y)
        assert math.isfinite(loss)


def test_frozen_bn_acts_as_inference_under_training_true(small):
    x, y = small[0][:64], small[1][:64]
    model = build_mlp(hidden=(16,), batch_norm=True)
    bn = model.get_layer("bn_0")
    bn.moving_mean.assign(np.full(16, 0.5, "float32"))
    bn.moving_variance.assign(np.full(16, 2.0, "float32"))
    bn.trainable = False
    trainer = Trainer(model, "sgd")
    trainer.step(x, y)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), 0.5)
    np.testing.assert_array_equal(bn.moving_variance.numpy(), 2.0)
    h = tf.constant(np.random.default_rng(0).normal(size=(8, 16)), tf.float32)
    np.testing.assert_allclose(bn(h, training=True).numpy(),
                               bn(h, training=False).numpy())


def test_batch_of_one_keeps_bn_variance_finite(small):
    model = build_mlp(hidden=(16,), batch_norm=True)
    trainer = Trainer(model, "sgd")
    loss, _ = trainer.step(small[0][:1], small[1][:1])
    assert math.isfinite(loss)
    assert np.all(np.isfinite(model.get_layer("bn_0").moving_variance.numpy()))


def test_mixed_precision_keeps_variables_logits_and_loss_float32(mnist):
    result = runner.train(
        ModelConfig(hidden=(32,), batch_norm=True),
        TrainConfig(epochs=1, train_limit=1000, mixed_precision=True),
        splits=mnist, progress=False)
    model = result.model
    assert keras.config.dtype_policy().name == "float32"  # restored
    assert model.get_layer("linear_0").compute_dtype == "float16"
    assert all(v.dtype == "float32" for v in model.weights)
    assert model(mnist.x_test[:4]).dtype == "float32"
    assert all(math.isfinite(v) for v in result.history.loss)


def _replica_step(strategy, x, y):
    training.set_seed(4)
    with strategy.scope():
        model = build_mlp(hidden=(16,), initializer_kwargs={"seed": 4})
        trainer = Trainer(model, keras.optimizers.SGD(0.5),
                          strategy=strategy)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(len(x))
    if strategy.num_replicas_in_sync > 1:
        ds = strategy.experimental_distribute_dataset(ds)
    losses = [float(trainer._train(xb, yb)[0]) for xb, yb in ds]
    return _weights(model), losses


def test_one_step_on_one_and_two_replicas_gives_the_same_weights(small):
    assert len(tf.config.list_logical_devices("CPU")) >= 2
    x, y = small[0][:64], small[1][:64]
    one, loss1 = _replica_step(tf.distribute.get_strategy(), x, y)
    two, loss2 = _replica_step(
        training.make_strategy("mirrored", ["/cpu:0", "/cpu:1"]), x, y)
    assert loss1 == pytest.approx(loss2, rel=1e-5)
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_mirrored_training_matches_single_device(mnist):
    cfg = ModelConfig(hidden=(32,), initializer_kwargs={"seed": 2})
    # The readable loop: a distributed run does not take the fast path,
    # whose in-graph example order differs from tf.data's shuffle.
    tc = TrainConfig(epochs=2, train_limit=2000, optimizer="sgd",
                     learning_rate=0.1, batch_size=100, loop="custom")
    single = runner.train(cfg, tc, splits=mnist, progress=False)
    mirrored = runner.train(cfg, tc.replace(strategy="mirrored"),
                            splits=mnist, progress=False,
                            strategy_devices=["/cpu:0", "/cpu:1"])
    np.testing.assert_allclose(mirrored.history.loss, single.history.loss,
                               rtol=1e-3)
    assert mirrored.test_accuracy == pytest.approx(single.test_accuracy,
                                                   abs=0.005)


# -- Keras fit, side by side ------------------------------------------------------


def test_custom_loop_and_keras_fit_give_the_same_losses(small):
    x, y = small

    def model():
        return build_mlp(hidden=(64,), reg=1e-4,
                         initializer_kwargs={"seed": 9})

    custom = Trainer(model(), keras.optimizers.SGD(0.05)).fit(
        x, y, epochs=3, batch_size=64, seed=5, progress=False)
    fitted = training.fit_keras(model(), keras.optimizers.SGD(0.05), x, y,
                                epochs=3, batch_size=64, seed=5)
    np.testing.assert_allclose(fitted.loss, custom.loss, rtol=0.01)
    assert fitted.loss[-1] < fitted.loss[0]


# -- the fast path ------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_fast_path_computes_the_same_update_as_the_readable_step(small, arch):
    """One batch through the whole-epoch function and through the readable
    step from the same weights: the same new weights (one step definition)."""
    x, y = small[0][:64], small[1][:64]
    cfg = ModelConfig(arch=arch, hidden=(32,), filters=(4,), batch_norm=True,
                      initializer_kwargs={"seed": 3})
    from tfnn.models import build_model

    readable, fast = build_model(cfg), build_model(cfg)
    # SGD: the update is linear in the gradient, so XLA's different
    # rounding stays at float32 noise (Adam's m/sqrt(v) would amplify it
    # for gradients near 0).
    t_read = Trainer(readable, keras.optimizers.SGD(0.1, momentum=0.9))
    t_fast = Trainer(fast, keras.optimizers.SGD(0.1, momentum=0.9),
                     fast=True)
    assert t_fast.fast_jit == (arch == "mlp")  # XLA only without convs
    order = training.epoch_order(64, seed=0, epoch=0)
    t_read.step(x[order], y[order])
    t_fast._epoch_fn(64)(tf.constant(x), tf.constant(y, tf.int64),
                         tf.constant(order))
    for a, b in zip(_weights(readable), _weights(fast)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fast_path_trains_like_the_readable_loop(mnist):
    cfg = ModelConfig(hidden=(64,), initializer_kwargs={"seed": 1})
    tc = TrainConfig(epochs=2, train_limit=10_000)
    readable = runner.train(cfg, tc.replace(loop="custom"), splits=mnist,
                            progress=False)
    fast = runner.train(cfg, tc.replace(loop="fast"), splits=mnist,
                        progress=False)
    # different (but seeded) batch orders: equal within noise
    assert abs(fast.test_accuracy - readable.test_accuracy) < 0.01
    assert len(fast.history.step_loss) == len(readable.history.step_loss)
    assert fast.test_accuracy > 0.93


def test_fast_path_stops_at_the_first_nonfinite_loss(small):
    x, y = small
    trainer = Trainer(build_mlp(hidden=(32,), initializer="unit_normal"),
                      keras.optimizers.SGD(1e4), fast=True)
    with pytest.raises(TrainingDiverged, match="Exploding gradients"):
        trainer.fit(x, y, epochs=2, progress=False)


def test_rbm_initializer_pretrains_through_the_runner(mnist):
    from tfnn import data

    splits = data.load("mnist", preprocessing="minmax", train_limit=2000)
    result = runner.train(
        ModelConfig(hidden=(64,), activation="sigmoid", initializer="rbm",
                    initializer_kwargs={"epochs": 2, "seed": 0}),
        TrainConfig(epochs=3, learning_rate=1e-2, preprocessing="minmax"),
        splits=splits,
        progress=False)
    errors = result.pretraining
    # one RBM; its error before training and after each of the 2 epochs
    assert len(errors) == 1 and len(errors[0]) == 3
    assert errors[0][2] < errors[0][1] < errors[0][0]
    assert result.test_accuracy > 0.7
    with pytest.raises(ValueError, match="minmax"):
        runner.train(ModelConfig(hidden=(8,), initializer="rbm"),
                     TrainConfig(epochs=1), splits=mnist, progress=False)


def test_sigmoid_output_reaches_the_loss_as_is(small):
    """Note 000's Linear → Sigmoid trained with softmax CE on the sigmoid
    scores: the loss is CE of the scores, never of the logits before."""
    x, y = small[0][:32], small[1][:32]
    model = build_mlp(hidden=(16,), output="sigmoid")
    scores = model(x, training=False).numpy()
    z = scores - scores.max(axis=1, keepdims=True)
    expected = np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(32), y])
    loss = training.compute_loss(model, model(x, training=False), y)
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    # scores in (0, 1): the loss can never go below CE([1, 0, …, 0])
    assert float(loss) > -math.log(math.e / (math.e + 9))
