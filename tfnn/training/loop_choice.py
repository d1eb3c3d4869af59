"""Which loop a run takes, decided here and nowhere else.

A run has three loops (all around the one :func:`~tfnn.training.train_step`):
the fast path (a whole epoch in one compiled function,
:mod:`tfnn.training.fast_path`), the readable per-step loop and Keras's own
``fit``. ``TrainConfig(loop="auto")`` (the default) lets
:func:`choose_loop` pick; ``"fast"``, ``"custom"`` and ``"fit"`` force one.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from tfnn import data as tfnn_data
from tfnn.nn import dropout as tfnn_dropout

# A run shorter than this many steps (epochs × batches) takes the readable
# loop: the fast path traces and compiles a second function, the whole-epoch
# loop, besides the per-step one, and its per-step saving (no Python, no
# tf.data between steps) pays that back only over a few hundred steps.
FAST_PATH_MIN_STEPS = 200
# A run shorter than this many steps keeps the fast path's epoch in graph
# mode even where XLA could compile it: XLA's compile (a few seconds for
# the whole-epoch computation) is paid once per fresh model, so a short run
# (the experiments' many short runs on fresh models) never earns it back.
XLA_MIN_STEPS = 2000


@dataclass(frozen=True)
class LoopChoice:
    """The loop a run takes and whether its train step is XLA-compiled."""

    loop: str  # "fast", "custom" or "fit"
    xla: bool  # XLA-compile the step (the fast path's, or the readable one)
    reason: str  # one line for the log


def fast_path_jit(model) -> bool:
    """Whether XLA may compile ``model``'s fast path (the whole epoch).

    Not for models with

    * convolutions: XLA's CPU convolutions are far slower than
      TensorFlow's own kernels (oneDNN's or Eigen's, see
      :mod:`tfnn.runtime`);
    * Keras's own ``Dropout``: XLA:CPU expands its Philox generator into
      every fusion that reads the mask, many times slower than the graph
      step for wide layers; tfnn's factories build
      :class:`tfnn.nn.dropout.Dropout` instead, whose hashed mask XLA
      fuses cheaply, and which is allowed;
    * random image augmentation: XLA has no kernel for the image transform
      (``ImageProjectiveTransformV3``) of Keras's random shift and rotation.

    Everything else (dense layers, BatchNorm, activations, tfnn's dropout)
    may be compiled.
    """
    not_for_xla = (keras.layers.Conv2D, keras.layers.RandomTranslation,
                   keras.layers.RandomRotation)
    return not any(
        isinstance(layer, not_for_xla) or (
            isinstance(layer, keras.layers.Dropout)
            and not isinstance(layer, tfnn_dropout.Dropout))
        for layer in model.layers)


def choose_loop(model, train_config, n_examples: int,
                replicas: int = 1) -> LoopChoice:
    """The loop (and XLA or not) for training ``model`` as ``train_config``
    says on ``n_examples`` examples over ``replicas`` replicas.

    The rule:

    1. ``loop="fit"``: Keras's ``fit``, as asked.
    2. Several replicas, or ``strategy="multiworker"``: the readable loop
       (the fast path runs on one replica of one process; a worker trains
       on its slices of each batch, fed by
       :func:`~tfnn.training.sharding.sharded_dataset`, and every step is
       an all-reduce across the workers).
    3. ``loop="custom"``: the readable loop, as asked.
    4. ``loop="auto"`` and fewer than :data:`FAST_PATH_MIN_STEPS` steps in
       all: the readable loop (the fast path's extra compile would not pay).
    5. Otherwise the fast path. Its step is XLA-compiled when
       ``train_config.jit`` asks, or when :func:`fast_path_jit` allows it
       and (for ``loop="auto"``) the run has at least
       :data:`XLA_MIN_STEPS` steps in all.

    Both loops train on the same batches with the same step (and draw the
    same dropout masks), so the choice changes a run's speed, not its
    numbers; XLA adds only float rounding.

    Args:
        model: the Keras model to train.
        train_config: a :class:`~tfnn.training.TrainConfig`.
        n_examples: training examples per epoch.
        replicas: replicas of the distribution strategy. Defaults to 1.

    Returns:
        A :class:`LoopChoice`.
    """
    tc = train_config
    if tc.loop == "fit":
        return LoopChoice("fit", False, "Keras fit (loop='fit')")
    if replicas > 1:
        return LoopChoice("custom", tc.jit, f"readable loop: {replicas} "
                          "replicas (the fast path runs on one)")
    if tc.strategy == "multiworker":
        return LoopChoice("custom", tc.jit, "readable loop: multiworker "
                          "(the fast path runs in one process)")
    if tc.loop == "custom":
        return LoopChoice("custom", tc.jit, "readable loop (loop='custom')")
    steps = tc.epochs * tfnn_data.num_batches(
        n_examples, tc.batch_size or None, tc.drop_remainder)
    if tc.loop == "auto" and steps < FAST_PATH_MIN_STEPS:
        return LoopChoice("custom", tc.jit, f"readable loop ({steps} steps "
                          f"< {FAST_PATH_MIN_STEPS}: the fast path's compile "
                          "would not pay)")
    if tc.jit:
        return LoopChoice("fast", True, "fast path, the epoch one XLA "
                          "computation (jit=True)")
    if not fast_path_jit(model):
        return LoopChoice("fast", False, "fast path, graph loop (the model "
                          "has convolutions, Keras's dropout or "
                          "augmentation)")
    if tc.loop == "auto" and steps < XLA_MIN_STEPS:
        return LoopChoice("fast", False, f"fast path, graph loop ({steps} "
                          f"steps < {XLA_MIN_STEPS}: XLA's compile would "
                          "not pay)")
    return LoopChoice("fast", True, "fast path, the epoch one XLA "
                      "computation")
