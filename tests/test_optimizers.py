"""Tests for tfnn.nn.optimizers: every key against its rule written out by hand.

The reference rules below are written from the published forms (Keras's
documented conventions for the built-ins, TF1's ``training_ops.cc`` kernels
for the proximal and DA optimizers) in float64 NumPy, never by calling the
code under test. The problem is f(w) = 1/2 w^T A w with A = diag(1, 10), so
the gradient is A*w, started from w0 = [1, 1]; two steps.
"""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnn.nn import optimizers
from tfnn.nn.optimizers.proximal import L1_L2_ARGS

KEYS = [
    "gd",
    "sgd",
    "momentum",
    "nag",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "adamax",
    "nadam",
    "ftrl",
    "proximal_gd",
    "proximal_adagrad",
    "adagrad_da",
]
CUSTOM = {
    "proximal_gd": optimizers.ProximalGradientDescent,
    "proximal_adagrad": optimizers.ProximalAdagrad,
    "adagrad_da": optimizers.AdagradDA,
}

A = np.array([1.0, 10.0])  # diag(A)
W0 = np.array([1.0, 1.0])
STEPS = 2
TOL = 1e-5


def grad(w):
    return A * w  # gradient of 1/2 w^T A w


def run_optimizer(optimizer, steps=STEPS):
    w = keras.Variable(W0.astype("float32"))
    a = tf.constant(A, dtype="float32")
    for _ in range(steps):
        optimizer.apply([a * w], [w])
    return w.numpy()


# --- reference rules, float64 NumPy -----------------------------------------


def ref_sgd(lr):
    w = W0.copy()
    for _ in range(STEPS):
        w = w - lr * grad(w)
    return w


def ref_momentum(lr, mu):
    # Keras SGD: v = mu*v - lr*g; w += v
    w, v = W0.copy(), np.zeros(2)
    for _ in range(STEPS):
        v = mu * v - lr * grad(w)
        w = w + v
    return w


def ref_nesterov(lr, mu):
    # Keras SGD(nesterov=True): v = mu*v - lr*g; w += mu*v - lr*g
    w, v = W0.copy(), np.zeros(2)
    for _ in range(STEPS):
        g = grad(w)
        v = mu * v - lr * g
        w = w + mu * v - lr * g
    return w


def ref_adagrad(lr, init=0.1, eps=1e-7):
    # Keras Adagrad: accumulator starts at 0.1, eps inside the sqrt.
    w, acc = W0.copy(), np.full(2, init)
    for _ in range(STEPS):
        g = grad(w)
        acc = acc + g**2
        w = w - lr * g / np.sqrt(acc + eps)
    return w


def ref_rmsprop(lr, rho=0.9, eps=1e-7):
    # Keras RMSprop: ms starts at 0, eps inside the sqrt.
    w, ms = W0.copy(), np.zeros(2)
    for _ in range(STEPS):
        g = grad(w)
        ms = rho * ms + (1 - rho) * g**2
        w = w - lr * g / np.sqrt(ms + eps)
    return w


def ref_adadelta(lr, rho, eps):
    # Zeiler (2012), Algorithm 1, times Keras's learning rate.
    w, eg2, edx2 = W0.copy(), np.zeros(2), np.zeros(2)
    for _ in range(STEPS):
        g = grad(w)
        eg2 = rho * eg2 + (1 - rho) * g**2
        dx = -np.sqrt(edx2 + eps) / np.sqrt(eg2 + eps) * g
        edx2 = rho * edx2 + (1 - rho) * dx**2
        w = w + lr * dx
    return w


def ref_adam(lr, b1=0.9, b2=0.999, eps=1e-7):
    # Kingma & Ba, Sec. 2 end: bias correction folded into the step size,
    # eps outside the sqrt (Keras's and TF's form).
    w, m, v = W0.copy(), np.zeros(2), np.zeros(2)
    for t in range(1, STEPS + 1):
        g = grad(w)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        w = w - lr_t * m / (np.sqrt(v) + eps)
    return w


def ref_adamax(lr, b1=0.9, b2=0.999, eps=1e-7):
    # Kingma & Ba, Algorithm 2; Keras adds eps to u.
    w, m, u = W0.copy(), np.zeros(2), np.zeros(2)
    for t in range(1, STEPS + 1):
        g = grad(w)
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g))
        w = w - lr * m / ((1 - b1**t) * (u + eps))
    return w


def ref_nadam(lr, b1=0.9, b2=0.999, eps=1e-7):
    # Dozat (2016) with the momentum schedule mu_t = b1*(1 - 0.5*0.96**t).
    def mu(t):
        return b1 * (1 - 0.5 * 0.96**t)

    w, m, v, prod = W0.copy(), np.zeros(2), np.zeros(2), 1.0
    for t in range(1, STEPS + 1):
        g = grad(w)
        prod = prod * mu(t)  # mu_1 * ... * mu_t
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = mu(t + 1) * m / (1 - prod * mu(t + 1)) + (1 - mu(t)) * g / (
            1 - prod
        )
        v_hat = v / (1 - b2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w


def ref_ftrl(lr, l1, l2, init=0.1):
    # TF1 ApplyFtrl with lr_power = -0.5.
    w, n, z = W0.copy(), np.full(2, init), np.zeros(2)
    for _ in range(STEPS):
        g = grad(w)
        n_new = n + g**2
        z = z + g - (np.sqrt(n_new) - np.sqrt(n)) / lr * w
        quadratic = np.sqrt(n_new) / lr + 2 * l2
        w = np.where(np.abs(z) > l1, (np.sign(z) * l1 - z) / quadratic, 0.0)
        n = n_new
    return w


def prox(v, step, l1, l2):
    # FOBOS closed form: argmin_w 1/2|w-v|^2 + step*(l1|w| + l2/2 w^2).
    return np.sign(v) * np.maximum(np.abs(v) - step * l1, 0) / (1 + step * l2)


def ref_proximal_gd(lr, l1, l2):
    w = W0.copy()
    for _ in range(STEPS):
        w = prox(w - lr * grad(w), lr, l1, l2)
    return w


def ref_proximal_adagrad(lr, l1, l2, init=0.1):
    w, acc = W0.copy(), np.full(2, init)
    for _ in range(STEPS):
        g = grad(w)
        acc = acc + g**2
        step = lr / np.sqrt(acc)
        w = prox(w - step * g, step, l1, l2)
    return w


def ref_adagrad_da(lr, l1, l2, init=0.1):
    # Closed form from the gradient sums G, GG at step t (1 on the first).
    w, big_g, big_gg = W0.copy(), np.zeros(2), np.full(2, init)
    for t in range(1, STEPS + 1):
        g = grad(w)
        big_g = big_g + g
        big_gg = big_gg + g**2
        shrunk = np.maximum(np.abs(big_g) - l1 * t, 0)
        w = np.sign(-big_g) * shrunk * lr / (l2 * t * lr + np.sqrt(big_gg))
    return w


# key -> [(kwargs for optimizers.get, expected w after STEPS steps)]. A case
# with no kwargs checks the factory's defaults, typed here by hand.
CASES = {
    "gd": [({"learning_rate": 0.05}, ref_sgd(0.05)), ({}, ref_sgd(0.01))],
    "sgd": [({"learning_rate": 0.05}, ref_sgd(0.05)), ({}, ref_sgd(0.01))],
    "momentum": [
        ({"learning_rate": 0.05, "momentum": 0.8}, ref_momentum(0.05, 0.8)),
        ({}, ref_momentum(0.01, 0.9)),
    ],
    "nag": [
        ({"learning_rate": 0.1, "momentum": 0.5}, ref_nesterov(0.1, 0.5)),
        ({}, ref_nesterov(0.01, 0.9)),
    ],
    "adagrad": [
        ({"learning_rate": 0.1}, ref_adagrad(0.1)),
        ({}, ref_adagrad(0.01)),
    ],
    "rmsprop": [
        ({"learning_rate": 0.01, "rho": 0.8}, ref_rmsprop(0.01, rho=0.8)),
        ({}, ref_rmsprop(0.001)),
    ],
    "adadelta": [
        ({"rho": 0.9, "epsilon": 1e-2}, ref_adadelta(1.0, 0.9, 1e-2)),
        ({}, ref_adadelta(1.0, 0.95, 1e-6)),
    ],
    "adam": [
        (
            {"learning_rate": 0.1, "beta_1": 0.8, "beta_2": 0.9},
            ref_adam(0.1, b1=0.8, b2=0.9),
        ),
        ({}, ref_adam(0.001)),
    ],
    "adamax": [
        ({"learning_rate": 0.1, "beta_1": 0.8}, ref_adamax(0.1, b1=0.8)),
        ({}, ref_adamax(0.001)),
    ],
    "nadam": [
        ({"learning_rate": 0.1, "beta_2": 0.9}, ref_nadam(0.1, b2=0.9)),
        ({}, ref_nadam(0.001)),
    ],
    "ftrl": [
        (
            {
                "learning_rate": 0.5,
                "l1_regularization_strength": 0.2,
                "l2_regularization_strength": 1.0,
            },
            ref_ftrl(0.5, l1=0.2, l2=1.0),
        ),
        (
            {"learning_rate": 0.5, "l2_regularization_strength": 1.0},
            ref_ftrl(0.5, l1=0.0, l2=1.0),
        ),
    ],
    "proximal_gd": [
        (
            {
                "learning_rate": 0.05,
                "l1_regularization_strength": 2.0,
                "l2_regularization_strength": 1.0,
            },
            ref_proximal_gd(0.05, l1=2.0, l2=1.0),
        ),
        (
            {"learning_rate": 0.05, "l2_regularization_strength": 1.0},
            ref_proximal_gd(0.05, l1=0.0, l2=1.0),
        ),
        ({}, ref_sgd(0.01)),  # l1 = l2 = 0 is plain gradient descent
    ],
    "proximal_adagrad": [
        (
            {
                "learning_rate": 0.5,
                "l1_regularization_strength": 0.5,
                "l2_regularization_strength": 1.0,
            },
            ref_proximal_adagrad(0.5, l1=0.5, l2=1.0),
        ),
        (
            {"learning_rate": 0.5, "l2_regularization_strength": 1.0},
            ref_proximal_adagrad(0.5, l1=0.0, l2=1.0),
        ),
        ({}, ref_adagrad(0.01, eps=0.0)),  # TF1 Adagrad: no eps
    ],
    "adagrad_da": [
        (
            {
                "learning_rate": 0.5,
                "l1_regularization_strength": 0.5,
                "l2_regularization_strength": 1.0,
            },
            ref_adagrad_da(0.5, l1=0.5, l2=1.0),
        ),
        (
            {"learning_rate": 0.5, "l2_regularization_strength": 1.0},
            ref_adagrad_da(0.5, l1=0.0, l2=1.0),
        ),
        ({}, ref_adagrad_da(0.01, l1=0.0, l2=0.0)),
    ],
}


def test_keys_are_the_fourteen_of_the_notes():
    assert optimizers.names() == sorted(KEYS)
    assert sorted(CASES) == sorted(KEYS)


@pytest.mark.parametrize("key", optimizers.names())
def test_two_steps_match_the_rule(key):
    for kwargs, expected in CASES[key]:
        optimizer = optimizers.get(key, **kwargs)
        actual = run_optimizer(optimizer)
        np.testing.assert_allclose(
            actual, expected, rtol=0, atol=TOL, err_msg=f"{key} {kwargs}"
        )
        # The step moved the weights: the case tests something.
        assert not np.allclose(actual, W0)


def test_regularization_changes_the_cases():
    # The l1 and l2 cases above must move the weights away from the
    # unregularized rule, or they would not test the l1/l2 branches.
    unregularized = {
        "ftrl": ref_ftrl(0.5, l1=0.0, l2=0.0),
        "proximal_gd": ref_proximal_gd(0.05, l1=0.0, l2=0.0),
        "proximal_adagrad": ref_proximal_adagrad(0.5, l1=0.0, l2=0.0),
        "adagrad_da": ref_adagrad_da(0.5, l1=0.0, l2=0.0),
    }
    for key, base in unregularized.items():
        (_, l1_and_l2), (_, l2_only) = CASES[key][:2]
        assert np.abs(l1_and_l2 - l2_only).max() > 1e-2, key
        assert np.abs(l2_only - base).max() > 1e-2, key


def test_hand_computed_first_steps():
    # Numbers worked on paper, to pin the reference rules themselves.
    # sgd, lr=0.05: w = [1, 1] - 0.05*[1, 10] = [0.95, 0.5]
    np.testing.assert_allclose(
        run_optimizer(optimizers.get("sgd", learning_rate=0.05), 1),
        [0.95, 0.5],
        atol=TOL,
    )
    # proximal_gd, lr=0.05, l1=2, l2=1: prox_v = [0.95, 0.5];
    # (prox_v - 0.1) / 1.05 = [0.85, 0.4] / 1.05
    np.testing.assert_allclose(
        run_optimizer(
            optimizers.get(
                "proximal_gd",
                learning_rate=0.05,
                l1_regularization_strength=2.0,
                l2_regularization_strength=1.0,
            ),
            1,
        ),
        [0.85 / 1.05, 0.4 / 1.05],
        atol=TOL,
    )
    # adagrad_da, lr=0.5, l1=0.5, l2=1, t=1: G = [1, 10], GG = [1.1, 100.1]
    # w = -(|G| - 0.5) * 0.5 / (0.5 + sqrt(GG))
    np.testing.assert_allclose(
        run_optimizer(
            optimizers.get(
                "adagrad_da",
                learning_rate=0.5,
                l1_regularization_strength=0.5,
                l2_regularization_strength=1.0,
            ),
            1,
        ),
        [-0.25 / (0.5 + np.sqrt(1.1)), -4.75 / (0.5 + np.sqrt(100.1))],
        atol=TOL,
    )


# TF1's own unit tests (tensorflow/python/training/*_test.py): var0 = [1, 2]
# and var1 = [4, 3] with constant gradients [0.1, 0.2] and [0.01, 0.02].
TF1_GOLDEN = [
    ("proximal_gd", {"learning_rate": 3.0}, 3, [0.1, 0.2], [3.91, 2.82]),
    (
        "proximal_gd",
        {
            "learning_rate": 3.0,
            "l1_regularization_strength": 0.001,
            "l2_regularization_strength": 2.0,
        },
        10,
        [-0.0495, -0.0995],
        [-0.0045, -0.0095],
    ),
    (
        "proximal_adagrad",
        {"learning_rate": 3.0, "initial_accumulator_value": 0.1},
        3,
        [-1.60261, -2.296985],
        [3.715679, 2.433051],
    ),
    (
        "proximal_adagrad",
        {"learning_rate": 3.0, "l1_regularization_strength": 0.001},
        10,
        [-6.663634, -9.190331],
        [2.959304, 1.029232],
    ),
    (
        "proximal_adagrad",
        {
            "learning_rate": 3.0,
            "l1_regularization_strength": 0.001,
            "l2_regularization_strength": 2.0,
        },
        10,
        [-0.0495, -0.0995],
        [-0.0045, -0.0095],
    ),
    (
        "adagrad_da",
        {"learning_rate": 3.0},
        1,
        [-0.904534, -1.603567],
        [-0.094821, -0.189358],
    ),
    (
        "adagrad_da",
        {"learning_rate": 3.0, "l1_regularization_strength": 0.001},
        1,
        [-0.895489, -1.59555],
        [-0.085339, -0.17989],
    ),
    (
        "adagrad_da",
        {
            "learning_rate": 3.0,
            "l1_regularization_strength": 0.001,
            "l2_regularization_strength": 2.0,
        },
        1,
        [-0.046907, -0.093659],
        [-0.004275, -0.009023],
    ),
]


@pytest.mark.parametrize("key, kwargs, steps, want0, want1", TF1_GOLDEN)
def test_tf1_golden_values(key, kwargs, steps, want0, want1):
    var0 = keras.Variable([1.0, 2.0])
    var1 = keras.Variable([4.0, 3.0])
    grads = [tf.constant([0.1, 0.2]), tf.constant([0.01, 0.02])]
    optimizer = optimizers.get(key, **kwargs)
    for _ in range(steps):
        optimizer.apply(grads, [var0, var1])
    np.testing.assert_allclose(var0.numpy(), want0, atol=TOL)
    np.testing.assert_allclose(var1.numpy(), want1, atol=TOL)


# (key, kwargs, w0, g): weight 0 lands inside the l1 dead zone, weight 1 not.
SPARSITY = [
    # lr*l1 = 0.05; prox_v = [0.01 - 0.002, 1 - 0.05] = [0.008, 0.95]
    (
        "proximal_gd",
        {"learning_rate": 0.1, "l1_regularization_strength": 0.5},
        [0.01, 1.0],
        [0.02, 0.5],
    ),
    # lr_t = 0.1/sqrt(0.1 + g^2) = [0.3156, 0.0953]; lr_t*l1 = [0.158, 0.048]
    # prox_v = [0.01 - 0.0063, 1 - 0.0953] = [0.0037, 0.905]
    (
        "proximal_adagrad",
        {"learning_rate": 0.1, "l1_regularization_strength": 0.5},
        [0.01, 1.0],
        [0.02, 1.0],
    ),
    # t = 1: |G| = [0.02, 1.0] vs l1*t = 0.5
    (
        "adagrad_da",
        {"learning_rate": 0.1, "l1_regularization_strength": 0.5},
        [0.01, 1.0],
        [0.02, 1.0],
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("key, kwargs, w0, g", SPARSITY)
def test_l1_gives_exact_zeros(key, kwargs, w0, g):
    w = keras.Variable(w0)
    optimizers.get(key, **kwargs).apply([tf.constant(g)], [w])
    assert w.numpy()[0] == 0.0  # exactly zero, not merely small
    assert abs(w.numpy()[1]) > 0.01
    # Without l1 the same weight stays non-zero.
    no_l1 = dict(kwargs, l1_regularization_strength=0.0)
    w = keras.Variable(w0)
    optimizers.get(key, **no_l1).apply([tf.constant(g)], [w])
    assert abs(w.numpy()[0]) > 1e-4


@pytest.mark.parametrize("key", sorted(CUSTOM))
def test_sparse_gradients_match_dense(key):
    # An Embedding's IndexedSlices gradient gives the dense rule's result.
    dense = np.zeros((4, 2), "float32")
    dense[[1, 3]] = [[0.5, -0.2], [1.0, 2.0]]
    results = []
    for sparse in (False, True):
        w = keras.Variable(np.linspace(-1, 1, 8, dtype="float32").reshape(4, 2))
        optimizer = optimizers.get(
            key,
            learning_rate=0.1,
            l1_regularization_strength=0.05,
            l2_regularization_strength=0.1,
        )
        for _ in range(2):
            g = tf.constant(dense)
            if sparse:
                g = tf.IndexedSlices(
                    tf.constant(dense[[1, 3]]), tf.constant([1, 3]), [4, 2]
                )
            optimizer.apply([g], [w])
        results.append(w.numpy())
    np.testing.assert_allclose(results[1], results[0], atol=1e-7)


def test_default_learning_rates():
    expected = {
        "gd": 0.01,
        "sgd": 0.01,
        "momentum": 0.01,
        "nag": 0.01,
        "adagrad": 0.01,
        "rmsprop": 1e-3,
        "adadelta": 1.0,
        "adam": 1e-3,
        "adamax": 1e-3,
        "nadam": 1e-3,
        "ftrl": 0.01,
        "proximal_gd": 0.01,
        "proximal_adagrad": 0.01,
        "adagrad_da": 0.01,
    }
    for key, lr in expected.items():
        assert float(optimizers.get(key).learning_rate) == pytest.approx(lr)


def test_get_passes_kwargs_and_objects():
    nag = optimizers.get("nag", learning_rate=0.1, momentum=0.5)
    config = nag.get_config()
    assert config["learning_rate"] == pytest.approx(0.1)
    assert config["momentum"] == 0.5
    assert config["nesterov"] is True
    assert optimizers.get("NAG").nesterov is True
    assert isinstance(optimizers.get("proximal-gd"), CUSTOM["proximal_gd"])
    assert optimizers.get(nag) is nag
    assert optimizers.get("momentum", momentum=1).momentum == 1.0


def test_unknown_key_lists_the_valid_keys():
    with pytest.raises(ValueError, match="adamw") as info:
        optimizers.get("adamw")
    for key in KEYS:
        assert repr(key) in str(info.value)
    with pytest.raises(ValueError, match="choose from"):
        optimizers.family("adamw")


def test_family_covers_every_key():
    # Note 003: Momentum/NAG change the gradient, Adagrad/RMSProp/AdaDelta
    # the learning rate, Adam/Nadam both; tf.train's extras join the
    # learning-rate type.
    expected = {
        "gd": "gradient descent",
        "sgd": "gradient descent",
        "momentum": "momentum-type",
        "nag": "momentum-type",
        "adagrad": "learning-rate-type",
        "rmsprop": "learning-rate-type",
        "adadelta": "learning-rate-type",
        "ftrl": "learning-rate-type",
        "proximal_gd": "learning-rate-type",
        "proximal_adagrad": "learning-rate-type",
        "adagrad_da": "learning-rate-type",
        "adam": "both",
        "adamax": "both",
        "nadam": "both",
    }
    assert {key: optimizers.family(key) for key in optimizers.names()} == (
        expected
    )
    assert sorted(optimizers.FAMILIES) == optimizers.names()
    assert optimizers.family("Proximal-GD") == "learning-rate-type"


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (
            optimizers.ProximalGradientDescent,
            {"l1_regularization_strength": -0.1},
            "l1_regularization_strength=-0.1",
        ),
        (
            optimizers.ProximalGradientDescent,
            {"l2_regularization_strength": -1},
            "l2_regularization_strength=-1",
        ),
        (
            optimizers.ProximalAdagrad,
            {"initial_accumulator_value": 0.0},
            "initial_accumulator_value=0.0",
        ),
        (
            optimizers.ProximalAdagrad,
            {"l1_regularization_strength": -2.0},
            "l1_regularization_strength=-2.0",
        ),
        (
            optimizers.AdagradDA,
            {"initial_gradient_squared_accumulator_value": -0.1},
            "initial_gradient_squared_accumulator_value=-0.1",
        ),
        (
            optimizers.AdagradDA,
            {"l2_regularization_strength": -0.5},
            "l2_regularization_strength=-0.5",
        ),
    ],
)
def test_invalid_arguments_raise(cls, kwargs, message):
    with pytest.raises(ValueError, match=f"Received: {message}"):
        cls(**kwargs)


NON_DEFAULT = {
    "learning_rate": 0.05,
    "l1_regularization_strength": 0.01,
    "l2_regularization_strength": 0.02,
    "clipnorm": 1.0,
    "name": "custom",
}


@pytest.mark.parametrize("key", sorted(CUSTOM))
def test_custom_config_round_trips(key):
    cls = CUSTOM[key]
    optimizer = cls(**NON_DEFAULT)
    config = optimizer.get_config()
    # get_config returns every constructor argument.
    params = set(inspect.signature(cls.__init__).parameters) - {
        "self",
        "kwargs",
    }
    assert params <= set(config)
    assert config["l1_regularization_strength"] == 0.01
    assert config["clipnorm"] == 1.0
    assert cls.from_config(config).get_config() == config
    restored = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer)
    )
    assert type(restored) is cls
    assert restored.get_config() == config


@pytest.mark.parametrize("key", sorted(CUSTOM))
def test_shared_arguments_are_documented_once_and_filled_in(key):
    # the l1/l2 arguments come from the shared base's one text
    doc = CUSTOM[key].__doc__
    assert "{{" not in doc and L1_L2_ARGS in doc
    assert "learning_rate:" in doc and "Reference:" in doc


@pytest.mark.parametrize("key", optimizers.names())
def test_every_key_serializes(key):
    optimizer = optimizers.get(key)
    restored = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer)
    )
    assert type(restored) is type(optimizer)
    assert restored.get_config() == optimizer.get_config()


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(CUSTOM))
def test_model_trains_saves_and_loads(key, tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")  # (batch, features)
    y = x @ np.array([[1.0], [-2.0], [0.5], [0.0]], "float32")  # (batch, 1)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)]
    )
    optimizer = optimizers.get(
        key,
        learning_rate=0.05,
        l1_regularization_strength=0.001,
        l2_regularization_strength=0.001,
    )
    model.compile(optimizer=optimizer, loss="mse")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert int(optimizer.iterations.numpy()) == 8
    assert np.all(np.isfinite(history.history["loss"]))
    assert any(
        not np.allclose(b, a) for b, a in zip(before, model.get_weights())
    )

    path = tmp_path / f"{key}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)

    assert type(loaded.optimizer) is type(optimizer)
    assert loaded.optimizer.get_config() == optimizer.get_config()
    for saved, restored in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(restored, saved)
    for saved, restored in zip(
        optimizer.variables, loaded.optimizer.variables
    ):
        np.testing.assert_array_equal(restored.numpy(), saved.numpy())
    # Same weights, a rebuilt graph: equal within float32 rounding.
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0),
        rtol=0, atol=1e-6,
    )


# --- Adam's fused update ----------------------------------------------------


def _mlp_and_batch(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((12,)),
                              keras.layers.Dense(16, activation="relu"),
                              keras.layers.BatchNormalization(),
                              keras.layers.Dense(3)])
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.standard_normal((32, 12)), tf.float32)
    y = tf.constant(rng.integers(0, 3, 32))
    return model, x, y


def _train(optimizer, steps=25):
    """``steps`` graph-mode steps of a small BN MLP; its final weights
    and the ops of the compiled step."""
    model, x, y = _mlp_and_batch()
    optimizer.build(model.trainable_variables)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                y, model(x, training=True), from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)

    for _ in range(steps):
        step()
    graph = step.get_concrete_function().graph
    return ([w.numpy() for w in model.weights],
            {op.type for op in graph.get_operations()})


def test_adam_is_kerass_adam_in_one_fused_kernel():
    """tfnn's Adam takes TensorFlow's ResourceApplyAdam kernel for every
    variable and lands where Keras's Adam lands (to float rounding, over
    25 steps with a decaying rate); AMSGrad keeps Keras's update."""
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, 10, 0.5)
    fused, fused_ops = _train(optimizers.get("adam", learning_rate=schedule))
    plain, plain_ops = _train(keras.optimizers.Adam(learning_rate=schedule))
    assert "ResourceApplyAdam" in fused_ops
    assert "ResourceApplyAdam" not in plain_ops
    assert isinstance(optimizers.get("adam"), keras.optimizers.Adam)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    initial = [w.numpy() for w in _mlp_and_batch()[0].weights]
    assert any(not np.allclose(a, b) for a, b in zip(fused, initial))
    ams, ams_ops = _train(optimizers.get("adam", amsgrad=True))
    keras_ams, _ = _train(keras.optimizers.Adam(amsgrad=True))
    assert "ResourceApplyAdam" not in ams_ops
    for a, b in zip(ams, keras_ams):
        np.testing.assert_array_equal(a, b)


def test_adam_takes_kerass_update_for_sparse_gradients():
    """An embedding's gradient is IndexedSlices: Keras's own update (no
    fused kernel in the step), with Keras's numbers."""
    def run(optimizer):
        table = keras.Variable(np.ones((5, 2), np.float32))
        optimizer.build([table])

        @tf.function
        def step(row):
            grad = tf.IndexedSlices(tf.ones((1, 2)), row[None],
                                    tf.constant([5, 2]))
            optimizer.apply([grad], [table])

        for row in (3, 1, 3):
            step(tf.constant(row))
        ops = {op.type for op in step.get_concrete_function(
            tf.constant(0)).graph.get_operations()}
        return table.numpy(), ops

    fused, ops = run(optimizers.get("adam", learning_rate=0.1))
    plain, _ = run(keras.optimizers.Adam(learning_rate=0.1))
    assert "ResourceApplyAdam" not in ops
    np.testing.assert_array_equal(fused, plain)
    assert np.all(fused[[0, 2, 4]] == 1.0) and np.all(fused[[1, 3]] < 1.0)


def test_adam_round_trips_through_keras_serialization():
    opt = optimizers.get("adam", learning_rate=0.003, beta_1=0.8)
    back = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert type(back) is optimizers.Adam
    assert back.get_config() == opt.get_config()
