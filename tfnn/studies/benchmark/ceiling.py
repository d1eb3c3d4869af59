"""What the hardware allows, measured in the same run as the paths: the
rate of a large float32 matrix product (:func:`matmul_peak`) and the rate
of the MLP step's own matrix products at its batch size, with nothing
else in the loop (:func:`mlp_matmul_ceiling`).

The second is the ceiling of any MLP training path on the machine: a step
is those products plus the gather, the activations, the loss and the
optimizer's update, so no path runs faster than its products alone. The
share of the first that a batch-128 step's small products reach belongs
to the machine (a CPU whose wide units a 128 × 784 × 256 product cannot
keep busy has a low one), so the report gives both.
"""

from __future__ import annotations

import time

import tensorflow as tf

from tfnn.studies.benchmark.workload import MLP_HIDDEN


def matmul_peak(n=2048, repeats=10) -> float:
    """GFLOP/s of an ``n × n`` float32 matrix product (best of ``repeats``):
    ``2·n³`` FLOPs over the fastest call."""
    a = tf.random.normal((n, n))
    f = tf.function(lambda a: tf.matmul(a, a))
    f(a).numpy()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(a).numpy()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def mlp_matmuls(x, weights, upstream=None):
    """The matrix products of one training step of a dense net, and only
    those: the forward ``h_{l+1} = h_l W_l`` and, from the gradient
    ``upstream`` at the output (default: the output itself, the gradient
    of ``½‖output‖²``), the weight gradients ``h_lᵀ g_{l+1}`` of every
    layer and the input gradients ``g_l = g_{l+1} W_lᵀ`` of every layer
    but the first (no path computes the gradient of the data).

    Returns:
        ``(output, weight_gradients)``: for the linear net (no
        activations) these are its output and the gradients of
        ``Σ output · upstream``, which the tests check against
        ``tf.GradientTape``.
    """
    hs = [x]
    for w in weights:
        hs.append(tf.matmul(hs[-1], w))
    grads = [None] * len(weights)
    g = hs[-1] if upstream is None else upstream
    for layer in reversed(range(len(weights))):
        grads[layer] = tf.matmul(hs[layer], g, transpose_a=True)
        if layer:
            g = tf.matmul(g, weights[layer], transpose_b=True)
    return hs[-1], grads


def mlp_matmul_ceiling(batch=128, hidden=MLP_HIDDEN, inputs=784, classes=10,
                       steps=400, repeats=5, seed=0) -> float:
    """Examples/s of :func:`mlp_matmuls` alone: ``steps`` steps' products
    in one XLA ``while_loop`` (the fast path's form), best of
    ``repeats``. Each step's input depends on the last step's gradients,
    so XLA can neither hoist nor drop a product (the output is the
    backward pass's upstream gradient)."""
    sizes = (inputs, *hidden, classes)
    gen = tf.random.Generator.from_seed(seed)
    x = gen.normal((batch, inputs))
    weights = [gen.normal((a, b)) * (2.0 / a) ** 0.5
               for a, b in zip(sizes, sizes[1:])]

    @tf.function(jit_compile=True, autograph=False)
    def loop(x, weights):
        def body(i, total, x):
            _, grads = mlp_matmuls(x, weights)
            s = tf.add_n([tf.reduce_sum(g[0]) for g in grads])
            return i + 1, total + s, x + 1e-30 * s

        return tf.while_loop(lambda i, t, x: i < steps, body,
                             (tf.constant(0), tf.constant(0.0), x))[1]

    loop(x, weights).numpy()  # compile
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        loop(x, weights).numpy()
        best = min(best, time.perf_counter() - t0)
    return steps * batch / best
