"""Ensembles: the mean of several models' softmax outputs, as one model.

    p̄(y|x) = 1/S · Σ_s softmax(z_s(x))

:func:`ensemble_model` builds one Keras model whose output is ``log p̄``
(softmax of it is p̄ again, since p̄ sums to 1), so an ensemble saves,
exports and serves like any single model; with ``max_shift`` the mean also
runs over the shifted copies of each image (:mod:`tfnn.models.tta`).
:func:`probabilities` is the softmax of a model's output over a whole data
set, in batches; :func:`shifted_accuracy` scores one model with test-time
shifts.
"""

from __future__ import annotations

import re

import keras
import numpy as np
import tensorflow as tf

from tfnn.batched_inference import DEFAULT_BATCH, map_batches
from tfnn.models.tta import MeanOverCopies, ShiftCopies


def probabilities(model, x, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """``softmax(model(x, training=False))`` in float32, batch by batch.

    Args:
        model: a Keras model whose output is logits (or note 000's sigmoid
            scores, trained as logits).
        x: the inputs.
        batch_size: examples per call. Defaults to 2000.

    Returns:
        ``(n, classes)`` probabilities.
    """
    def softmax(xb):
        out = model(xb, training=False)
        return keras.ops.softmax(keras.ops.cast(out, "float32"))

    return map_batches(softmax, x, batch_size)


def ensemble_model(models, name: str = "ensemble", max_shift: int = 0,
                   fill: float = 0.0, pattern: str = "grid") -> keras.Model:
    """One Keras model whose output is log p̄, p̄ = mean_s softmax(z_s).

    Softmax of that output is p̄ again, so an export's ``probabilities``
    are the ensemble's and ``classes`` its argmax. With ``max_shift`` r > 0
    the mean also runs over the shifted copies of each image (the
    (2r+1)² offsets of the grid, or the 4r + 1 of the plus pattern)
    (test-time augmentation, :mod:`tfnn.models.tta`):
    p̄ = 1/(S·M) Σ_copies Σ_members softmax(z_m(shift(x))).

    Members that share a name (the seeds' models of one stage are all
    "mlp") are renamed ``member_<i>_<name>``: a functional model needs
    unique layer names.

    Args:
        models: the member models, all with the same input shape.
        name: the ensemble's name. Defaults to "ensemble".
        max_shift: r, the largest test-time shift in pixels; 0 for none.
            Defaults to 0.
        fill: the value of the pixels that move in (the preprocessed
            background). Defaults to 0.0.
        pattern: the shifts' pattern, "grid" (the (2r+1)² offsets) or
            "plus" (the image and its 4r shifts along one axis). Defaults
            to "grid".

    Returns:
        A ``keras.Model`` from the members' input to ``log p̄``.
    """
    if not models:
        raise ValueError(f"An ensemble needs members. Received: {models!r}")
    inputs = keras.Input(shape=models[0].input_shape[1:], name="images")
    names = [m.name for m in models]
    if len(set(names)) < len(names):
        for i, m in enumerate(models):
            m.name = f"member_{i}_{re.sub(r'^member_[0-9]+_', '', m.name)}"
    x = inputs
    if max_shift:
        shifter = ShiftCopies(max_shift, fill, pattern, name="tta_shifts")
        x = shifter(inputs)  # (S·n, …)
    probs = [keras.ops.softmax(m(x)) for m in models]
    mean = probs[0] if len(probs) == 1 else keras.layers.Average()(probs)
    if max_shift:
        mean = MeanOverCopies(shifter.copies, name="tta_mean")(mean)  # (n, …)
    log_p = keras.ops.log(keras.ops.maximum(mean, 1e-12))
    return keras.Model(inputs, log_p, name=name)


def shifted_accuracy(model, x, y, max_shift: int = 1, fill: float = 0.0,
                     pattern: str = "grid", batch_size: int = 1000) -> float:
    """Accuracy of ``model`` on ``(x, y)`` with test-time shifts: the
    class of largest p̄(y|x) = 1/S · Σ_copies softmax(z(shift(x))) over the
    ``pattern``'s S offsets up to ``max_shift`` (:func:`ensemble_model`
    with one member; ``max_shift`` 0 is the plain accuracy).

    The shifted model runs as one compiled function (``tf.function``), not
    call by call: a graph runs each convolution fused with its BatchNorm
    and ReLU and needs no eager dispatch (docs/performance.md measures
    it).
    """
    tta = ensemble_model([model], name=f"{model.name}_shifted",
                         max_shift=max_shift, fill=fill, pattern=pattern)
    spec = tf.TensorSpec((None, *tta.input_shape[1:]), tf.float32)
    classes = tf.function(
        lambda xb: tf.argmax(tta(xb, training=False), axis=-1),
        input_signature=[spec], autograph=False)
    pred = map_batches(classes, np.asarray(x, np.float32), batch_size)
    return float(np.mean(pred == np.asarray(y)))
