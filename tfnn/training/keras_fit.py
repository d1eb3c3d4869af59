"""The same model trained with Keras's own ``compile``/``fit``, side by
side with the Trainer: the same batches and the same callbacks where they
apply (the History, the stop at a non-finite loss, the epoch log line,
TensorBoard)."""

from __future__ import annotations

import contextlib

import keras

from tfnn import data as tfnn_data
from tfnn.nn import optimizers as tfnn_optimizers
from tfnn.training.callbacks import (
    EpochLogger,
    HistoryWriter,
    RecordHistory,
    StopOnNonFinite,
)
from tfnn.training.distribute import epoch_dataset
from tfnn.training.history import History
from tfnn.training.multiworker_fit import MultiWorkerFit
from tfnn.training.sharding import is_multiworker, sharded_dataset


def fit_keras(model, optimizer, x, y, *, epochs=1, batch_size=128,
              validation=None, seed=0, drop_remainder=False,
              from_logits=True, verbose=0, callbacks=None,
              checkpoints=None, history_path=None,
              strategy=None, loss_guard="stop", loss_guard_factor=3.0,
              initial_loss=None) -> History:
    """Train ``model`` with Keras's ``compile``/``fit`` on the batches the
    readable loop would use (the same per-epoch order), into a History.

    One ``fit`` call runs all epochs over the epochs' datasets joined end
    to end (``steps_per_epoch`` batches each), so Keras callbacks see one
    run. With ``checkpoints`` it resumes: the latest checkpoint is restored
    before ``fit`` starts, which then runs the remaining epochs
    (``initial_epoch``) on their own batches. Under
    ``MultiWorkerMirroredStrategy`` each worker feeds its own slices of
    the batches (:func:`~tfnn.training.sharding.sharded_dataset`) to a
    :class:`~tfnn.training.multiworker_fit.MultiWorkerFit` around the
    model, compiled and fitted in the strategy's scope (Keras's ``fit``
    of the model itself fails there).

    Args:
        model, optimizer: the model and a Keras optimizer (or a key).
        x, y: training images and labels.
        epochs, batch_size, seed, drop_remainder: as in
            :meth:`tfnn.training.Trainer.fit`.
        validation: ``(x_val, y_val)`` evaluated each epoch, or None.
        from_logits: how the loss reads the model's output.
        verbose: Keras's progress output (0 silent).
        callbacks: more Keras callbacks, after tfnn's own.
        checkpoints: a :class:`~tfnn.training.Checkpoints` of the trainer
            whose model and optimizer these are: resume from it and save
            every epoch. Optional.
        history_path: where to write ``history.json`` every epoch (beside
            the checkpoints). Optional.
        strategy: the ``tf.distribute`` strategy the model was built
            under. Defaults to the default one.
        loss_guard, loss_guard_factor, initial_loss: note 004's rule, as
            in :meth:`tfnn.training.Trainer.fit`; without
            ``initial_loss`` the first step's loss of a fresh run is the
            reference (:class:`StopOnNonFinite`).

    Returns:
        The :class:`History` (no per-step losses: ``fit`` reports running
        means).

    Raises:
        TrainingDiverged: the loss became NaN/Inf or climbed above
            ``loss_guard_factor`` × the initial loss.
    """
    fitted, scope = compile_for_fit(model, optimizer, from_logits, strategy)
    batch_size = None if batch_size in (0, None) else int(batch_size)
    steps = tfnn_data.num_batches(len(x), batch_size, drop_remainder)
    history = History()
    initial = checkpoints.restore(history) if checkpoints else 0
    if initial >= epochs:
        return history
    if is_multiworker(strategy):
        ds = sharded_dataset(x, y, batch_size, range(initial, epochs), seed,
                             strategy, drop_remainder)
    else:
        ds = epoch_dataset(x, y, batch_size, initial, seed, drop_remainder)
        for epoch in range(initial + 1, epochs):
            ds = ds.concatenate(epoch_dataset(x, y, batch_size, epoch, seed,
                                              drop_remainder))
    # In the Trainer's order: save the checkpoint, then the History.
    own = [checkpoints] if checkpoints else []
    own.append(RecordHistory(history))
    if history_path:
        own.append(HistoryWriter(history, history_path))
    own += [StopOnNonFinite(
        checkpoint_dir=checkpoints.directory if checkpoints else None,
        loss_guard=loss_guard, factor=loss_guard_factor,
        initial_loss=initial_loss), EpochLogger()]
    with scope():
        fitted.fit(ds, epochs=epochs, initial_epoch=initial,
                   steps_per_epoch=steps, shuffle=False,
                   validation_data=validation, verbose=verbose,
                   callbacks=own + list(callbacks or []))
    return history


def compile_for_fit(model, optimizer, from_logits=True, strategy=None):
    """Compile what Keras's ``fit`` trains for ``model``: the model itself,
    or under ``MultiWorkerMirroredStrategy`` a
    :class:`~tfnn.training.multiworker_fit.MultiWorkerFit` around it,
    built here (outside the strategy's scope) and compiled in the scope.

    Returns:
        ``(fitted, scope)``: what to call ``fit`` on, and a function
        returning the context to call it in (the strategy's scope, or
        none).
    """
    multiworker = is_multiworker(strategy)
    fitted = MultiWorkerFit(model) if multiworker else model
    scope = strategy.scope if multiworker else contextlib.nullcontext
    with scope():
        fitted.compile(
            optimizer=tfnn_optimizers.get(optimizer),
            loss=keras.losses.SparseCategoricalCrossentropy(
                from_logits=from_logits),
            metrics=[keras.metrics.SparseCategoricalAccuracy(
                name="accuracy")],
            # Keras's own choice under tf.distribute ("auto" would pick
            # XLA on a GPU for the MultiWorkerFit, built outside it).
            **({"jit_compile": False} if multiworker else {}),
        )
    return fitted, scope
