"""tfnn.nn.dropout: the hashed mask against its formula and its statistics,
and the layer against note 002's inverted dropout."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnn.models import build_mlp, load_model, save_model
from tfnn.nn import dropout


def _fmix32_reference(h):
    """Murmur3's fmix32 in plain Python integers."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


def test_fmix32_is_murmur3s_finalizer():
    values = np.array([0, 1, 2, 12345, 2**31, 2**32 - 1], np.uint32)
    got = dropout.fmix32(tf.constant(values)).numpy()
    assert [int(v) for v in got] == [_fmix32_reference(int(v))
                                     for v in values]


def test_uniform_bits_follow_their_formula():
    seed = (7, 3)
    k = [_fmix32_reference((s + j) & 0xFFFFFFFF)
         for s, j in zip(seed, (1, 2))]
    expected = [_fmix32_reference(
        _fmix32_reference((i * 0x9E3779B9 + k[0]) & 0xFFFFFFFF) ^ k[1])
        for i in range(6)]
    got = dropout.uniform_bits([2, 3], tf.constant(seed)).numpy()
    assert got.shape == (2, 3)
    assert [int(v) for v in got.ravel()] == expected


def test_uniform_bits_look_uniform_and_independent():
    n = 1 << 18
    u = dropout.uniform_bits([n], tf.constant([5, 0])).numpy()
    u = u.astype(np.float64) / 2**32
    # 16 equal bins: chi-square with 15 degrees of freedom, far below the
    # 0.001 quantile (37.7) for a uniform generator
    counts = np.bincount((u * 16).astype(int), minlength=16)
    chi2 = np.sum((counts - n / 16) ** 2 / (n / 16))
    assert chi2 < 37.7
    # neighbours, and the next seed's draw, are uncorrelated: |r| < 4/sqrt(n)
    v = dropout.uniform_bits([n], tf.constant([5, 1])).numpy() / 2**32
    for a, b in ((u[:-1], u[1:]), (u, v)):
        assert abs(np.corrcoef(a, b)[0, 1]) < 4 / math.sqrt(n)


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_dropout_layer_masks_and_inverted_scaling(rate):
    n = 200_000
    layer = dropout.Dropout(rate, seed=1)
    out = layer(tf.ones((n,)), training=True).numpy()
    zeros = np.mean(out == 0)
    # binomial: fraction of zeros ≈ rate within 4 standard errors
    assert abs(zeros - rate) < 4 * math.sqrt(rate * (1 - rate) / n)
    np.testing.assert_allclose(out[out != 0], 1 / (1 - rate), rtol=1e-6)
    # the mean is preserved: E[out] = 1, sd of the mean sqrt(r/(1-r)/n)
    assert abs(out.mean() - 1) < 4 * math.sqrt(rate / (1 - rate) / n)
    # each call draws a new mask: two masks agree on r² + (1 − r)²
    again = layer(tf.ones((n,)), training=True).numpy()
    agree = np.mean((out == 0) == (again == 0))
    assert abs(agree - (rate**2 + (1 - rate) ** 2)) < 0.01
    # inference passes the input through
    np.testing.assert_array_equal(layer(tf.ones((8,)), training=False), 1.0)


def test_dropout_edges_and_noise_shape():
    x = tf.ones((64, 32))
    np.testing.assert_array_equal(dropout.Dropout(0.0)(x, training=True), x)
    np.testing.assert_array_equal(dropout.Dropout(1.0)(x, training=True), 0)
    rows = dropout.Dropout(0.5, noise_shape=(None, 1), seed=2)(
        x, training=True).numpy()
    # one draw per row: every row is all 0 or all 2
    assert set(np.unique(rows.min(1) == rows.max(1))) == {True}
    assert 10 < np.sum(rows[:, 0] == 0) < 54


def test_the_mask_is_the_same_under_xla_and_in_a_graph():
    seed = tf.constant([11, 4])

    def mask(s):
        return dropout.keep_mask([128, 300], s, 0.3)

    graph = tf.function(mask)(seed).numpy()
    xla = tf.function(mask, jit_compile=True)(seed).numpy()
    np.testing.assert_array_equal(graph, xla)
    assert abs(graph.mean() - 0.7) < 0.02


def test_dropout_models_save_and_load_with_their_layer(tmp_path):
    model = build_mlp(hidden=(8,), dropout=0.25, input_dropout=0.1)
    layer = model.get_layer("dropout_0")
    assert type(layer) is dropout.Dropout
    assert isinstance(layer, keras.layers.Dropout)
    path = str(tmp_path / "m.keras")
    save_model(model, path)
    loaded = load_model(path)
    assert type(loaded.get_layer("dropout_0")) is dropout.Dropout
    assert loaded.get_layer("dropout_0").rate == 0.25
    x = np.random.default_rng(0).random((4, 28, 28), np.float32)
    np.testing.assert_allclose(loaded(x, training=False),
                               model(x, training=False), rtol=1e-6)
