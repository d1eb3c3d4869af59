"""Every activation key against its formula (values and derivatives)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnn.models import build_cnn, build_mlp
from tfnn.nn import activations

EXPECTED_KEYS = {
    "linear", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu",
    "maxout", "softmax", "relu6", "crelu", "softplus", "softsign", "relu_x",
}


def _sig(x):
    return 1 / (1 + np.exp(-x))


# key -> (kwargs, f(x), f'(x)) written from the formulas of the notes.
ELEMENTWISE = {
    "linear": ({}, lambda x: x, lambda x: np.ones_like(x)),
    "sigmoid": ({}, _sig, lambda x: _sig(x) * (1 - _sig(x))),
    "tanh": ({}, np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "relu": ({}, lambda x: np.maximum(0, x), lambda x: (x > 0) * 1.0),
    "leaky_relu": (
        {},
        lambda x: np.maximum(0.01 * x, x),
        lambda x: np.where(x > 0, 1.0, 0.01),
    ),
    "prelu": (  # α starts at 0.25
        {},
        lambda x: np.where(x > 0, x, 0.25 * x),
        lambda x: np.where(x > 0, 1.0, 0.25),
    ),
    "elu": (
        {},
        lambda x: np.where(x >= 0, x, np.exp(x) - 1),
        lambda x: np.where(x >= 0, 1.0, np.exp(x)),
    ),
    "relu6": (
        {},
        lambda x: np.minimum(np.maximum(0, x), 6),
        lambda x: ((x > 0) & (x < 6)) * 1.0,
    ),
    "relu_x": (
        {"max_value": 2.5},
        lambda x: np.minimum(np.maximum(0, x), 2.5),
        lambda x: ((x > 0) & (x < 2.5)) * 1.0,
    ),
    "softplus": ({}, lambda x: np.log1p(np.exp(x)), _sig),
    "softsign": (
        {},
        lambda x: x / (1 + np.abs(x)),
        lambda x: 1 / (1 + np.abs(x)) ** 2,
    ),
}

# 80 points in [-8, 8]: none is exactly 0, 2.5 or 6 (the kinks).
GRID = np.linspace(-8, 8, 80).astype("float32")


def test_registry_has_every_key_of_the_notes():
    assert set(activations.names()) == EXPECTED_KEYS


@pytest.mark.parametrize("key", sorted(ELEMENTWISE))
def test_values_and_derivatives_match_formula(key):
    kwargs, f, df = ELEMENTWISE[key]
    layer = activations.get(key, **kwargs)
    x = tf.Variable(GRID[None, :])
    with tf.GradientTape() as tape:
        y = layer(x)
        total = tf.reduce_sum(y)
    grad = tape.gradient(total, x)
    np.testing.assert_allclose(y.numpy()[0], f(GRID), atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(grad.numpy()[0], df(GRID), atol=1e-6, rtol=1e-5)


def test_softmax_is_normalized_exponential():
    x = np.stack([GRID[:10], GRID[-10:]])
    y = activations.get("softmax")(x).numpy()
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-6)


def test_crelu_doubles_width():
    x = GRID[None, :]
    y = activations.get("crelu")(x).numpy()
    assert y.shape == (1, 160)
    np.testing.assert_allclose(
        y[0], np.concatenate([np.maximum(0, GRID), np.maximum(0, -GRID)])
    )


@pytest.mark.parametrize("pieces", [2, 3])
def test_maxout_takes_the_max_of_k_pieces(pieces):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4 * pieces)).astype("float32")
    layer = activations.get("maxout", pieces=pieces)
    y = layer(x).numpy()
    expected = x.reshape(5, 4, pieces).max(axis=-1)
    np.testing.assert_allclose(y, expected)
    # The gradient flows only to the winning piece of each unit.
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(layer(xv))
    g = tape.gradient(total, xv).numpy().reshape(5, 4, pieces)
    winners = x.reshape(5, 4, pieces).argmax(-1)
    np.testing.assert_array_equal(g.argmax(-1), winners)
    np.testing.assert_allclose(g.sum(-1), 1.0)


@pytest.mark.parametrize("pieces", [2, 3])
def test_maxout_model_has_k_times_the_dense_parameters(pieces):
    relu = build_mlp(hidden=(64,), activation="relu")
    maxout = build_mlp(
        hidden=(64,), activation="maxout", activation_kwargs={"pieces": pieces}
    )
    n_relu = relu.get_layer("linear_0").count_params()
    n_max = maxout.get_layer("linear_0").count_params()
    assert n_relu == 784 * 64 + 64
    assert n_max == pieces * n_relu
    assert maxout.get_layer("act_0").output.shape[-1] == 64


def test_maxout_rejects_width_not_divisible_by_k():
    with pytest.raises(ValueError, match="divisible by 3"):
        activations.get("maxout", pieces=3)(np.zeros((1, 7), "float32"))


@pytest.mark.parametrize(
    "kwargs, alpha",
    [({}, 0.01), ({"alpha": 0.1}, 0.1), ({"negative_slope": 0.2}, 0.2)],
)
def test_leaky_relu_alpha(kwargs, alpha):
    layer = activations.get("leaky_relu", **kwargs)
    y = layer(np.array([[-1.0, 2.0]], "float32")).numpy()
    np.testing.assert_allclose(y, [[-alpha, 2.0]], rtol=1e-6)


def test_leaky_relu_rejects_both_names_and_bad_slope():
    with pytest.raises(ValueError, match="not both"):
        activations.get("leaky_relu", alpha=0.1, negative_slope=0.1)
    with pytest.raises(ValueError, match="alpha=1.5"):
        activations.get("leaky_relu", alpha=1.5)


def test_prelu_alpha_is_learned_by_a_training_step():
    layer = activations.get("prelu")
    x = tf.constant(-np.abs(GRID[None, :8]))  # all negative: dL/dα ≠ 0
    layer.build(x.shape)
    before = layer.alpha.numpy().copy()
    opt = keras.optimizers.SGD(0.1)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    grads = tape.gradient(loss, layer.trainable_variables)
    opt.apply(grads, layer.trainable_variables)
    after = layer.alpha.numpy()
    # d/dα Σ (αx)² = 2αx², so α moves by -lr·2αx² exactly.
    x0 = x.numpy()[0]
    np.testing.assert_allclose(after, before - 0.1 * 2 * before * x0**2,
                               rtol=1e-5)
    assert np.all(after != before)


def test_prelu_after_conv_shares_alpha_across_space():
    model = build_cnn(filters=(8, 16), hidden=(32,), activation="prelu")
    assert model.get_layer("act_0").count_params() == 8  # C, not H·W·C
    assert model.get_layer("act_1").count_params() == 16
    assert model.get_layer("act_2").count_params() == 32  # dense: per unit


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ValueError) as err:
        activations.get("swishy")
    for key in EXPECTED_KEYS:
        assert key in str(err.value)


def test_objects_pass_through_and_kwargs_need_a_key():
    layer = keras.layers.ReLU()
    assert activations.get(layer) is layer
    with pytest.raises(ValueError, match="only apply"):
        activations.get(layer, alpha=0.1)


@pytest.mark.parametrize("key", sorted(EXPECTED_KEYS))
def test_every_activation_layer_round_trips_its_config(key):
    layer = activations.get(key)
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    x = np.linspace(-3, 3, 12, dtype="float32")[None, :]
    np.testing.assert_allclose(clone(x).numpy(), layer(x).numpy())
