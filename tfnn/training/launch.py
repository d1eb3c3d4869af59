"""Start a multi-worker run on this machine: ``tfnn launch --workers N --
<tfnn train flags>``.

:func:`launch` starts N processes ``python -m tfnn.cli train … --strategy
multiworker`` on loopback (127.0.0.1 only), each with its ``TF_CONFIG``
(:func:`tfnn.training.cluster.tf_config`: a cluster of N workers, worker 0
the chief). Every worker runs in its own process group, with its own
temporary folder (``TMPDIR``, removed after), and writes its output to
``LOG_DIR/worker-I.log``; the chief's output is also streamed to the
console.

* When a worker fails (a non-zero exit, or killed by a signal), the others
  are stopped (SIGTERM to their process groups, SIGKILL after
  ``grace`` seconds) and the launcher exits non-zero; one line naming
  the worker comes at once, the end of its log after the stop.
* Ctrl-C (or SIGTERM to the launcher) stops every worker the same way.
* ``restarts=K``: after a lost worker the whole group starts again, up to
  K times, like Keras's ``BackupAndRestore``: every worker resumes from
  the chief's last checkpoint in the run folder (``--out``), so the run
  ends where an uninterrupted one would. Deterministic failures (bad
  input, exit 2; a diverged loss, exit 3) are not retried.

The same command run again after a failure also resumes from the last
checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from tfnn.atomic_json import write_json
from tfnn.training import cluster as tfnn_cluster

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"  # workers listen on loopback only
NOT_RETRIED = (2, 3)  # bad input, diverged: the same again on a restart
STATE_FILE = "workers.json"  # LOG_DIR/workers.json: this attempt's pids
# TensorFlow's INFO lines, left out of the log tail shown on a failure
NOISE = ("I0000", "INFO:tensorflow:", "Collective all_reduce tensors",
         "WARNING: All log messages before absl")


@dataclass(frozen=True)
class LaunchConfig:
    """How to launch the workers.

    Args:
        workers: processes, N ≥ 1; worker 0 is the chief.
        port_base: worker i listens on ``port_base + i``. Defaults to
            None: free ports picked at each start.
        restarts: times the whole group may start again after a lost
            worker. Defaults to 0.
        log_dir: where ``worker-I.log`` and ``workers.json`` go. Defaults
            to a temporary folder, removed after a success.
        grace: seconds between SIGTERM and SIGKILL when stopping workers,
            and the time the others get to finish once one has finished.
            Defaults to 5 (TensorFlow catches SIGTERM in a worker, so a
            stop usually takes the whole grace).
        verbose: run the workers with ``tfnn -v`` (DEBUG logs, among them
            the example indices each worker trains on).
    """

    workers: int = 2
    port_base: int | None = None
    restarts: int = 0
    log_dir: str | None = None
    grace: float = 5.0
    verbose: bool = False

    def __post_init__(self):
        if isinstance(self.workers, bool) or not isinstance(
                self.workers, int) or self.workers < 1:
            raise ValueError("--workers must be an integer >= 1. "
                             f"Received: workers={self.workers!r}")
        if self.restarts < 0:
            raise ValueError("--restarts must be >= 0. "
                             f"Received: restarts={self.restarts}")
        if self.port_base is not None and not (
                0 < self.port_base <= 65536 - self.workers):
            raise ValueError(
                f"--port-base must leave {self.workers} ports in 1-65535. "
                f"Received: port_base={self.port_base}")
        if not self.grace > 0:
            raise ValueError(f"grace must be > 0. Received: {self.grace}")


def train_arguments(train_args) -> list[str]:
    """``train_args`` with ``--strategy multiworker`` (added when absent).

    Raises:
        ValueError: no flags at all (``tfnn launch --workers 2`` alone is
            a mistake more often than a wish for every default), or
            another ``--strategy``.
    """
    args = list(train_args)
    if args and args[0] == "--":
        args = args[1:]
    if args and args[0] == "train":  # `tfnn launch -- train --epochs 2`
        args = args[1:]
    if not args:
        raise ValueError("no tfnn train flags after --: e.g. tfnn launch "
                         "--workers 2 -- --epochs 2 --out runs/mw")
    for i, arg in enumerate(args):
        value = None
        if arg == "--strategy" and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--strategy="):
            value = arg.split("=", 1)[1]
        if value is not None and value != "multiworker":
            raise ValueError("tfnn launch trains with --strategy "
                             f"multiworker. Received: --strategy {value}")
        if value is not None:
            return args
    return [*args, "--strategy", "multiworker"]


def worker_command(train_args, verbose=False, python=None) -> list[str]:
    """The command line of one worker: ``python -m tfnn.cli [-v] train …``."""
    return [python or sys.executable, "-m", "tfnn.cli",
            *(["-v"] if verbose else []), "train", *train_args]


def cluster_ports(config: LaunchConfig) -> list[int]:
    """The workers' ports: ``port_base + i`` (ValueError naming a port in
    use) or free ones."""
    if config.port_base is None:
        return tfnn_cluster.free_ports(config.workers, HOST)
    ports = [config.port_base + i for i in range(config.workers)]
    for port in ports:
        if tfnn_cluster.port_in_use(HOST, port):
            raise ValueError(
                f"port {port} on {HOST} is in use: choose another "
                "--port-base, or leave it out to pick free ports")
    return ports


def exit_reason(returncode: int) -> str:
    """``exited with status 1`` or ``was killed by SIGKILL``."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with status {returncode}"


def exit_status(returncode: int) -> int:
    """The launcher's status for a failed worker's: the same, or 128 + the
    signal that killed it (the shell's convention)."""
    return returncode if returncode > 0 else 128 - returncode


def log_tail(path: str, lines: int = 20) -> str:
    """The last ``lines`` lines of the file at ``path``, leaving out
    TensorFlow's INFO chatter (:data:`NOISE`)."""
    try:
        with open(path, errors="replace") as fh:
            kept = [ln for ln in fh if not ln.startswith(NOISE)]
    except OSError:
        return ""
    return "".join(kept[-lines:])


class Worker:
    """One worker process of an attempt, in its own process group.

    Args:
        index: the worker's index (0: the chief).
        command: its command line.
        env: its environment (``TF_CONFIG``, ``TMPDIR`` …).
        log_path: its log file (appended to).
        stream: where the chief's output is copied as it comes; None for
            the other workers.
    """

    def __init__(self, index, command, env, log_path, stream=None):
        self.index = index
        self.log_path = log_path
        self.log = open(log_path, "a", buffering=1)
        self.pump = None
        self.process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stream else self.log,
            stderr=subprocess.STDOUT, start_new_session=True,
            text=True, errors="replace")
        if stream is not None:
            self.pump = threading.Thread(target=self.copy, args=(stream,),
                                         daemon=True)
            self.pump.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def copy(self, stream):
        """Copy the process's output, line by line, to ``stream`` and to
        the log (a thread; ends with the output)."""
        for line in self.process.stdout:
            self.log.write(line)
            stream.write(line)
            stream.flush()

    def poll(self):
        return self.process.poll()

    def signal(self, signum) -> None:
        """Send ``signum`` to the worker's process group, if it runs."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        if self.pump is not None:
            self.pump.join(timeout=5)
        self.log.close()

    def describe(self) -> str:
        return (f"worker {self.index} (pid {self.pid}) "
                f"{exit_reason(self.process.returncode)}")


def stop(workers, grace: float) -> None:
    """SIGTERM every running worker's process group, SIGKILL what still
    runs ``grace`` seconds later; returns when all have ended (bounded:
    SIGKILL cannot be refused)."""
    for w in workers:
        w.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(
            w.poll() is None for w in workers):
        time.sleep(0.05)
    for w in workers:
        w.signal(signal.SIGKILL)
    for w in workers:
        try:
            w.process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover (a D-state)
            logger.error("worker %d (pid %d) did not end after SIGKILL",
                         w.index, w.pid)
        w.close()


def watch(workers, grace: float, poll_seconds: float = 0.1):
    """Wait until every worker has ended well (returns None) or one fails
    (returns it; the others still run). A worker still running ``grace``
    seconds after another finished well counts as failed (it hangs)."""
    finished_at = None
    while True:
        codes = [w.poll() for w in workers]
        for w, code in zip(workers, codes):
            if code not in (None, 0):
                return w
        if all(code == 0 for code in codes):
            return None
        if finished_at is None and 0 in codes:
            finished_at = time.monotonic()
        if finished_at is not None and (
                time.monotonic() - finished_at > 3 * grace + 60):
            return next(w for w, c in zip(workers, codes) if c is None)
        time.sleep(poll_seconds)


def start_workers(train_args, config: LaunchConfig, log_dir, attempt,
                  stream, env=None) -> list[Worker]:
    """Start the N workers of one attempt (each with its ``TF_CONFIG``,
    ``TMPDIR`` and log) and write ``LOG_DIR/workers.json``."""
    ports = cluster_ports(config)
    addresses = [f"{HOST}:{p}" for p in ports]
    command = worker_command(train_args, config.verbose)
    workers = []
    try:
        for i in range(config.workers):
            tmp = os.path.join(log_dir, "tmp", f"worker-{i}")
            os.makedirs(tmp, exist_ok=True)
            worker_env = {**(os.environ if env is None else env),
                          tfnn_cluster.TF_CONFIG: json.dumps(
                              tfnn_cluster.tf_config(addresses, i)),
                          "TMPDIR": tmp, "PYTHONUNBUFFERED": "1"}
            path = os.path.join(log_dir, f"worker-{i}.log")
            with open(path, "a") as fh:
                fh.write(f"=== attempt {attempt}: {addresses[i]} ===\n")
            workers.append(Worker(i, command, worker_env, path,
                                  stream if i == 0 else None))
    except OSError:
        stop(workers, config.grace)
        raise
    state = {"attempt": attempt, "command": command, "workers": [
        {"index": w.index, "pid": w.pid, "address": addresses[w.index],
         "log": w.log_path} for w in workers]}
    write_json(os.path.join(log_dir, STATE_FILE), state)
    logger.info("tfnn launch: attempt %d: %d workers on %s (chief %s); "
                "logs in %s", attempt, config.workers, HOST, addresses[0],
                log_dir)
    return workers


def run_attempt(train_args, config: LaunchConfig, log_dir, attempt,
                stream, env=None):
    """One attempt: start the workers, watch them, stop them all.

    Returns:
        None when every worker ended well, else the first that failed.
    """
    workers = start_workers(train_args, config, log_dir, attempt, stream,
                            env)
    failed = None
    try:
        failed = watch(workers, config.grace)
        if failed is not None:  # said at once; stopping takes up to grace
            logger.error("tfnn launch: %s; stopping the other workers "
                         "(logs in %s)", failed.describe(), log_dir)
    finally:
        stop(workers, config.grace)
        shutil.rmtree(os.path.join(log_dir, "tmp"), ignore_errors=True)
    return failed


def report_failure(failed: Worker, stream) -> None:
    """The end of the failed worker's log (the chief's output was on the
    console already), without TensorFlow's INFO lines."""
    if failed.index != 0:
        tail = log_tail(failed.log_path)
        stream.write(f"--- end of {failed.log_path} ---\n{tail}")
        stream.flush()


def launch(train_args, config: LaunchConfig = LaunchConfig(), stream=None,
           env=None) -> int:
    """Run ``tfnn train train_args`` on ``config.workers`` workers on this
    machine until it succeeds, fails, or ``config.restarts`` restarts are
    spent; see the module doc.

    Args:
        train_args: ``tfnn train``'s flags (``--strategy multiworker`` is
            added).
        config: a :class:`LaunchConfig`.
        stream: where the chief's output goes. Defaults to stdout.
        env: the workers' base environment. Defaults to ``os.environ``.

    Returns:
        0 when every worker succeeded; else the failed worker's exit
        status (128 + N when killed by signal N), 130 after Ctrl-C.

    Raises:
        ValueError: bad arguments (another ``--strategy``, a port in use).
    """
    stream = stream or sys.stdout
    train_args = train_arguments(train_args)
    if config.port_base is not None:  # a port in use: before anything
        cluster_ports(config)
    own_log_dir = config.log_dir is None
    log_dir = config.log_dir or tempfile.mkdtemp(prefix="tfnn-launch-")
    os.makedirs(log_dir, exist_ok=True)
    with terminate_as_interrupt():
        for attempt in range(1, config.restarts + 2):
            try:
                failed = run_attempt(train_args, config, log_dir, attempt,
                                     stream, env)
            except KeyboardInterrupt:
                logger.error("tfnn launch: interrupted; stopped every "
                             "worker (logs in %s)", log_dir)
                return 130
            if failed is None:
                if own_log_dir:
                    shutil.rmtree(log_dir, ignore_errors=True)
                return 0
            report_failure(failed, stream)
            code = failed.process.returncode
            if attempt > config.restarts or code in NOT_RETRIED:
                return exit_status(code)
            logger.warning("tfnn launch: restarting all %d workers (restart "
                           "%d of %d); they resume from the last checkpoint",
                           config.workers, attempt, config.restarts)
    return 1  # pragma: no cover (the loop always returns)


@contextlib.contextmanager
def terminate_as_interrupt():
    """Within the block, SIGTERM to the launcher acts as Ctrl-C (so the
    workers are stopped either way); only in the main thread."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, interrupt) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
