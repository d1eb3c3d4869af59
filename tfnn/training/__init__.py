"""Training: the notes' double loop (epochs × mini-batches), written out.

One train step, defined once (:func:`train_step`, in ``steps``), run by
the :class:`Trainer`'s readable loop and by its fast path (a whole epoch
in one compiled function, ``fast_path``), with Keras callbacks around
both (``callbacks``): checkpoints that resume exactly, the History and
``history.json``, TensorBoard, a progress bar, and the stop with a clear
message the moment the loss turns NaN/Inf. :func:`choose_loop` decides
which loop a run takes; :func:`fit_keras` trains the same model with
Keras's own ``compile``/``fit`` on the same batches, to compare;
:func:`overfit_check` is note 004's overfit-a-tiny-subset check.
``whole_run`` trains a whole run into a run folder, ``evaluation`` and
``metrics`` read it back. Several processes train one model with
``MultiWorkerMirroredStrategy``: ``cluster`` reads ``TF_CONFIG``,
``sharding`` gives each replica its slices of the batches,
``multiworker_fit`` lets Keras's ``fit`` train there too, and ``launch``
starts the workers on one machine (``tfnn launch``; docs/distributed.md).

Batch modes of notes 001/002: ``batch_size=0`` (or the ``gd`` optimizer) is
full-batch gradient descent, ``batch_size=1`` is SGD, anything else is
mini-batch gradient descent; ``drop_remainder`` is PyTorch's ``drop_last``.
"""

from tfnn.lazy import lazy_exports

_EXPORTS = {
    "Checkpoints": "tfnn.training.callbacks",
    "EpochLogger": "tfnn.training.callbacks",
    "HistoryWriter": "tfnn.training.callbacks",
    "ProgressBar": "tfnn.training.callbacks",
    "RecordHistory": "tfnn.training.callbacks",
    "StopOnNonFinite": "tfnn.training.callbacks",
    "TensorBoardLogger": "tfnn.training.callbacks",
    "TrainingDiverged": "tfnn.training.callbacks",
    "LoopChoice": "tfnn.training.loop_choice",
    "choose_loop": "tfnn.training.loop_choice",
    "Cluster": "tfnn.training.cluster",
    "ClusterFailed": "tfnn.training.cluster",
    "LOOPS": "tfnn.training.config",
    "STRATEGIES": "tfnn.training.config",
    "TrainConfig": "tfnn.training.config",
    "epoch_dataset": "tfnn.training.distribute",
    "epoch_order": "tfnn.training.distribute",
    "make_multiworker_strategy": "tfnn.training.distribute",
    "make_strategy": "tfnn.training.distribute",
    "set_seed": "tfnn.training.distribute",
    "make_epoch_function": "tfnn.training.fast_path",
    "History": "tfnn.training.history",
    "fit_keras": "tfnn.training.keras_fit",
    "overfit_check": "tfnn.training.sanity",
    "compute_loss": "tfnn.training.steps",
    "current_learning_rate": "tfnn.training.steps",
    "eval_step": "tfnn.training.steps",
    "loss_and_gradients": "tfnn.training.steps",
    "train_step": "tfnn.training.steps",
    "Trainer": "tfnn.training.trainer",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
