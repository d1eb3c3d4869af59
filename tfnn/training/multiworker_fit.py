"""Keras's own ``fit`` under ``MultiWorkerMirroredStrategy``.

Keras 3.15's TensorFlow trainer (``keras/src/backend/tensorflow/
trainer.py``) fails there twice before the first step, for any model:

1. ``TensorFlowTrainer._maybe_symbolic_build``: a model built under a
   strategy's scope has its first batch turned into one for the symbolic
   build with ``strategy.reduce("MEAN", (x, y), axis=None)``. TensorFlow's
   ``Strategy.reduce`` takes one value, not a nest ("TODO: support `value`
   being a nest", ``tensorflow/python/distribute/distribute_lib.py``);
   ``MultiWorkerMirroredStrategy``'s ``_reduce_to`` converts the whole
   ``(x, y)`` pair of ``PerReplica`` values to one tensor: "Attempt to
   convert a value (PerReplica ...) with an unsupported type".
2. ``reduce_per_replica``: in multi-worker mode every value a step
   returns is reduced with ``strategy.reduce("MEAN", v, axis=0)``, but a
   step's logs (the running loss and accuracy) are scalars, with no axis 0.

:class:`MultiWorkerFit` avoids both, without touching Keras: a thin
``keras.Model`` around the model, built *outside* the strategy's scope,
so Keras has no strategy of its own to build with (it builds when it
traces the step, as it does with no strategy) and uses the current one
(``tf.distribute.get_strategy()``): it is compiled and fitted inside
``strategy.scope()``. Its steps are Keras's own (the loss of each
replica's slice divided by the replica count, the optimizer, the metrics);
each log comes back as a vector of one element, which the MEAN over axis
0 reduces to the mean over the replicas::

    per step:  logs[k] = mean_r(running_k on replica r)   # (1,) → ()
    per epoch: logs[k] = Σ_r total_k / Σ_r count_k        # the metrics

The per-epoch logs are Keras's metrics read across the replicas (their
variables are ``SyncOnRead`` sums): the single process's epoch numbers.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfnn.training.sharding import is_multiworker


def in_multi_worker_mode(strategy) -> bool:
    """Whether ``strategy`` is a ``MultiWorkerMirroredStrategy`` over
    several workers (more replicas than devices of its own): where Keras
    reduces a step's logs over axis 0."""
    return is_multiworker(strategy) and (
        strategy.num_replicas_in_sync
        > len(strategy.extended.worker_devices))


@keras.saving.register_keras_serializable(package="tfnn")
class MultiWorkerFit(keras.Model):
    """``model`` for Keras's ``fit`` under ``MultiWorkerMirroredStrategy``
    (see the module doc): the same call, Keras's own train and test steps,
    each log returned as a vector of one element in multi-worker mode.

    Build it outside the strategy's scope, then compile and fit it inside;
    it trains ``model``'s variables (it has none of its own but the
    metrics').

    Args:
        model: the Keras model to train, built under the strategy's scope.

    Raises:
        ValueError: built inside a strategy's scope (Keras would then take
            the failing symbolic build).
    """

    def __init__(self, model, **kwargs):
        if tf.distribute.has_strategy():
            raise ValueError(
                "MultiWorkerFit must be built outside strategy.scope() "
                "(compile and fit it inside). Received: the strategy "
                f"{type(tf.distribute.get_strategy()).__name__}")
        super().__init__(**kwargs)
        self.model = model

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def train_step(self, data):
        return self.vector_logs(super().train_step(data))

    def test_step(self, data):
        return self.vector_logs(super().test_step(data))

    def vector_logs(self, logs):
        """``logs`` as ``(1,)`` vectors when the strategy spans workers
        (Keras's MEAN over axis 0 then gives the mean over replicas),
        else as they are."""
        if not in_multi_worker_mode(self.distribute_strategy):
            return logs
        return {k: keras.ops.reshape(v, (1,)) for k, v in logs.items()}

    def get_config(self):
        return {**super().get_config(),
                "model": keras.saving.serialize_keras_object(self.model)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        model = keras.saving.deserialize_keras_object(
            config.pop("model"), custom_objects=custom_objects)
        return cls(model, **config)
