"""Seeds, ``tf.distribute`` strategies, mixed precision, and each epoch's
seeded batches."""

from __future__ import annotations

import contextlib
import logging
import random

import keras
import numpy as np
import tensorflow as tf

from tfnn import data as tfnn_data
from tfnn.training import cluster as tfnn_cluster
from tfnn.training.config import STRATEGIES

# TensorFlow's coordination service has no public configuration yet
# (:func:`configure_coordination`); another TensorFlow may lack these.
try:
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context
except ImportError:  # pragma: no cover
    coordination_config_pb2 = context = None

logger = logging.getLogger(__name__)


def set_seed(seed: int, deterministic: bool = False) -> None:
    """One seed for Python, NumPy, TensorFlow and Keras; optional op
    determinism (bitwise-repeatable kernels, a little slower)."""
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def make_strategy(name: str = "default", devices=None,
                  collective_timeout: float = 60.0,
                  startup_timeout: float = 120.0):
    """The ``tf.distribute`` strategy called ``name``.

    ``mirrored`` copies the model to every local device (all GPUs, or the
    logical CPUs given in ``devices``) and averages gradients;
    ``multiworker`` reads the cluster from ``TF_CONFIG`` (see
    :func:`make_multiworker_strategy`, which the timeouts are for).
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if devices is None:
            gpus = tf.config.list_logical_devices("GPU")
            cpus = tf.config.list_logical_devices("CPU")
            devices = [d.name for d in (gpus or cpus)]
        # Reduce through one device: collective all-reduce keys clash when
        # a process creates a second MirroredStrategy over the same devices.
        return tf.distribute.MirroredStrategy(
            devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    if name == "multiworker":
        return make_multiworker_strategy(collective_timeout, startup_timeout)
    raise ValueError(f"Unknown strategy {name!r}; choose from {STRATEGIES}")


def make_multiworker_strategy(collective_timeout: float = 60.0,
                              startup_timeout: float = 120.0):
    """``MultiWorkerMirroredStrategy`` over the cluster of ``TF_CONFIG``,
    built so that a broken cluster fails instead of waiting forever.

    * ``TF_CONFIG`` is checked first (:func:`tfnn.training.cluster.from_env`:
      ValueError naming what is wrong, and whether this task's port is
      taken).
    * Building the strategy waits until every task has registered with the
      chief's coordination service: at most ``startup_timeout`` seconds,
      then ValueError (``tfnn train`` exits 2). A watchdog ends the
      process with one line and status 2 if even that wait does not end
      (:func:`~tfnn.training.cluster.startup_watchdog`).
    * Every collective (the gradients' all-reduce, …) gives up after
      ``collective_timeout`` seconds (``CommunicationOptions``), and a
      worker that stops sending heartbeats for as long (killed, its
      machine lost) makes the others' collectives fail.

    Must run before anything initializes TensorFlow's runtime (loading
    data, creating tensors): collectives are configured at startup.
    """
    cluster = tfnn_cluster.from_env()
    if cluster is None:
        logger.info("multiworker: TF_CONFIG is not set: one local worker")
    else:
        tfnn_cluster.check_own_port(cluster)
        logger.info("multiworker: %s of %d (%s), chief %s", cluster.name,
                    cluster.num_workers, cluster.address,
                    cluster.chief_address)
        configure_coordination(cluster, collective_timeout, startup_timeout)
    where = (f"{cluster.name} ({cluster.address}) found no complete "
             f"cluster (chief {cluster.chief_address}) within "
             f"{startup_timeout:g} s: is every task of TF_CONFIG started "
             "and reachable?" if cluster else "no cluster")
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=float(collective_timeout))
    with tfnn_cluster.startup_watchdog(startup_timeout + 30,
                                       f"error: {where}"):
        try:
            return tf.distribute.MultiWorkerMirroredStrategy(
                communication_options=options)
        except (tf.errors.DeadlineExceededError,
                tf.errors.UnavailableError) as err:
            raise ValueError(where) from err


def configure_coordination(cluster, heartbeat_timeout: float,
                           register_timeout: float) -> None:
    """Configure the coordination service ``MultiWorkerMirroredStrategy``
    starts (it would take TensorFlow's defaults: wait forever for the
    cluster to register, declare a worker lost after 10 s without a
    heartbeat, too short on a loaded machine where a busy worker misses
    heartbeats). TensorFlow has no public switch for this yet: this is
    what the strategy itself calls, with the timeouts given; without the
    internal API the defaults stay (logged)."""
    if coordination_config_pb2 is None:  # pragma: no cover
        logger.warning("multiworker: TensorFlow's coordination service "
                       "cannot be configured here; its default timeouts "
                       "apply")
        return
    leader = "chief" if "chief" in cluster.jobs else "worker"
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=f"/job:{leader}/replica:0/task:0",
        cluster_register_timeout_in_ms=int(register_timeout * 1000),
        heartbeat_timeout_in_ms=int(heartbeat_timeout * 1000),
        coordinated_jobs=[
            coordination_config_pb2.CoordinatedJob(name=job,
                                                   num_tasks=len(addresses))
            for job, addresses in cluster.jobs.items()])


@contextlib.contextmanager
def collective_errors(cluster):
    """Inside a multi-worker run (``cluster`` not None), turn TensorFlow's
    errors of a broken cluster (a lost worker, a collective past its
    timeout) into :class:`~tfnn.training.cluster.ClusterFailed` with one
    line naming this task and what it lost."""
    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
            tf.errors.AbortedError, tf.errors.CancelledError,
            tf.errors.FailedPreconditionError) as err:
        if cluster is None:
            raise
        raise tfnn_cluster.ClusterFailed(
            f"{cluster.name}: the cluster failed: "
            f"{tfnn_cluster.describe_failure(err.message, cluster)}"
        ) from err


def synchronize_batch_norm(model) -> int:
    """Make every BatchNormalization layer of ``model`` normalize with the
    statistics of the global batch, all-reduced across the replicas
    (Keras's ``synchronized=True``), instead of its replica's slice.

    With it, R replicas train the same function as one process on the
    whole batch (``mean = Σ_r Σ x / Σ_r n``, ``var = E[x²] − mean²``), and
    the moving statistics, updated from those global moments, stay equal
    on every replica (Keras creates them with ``aggregation="none"``: a
    replica's own statistics would let the workers' copies drift apart).
    Inference (``training=False``) reads the moving statistics and does
    not change.

    Returns:
        How many layers were switched.
    """
    found, stack = 0, list(model.layers)
    while stack:  # nested models and blocks too
        layer = stack.pop()
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True
            found += 1
        stack += list(getattr(layer, "layers", None) or [])
    return found


@contextlib.contextmanager
def dtype_policy(mixed_precision: bool):
    """Build layers under ``mixed_float16`` (float16 compute, float32
    variables) when asked; the previous global policy comes back after."""
    previous = keras.config.dtype_policy()
    if mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def epoch_seed(seed, epoch) -> int:
    """The shuffle seed of epoch ``epoch``: ``seed·100003 + epoch``."""
    return int(seed) * 100003 + int(epoch)


def epoch_order(n, seed, epoch) -> np.ndarray:
    """The order in which epoch ``epoch`` visits the ``n`` examples, the
    same for every loop (the readable one, the fast path, Keras fit and
    each worker's shard), so the loop a run takes changes its speed, not
    its numbers: a NumPy permutation drawn from :func:`epoch_seed` only
    (``default_rng(epoch_seed).permutation(n)``), so a resumed run repeats
    it exactly. Drawing it takes about a millisecond for 60,000 examples
    (a ``tf.data`` shuffle of the indices took a tenth of a second, a
    tenth of a whole fast-path epoch of the MLP)."""
    rng = np.random.default_rng(epoch_seed(seed, epoch) % 2**63)
    return rng.permutation(int(n)).astype(np.int32)


def epoch_dataset(x, y, batch_size, epoch, seed, drop_remainder=False,
                  strategy=None):
    """Epoch ``epoch``'s batches for the readable loop and Keras fit.

    The order is :func:`epoch_order`'s, drawn from ``(seed, epoch)``
    only, so a resumed run sees exactly the batches of an uninterrupted
    one. Under a strategy of several replicas the dataset is distributed
    (each batch split across the replicas).
    """
    order = epoch_order(len(y), seed, epoch)

    def take(a):
        return tf.gather(a, order) if tf.is_tensor(a) else np.asarray(a)[order]

    ds = tfnn_data.make_dataset(
        take(x), take(y), batch_size=batch_size, shuffle=False,
        drop_remainder=drop_remainder,
    )
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        return strategy.experimental_distribute_dataset(ds)
    return ds


def batch_len(xb) -> int:
    """Examples in a batch, a tensor or a ``PerReplica`` of tensors."""
    if hasattr(xb, "values"):  # PerReplica
        return sum(int(v.shape[0]) for v in xb.values)
    return int(xb.shape[0])
