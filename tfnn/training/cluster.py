"""The cluster of a multi-worker run, as ``TF_CONFIG`` describes it.

``MultiWorkerMirroredStrategy`` reads its cluster from the environment
variable ``TF_CONFIG``, one per process::

    {"cluster": {"worker": ["host0:port", "host1:port"]},
     "task": {"type": "worker", "index": 1}}

:func:`from_env` parses and checks it before TensorFlow does, so a typo is
a one-line ``ValueError`` (``tfnn train`` exits 2) instead of a traceback
or a process that waits for a peer that does not exist. The chief is the
``chief`` task if the cluster has one, else worker 0 (TensorFlow's rule):
only it writes the run folder (:func:`write_dir`). :func:`startup_watchdog`
bounds the wait for the cluster at startup.

Nothing here imports TensorFlow: :mod:`tfnn.training.launch` uses it too.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import socket
import sys
import tempfile
import threading
from dataclasses import dataclass

logger = logging.getLogger(__name__)

TF_CONFIG = "TF_CONFIG"
JOBS = ("chief", "worker")  # the jobs MultiWorkerMirroredStrategy trains on
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# A task in TensorFlow's messages: /job:worker/replica:0/task:1
TASK_NAME = re.compile(r"/job:(\w+)/replica:\d+/task:(\d+)")
# The prefix of an op's error: {{function_node …}} or {{node …}}
FUNCTION_NODE = re.compile(r"\{\{[^}]*\}\}")


class ClusterFailed(RuntimeError):
    """A multi-worker run stopped because the cluster broke: a worker was
    lost (killed, its machine gone) or a collective timed out."""


def describe_failure(message: str, cluster: Cluster | None = None) -> str:
    """One line out of TensorFlow's many about a failed collective: which
    other tasks it names (``/job:worker/replica:0/task:1``, or a task's
    ``host:port`` when ``cluster`` is given), then why, e.g. ``lost worker
    1 (127.0.0.1:4001): ... Connection refused``."""
    text = str(message)
    lost = {f"{job} {index}" for job, index in TASK_NAME.findall(text)}
    if cluster is not None:
        lost |= {f"{job} {i}" for job, addresses in cluster.jobs.items()
                 for i, address in enumerate(addresses) if address in text}
        lost.discard(cluster.name)
        where = {f"{job} {i}": a for job, addresses in cluster.jobs.items()
                 for i, a in enumerate(addresses)}
        lost = {f"{t} ({where[t]})" if t in where else t for t in lost}
    lines = [FUNCTION_NODE.sub("", ln).strip() for ln in text.splitlines()]
    why = next((ln for ln in lines if ln), "unknown error")[:240]
    if lost:
        return f"lost {', '.join(sorted(lost))}: {why}"
    return why


@dataclass(frozen=True)
class Cluster:
    """This process's place in a multi-worker cluster.

    Args:
        jobs: ``{"chief": (address,), "worker": (address, …)}``, only the
            jobs that train.
        task_type: this process's job, ``"chief"`` or ``"worker"``.
        task_index: its index in that job.
    """

    jobs: dict[str, tuple[str, ...]]
    task_type: str
    task_index: int

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every training task's address, chief first (TensorFlow's
        ``id_in_cluster`` order)."""
        return tuple(a for job in JOBS for a in self.jobs.get(job, ()))

    @property
    def num_workers(self) -> int:
        return len(self.addresses)

    @property
    def id_in_cluster(self) -> int:
        """This task's position in :attr:`addresses`."""
        if self.task_type == "chief":
            return self.task_index
        return len(self.jobs.get("chief", ())) + self.task_index

    @property
    def is_chief(self) -> bool:
        if "chief" in self.jobs:
            return self.task_type == "chief" and self.task_index == 0
        return self.task_type == "worker" and self.task_index == 0

    @property
    def address(self) -> str:
        """This task's ``host:port``."""
        return self.jobs[self.task_type][self.task_index]

    @property
    def chief_address(self) -> str:
        return self.addresses[0]

    @property
    def name(self) -> str:
        """``worker 1`` or ``chief 0``, as the log names a task."""
        return f"{self.task_type} {self.task_index}"


def tf_config(addresses, index: int) -> dict:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of workers at
    ``addresses`` (worker 0 is the chief)."""
    return {"cluster": {"worker": list(addresses)},
            "task": {"type": "worker", "index": int(index)}}


def split_address(address: str) -> tuple[str, int]:
    """``("host", port)`` of ``"host:port"``; ValueError if malformed."""
    host, sep, port = str(address).rpartition(":")
    if not sep or not host or not port.isdigit() or not (
            0 < int(port) < 65536):
        raise ValueError(f"TF_CONFIG: address {address!r} is not "
                         "host:port with a port in 1-65535")
    return host.strip("[]"), int(port)


def parse_tf_config(text: str) -> Cluster:
    """The :class:`Cluster` a ``TF_CONFIG`` string describes.

    Raises:
        ValueError: the JSON is malformed, the cluster or task is missing,
            an address is not ``host:port``, an address repeats, or the
            task's index is out of range; the message says which.
    """
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err})") from None
    if not isinstance(config, dict) or not isinstance(
            config.get("cluster"), dict):
        raise ValueError('TF_CONFIG has no "cluster": expected {"cluster": '
                         '{"worker": ["host:port", ...]}, "task": {"type": '
                         '"worker", "index": 0}}')
    jobs = {}
    for job in JOBS:
        addresses = config["cluster"].get(job, [])
        if isinstance(addresses, str) or not isinstance(addresses, list):
            raise ValueError(f'TF_CONFIG: cluster "{job}" must be a list '
                             f"of host:port. Received: {addresses!r}")
        if addresses:
            jobs[job] = tuple(str(a) for a in addresses)
    if not jobs:
        raise ValueError('TF_CONFIG: the cluster has no "worker" (or '
                         '"chief") addresses')
    if len(jobs.get("chief", ())) > 1:
        raise ValueError('TF_CONFIG: a cluster has at most one "chief"')
    every = [a for job in JOBS for a in jobs.get(job, ())]
    for address in every:
        split_address(address)
    if len(set(every)) < len(every):
        raise ValueError(f"TF_CONFIG: an address repeats in {every}")
    task = config.get("task")
    if not isinstance(task, dict) or task.get("type") not in jobs:
        raise ValueError(f'TF_CONFIG: "task" must be {{"type": one of '
                         f'{sorted(jobs)}, "index": N}}. Received: {task!r}')
    index, count = task.get("index", 0), len(jobs[task["type"]])
    if isinstance(index, bool) or not isinstance(index, int) or not (
            0 <= index < count):
        raise ValueError(f'TF_CONFIG: task index {index!r} is out of range '
                         f'for {count} "{task["type"]}" address(es)')
    return Cluster(jobs, task["type"], index)


def from_env(environ=None) -> Cluster | None:
    """The :class:`Cluster` of ``$TF_CONFIG``; None when it is unset
    (TensorFlow then trains one local worker). See
    :func:`parse_tf_config` for the errors."""
    text = (os.environ if environ is None else environ).get(TF_CONFIG, "")
    if not text.strip():
        return None
    return parse_tf_config(text)


def port_in_use(host: str, port: int) -> bool:
    """Whether ``port`` on ``host`` (a local address) cannot be bound:
    another process listens there. Connections of an ended run still in
    TIME_WAIT do not count (``SO_REUSEADDR``, as TensorFlow's server binds:
    a restarted group reuses its ports)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def check_own_port(cluster: Cluster) -> None:
    """ValueError if this task's own port (on a loopback address) is
    taken: TensorFlow would fail to start its server with a long trace."""
    host, port = split_address(cluster.address)
    if host in LOOPBACK and port_in_use(host, port):
        raise ValueError(f"TF_CONFIG: {cluster.name}'s address "
                         f"{cluster.address} is in use by another process")


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct ports free on ``host`` right now (bound to port 0
    together, then released)."""
    sockets = []
    try:
        for _ in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


@contextlib.contextmanager
def startup_watchdog(seconds: float, message: str, exit_code: int = 2):
    """Bound a wait that TensorFlow cannot bound: if the block has not
    finished after ``seconds``, write ``message`` as one line to stderr and
    end the process with ``exit_code`` (``os._exit``: the main thread is
    blocked inside TensorFlow's C++ and would never see an exception).

    ``MultiWorkerMirroredStrategy()`` registers the task with the chief's
    coordination service and waits, without a limit, until every task of
    the cluster has registered.
    """
    def expire():
        sys.stderr.write(message.rstrip("\n") + "\n")
        sys.stderr.flush()
        os._exit(exit_code)

    timer = threading.Timer(float(seconds), expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def write_dir(out_dir: str | None, cluster: Cluster | None) -> str | None:
    """Where this process writes its run folder: ``out_dir`` on the chief
    (or without a cluster); on every other worker a fresh temporary folder
    (the caller removes it), TensorFlow's multi-worker convention: every
    worker takes part in each save (a save may run collectives), only the
    chief's copy is kept."""
    if out_dir is None or cluster is None or cluster.is_chief:
        return out_dir
    return tempfile.mkdtemp(
        prefix=f"tfnn-{cluster.task_type}{cluster.task_index}-")
