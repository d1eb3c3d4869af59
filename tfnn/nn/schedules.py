"""Learning-rate schedules by name: ``constant``, ``step``, ``cosine``,
``one_cycle``.

Note 001: choose the learning rate on a log scale (0.1 → 0.01 → 0.001 …)
and read the loss curve to tell too high from too low. A schedule then
lowers it as training goes:

    constant:  lr_t = lr
    step:      lr_t = lr · gamma ^ floor(t / (step_epochs · steps_per_epoch))
    cosine:    lr_t = lr · (alpha + (1 − alpha) · ½ (1 + cos(π · t / T)))
               with T = epochs · steps_per_epoch
    one_cycle: lr_t = lr · (t + 1) / W              for t < W = warmup · T
               lr_t = lr · (T − t) / (T − W)        after (to 0 at t = T)

``one_cycle`` (Smith's one-cycle policy, linear both ways) warms up from
near 0, so a high peak ``lr`` does not blow up the first steps of a
freshly initialized net, and anneals to 0, so the last steps settle in a
minimum: the most accuracy from a fixed short budget (the speedrun's
schedule, :mod:`tfnn.studies.speedrun`).

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


@keras.saving.register_keras_serializable(package="tfnn")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """The ``one_cycle`` schedule of the module's formula.

    Args:
        learning_rate: the peak ``lr``.
        total_steps: ``T``, the run's optimizer steps.
        warmup: the fraction of ``T`` spent rising, in (0, 1).
    """

    def __init__(self, learning_rate, total_steps, warmup=0.2):
        if not 0 < warmup < 1 or total_steps < 1:
            raise ValueError(
                "one_cycle needs 0 < warmup < 1 and total_steps >= 1. "
                f"Received: warmup={warmup}, total_steps={total_steps}")
        self.learning_rate = float(learning_rate)
        self.total_steps = int(total_steps)
        self.warmup = float(warmup)

    def __call__(self, step):
        t = keras.ops.cast(step, "float32")
        total = float(self.total_steps)
        w = max(1.0, self.warmup * total)
        rise = (t + 1.0) / w
        fall = keras.ops.maximum(total - t, 0.0) / max(total - w, 1.0)
        return self.learning_rate * keras.ops.where(t < w, rise, fall)

    def get_config(self):
        return {"learning_rate": self.learning_rate,
                "total_steps": self.total_steps, "warmup": self.warmup}


@SCHEDULES.register("one_cycle")
def _one_cycle(learning_rate, steps_per_epoch, epochs, warmup=0.2):
    """lr rises linearly to lr over warmup·T steps, then falls to 0 at T."""
    return OneCycle(learning_rate, max(1, int(epochs * steps_per_epoch)),
                    warmup)


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
    factory = {"constant": _constant, "step": _step, "cosine": _cosine,
               "one_cycle": _one_cycle}[SCHEDULES.key(name)]
    return [p for p in inspect.signature(factory).parameters
            if p not in RUN_ARGUMENTS]
