"""The training loop: BN and dropout in training vs inference, babysitting,
checkpoints, Keras fit side by side, distribution and mixed precision."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnn import data, training
from tfnn.cli import main
from tfnn.config import ModelConfig
from tfnn.models import build_mlp, build_model
from tfnn.nn import schedules
from tfnn.training import (
    TrainConfig,
    Trainer,
    TrainingDiverged,
    distribute,
    loop_choice,
)
from tfnn.training import whole_run as runner
from tfnn.training.evaluation import evaluate_run, predictions
from tfnn.training.loop_choice import (
    FAST_PATH_MIN_STEPS,
    XLA_MIN_STEPS,
    choose_loop,
)


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


@pytest.mark.slow
def test_default_train_reaches_975_on_real_test_set(tmp_path):
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
    result = evaluate_run(str(out))
    assert result["n"] == 10_000
    assert result["accuracy"] == pytest.approx(summary["test_accuracy"],
                                               abs=1e-12)
    assert result["confusion_matrix"].sum() == 10_000
    assert np.trace(result["confusion_matrix"]) == result["correct"]


# -- babysitting --------------------------------------------------------------


def test_initial_loss_is_ln10_with_small_weights_and_grows_with_reg(small):
    x, y = small
    small_w = Trainer(build_mlp(initializer="small_normal"), "sgd")
    init = small_w.initial_loss(x, y)
    assert init["expected"] == pytest.approx(math.log(10))
    assert abs(init["loss"] - math.log(10)) < 0.05
    reg = Trainer(build_mlp(initializer="small_normal", reg=1e-2), "sgd")
    assert reg.initial_loss(x, y)["loss"] > init["loss"] + 0.1


@pytest.mark.slow
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
    # lr 1e-3 for the first epoch (16 steps of 128), then 1e5: Inf.
    lr = keras.optimizers.schedules.PiecewiseConstantDecay([16], [1e-3, 1e5])
    trainer = Trainer(model, keras.optimizers.SGD(lr))
    ckpt_dir = str(tmp_path / "ckpt")
    trainer.fit(x, y, epochs=1, checkpoint_dir=ckpt_dir, progress=False)
    good = _weights(model)
    with pytest.raises(TrainingDiverged) as err:
        trainer.fit(x, y, epochs=3, checkpoint_dir=ckpt_dir, progress=False)
    message = str(err.value)
    assert "Exploding gradients" in message and "100000" in message
    assert "ckpt-1" in message
    assert tf.train.latest_checkpoint(ckpt_dir).endswith("ckpt-1")
    fresh = build_mlp(hidden=(32,), initializer="unit_normal")
    tf.train.Checkpoint(model=fresh).restore(
        tf.train.latest_checkpoint(ckpt_dir)).expect_partial()
    for a, b in zip(good, _weights(fresh)):
        np.testing.assert_array_equal(a, b)


def test_cli_divergence_is_a_message_not_a_traceback(tmp_path, caplog):
    # No BatchNorm: with it (the CLI's default) the network is invariant to
    # the weights' scale and even lr 1000 does not blow up.
    code = main(["train", "--optimizer", "sgd", "--learning-rate", "1000",
                 "--no-batch-norm", "--schedule", "constant",
                 "--initializer", "unit_normal", "--train-limit", "2000",
                 "--epochs", "1", "--out", str(tmp_path / "r"),
                 "--no-progress"])
    assert code == 3
    assert any("Exploding gradients" in r.message for r in caplog.records)


# -- checkpoints --------------------------------------------------------------


def _resumable_run(x, y, ckpt_dir, epochs, stop_after=None, fast=False):
    training.set_seed(1)
    model = build_mlp(hidden=(32,), batch_norm=True, dropout=0.3)
    trainer = Trainer(model, "adam", fast=fast)

    def crash(epoch, history):
        if epoch == stop_after:
            raise KeyboardInterrupt  # the run is killed here

    trainer.fit(x, y, epochs=epochs, batch_size=100, seed=3,
                checkpoint_dir=ckpt_dir, progress=False, on_epoch_end=crash)
    return trainer


@pytest.mark.slow
@pytest.mark.parametrize("fast", [False, True], ids=["readable", "fast"])
def test_interrupt_and_resume_gives_the_same_weights(small, tmp_path, fast):
    x, y = small
    whole = _resumable_run(x, y, str(tmp_path / "a"), epochs=3, fast=fast)
    with pytest.raises(KeyboardInterrupt):
        _resumable_run(x, y, str(tmp_path / "b"), epochs=3, stop_after=2,
                       fast=fast)
    resumed = _resumable_run(x, y, str(tmp_path / "b"), epochs=3, fast=fast)
    assert resumed.initial_epoch == 2  # only the third epoch ran again
    for a, b in zip(_weights(whole.model), _weights(resumed.model)):
        np.testing.assert_array_equal(a, b)
    history = json.loads((tmp_path / "b" / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3]
    assert history == resumed.history.to_dict()
    # the resumed run's losses are the uninterrupted run's, bit for bit
    assert history["step_loss"] == whole.history.step_loss


# -- batch modes, schedules ---------------------------------------------------


def test_gd_is_one_full_batch_step_per_epoch(small):
    cfg = TrainConfig(optimizer="gd")
    assert cfg.batch_size == 0
    x, y = small
    trainer = Trainer(build_mlp(hidden=(16,)), "gd")
    trainer.fit(x, y, epochs=2, batch_size=0, progress=False)
    assert int(trainer.optimizer.iterations) == 2


@pytest.mark.slow
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


def test_one_cycle_rises_then_falls_to_zero():
    """lr·(t+1)/W up to W = warmup·T, then lr·(T−t)/(T−W): the peak at
    t = W − 1, zero at T, never negative after."""
    lr, spe, epochs = 0.01, 10, 5  # T = 50, W = 10
    one = schedules.get("one_cycle", lr, spe, epochs, warmup=0.2)
    for t, expected in [(0, 0.001), (4, 0.005), (9, 0.01), (10, 0.01),
                        (30, 0.005), (50, 0.0), (60, 0.0)]:
        assert float(one(t)) == pytest.approx(expected, abs=1e-9), t
    values = [float(one(t)) for t in range(50)]
    assert max(values) == pytest.approx(lr) and min(values) > 0
    again = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(one))  # saved with a model
    assert [float(again(t)) for t in range(50)] == values
    with pytest.raises(ValueError, match="warmup"):
        schedules.get("one_cycle", lr, spe, epochs, warmup=1.0)


# -- traps --------------------------------------------------------------------


def test_train_step_traces_once(small):
    x, y = small[0][:1000], small[1][:1000]
    trainer = Trainer(build_mlp(hidden=(16,)), "adam")
    trainer.fit(x, y, epochs=2, batch_size=300, progress=False)  # last: 100
    trainer.step(x[:300], y[:300])
    assert trainer.trace_count == 1


@pytest.mark.slow
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


@pytest.mark.slow
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
    losses = [float(trainer.train_batch(xb, yb)[0]) for xb, yb in ds]
    return _weights(model), losses


@pytest.mark.slow
def test_one_step_on_one_and_two_replicas_gives_the_same_weights(small):
    assert len(tf.config.list_logical_devices("CPU")) >= 2
    x, y = small[0][:64], small[1][:64]
    one, loss1 = _replica_step(tf.distribute.get_strategy(), x, y)
    two, loss2 = _replica_step(
        training.make_strategy("mirrored", ["/cpu:0", "/cpu:1"]), x, y)
    assert loss1 == pytest.approx(loss2, rel=1e-5)
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_mirrored_training_matches_single_device(mnist):
    cfg = ModelConfig(hidden=(32,), initializer_kwargs={"seed": 2})
    # The readable loop on both: a distributed run does not take the
    # fast path.
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


# -- Keras fit, side by side --------------------------------------------------


@pytest.mark.slow
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


# -- the fast path ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("arch,downsample", [("mlp", "pool"),
                                             ("cnn", "pool"),
                                             ("cnn", "stride")])
def test_fast_path_computes_the_same_update_as_the_readable_step(
        small, arch, downsample):
    """One batch through the whole-epoch function (one XLA computation for
    the MLP, BN and dropout included) and through the readable step from
    the same weights: the same new weights (one step definition, the same
    dropout mask under XLA as in the graph, the fused BatchNorm of the
    convnets in both)."""
    x, y = small[0][:64], small[1][:64]
    cfg = ModelConfig(arch=arch, hidden=(32,), filters=(4,), batch_norm=True,
                      dropout=0.3, initializer_kwargs={"seed": 3},
                      downsample=downsample)
    training.set_seed(3)
    readable = build_model(cfg)
    training.set_seed(3)  # the same dropout seed generators' states
    fast = build_model(cfg)
    # SGD: the update is linear in the gradient, so XLA's different
    # rounding stays at float32 noise (Adam's m/sqrt(v) would amplify it
    # for gradients near 0).
    t_read = Trainer(readable, keras.optimizers.SGD(0.1, momentum=0.9))
    t_fast = Trainer(fast, keras.optimizers.SGD(0.1, momentum=0.9),
                     fast=True)
    assert t_fast.fast_jit == (arch == "mlp")  # XLA only without convs
    order = training.epoch_order(64, seed=0, epoch=0)
    t_read.step(x[order], y[order])
    t_fast.epoch_function(x, y, 64)(tf.constant(order))
    for a, b in zip(_weights(readable), _weights(fast)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
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


@pytest.mark.slow
def test_fast_path_stops_at_the_first_nonfinite_loss(small):
    x, y = small
    trainer = Trainer(build_mlp(hidden=(32,), initializer="unit_normal"),
                      keras.optimizers.SGD(1e4), fast=True)
    with pytest.raises(TrainingDiverged, match="Exploding gradients"):
        trainer.fit(x, y, epochs=2, progress=False)


@pytest.mark.slow
def test_rbm_initializer_pretrains_through_the_runner(mnist):
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


# -- the one train step, by hand ----------------------------------------------


def test_train_batch_is_one_sgd_step_w_minus_lr_g(small):
    x, y = small[0][:32], small[1][:32]
    lr = 0.1
    model = build_mlp(hidden=(8,), initializer_kwargs={"seed": 0})
    trainer = Trainer(model, keras.optimizers.SGD(lr))
    xt, yt = tf.constant(x), tf.constant(y, tf.int64)
    loss0, out, grads = training.loss_and_gradients(model, trainer.optimizer,
                                                    xt, yt)
    before = [v.numpy() for v in model.trainable_variables]
    correct0 = int(np.sum(out.numpy().argmax(-1) == y))
    loss, correct = trainer.train_batch(xt, yt)
    # the returned loss and count are those of the weights before the step
    assert float(loss) == pytest.approx(float(loss0), rel=1e-6)
    assert int(correct) == correct0
    for w, w0, g in zip(model.trainable_variables, before, grads):
        np.testing.assert_allclose(w.numpy(), w0 - lr * g.numpy(),
                                   rtol=1e-5, atol=1e-7)


def test_current_learning_rate_follows_the_schedule_and_loss_scaling():
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([2],
                                                                 [0.1, 0.01])
    opt = keras.optimizers.SGD(schedule)
    assert training.current_learning_rate(opt) == pytest.approx(0.1)
    opt.iterations.assign(3)
    assert training.current_learning_rate(opt) == pytest.approx(0.01)
    scaled = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.5))
    assert training.current_learning_rate(scaled) == pytest.approx(0.5)


def test_rng_states_are_one_per_dropout_layer():
    model = build_mlp(hidden=(8, 8), dropout=0.5, input_dropout=0.1)
    states = Trainer(model, "sgd").rng_states()
    assert sorted(states) == ["rng_0", "rng_1", "rng_2"]
    assert Trainer(build_mlp(hidden=(8,)), "sgd").rng_states() == {}


# -- the fast path's compiled epoch -------------------------------------------


def test_epoch_function_runs_len_order_div_b_steps_and_stops_at_inf():
    # A step that only reports: loss = Σ of its batch, correct = batch size.
    def step(xb, yb):
        return tf.reduce_sum(xb), tf.size(yb, out_type=tf.int64)

    b = 3
    x = np.arange(10, dtype=np.float32)  # examples are numbers, shape ()
    y = np.zeros(10, np.int64)
    order = np.array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0], np.int32)
    expected = [9 + 8 + 7, 6 + 5 + 4, 3 + 2 + 1]  # 10 // 3 = 3 steps
    for jit in (False, True):  # the graph loop and the one XLA computation
        fn = training.make_epoch_function(step, x, y, b, jit=jit)
        done, total, correct, losses = fn(order)
        assert int(done) == 3 and int(correct) == 9
        np.testing.assert_allclose(losses.numpy(), expected)
        assert float(total) == pytest.approx(b * sum(expected))
        # in the second batch: stop after it (the data is captured, so a
        # changed set is a new function)
        fn = training.make_epoch_function(
            step, np.where(x == 5, np.inf, x), y, b, jit=jit)
        done, total, correct, losses = fn(order)
        assert int(done) == 2 and losses.shape == (2,)
        assert np.isinf(losses.numpy()[-1])


def test_epoch_order_and_epoch_dataset_depend_on_seed_and_epoch_only():
    a, b = training.epoch_order(50, 1, 2), training.epoch_order(50, 1, 2)
    np.testing.assert_array_equal(a, b)
    assert sorted(a) == list(range(50))
    assert not np.array_equal(a, training.epoch_order(50, 1, 3))
    x = np.arange(20, dtype=np.float32).reshape(20, 1)
    y = np.arange(20)

    def labels(epoch):
        ds = training.epoch_dataset(x, y, 8, epoch, seed=4)
        return np.concatenate([yb.numpy() for _, yb in ds])

    np.testing.assert_array_equal(labels(0), labels(0))
    assert sorted(labels(1)) == list(range(20))
    assert not np.array_equal(labels(0), labels(1))
    assert distribute.epoch_seed(4, 1) == 4 * 100003 + 1
    # the fast path visits the examples in the readable loop's order
    for epoch in (0, 1):
        np.testing.assert_array_equal(training.epoch_order(20, 4, epoch),
                                      labels(epoch))


@pytest.mark.slow
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_fast_path_and_readable_loop_take_the_same_steps(small, dropout):
    """Same batches, same step, same dropout masks: the loop a run takes
    changes its speed, not its numbers (graph step on both; XLA would
    only add rounding)."""
    x, y = small[0][:1000], small[1][:1000]

    def fit(fast):
        training.set_seed(7)
        model = build_mlp(hidden=(32,), batch_norm=True, dropout=dropout)
        trainer = Trainer(model, keras.optimizers.SGD(0.1), fast=fast,
                          fast_jit=False)
        history = trainer.fit(x, y, epochs=2, batch_size=96, seed=2,
                              progress=False)  # 10 full batches + 40
        return history, _weights(model)

    (h_read, w_read), (h_fast, w_fast) = fit(False), fit(True)
    assert len(h_fast.step_loss) == len(h_read.step_loss) == 22
    np.testing.assert_allclose(h_fast.step_loss, h_read.step_loss,
                               rtol=1e-5)
    for a, b in zip(w_read, w_fast):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


# -- which loop ---------------------------------------------------------------


def test_choose_loop_follows_its_rule():
    dense = build_mlp(hidden=(16,))
    dropout = _keras_dropout_mlp()
    cnn = build_model(ModelConfig(arch="cnn", hidden=(8,), filters=(4,)))
    long = TrainConfig(batch_size=100, epochs=4)  # steps = 4·ceil(n/100)
    n_long = 100 * XLA_MIN_STEPS // 4  # exactly XLA_MIN_STEPS steps
    n_short = n_long - 100  # one step an epoch fewer: 4 steps short

    c = choose_loop(dense, long, n_long)
    assert (c.loop, c.xla) == ("fast", True)
    c = choose_loop(dense, long, n_short)  # compile would not pay
    assert (c.loop, c.xla) == ("fast", False)
    assert str(XLA_MIN_STEPS - 4) in c.reason
    for model in (dropout, cnn):  # never XLA on the fast path
        c = choose_loop(model, long, 100 * n_long)
        assert (c.loop, c.xla) == ("fast", False)
    # a short run: the readable loop, exactly below the threshold
    n_min = 100 * FAST_PATH_MIN_STEPS // 4
    assert choose_loop(dropout, long, n_min).loop == "fast"
    c = choose_loop(dropout, long, n_min - 100)
    assert (c.loop, c.xla) == ("custom", False)
    assert str(FAST_PATH_MIN_STEPS - 4) in c.reason
    gd = TrainConfig(batch_size=0, epochs=8)  # one step an epoch
    assert choose_loop(dense, gd, 500).loop == "custom"
    # forced loops
    assert choose_loop(dense, long.replace(loop="fast"), n_short).xla
    assert choose_loop(dense, long.replace(loop="fast"), 10).loop == "fast"
    assert choose_loop(dropout, long.replace(jit=True), 10).xla
    assert choose_loop(dense, long.replace(loop="custom"),
                       n_long).loop == "custom"
    assert choose_loop(dense, long.replace(loop="fit"), n_long).loop == "fit"
    assert choose_loop(dense, long, n_long, replicas=2).loop == "custom"


def _keras_dropout_mlp():
    """An MLP with Keras's own Dropout (tfnn's factories build tfnn's)."""
    return keras.Sequential([
        keras.Input((28, 28)), keras.layers.Flatten(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dropout(0.5), keras.layers.Dense(10)])


def test_fast_path_jit_excludes_convolutions_dropout_and_augmentation():
    assert loop_choice.fast_path_jit(build_mlp(hidden=(8,), batch_norm=True))
    # tfnn's hashed-mask dropout compiles well; Keras's Philox one does not
    assert loop_choice.fast_path_jit(build_mlp(hidden=(8,), dropout=0.1,
                                            input_dropout=0.1))
    assert not loop_choice.fast_path_jit(_keras_dropout_mlp())
    assert not loop_choice.fast_path_jit(
        build_model(ModelConfig(arch="cnn", hidden=(8,), filters=(4,))))


@pytest.mark.slow
def test_run_takes_the_chosen_loop_and_records_it(mnist_builder):
    splits = data.load("mnist", validation_size=100, train_limit=500)
    cfg = ModelConfig(hidden=(16,), dropout=0.2)
    tc = TrainConfig(epochs=1, batch_size=2)  # 250 steps
    result = runner.train(cfg, tc, splits=splits, progress=False)
    assert result.summary["loop"]["loop"] == "fast"
    assert result.summary["loop"]["xla"] is False  # 250 < XLA_MIN_STEPS
    assert result.summary["train_config"]["loop"] == "auto"
    assert len(result.history.step_loss) == 250
    short = runner.train(cfg, tc.replace(batch_size=100), splits=splits,
                         progress=False)  # 5 steps
    assert short.summary["loop"]["loop"] == "custom"


# -- callbacks ----------------------------------------------------------------


def test_history_extend_appends_every_list():
    a = training.History(epoch=[1], loss=[0.5], step_loss=[1.0, 0.7])
    b = training.History(epoch=[2], loss=[0.3], step_loss=[0.4])
    a.extend(b)
    assert a.epoch == [1, 2] and a.loss == [0.5, 0.3]
    assert a.step_loss == [1.0, 0.7, 0.4]


@pytest.mark.slow
def test_fit_writes_history_json_equal_to_the_history(small, tmp_path):
    x, y = small[0][:500], small[1][:500]
    trainer = Trainer(build_mlp(hidden=(8,)), "adam", fast=True)
    seen = []
    keep = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append((epoch, dict(logs))))
    history = trainer.fit(x, y, epochs=2, batch_size=100, progress=False,
                          validation=(x[:100], y[:100]),
                          checkpoint_dir=str(tmp_path), callbacks=[keep])
    saved = json.loads((tmp_path / "history.json").read_text())
    assert saved == history.to_dict()
    assert history is trainer.history
    assert history.epoch == [1, 2] and len(history.step_loss) == 10
    # the user's callback saw the logs the History recorded
    assert [e for e, _ in seen] == [0, 1]
    assert [logs["loss"] for _, logs in seen] == history.loss
    assert [logs["val_accuracy"] for _, logs in seen] == history.val_accuracy
    assert all(logs["examples"] == 500 for _, logs in seen)
    # each epoch's loss is the example-weighted mean of its step losses
    for epoch in range(2):
        steps = history.step_loss[5 * epoch:5 * (epoch + 1)]
        assert history.loss[epoch] == pytest.approx(np.mean(steps),
                                                    rel=1e-6)


def test_fit_callbacks_run_in_their_order(tmp_path):
    trainer = Trainer(build_mlp(hidden=(8,)), "sgd")
    names = [type(c).__name__ for c in trainer.fit_callbacks(
        str(tmp_path / "c"), str(tmp_path / "t"), progress=True)]
    assert names == ["Checkpoints", "RecordHistory", "HistoryWriter",
                     "StopOnNonFinite", "ProgressBar", "EpochLogger",
                     "TensorBoardLogger"]
    plain = [type(c).__name__ for c in trainer.fit_callbacks(progress=False)]
    assert plain == ["RecordHistory", "StopOnNonFinite", "EpochLogger"]


def _events(folder, histograms=False):
    """{tag: [(step, value)]} of the scalars TensorBoard event files hold
    (with ``histograms``: {tag: [step]} of the histograms)."""
    found = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for v in event.summary.value:
                value = tf.make_ndarray(v.tensor)
                if value.ndim == 0 and not histograms:
                    found.setdefault(v.tag, []).append(
                        (event.step, float(value)))
                elif value.ndim > 0 and histograms:
                    found.setdefault(v.tag, []).append(event.step)
    return found


@pytest.mark.slow
def test_tensorboard_logs_the_history_scalars_and_every_step_loss(small,
                                                                   tmp_path):
    x, y = small[0][:300], small[1][:300]
    trainer = Trainer(build_mlp(hidden=(8,)), "adam", fast=True)
    history = trainer.fit(x, y, epochs=2, batch_size=100, progress=False,
                          tensorboard_dir=str(tmp_path), histograms=True)
    events = _events(tmp_path)
    np.testing.assert_allclose([v for _, v in events["loss"]], history.loss,
                               rtol=1e-6)
    assert [s for s, _ in events["loss"]] == [1, 2]
    assert [s for s, _ in events["step_loss"]] == list(range(6))
    np.testing.assert_allclose([v for _, v in events["step_loss"]],
                               history.step_loss, rtol=1e-6)
    np.testing.assert_allclose([v for _, v in events["learning_rate"]],
                               history.learning_rate, rtol=1e-6)
    # every layer's activations, every variable's gradient and value,
    # once an epoch
    hist = _events(tmp_path, histograms=True)
    layers = [layer.name for layer in trainer.model.layers]
    variables = trainer.model.trainable_variables
    assert len(hist) == len(layers) + 2 * len(variables)
    assert all(steps == [1, 2] for steps in hist.values())
    assert {f"activations/{name}" for name in layers} <= set(hist)


def test_stop_on_non_finite_names_epoch_step_and_learning_rate():
    stop = training.StopOnNonFinite(keras.optimizers.SGD(0.25))
    stop.on_epoch_begin(2)
    stop.on_train_batch_end(4, {"loss": 1.5})  # finite: nothing happens
    with pytest.raises(TrainingDiverged) as err:
        stop.on_train_batch_end(4, {"loss": math.inf})
    message = str(err.value)
    assert "epoch 3, step 5" in message and "0.25" in message
    assert "no checkpoint was written" in message


def test_epoch_logger_reports_examples_per_second(caplog):
    caplog.set_level("INFO")
    training.EpochLogger().on_epoch_end(0, {"loss": 0.5, "accuracy": 0.75,
                                            "seconds": 2.0, "examples": 900})
    line = caplog.records[-1].message
    assert line == "epoch 1: loss 0.5000 acc 0.7500 (2.0 s, 450 ex/s)"


@pytest.mark.slow
def test_fit_keras_raises_training_diverged_and_records_epochs(small):
    x, y = small
    history = training.fit_keras(build_mlp(hidden=(8,)),
                                 keras.optimizers.SGD(0.01), x[:500], y[:500],
                                 epochs=2, batch_size=100)
    assert history.epoch == [1, 2]
    assert history.learning_rate == pytest.approx([0.01, 0.01])
    with pytest.raises(TrainingDiverged, match="Exploding gradients"):
        training.fit_keras(build_mlp(hidden=(32,), initializer="unit_normal"),
                           keras.optimizers.SGD(1e4), x, y, epochs=2)


@pytest.mark.slow
def test_run_with_keras_fit_writes_tensorboard_scalars(mnist, tmp_path):
    result = runner.train(ModelConfig(hidden=(8,)),
                          TrainConfig(epochs=2, train_limit=500, loop="fit"),
                          out_dir=str(tmp_path), splits=mnist, progress=False)
    assert result.summary["loop"]["loop"] == "fit"
    events = _events(tmp_path / "tensorboard")
    np.testing.assert_allclose([v for _, v in events["loss"]],
                               result.history.loss, rtol=1e-6)


# -- the run's helpers --------------------------------------------------------


def test_examples_per_second_is_n_times_epochs_over_seconds():
    history = training.History(seconds=[1.5, 2.5])
    assert runner.examples_per_second(1000, history) == pytest.approx(500.0)


def test_predictions_are_the_argmax_of_the_outputs(small):
    model = build_mlp(hidden=(8,))
    x = small[0][:50]
    expected = model(x, training=False).numpy().argmax(-1)
    np.testing.assert_array_equal(predictions(model, x, batch_size=7),
                                  expected)


def test_babysit_reports_initial_loss_and_overfit_check(mnist, caplog):
    caplog.set_level("INFO")
    cfg = runner.RECOMMENDED_MODEL.replace(hidden=(32,))
    tc = TrainConfig(overfit_check=20)
    trainer = Trainer(build_model(cfg), "adam")
    initial, overfit = runner.babysit(trainer, cfg, tc, mnist)
    expected = trainer.initial_loss(mnist.x_train, mnist.y_train)
    assert initial == pytest.approx(expected)
    assert abs(initial["loss"] - math.log(10)) < 0.1  # small output layer
    assert overfit["n"] == 20 and overfit["reached"]
    lines = [r.message for r in caplog.records]
    assert any(m.startswith("initial loss") and "far from" not in m
               for m in lines)
    assert any("reached 100% training accuracy" in m for m in lines)
