"""Every initializer key against its formula's statistics."""

import math

import keras
import numpy as np
import pytest

from tfnn.models import build_mlp
from tfnn.nn import initializers

DENSE = (784, 256)  # fan_in 784, fan_out 256
CONV = (3, 3, 32, 64)  # fan_in 3·3·32 = 288, fan_out 3·3·64 = 576
FANS = {DENSE: (784, 256), CONV: (288, 576)}

# key -> (kind, spread(fan_in, fan_out, gain)): σ for normals, a for uniforms.
FORMULAS = {
    "small_normal": ("normal", lambda fi, fo, g: 0.01),
    "unit_normal": ("normal", lambda fi, fo, g: 1.0),
    "xavier_normal": ("normal", lambda fi, fo, g: g * math.sqrt(2 / (fi + fo))),
    "xavier_uniform": ("uniform",
                       lambda fi, fo, g: g * math.sqrt(6 / (fi + fo))),
    "he_normal": ("normal", lambda fi, fo, g: g * math.sqrt(2 / fi)),
    "he_uniform": ("uniform", lambda fi, fo, g: g * math.sqrt(6 / fi)),
    "lecun_normal": ("normal", lambda fi, fo, g: g * math.sqrt(1 / fi)),
}
SCHEMES = [k for k in FORMULAS if k not in ("small_normal", "unit_normal")]


def test_registry_has_every_key_of_the_notes():
    assert set(initializers.names()) == {*FORMULAS, "zeros", "rbm"}


def test_rbm_key_starts_from_small_normal_and_ignores_pretraining_args():
    w = np.asarray(initializers.get("rbm", seed=1, epochs=3, k=1)(DENSE))
    assert w.std() == pytest.approx(0.01, rel=0.03)


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
def test_fans_for_dense_and_conv_kernels(shape):
    assert initializers.fans(shape) == FANS[shape]


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("key", sorted(FORMULAS))
def test_sample_statistics_match_the_formula(key, shape):
    kind, spread = FORMULAS[key]
    fi, fo = FANS[shape]
    w = np.asarray(initializers.get(key, seed=7)(shape), dtype=np.float64)
    target = spread(fi, fo, 1.0)
    std = target / math.sqrt(3) if kind == "uniform" else target
    # mean ≈ 0 within 5 standard errors; std within 3 % of the formula
    assert abs(w.mean()) < 5 * std / math.sqrt(w.size)
    assert w.std() == pytest.approx(std, rel=0.03)
    if kind == "uniform":
        assert np.abs(w).max() <= target
        assert np.abs(w).max() > 0.99 * target


@pytest.mark.parametrize("key", ["xavier_normal", "he_normal", "lecun_normal"])
def test_normals_are_plain_not_truncated(key):
    # A plain normal has ≈ 4.55 % of its draws beyond 2σ; Keras's built-in
    # GlorotNormal/HeNormal truncate there and have none.
    _, spread = FORMULAS[key]
    sigma = spread(*FANS[DENSE], 1.0)
    w = np.asarray(initializers.get(key, seed=1)(DENSE))
    beyond = np.mean(np.abs(w) > 2 * sigma)
    assert beyond == pytest.approx(0.0455, abs=0.002)


@pytest.mark.parametrize("key", SCHEMES)
def test_gain_scales_the_spread(key):
    base = np.asarray(initializers.get(key, seed=3)(DENSE)).std()
    gained = np.asarray(initializers.get(key, gain=2.0, seed=3)(DENSE)).std()
    assert gained / base == pytest.approx(2.0, rel=1e-5)


def test_gain_must_be_positive():
    with pytest.raises(ValueError, match="gain=0"):
        initializers.get("he_normal", gain=0)


def test_zeros_gives_identical_units():
    model = build_mlp(hidden=(16, 8), initializer="zeros")
    kernel = model.get_layer("linear_0").kernel.numpy()
    assert np.all(kernel == 0)
    assert np.all(kernel == kernel[:, :1])  # every unit's column is the same


def test_two_layers_differ_and_the_same_seed_reproduces():
    a = keras.layers.Dense(32, kernel_initializer=initializers.get("he_normal"))
    b = keras.layers.Dense(32, kernel_initializer=initializers.get("he_normal"))
    a.build((None, 64))
    b.build((None, 64))
    assert not np.allclose(a.kernel.numpy(), b.kernel.numpy())

    def seeded():
        layer = keras.layers.Dense(
            32, kernel_initializer=initializers.get("he_normal", seed=11)
        )
        layer.build((None, 64))
        return layer.kernel.numpy()

    np.testing.assert_array_equal(seeded(), seeded())


def test_seeded_model_layers_differ_from_each_other():
    model = build_mlp(hidden=(32, 32, 32), initializer="he_normal",
                      initializer_kwargs={"seed": 5})
    k1 = model.get_layer("linear_1").kernel.numpy()
    k2 = model.get_layer("linear_2").kernel.numpy()
    assert not np.allclose(k1, k2)
    again = build_mlp(hidden=(32, 32, 32), initializer="he_normal",
                      initializer_kwargs={"seed": 5})
    np.testing.assert_array_equal(
        again.get_layer("linear_1").kernel.numpy(), k1)


@pytest.mark.parametrize("key", sorted({*FORMULAS, "zeros"}))
def test_round_trips_serialization(key):
    kwargs = {} if key == "zeros" else {"seed": 2}
    init = initializers.get(key, **kwargs)
    clone = keras.initializers.deserialize(keras.initializers.serialize(init))
    assert type(clone) is type(init)
    assert clone.get_config() == init.get_config()
    np.testing.assert_array_equal(
        np.asarray(clone((20, 30))), np.asarray(init((20, 30)))
    )


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ValueError, match="he_uniform"):
        initializers.get("kaiming")


@pytest.mark.parametrize("key", sorted(FORMULAS))
def test_an_unseeded_initializer_stays_unseeded_through_its_config(key):
    # Keras draws a fresh seed for seed=None; the config must keep None, or
    # every model rebuilt from it would draw the same weights.
    init = initializers.get(key)
    assert init.get_config()["seed"] is None
    first = type(init).from_config(init.get_config())
    second = type(init).from_config(init.get_config())
    assert first.get_config()["seed"] is None
    # Two initializers rebuilt from one unseeded config draw differently.
    assert not np.array_equal(np.asarray(first((50, 40))),
                              np.asarray(second((50, 40))))


def test_fans_follow_the_kernel_shape():
    assert initializers.fans((784, 256)) == (784, 256)
    assert initializers.fans((3, 3, 16, 32)) == (3 * 3 * 16, 3 * 3 * 32)
    assert initializers.fans((7,)) == (7, 7)
    assert initializers.fans(()) == (1, 1)
