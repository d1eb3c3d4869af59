"""``tfnn serve`` in its own process: started, awaited, stopped.

The one harness that the tests and the serving benchmarks share. A server
in a thread of the caller's process would share its GIL with the caller
(and TensorFlow's threads), so its latency would measure their
turn-taking, and a fault would take the caller down with it; users run
the server as a process, so that is what is tested and timed::

    with ServeProcess("saved_models/mnist", "--poll-interval", "0") as s:
        httpx.get(s.model_url)          # http://127.0.0.1:<port>/v1/models/mnist
        s.target                        # gRPC "127.0.0.1:<port>" (grpc=True)
    s.returncode                        # 0 or -SIGTERM once stopped

It is ready when ``GET /v1/models/<name>`` answers 200: the REST server
starts after the gRPC one (``tfnn.serving.app.serve``), so both answer by
then.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

import httpx

HOST = "127.0.0.1"
START_TIMEOUT = 180.0  # seconds: TensorFlow's import on a loaded machine
STOP_TIMEOUT = 15.0  # seconds after SIGTERM, then SIGKILL
LOG_TAIL = 3000  # characters of the log in an error message


def free_port(host: str = HOST) -> int:
    """A TCP port of ``host`` that was free a moment ago."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ServeProcess:
    """``tfnn serve --model-dir model_dir *args`` on free loopback ports.

    Args:
        model_dir: the model's base folder.
        *args: more ``tfnn serve`` flags (``"--body-timeout", "2"``).
        grpc: also serve gRPC (``--grpc-port``) on a free port. Defaults
            to False.
        name: the model's name in URLs. Defaults to the folder's name.
        log: file for the server's stdout and stderr. Defaults to a
            temporary file, removed on stop.
        timeout: seconds to wait for the first answer. Defaults to 180.
        env: environment variables on top of this process's (TensorFlow's
            C++ log is quieted unless given). Defaults to None.

    Attributes (once started): ``proc``, ``port``, ``url``
    (``http://127.0.0.1:<port>``), ``model_url`` (``url`` +
    ``/v1/models/<name>``), ``grpc_port`` and ``target`` (``host:port``;
    None without gRPC), ``returncode`` (once stopped).

    Raises:
        RuntimeError: from ``start`` when the server exits or does not
            answer within ``timeout`` (with the end of its log).
    """

    def __init__(self, model_dir, *args, grpc: bool = False,
                 name: str | None = None, log=None,
                 timeout: float = START_TIMEOUT, env=None):
        self.model_dir = os.fspath(model_dir)
        self.args = [str(a) for a in args]
        self.grpc, self.timeout = grpc, timeout
        self.name = name or os.path.basename(os.path.normpath(self.model_dir))
        self.env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
        self.log, self._own_log = log, log is None
        self.proc, self.last_log = None, ""
        self.grpc_port = self.target = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def model_url(self) -> str:
        return f"{self.url}/v1/models/{self.name}"

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    def log_text(self) -> str:
        """What the server has written so far (stdout and stderr)."""
        if self.log is None:
            return self.last_log
        with open(self.log, errors="replace") as fh:
            return fh.read()

    def start(self) -> ServeProcess:
        """Starts the server and returns once it answers."""
        self.port = free_port()
        command = [sys.executable, "-m", "tfnn.cli", "serve", "--model-dir",
                   self.model_dir, "--host", HOST, "--port", str(self.port)]
        if self.grpc:
            self.grpc_port = free_port()
            self.target = f"{HOST}:{self.grpc_port}"
            command += ["--grpc-port", str(self.grpc_port)]
        if self.name != os.path.basename(os.path.normpath(self.model_dir)):
            command += ["--name", self.name]
        if self._own_log:
            fd, self.log = tempfile.mkstemp(prefix="tfnn-serve-",
                                            suffix=".log")
            os.close(fd)
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                command + self.args, stdout=out, stderr=subprocess.STDOUT,
                env=self.env)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                if httpx.get(self.model_url, timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"tfnn serve exited with {self.proc.returncode}:\n"
                    + self.log_text()[-LOG_TAIL:])
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"tfnn serve did not answer in {self.timeout:g} s:\n"
                    + self.log_text()[-LOG_TAIL:])
            time.sleep(0.2)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after ``STOP_TIMEOUT``; the exit status."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        if self._own_log and self.log is not None:
            self.last_log = self.log_text()
            os.remove(self.log)
            self.log = None
        return self.returncode

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
