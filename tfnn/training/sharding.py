"""Each replica's part of an epoch, for ``MultiWorkerMirroredStrategy``.

A multi-worker run trains on the batches a single process would: the
epoch's order is :func:`~tfnn.training.fast_path.epoch_order` (drawn from
``(seed, epoch)`` only, the same on every worker), cut into global batches
of ``batch_size``, and each global batch is cut into one contiguous slice
per replica (:func:`replica_slice`)::

    order    = epoch_order(n, seed, epoch)            # (n,)
    batch i  = order[i·B : (i+1)·B]                   # (B,), the last ≤ B
    replica r of R takes batch_i[r·B/R : (r+1)·B/R]   # (B/R,)

So every example is seen once per epoch across all workers, no two
replicas share one, and the summed gradients of the replicas' slices (each
loss divided by the global batch) are the single process's gradient of the
whole batch. The sharding is explicit (tf.data's auto-shard is off: the
dataset is built per worker by :func:`sharded_dataset`).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import tensorflow as tf

from tfnn.data.arrays import as_tensor
from tfnn.training.distribute import epoch_order

logger = logging.getLogger(__name__)


def is_multiworker(strategy) -> bool:
    """Whether ``strategy`` is a ``MultiWorkerMirroredStrategy`` (its
    batches are sharded here, not by ``experimental_distribute_dataset``)."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def replica_slice(size: int, replica: int, replicas: int) -> slice:
    """Replica ``replica``'s part of a batch of ``size``: contiguous, the
    first ``size % replicas`` parts one example longer."""
    base, extra = divmod(int(size), int(replicas))
    start = replica * base + min(replica, extra)
    return slice(start, start + base + (replica < extra))


def global_batch_sizes(n: int, batch_size, drop_remainder=False) -> list:
    """The sizes of an epoch's global batches: full ones of
    ``batch_size`` (None or 0: one batch of all ``n``), then the rest."""
    b = n if not batch_size else min(int(batch_size), n)
    sizes = [b] * (n // b)
    if n % b and not drop_remainder:
        sizes.append(n % b)
    return sizes


def shard_epoch(n, batch_size, epoch, seed, replica_ids, replicas,
                drop_remainder=False) -> list:
    """The example indices replicas ``replica_ids`` (of ``replicas``)
    train on in epoch ``epoch``: ``shards[step][k]`` is an int array, the
    slice of global batch ``step`` for ``replica_ids[k]``."""
    order = epoch_order(n, seed, epoch)
    shards, start = [], 0
    for size in global_batch_sizes(n, batch_size, drop_remainder):
        batch = order[start:start + size]  # (size,)
        shards.append([batch[replica_slice(size, r, replicas)]
                       for r in replica_ids])
        start += size
    return shards


def log_shards(worker: int, epoch: int, shards) -> None:
    """At DEBUG, one line per step with the example indices this worker
    trains on (``examples worker W epoch E step S: [i, …]``, E and S from
    1), then the epoch's count: what tests read to check the sharding in
    real worker processes."""
    if not logger.isEnabledFor(logging.DEBUG):
        return
    for step, pieces in enumerate(shards):
        idx = np.concatenate(pieces) if pieces else np.zeros(0, np.int64)
        logger.debug("examples worker %d epoch %d step %d: %s", worker,
                     epoch + 1, step + 1, json.dumps(idx.tolist()))
    logger.debug("examples worker %d epoch %d: %d in all", worker,
                 epoch + 1, sum(len(p) for step in shards for p in step))


def sharded_dataset(x, y, batch_size, epochs, seed, strategy,
                    drop_remainder=False):
    """This worker's batches of ``epochs`` (an iterable of epoch numbers,
    one after the other) as a distributed dataset of ``strategy``.

    Each worker's input function builds only its own replicas' slices
    (:func:`shard_epoch`), in the order ``strategy`` hands them to its
    local replicas (step by step, local replica by local replica), and logs
    at DEBUG the indices of each step (:func:`log_shards`).
    """
    epochs = [int(e) for e in epochs]
    n = len(x)
    # Converted once (shared, not copied, where it can be); the input
    # functions capture the tensors.
    xt = as_tensor(x, tf.float32)
    yt = as_tensor(y, tf.int64)

    def dataset_fn(ctx):
        local = ctx.num_replicas_in_sync // ctx.num_input_pipelines
        first = ctx.input_pipeline_id * local
        ids = list(range(first, first + local))
        pieces = []
        for epoch in epochs:
            shards = shard_epoch(n, batch_size, epoch, seed, ids,
                                 ctx.num_replicas_in_sync, drop_remainder)
            pieces += [idx for step in shards for idx in step]
            log_shards(ctx.input_pipeline_id, epoch, shards)
        lengths = [len(p) for p in pieces]
        flat = np.concatenate(pieces) if pieces else np.zeros(0, np.int64)
        rows = tf.RaggedTensor.from_row_lengths(flat, lengths)
        ds = tf.data.Dataset.from_tensor_slices(rows)
        ds = ds.map(lambda idx: (tf.gather(xt, idx), tf.gather(yt, idx)))
        return ds.prefetch(tf.data.AUTOTUNE)

    return strategy.distribute_datasets_from_function(dataset_fn)
