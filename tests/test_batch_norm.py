"""tfnn's BatchNormalization: Keras's layer, with one fused kernel for
images in training (``tfnn/nn/batch_norm.py``)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnn.models import build_cnn, load_model, save_model
from tfnn.nn.batch_norm import BatchNormalization


def _pair(shape, **kwargs):
    """A Keras and a tfnn layer with the same (non-trivial) γ and β."""
    keras_bn = keras.layers.BatchNormalization(**kwargs)
    tfnn_bn = BatchNormalization(**kwargs)
    gamma = np.random.default_rng(1).normal(size=shape[-1]).astype("float32")
    for layer in (keras_bn, tfnn_bn):
        layer.build(shape)
        layer.gamma.assign(gamma)
        layer.beta.assign(gamma / 2)
    return keras_bn, tfnn_bn


def _x(shape, seed=0):
    return tf.constant(np.random.default_rng(seed).normal(
        2.0, 3.0, shape).astype("float32"))


def test_fused_training_step_equals_keras_formula():
    """y = γ(x − μ_B)/sqrt(σ²_B + ε) + β per channel over N·H·W values,
    its gradients, and the moving averages m·old + (1 − m)·batch with the
    biased σ²_B: all as Keras's layer computes them."""
    shape = (16, 7, 7, 5)
    keras_bn, tfnn_bn = _pair(shape, momentum=0.9)
    x = _x(shape)
    weights = tf.range(5, dtype=tf.float32)
    outs, grads = [], []
    for layer in (keras_bn, tfnn_bn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y ** 2 * weights)
        outs.append(y.numpy())
        grads.append(tape.gradient(loss, [x, layer.gamma, layer.beta]))
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-5)
    for a, b in zip(*grads):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-3)
    # The formula itself, independently of Keras.
    mean = x.numpy().mean(axis=(0, 1, 2))
    var = x.numpy().var(axis=(0, 1, 2))
    np.testing.assert_allclose(tfnn_bn.moving_mean, 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(tfnn_bn.moving_variance, 0.9 + 0.1 * var,
                               rtol=1e-5)
    np.testing.assert_allclose(tfnn_bn.moving_variance,
                               keras_bn.moving_variance, rtol=1e-6)


def test_inference_reads_the_moving_statistics_and_changes_nothing():
    shape = (8, 4, 4, 3)
    keras_bn, tfnn_bn = _pair(shape)
    x = _x(shape, seed=2)
    for layer in (keras_bn, tfnn_bn):
        layer(x, training=True)
    before = tfnn_bn.moving_mean.numpy().copy()
    np.testing.assert_allclose(tfnn_bn(x), keras_bn(x), atol=1e-6)
    np.testing.assert_array_equal(tfnn_bn.moving_mean.numpy(), before)
    np.testing.assert_array_equal(tfnn_bn(x).numpy(), tfnn_bn(x).numpy())


@pytest.mark.parametrize("shape,kwargs", [
    ((8, 6), {}),                      # after a Dense layer: rank 2
    ((8, 4, 4, 3), {"axis": 1}),       # channels first
    ((8, 4, 4, 3), {"center": False}),  # no β
    ((8, 4, 4, 3), {"epsilon": 1e-6}),  # below the fused kernel's floor
    ((8, 4, 4, 3), {"dtype": "float64"}),  # Keras computes in float64
])
def test_other_cases_keep_keras_code(shape, kwargs):
    keras_bn, tfnn_bn = (keras.layers.BatchNormalization(**kwargs),
                         BatchNormalization(**kwargs))
    x = tf.cast(_x(shape, seed=3), kwargs.get("dtype", "float32"))
    assert not tfnn_bn._fused(x, True) and not tfnn_bn._fused(x, False)
    np.testing.assert_allclose(tfnn_bn(x, training=True),
                               keras_bn(x, training=True), atol=1e-6)


def test_saved_and_loaded_as_tfnn_layer(tmp_path):
    model = build_cnn(filters=(4,), hidden=(8,), batch_norm=True,
                      downsample="stride")
    bn = model.get_layer("bn_0")
    assert type(bn) is BatchNormalization
    x = _x((4, 28, 28))
    model(x, training=True)
    path = str(tmp_path / "m.keras")
    save_model(model, path)
    again = load_model(path)
    assert type(again.get_layer("bn_0")) is BatchNormalization
    np.testing.assert_allclose(again(x), model(x), atol=1e-6)


def test_fused_inference_equals_the_formula_and_meets_the_convolution():
    """At inference y = γ(x − moving_mean)/sqrt(moving_var + ε) + β per
    channel, computed by one FusedBatchNormV3 (is_training false) that the
    graph optimizer can fold into the convolution before it; the moving
    statistics are read, not changed."""
    shape = (6, 5, 5, 4)
    keras_bn, tfnn_bn = _pair(shape, epsilon=1e-3)
    rng = np.random.default_rng(4)
    mean = rng.normal(size=4).astype("float32")
    var = rng.uniform(0.5, 2.0, size=4).astype("float32")
    for layer in (keras_bn, tfnn_bn):
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(var)
    x = _x(shape, seed=5)
    gamma, beta = tfnn_bn.gamma.numpy(), tfnn_bn.beta.numpy()
    expected = gamma * (x.numpy() - mean) / np.sqrt(var + 1e-3) + beta
    for training in (False, None):
        np.testing.assert_allclose(tfnn_bn(x, training=training), expected,
                                   rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tfnn_bn(x), keras_bn(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(tfnn_bn.moving_mean.numpy(), mean)
    np.testing.assert_array_equal(tfnn_bn.moving_variance.numpy(), var)
    # A frozen layer normalizes with its moving statistics in training too.
    tfnn_bn.trainable = False
    np.testing.assert_allclose(tfnn_bn(x, training=True), expected,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(tfnn_bn.moving_mean.numpy(), mean)

    model = build_cnn(filters=(4,), hidden=(8,), batch_norm=True,
                      downsample="stride")
    infer = tf.function(lambda v: model(v, training=False))
    graph = infer.get_concrete_function(
        tf.TensorSpec((None, 28, 28), tf.float32)).graph
    fused = [op for op in graph.get_operations()
             if op.type == "FusedBatchNormV3"]
    assert len(fused) == 1 and not fused[0].get_attr("is_training")
    assert fused[0].inputs[0].op.type == "Conv2D"
