"""The RBM of note 002 against its formulas, and experiment 14's claims."""

import itertools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnn.models import build_cnn, build_mlp
from tfnn.nn import rbm
from tfnn.studies import mnist_runs
from tfnn.studies.experiments import get

# A tiny RBM: 4 visible, 3 hidden units.
W = np.array([[0.5, -1.0, 0.2],
              [0.3, 0.8, -0.4],
              [-0.6, 0.1, 0.9],
              [0.2, -0.3, 0.4]], dtype=np.float32)
B = np.array([0.1, -0.2, 0.3, 0.0], dtype=np.float32)  # visible bias
C = np.array([-0.1, 0.2, 0.05], dtype=np.float32)  # hidden bias
V0 = np.array([[1, 0, 1, 1],
               [0, 1, 0, 0]], dtype=np.float32)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.log1p(np.exp(x))


def tiny(k=1, learning_rate=0.5):
    layer = rbm.RBM(3, k=k, learning_rate=learning_rate, seed=0)
    layer.build((None, 4))
    layer.kernel.assign(W)
    layer.visible_bias.assign(B)
    layer.hidden_bias.assign(C)
    return layer


def uniforms(k, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.uniform(size=(k, 2, 3)).astype(np.float32),
            rng.uniform(size=(k, 2, 4)).astype(np.float32))


def test_conditionals_and_samples_follow_the_formulas():
    layer = tiny()
    ph = sigmoid(C + V0 @ W)
    u = np.full((2, 3), 0.5, dtype=np.float32)
    p, h = layer.sample_h(tf.constant(V0), u)
    np.testing.assert_allclose(p, ph, rtol=1e-6)
    # The sample compares u with the layer's own p (equal to the formula's
    # within rounding, above), so it holds on any machine even where u
    # and p meet (sigmoid(0) = 0.5 here).
    np.testing.assert_array_equal(h, (u < np.asarray(p)).astype(np.float32))
    pv = sigmoid(B + np.asarray(h) @ W.T)
    p, v = layer.sample_v(h, np.full((2, 4), 0.5, dtype=np.float32))
    np.testing.assert_allclose(p, pv, rtol=1e-6)
    np.testing.assert_array_equal(v, (0.5 < np.asarray(p)).astype(np.float32))
    np.testing.assert_allclose(layer(V0), ph, rtol=1e-6)


def test_cd1_update_equals_the_hand_computed_formula():
    lr, layer = 0.5, tiny(k=1, learning_rate=0.5)
    uh, uv = uniforms(1)
    ph0 = sigmoid(C + V0 @ W)
    h0 = (uh[0] < ph0).astype(np.float32)
    pv1 = sigmoid(B + h0 @ W.T)
    v1 = (uv[0] < pv1).astype(np.float32)
    # No probability within rounding of its uniform: the same samples on
    # any machine.
    assert min(np.abs(uh[0] - ph0).min(), np.abs(uv[0] - pv1).min()) > 1e-5
    ph1 = sigmoid(C + v1 @ W)
    dw = lr * (V0.T @ ph0 - v1.T @ ph1) / len(V0)
    db = lr * (V0 - v1).mean(axis=0)
    dc = lr * (ph0 - ph1).mean(axis=0)
    assert np.abs(dw).max() > 1e-3  # the samples make a real update

    vk, phk = layer.cd_update(tf.constant(V0), uh, uv)

    np.testing.assert_array_equal(vk, v1)
    np.testing.assert_allclose(phk, ph1, rtol=1e-6)
    np.testing.assert_allclose(layer.kernel.numpy(), W + dw, atol=1e-6)
    np.testing.assert_allclose(layer.visible_bias.numpy(), B + db, atol=1e-6)
    np.testing.assert_allclose(layer.hidden_bias.numpy(), C + dc, atol=1e-6)


def test_cd2_runs_the_gibbs_chain_twice():
    lr, layer = 0.1, tiny(k=2, learning_rate=0.1)
    uh, uv = uniforms(2, seed=7)
    ph0 = sigmoid(C + V0 @ W)
    h = (uh[0] < ph0).astype(np.float32)
    v1 = (uv[0] < sigmoid(B + h @ W.T)).astype(np.float32)
    h = (uh[1] < sigmoid(C + v1 @ W)).astype(np.float32)
    v2 = (uv[1] < sigmoid(B + h @ W.T)).astype(np.float32)
    ph2 = sigmoid(C + v2 @ W)
    layer.cd_update(tf.constant(V0), uh, uv)
    np.testing.assert_allclose(
        layer.kernel.numpy(), W + lr * (V0.T @ ph0 - v2.T @ ph2) / 2,
        atol=1e-6)


def test_cd_update_is_a_step_down_the_free_energy_difference():
    """ΔW, Δb, Δc = −lr·∇[mean F(v0) − mean F(vk)] with vk held fixed."""
    lr, layer = 0.5, tiny(learning_rate=0.5)
    ref = tiny(learning_rate=0.5)
    uh, uv = uniforms(1, seed=3)
    vk, _ = layer.cd_update(tf.constant(V0), uh, uv)
    weights = [ref.kernel, ref.visible_bias, ref.hidden_bias]
    with tf.GradientTape() as tape:
        gap = (tf.reduce_mean(ref.free_energy(tf.constant(V0)))
               - tf.reduce_mean(ref.free_energy(vk)))
    grads = tape.gradient(gap, weights)
    for var, g, start in zip([layer.kernel, layer.visible_bias,
                              layer.hidden_bias], grads, (W, B, C)):
        np.testing.assert_allclose(var.numpy(), start - lr * g.numpy(),
                                   atol=1e-6)


def test_free_energy_formula_by_hand_and_by_summing_out_h():
    layer = tiny()
    f = layer.free_energy(tf.constant(V0)).numpy()
    by_hand = -V0 @ B - softplus(C + V0 @ W).sum(axis=1)
    np.testing.assert_allclose(f, by_hand, rtol=1e-6)
    # F(v) = −log Σ_h exp(−E(v, h)), E = −bᵀv − cᵀh − vᵀWh: all 2³ h.
    hs = np.array(list(itertools.product([0, 1], repeat=3)), np.float64)
    for v, fv in zip(V0.astype(np.float64), f):
        energies = -(v @ B) - hs @ C - (v @ W) @ hs.T
        np.testing.assert_allclose(fv, -np.log(np.exp(-energies).sum()),
                                   rtol=1e-5)


def test_reconstruction_error_is_the_mean_field_mse():
    layer = tiny()
    recon = sigmoid(B + sigmoid(C + V0 @ W) @ W.T)
    np.testing.assert_allclose(layer.reconstruction_error(tf.constant(V0)),
                               np.mean((V0 - recon) ** 2), rtol=1e-6)


def test_train_step_draws_reproducible_samples():
    data = (np.random.default_rng(0).uniform(size=(16, 4)) > 0.5)
    data = data.astype(np.float32)
    results = []
    for _ in range(2):
        layer = rbm.RBM(3, seed=5)
        for _ in range(3):
            layer.train_step(data)
        results.append(layer.kernel.numpy())
    np.testing.assert_array_equal(*results)


def test_get_config_round_trips():
    layer = rbm.RBM(7, k=3, learning_rate=0.05, init_stddev=0.02, seed=4)
    clone = rbm.RBM.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    again = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer))
    assert isinstance(again, rbm.RBM) and again.units == 7 and again.k == 3


@pytest.mark.parametrize("kwargs", [{"units": 0}, {"units": 3, "k": 0},
                                    {"units": 3, "learning_rate": 0.0}])
def test_invalid_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        rbm.RBM(**kwargs)


# --------------------------------------------------------------------------
# On real MNIST
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minmax_images(mnist_builder):
    return mnist_runs.mnist("minmax").x_train[:2000]


@pytest.mark.slow
def test_pretrain_lowers_the_reconstruction_error_every_epoch(minmax_images):
    result = rbm.pretrain((64, 32), minmax_images, epochs=3, batch_size=32,
                          seed=0)
    assert [w.shape for w in result["weights"]] == [(784, 64), (64, 32)]
    for errors in result["errors"]:
        assert len(errors) == 4  # before training + 3 epochs
        assert all(b < a for a, b in zip(errors, errors[1:])), errors
        assert errors[-1] < 0.5 * errors[0]


@pytest.mark.slow
def test_pretrain_model_copies_the_stack_into_the_hidden_layers(
        minmax_images):
    x = minmax_images[:500]
    model = build_mlp((32, 16), activation="sigmoid",
                      initializer="small_normal")
    logits_before = model.get_layer("logits").kernel.numpy().copy()
    errors = rbm.pretrain_model(model, x, epochs=1, seed=3)
    ref = rbm.pretrain((32, 16), x, epochs=1, seed=3,
                       **{k: v for k, v in rbm.DEFAULTS.items()
                          if k not in ("epochs", "seed")})
    assert errors == ref["errors"]
    for i in range(2):
        layer = model.get_layer(f"linear_{i}")
        np.testing.assert_array_equal(layer.kernel.numpy(),
                                      ref["weights"][i])
        np.testing.assert_array_equal(layer.bias.numpy(),
                                      ref["hidden_biases"][i])
    np.testing.assert_array_equal(model.get_layer("logits").kernel.numpy(),
                                  logits_before)


@pytest.mark.slow
def test_pretrain_model_refuses_what_an_rbm_cannot_model(minmax_images):
    mlp = build_mlp((8,), activation="sigmoid")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rbm.pretrain_model(mlp, minmax_images[:50] - 0.5, epochs=1)
    with pytest.raises(ValueError, match="Unknown"):
        rbm.pretrain_model(mlp, minmax_images[:50], epoch=1)
    with pytest.raises(ValueError, match="MLP"):
        rbm.pretrain_model(build_cnn((4,), (8,)), minmax_images[:50])


# --------------------------------------------------------------------------
# Experiment 14 (quick mode)
# --------------------------------------------------------------------------

NAME = "rbm_pretraining"


@pytest.fixture(scope="module")
def result(run_quick, mnist_builder):
    return run_quick(NAME)


@pytest.mark.slow
def test_experiment_pretraining_lowers_reconstruction_error(result):
    errors = result["reconstruction_errors"]
    assert len(errors) == len(result["config"]["hidden"])
    for errs in errors:
        assert len(errs) == result["config"]["rbm_epochs"] + 1
        assert all(b < a for a, b in zip(errs, errs[1:])), errs


@pytest.mark.slow
def test_experiment_fine_tuned_model_beats_chance_by_far(result):
    acc = result["test_accuracy"]
    assert acc["rbm"] > 0.80
    # Same MLP, optimizer and batches from 0.01·N(0, 1): far behind.
    assert acc["rbm"] > acc["small_normal"] + 0.3


@pytest.mark.slow
def test_experiment_plot_and_files(result, experiment_dir, check_figure):
    check_figure(get(NAME).plot(result))
    assert (experiment_dir / f"{NAME}.png").is_file()
    loaded = json.loads((experiment_dir / f"{NAME}.json").read_text())
    text = get(NAME).summarize(loaded)
    assert "holds" in text and "%" in text
