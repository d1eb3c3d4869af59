"""Restricted Boltzmann Machines and greedy layer-wise pre-training (note 002).

Note 002 (Lab 09-2) describes the initialization that came before Xavier
and He: train each hidden layer as a Restricted Boltzmann Machine — the
input ``x`` goes *forward* to the hidden units ``y`` and ``y`` goes
*backward* to a reconstruction ``x'`` — one layer at a time, each on the
previous one's outputs ("pre-training"), then train the whole network by
backprop ("fine-tuning").

A Bernoulli–Bernoulli RBM has binary visible units ``v`` (pixels in
[0, 1], read as probabilities), binary hidden units ``h``, a weight matrix
``W`` (n_visible, n_hidden), a visible bias ``b`` and a hidden bias ``c``::

    E(v, h)  = −bᵀv − cᵀh − vᵀWh                       (energy)
    p(h=1|v) = σ(c + vW)        p(v=1|h) = σ(b + hWᵀ)   (the two directions)
    F(v)     = −bᵀv − Σ_j softplus(c_j + (vW)_j)        (free energy)

so that p(v) ∝ exp(−F(v)). Contrastive divergence (CD-k) follows the
gradient of the log-likelihood approximately: start a Gibbs chain at the
data ``v0``, alternate ``h ~ p(h|v)``, ``v ~ p(v|h)`` k times to reach
``vk``, and move the weights towards the data's statistics and away from
the chain's::

    ΔW = lr · (v0ᵀ p(h|v0) − vkᵀ p(h|vk)) / batch
    Δb = lr · mean(v0 − vk)
    Δc = lr · mean(p(h|v0) − p(h|vk))

This equals ``−lr · ∇[mean F(v0) − mean F(vk)]`` with ``vk`` held fixed:
CD lowers the free energy of the data and raises that of the
reconstructions.

:func:`pretrain` trains a stack of RBMs greedily (each RBM on the previous
one's hidden probabilities); :func:`pretrain_model` does that for the hidden
``Dense`` layers of a :mod:`tfnn.models` MLP and copies ``W`` and ``c``
into them, in place, ready for fine-tuning with the usual trainer. The MLP
should use ``sigmoid`` units (so that its forward pass is the RBM's
``p(h=1|v)``) and inputs in [0, 1] (``minmax`` preprocessing).

Reference: Hinton, Osindero & Teh, "A fast learning algorithm for deep
belief nets", 2006; Hinton, "A Practical Guide to Training Restricted
Boltzmann Machines", 2010.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)

# pretrain()'s defaults; pretrain_model() takes the same keywords.
DEFAULTS = {"epochs": 5, "k": 1, "learning_rate": 0.1, "batch_size": 64,
            "seed": 0}


@keras.saving.register_keras_serializable(package="tfnn")
class RBM(keras.layers.Layer):
    """A Bernoulli–Bernoulli Restricted Boltzmann Machine, trained by CD-k.

    Called on visible units, it returns ``p(h=1|v) = σ(c + vW)``: the
    forward pass of the sigmoid ``Dense`` layer it pre-trains.

    Args:
        units: number of hidden units.
        k: Gibbs steps of contrastive divergence (CD-k). Defaults to 1.
        learning_rate: step size of the CD update. Defaults to 0.1.
        init_stddev: σ of the initial weights ``W ~ N(0, σ²)`` (biases
            start at 0). Defaults to 0.01 (Hinton's guide).
        seed: an int for the initial weights and the Gibbs samples.
            Defaults to None.

    Call arguments:
        inputs: visible units ``(batch, n_visible)`` in [0, 1].
    """

    def __init__(self, units, k=1, learning_rate=0.1, init_stddev=0.01,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"`units` must be >= 1. Received: units={units}")
        if int(k) < 1:
            raise ValueError(f"`k` must be >= 1. Received: k={k}")
        if not learning_rate > 0:
            raise ValueError("`learning_rate` must be > 0. Received: "
                             f"learning_rate={learning_rate}")
        if not init_stddev >= 0:
            raise ValueError("`init_stddev` must be >= 0. Received: "
                             f"init_stddev={init_stddev}")
        self.units = int(units)
        self.k = int(k)
        self.learning_rate = float(learning_rate)
        self.init_stddev = float(init_stddev)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._step_fn = None

    def build(self, input_shape):
        n_visible = int(input_shape[-1])
        self.kernel = self.add_weight(  # W: (n_visible, units)
            shape=(n_visible, self.units), name="kernel",
            initializer=keras.initializers.RandomNormal(
                stddev=self.init_stddev, seed=self.seed))
        self.visible_bias = self.add_weight(  # b: (n_visible,)
            shape=(n_visible,), name="visible_bias", initializer="zeros")
        self.hidden_bias = self.add_weight(  # c: (units,)
            shape=(self.units,), name="hidden_bias", initializer="zeros")

    def call(self, inputs):
        return self.hidden_probs(inputs)

    # -- the two conditionals ---------------------------------------------

    def hidden_probs(self, v):
        """``p(h=1|v) = σ(c + vW)``: (batch, n_visible) → (batch, units)."""
        return tf.sigmoid(tf.matmul(v, self.kernel) + self.hidden_bias)

    def visible_probs(self, h):
        """``p(v=1|h) = σ(b + hWᵀ)``: (batch, units) → (batch, n_visible)."""
        return tf.sigmoid(tf.matmul(h, self.kernel, transpose_b=True)
                          + self.visible_bias)

    def _uniform(self, shape):
        return keras.random.uniform(shape, seed=self.seed_generator)

    def sample_h(self, v, uniform=None):
        """``(p(h=1|v), h)`` with ``h = 1[u < p]``, ``u ~ U(0, 1)``.

        ``uniform`` (same shape as ``p``) replaces the random draw, so a
        test can fix the sample.
        """
        p = self.hidden_probs(v)
        u = self._uniform(tf.shape(p)) if uniform is None else uniform
        return p, tf.cast(u < p, p.dtype)

    def sample_v(self, h, uniform=None):
        """``(p(v=1|h), v)`` with ``v = 1[u < p]``; ``uniform`` as in
        :meth:`sample_h`."""
        p = self.visible_probs(h)
        u = self._uniform(tf.shape(p)) if uniform is None else uniform
        return p, tf.cast(u < p, p.dtype)

    def free_energy(self, v):
        """``F(v) = −bᵀv − Σ_j softplus(c_j + (vW)_j)``, per example."""
        return (-tf.linalg.matvec(v, self.visible_bias)
                - tf.reduce_sum(tf.nn.softplus(
                    tf.matmul(v, self.kernel) + self.hidden_bias), axis=-1))

    def reconstruction_error(self, v):
        """Mean squared error per pixel of the mean-field reconstruction
        ``p(v|p(h|v))``: deterministic, so it is comparable epoch to epoch."""
        recon = self.visible_probs(self.hidden_probs(v))
        return tf.reduce_mean(tf.square(v - recon))

    # -- contrastive divergence --------------------------------------------

    def cd_update(self, v0, h_uniform=None, v_uniform=None):
        """One CD-k update of ``W``, ``b``, ``c`` on the batch ``v0``.

        The chain is ``h0 ~ p(h|v0)``, then k times ``v ~ p(v|h)``,
        ``h ~ p(h|v)``; the statistics use the probabilities ``p(h|·)``::

            ΔW = lr · (v0ᵀ p(h|v0) − vkᵀ p(h|vk)) / batch
            Δb = lr · mean(v0 − vk),  Δc = lr · mean(p(h|v0) − p(h|vk))

        Args:
            v0: data, (batch, n_visible), in [0, 1].
            h_uniform: optional uniforms ``(k, batch, units)`` for the
                hidden samples h0 … h_{k−1}; drawn when None.
            v_uniform: optional uniforms ``(k, batch, n_visible)`` for the
                visible samples v1 … vk; drawn when None.

        Returns:
            ``(vk, p(h|vk))``: the end of the chain.
        """
        batch = tf.cast(tf.shape(v0)[0], v0.dtype)
        ph0, h = self.sample_h(v0, None if h_uniform is None
                               else h_uniform[0])
        vk, phk = v0, ph0
        for t in range(self.k):
            _, vk = self.sample_v(h, None if v_uniform is None
                                  else v_uniform[t])
            if t < self.k - 1:
                phk, h = self.sample_h(vk, None if h_uniform is None
                                       else h_uniform[t + 1])
            else:
                phk = self.hidden_probs(vk)
        positive = tf.matmul(v0, ph0, transpose_a=True)  # (n_visible, units)
        negative = tf.matmul(vk, phk, transpose_a=True)
        lr = self.learning_rate
        self.kernel.assign_add(lr * (positive - negative) / batch)
        self.visible_bias.assign_add(lr * tf.reduce_mean(v0 - vk, axis=0))
        self.hidden_bias.assign_add(lr * tf.reduce_mean(ph0 - phk, axis=0))
        return vk, phk

    def train_step(self, v0):
        """:meth:`cd_update` with drawn samples, compiled with
        ``tf.function`` (one trace for every batch size)."""
        if not self.built:
            self.build(tuple(v0.shape))
        if self._step_fn is None:
            spec = tf.TensorSpec((None, self.kernel.shape[0]), tf.float32)

            def step(v):
                self.cd_update(v)
                return self.reconstruction_error(v)

            self._step_fn = tf.function(step, input_signature=[spec])
        return self._step_fn(tf.convert_to_tensor(v0, tf.float32))

    def get_config(self):
        return {**super().get_config(), "units": self.units, "k": self.k,
                "learning_rate": self.learning_rate,
                "init_stddev": self.init_stddev, "seed": self.seed}


def _mean_error(rbm: RBM, x: np.ndarray, batch_size: int = 5000) -> float:
    """:meth:`RBM.reconstruction_error` over all of ``x``."""
    total = 0.0
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        total += float(rbm.reconstruction_error(tf.constant(xb))) * len(xb)
    return total / len(x)


def _hidden_probs(rbm: RBM, x: np.ndarray, batch_size: int = 5000):
    return np.concatenate([
        rbm.hidden_probs(tf.constant(x[i:i + batch_size])).numpy()
        for i in range(0, len(x), batch_size)])


def _check_unit_interval(x: np.ndarray) -> None:
    lo, hi = float(np.min(x)), float(np.max(x))
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(
            "A Bernoulli RBM needs inputs in [0, 1] (use `minmax` "
            f"preprocessing). Received values in [{lo:g}, {hi:g}]")


def pretrain(hidden_sizes: Sequence[int], x, epochs: int = 5, k: int = 1,
             learning_rate: float = 0.1, batch_size: int = 64,
             seed: int = 0) -> dict[str, list]:
    """Greedy layer-wise pre-training of a stack of RBMs (note 002).

    RBM 1 learns ``x``; RBM i+1 learns RBM i's hidden probabilities
    ``p(h|v)``. Each is trained by CD-k for ``epochs`` epochs of shuffled
    mini-batches.

    Args:
        hidden_sizes: hidden units of each RBM, e.g. ``(256, 256)``.
        x: training inputs in [0, 1], any shape ``(N, ...)`` (flattened).
        epochs: epochs per RBM. Defaults to 5.
        k: Gibbs steps of CD-k. Defaults to 1.
        learning_rate: CD step size. Defaults to 0.1.
        batch_size: examples per CD update. Defaults to 64.
        seed: initial weights, batch order and Gibbs samples. Defaults to 0.

    Returns:
        A dict of lists, one entry per RBM: ``weights`` (n_in, n_out),
        ``visible_biases``, ``hidden_biases`` (NumPy arrays) and ``errors``:
        the mean reconstruction error per pixel on ``x`` before training
        (index 0) and after each epoch.
    """
    if not hidden_sizes:
        raise ValueError("`hidden_sizes` must name at least one layer. "
                         f"Received: hidden_sizes={hidden_sizes!r}")
    if int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError("`epochs` and `batch_size` must be >= 1. Received: "
                         f"epochs={epochs}, batch_size={batch_size}")
    data = np.asarray(x, dtype=np.float32).reshape(len(x), -1)  # (N, n_in)
    _check_unit_interval(data)
    rng = np.random.default_rng(seed)
    result = {"weights": [], "visible_biases": [], "hidden_biases": [],
              "errors": []}
    for i, units in enumerate(hidden_sizes):
        rbm = RBM(units, k=k, learning_rate=learning_rate, seed=seed + i,
                  name=f"rbm_{i}")
        rbm.build(data.shape)
        errors = [_mean_error(rbm, data)]
        for epoch in range(int(epochs)):
            order = rng.permutation(len(data))
            for j in range(0, len(data), int(batch_size)):
                rbm.train_step(data[order[j:j + int(batch_size)]])
            errors.append(_mean_error(rbm, data))
            logger.info("RBM %d (%d→%d) epoch %d: reconstruction error %.5f",
                        i, data.shape[1], units, epoch + 1, errors[-1])
        result["weights"].append(rbm.kernel.numpy())
        result["visible_biases"].append(rbm.visible_bias.numpy())
        result["hidden_biases"].append(rbm.hidden_bias.numpy())
        result["errors"].append(errors)
        data = _hidden_probs(rbm, data)  # the next RBM's visible units
    return result


def hidden_layers(model) -> list:
    """The hidden ``Dense`` layers ``linear_0, linear_1 …`` of a
    :mod:`tfnn.models` MLP, in order."""
    found = []
    for layer in model.layers:
        match = re.fullmatch(r"linear_(\d+)", layer.name)
        if match:
            found.append((int(match.group(1)), layer))
    return [layer for _, layer in sorted(found, key=lambda t: t[0])]


def pretrain_model(model, x, **kwargs) -> list[list[float]]:
    """Pre-train an MLP's hidden layers as RBMs and copy them in, in place.

    Every hidden ``Dense`` layer ``linear_i`` gets the kernel ``W`` of RBM i
    and, when it has a bias, the RBM's hidden bias ``c``; RBM i learns the
    hidden probabilities of RBM i−1 (:func:`pretrain`). The output layer
    keeps its random initialization. Fine-tune afterwards with the usual
    trainer.

    Args:
        model: a :mod:`tfnn.models` MLP (``arch="mlp"``), built; sigmoid
            hidden units match the RBM's ``p(h|v)``.
        x: training inputs in [0, 1] (``minmax``), ``(N, 28, 28)`` or
            ``(N, 784)``.
        **kwargs: :func:`pretrain`'s ``epochs``, ``k``, ``learning_rate``,
            ``batch_size``, ``seed`` (defaults in :data:`DEFAULTS`).

    Returns:
        The reconstruction errors per RBM (see :func:`pretrain`).
    """
    unknown = sorted(set(kwargs) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"Unknown RBM pre-training arguments {unknown}; "
                         f"valid: {sorted(DEFAULTS)}")
    layers = hidden_layers(model)
    if not layers or not all(isinstance(layer, keras.layers.Dense)
                             for layer in layers):
        raise ValueError(
            "RBM pre-training needs an MLP with hidden Dense layers named "
            f"linear_0, linear_1 …; model {model.name!r} has "
            f"{[layer.name for layer in layers] or 'none'}")
    for prev, nxt in zip(layers, layers[1:]):
        if prev.kernel.shape[1] != nxt.kernel.shape[0]:
            raise ValueError(
                f"{prev.name} has {prev.kernel.shape[1]} outputs but "
                f"{nxt.name} takes {nxt.kernel.shape[0]} inputs (maxout or "
                "crelu change the width): an RBM stack cannot model that")
    for i, _ in enumerate(layers):
        try:
            act = model.get_layer(f"act_{i}").get_config().get("activation")
        except ValueError:
            act = None
        if act != "sigmoid":
            logger.warning(
                "act_%d is %r: the RBM's hidden units are sigmoid; "
                "pre-trained weights fit a sigmoid MLP best", i, act)
    data = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    if data.shape[1] != layers[0].kernel.shape[0]:
        raise ValueError(
            f"x has {data.shape[1]} features per example but "
            f"{layers[0].name} takes {layers[0].kernel.shape[0]}")
    result = pretrain([int(layer.kernel.shape[1]) for layer in layers], data,
                      **{**DEFAULTS, **kwargs})
    for layer, w, c in zip(layers, result["weights"],
                           result["hidden_biases"]):
        layer.kernel.assign(w)
        if layer.bias is not None:
            layer.bias.assign(c)
    return result["errors"]
