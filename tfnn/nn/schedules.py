"""Learning-rate schedules by name: ``constant``, ``step``, ``cosine``.

Note 001: choose the learning rate on a log scale (0.1 → 0.01 → 0.001 …)
and read the loss curve to tell too high from too low. A schedule then
lowers it as training goes:

    constant:  lr_t = lr
    step:      lr_t = lr · gamma ^ floor(t / (step_epochs · steps_per_epoch))
    cosine:    lr_t = lr · (alpha + (1 − alpha) · ½ (1 + cos(π · t / T)))
               with T = epochs · steps_per_epoch

``t`` counts optimizer steps (iterations), as Keras schedules do.
"""

from __future__ import annotations

import inspect

import keras

from tfnn.registry import Registry

SCHEDULES = Registry("learning-rate schedule")


@SCHEDULES.register("constant")
def _constant(learning_rate, steps_per_epoch, epochs):
    """lr_t = lr."""
    return float(learning_rate)


@SCHEDULES.register("step")
def _step(learning_rate, steps_per_epoch, epochs, step_epochs=None,
          gamma=0.1):
    """lr_t = lr * gamma^floor(epoch / step_epochs); step_epochs defaults to
    a third of the run."""
    if step_epochs is None:
        step_epochs = max(1, epochs // 3)
    if step_epochs < 1 or not 0 < gamma <= 1:
        raise ValueError(
            "step needs step_epochs >= 1 and 0 < gamma <= 1. Received: "
            f"step_epochs={step_epochs}, gamma={gamma}"
        )
    return keras.optimizers.schedules.ExponentialDecay(
        float(learning_rate),
        decay_steps=int(step_epochs * steps_per_epoch),
        decay_rate=float(gamma),
        staircase=True,
    )


@SCHEDULES.register("cosine")
def _cosine(learning_rate, steps_per_epoch, epochs, alpha=0.0):
    """lr_t = lr * (alpha + (1 - alpha) * (1 + cos(pi t / T)) / 2)."""
    return keras.optimizers.schedules.CosineDecay(
        float(learning_rate),
        decay_steps=max(1, int(epochs * steps_per_epoch)),
        alpha=float(alpha),
    )


def get(name, learning_rate, steps_per_epoch, epochs, **kwargs):
    """The schedule ``name`` for a run of ``epochs × steps_per_epoch`` steps.

    Returns a float for ``constant`` and a Keras ``LearningRateSchedule``
    otherwise; either is a valid ``learning_rate`` for any optimizer.
    """
    if not isinstance(name, str):
        return name
    return SCHEDULES.get(
        name, learning_rate=learning_rate, steps_per_epoch=steps_per_epoch,
        epochs=epochs, **kwargs,
    )


def names():
    """The schedule keys, sorted."""
    return SCHEDULES.names()


# Every schedule's factory gets these from the run; the rest of its
# parameters are what ``schedule_kwargs`` may hold.
RUN_ARGUMENTS = ("learning_rate", "steps_per_epoch", "epochs")


def arguments(name) -> list[str]:
    """The keyword arguments the schedule ``name`` takes beyond
    ``RUN_ARGUMENTS`` (``step``: ``step_epochs``, ``gamma``), read from its
    factory's signature.

    Raises:
        ValueError: for an unknown name; the message lists the valid ones.
    """
    factory = {"constant": _constant, "step": _step,
               "cosine": _cosine}[SCHEDULES.key(name)]
    return [p for p in inspect.signature(factory).parameters
            if p not in RUN_ARGUMENTS]
