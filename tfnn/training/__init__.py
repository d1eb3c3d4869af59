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

from tfnn.training.callbacks import (
    Checkpoints,
    EpochLogger,
    HistoryWriter,
    ProgressBar,
    RecordHistory,
    StopOnNonFinite,
    TensorBoardLogger,
    TrainingDiverged,
)
from tfnn.training.cluster import Cluster, ClusterFailed
from tfnn.training.config import LOOPS, STRATEGIES, TrainConfig
from tfnn.training.distribute import (
    dtype_policy,
    epoch_dataset,
    epoch_order,
    epoch_seed,
    make_multiworker_strategy,
    make_strategy,
    set_seed,
)
from tfnn.training.fast_path import make_epoch_function
from tfnn.training.history import History
from tfnn.training.keras_fit import fit_keras
from tfnn.training.loop_choice import (
    FAST_PATH_MIN_STEPS,
    XLA_MIN_STEPS,
    LoopChoice,
    choose_loop,
    fast_path_jit,
)
from tfnn.training.sanity import overfit_check
from tfnn.training.sharding import shard_epoch, sharded_dataset
from tfnn.training.steps import (
    compute_loss,
    current_learning_rate,
    eval_step,
    loss_and_gradients,
    train_step,
)
from tfnn.training.trainer import Trainer

__all__ = [
    "LOOPS",
    "STRATEGIES",
    "FAST_PATH_MIN_STEPS",
    "XLA_MIN_STEPS",
    "Checkpoints",
    "Cluster",
    "ClusterFailed",
    "EpochLogger",
    "History",
    "HistoryWriter",
    "LoopChoice",
    "ProgressBar",
    "RecordHistory",
    "StopOnNonFinite",
    "TensorBoardLogger",
    "TrainConfig",
    "Trainer",
    "TrainingDiverged",
    "choose_loop",
    "compute_loss",
    "current_learning_rate",
    "dtype_policy",
    "epoch_dataset",
    "epoch_order",
    "epoch_seed",
    "eval_step",
    "fast_path_jit",
    "fit_keras",
    "loss_and_gradients",
    "make_epoch_function",
    "make_multiworker_strategy",
    "make_strategy",
    "overfit_check",
    "set_seed",
    "shard_epoch",
    "sharded_dataset",
    "train_step",
]
