"""Multi-worker training (``tfnn launch``, ``--strategy multiworker``) with
real worker processes on 127.0.0.1.

The slow tests start ``python -m tfnn.cli launch --workers 2`` (two
``tfnn train`` processes under ``MultiWorkerMirroredStrategy``) on tiny
data and check it against one process: the same per-epoch losses, each
global batch split into disjoint halves that cover the epoch's permutation,
only the chief's run folder left; a worker SIGKILLed after its first
checkpoint stops the run at once, naming it, and the same command run again
resumes from the checkpoint to the weights of an uninterrupted run. Each
of them for both loops: the readable one (``--loop custom``) and Keras's
own ``fit`` (``--loop fit``, through
:class:`~tfnn.training.multiworker_fit.MultiWorkerFit`). Every
subprocess has a hard timeout; the ports are free ones the launcher
picks.

The fast tests check the pure logic: ``TF_CONFIG`` building and parsing,
the shard arithmetic, the launcher's arguments, ``MultiWorkerFit`` in one
process, and the bad inputs that must end in one line and exit 2 before
any worker starts.
"""

import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnn.cli.router import main
from tfnn.models import build_mlp, load_model
from tfnn.training import cluster as tfnn_cluster
from tfnn.training import keras_fit, sharding
from tfnn.training import launch as tfnn_launch
from tfnn.training.distribute import epoch_order, set_seed
from tfnn.training.multiworker_fit import MultiWorkerFit, in_multi_worker_mode

N, BATCH, EPOCHS, SEED = 1024, 64, 3, 0
# Tiny and exact: no dropout (each replica draws its own masks, see
# docs/distributed.md); BatchNorm stays on (synchronized across workers).
TRAIN_ARGS = ["--epochs", str(EPOCHS), "--train-limit", str(N),
              "--batch-size", str(BATCH), "--hidden", "64", "--dropout",
              "0", "--validation-size", "500", "--seed", str(SEED),
              "--no-progress", "--collective-timeout", "20",
              "--startup-timeout", "90"]
RUN_TIMEOUT = 300  # seconds for one launch on a loaded 2-core machine
STEP_LINE = re.compile(r"examples worker (\d+) epoch (\d+) step (\d+): "
                       r"(\[.*\])")
RESUMED = re.compile(r"Resumed from (\S+) \(epoch (\d+)\)")


def tfnn_command(*args, verbose=False):
    return [sys.executable, "-m", "tfnn.cli", *(["-v"] if verbose else []),
            *args]


def worker_env():
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def launch_command(out, logs, loop, verbose=False):
    return tfnn_command("launch", "--workers", "2", "--log-dir", str(logs),
                        "--", *TRAIN_ARGS, "--loop", loop, "--out",
                        str(out), verbose=verbose)


def run_launch(out, logs, loop, verbose=False):
    """``tfnn launch --workers 2`` to the end; its CompletedProcess."""
    return subprocess.run(launch_command(out, logs, loop, verbose),
                          env=worker_env(), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)


def history_loss(run_dir):
    with open(os.path.join(run_dir, "summary.json")) as fh:
        summary = json.load(fh)
    return np.array(summary["history"]["loss"]), summary


def weights(run_dir):
    return load_model(os.path.join(run_dir, "model.keras"),
                      compile=False).get_weights()


def step_indices(log_path):
    """``{(epoch, step): indices}`` from a worker's DEBUG log."""
    found = {}
    with open(log_path, errors="replace") as fh:
        for line in fh:
            m = STEP_LINE.search(line)
            if m:
                found[int(m[2]), int(m[3])] = json.loads(m[4])
    return found


@pytest.fixture(scope="module", params=["custom", "fit"])
def uninterrupted(request, tmp_path_factory):
    """A 2-worker launch of one loop (the readable one, Keras's ``fit``),
    run to the end, and the same flags on one process (in this process,
    through the CLI)."""
    loop = request.param
    root = tmp_path_factory.mktemp(f"mw-{loop}")
    out, logs = root / "runs" / "run", root / "logs"
    t0 = time.perf_counter()
    done = run_launch(out, logs, loop, verbose=True)
    seconds = time.perf_counter() - t0
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    single = root / "single"
    t0 = time.perf_counter()
    assert main(["train", *TRAIN_ARGS, "--loop", loop, "--out",
                 str(single)]) == 0
    single_seconds = time.perf_counter() - t0
    print(f"{loop}: launch --workers 2 {seconds:.1f} s (whole command), "
          f"one process {single_seconds:.1f} s (in-process train)")
    return {"loop": loop, "root": root, "out": out, "logs": logs,
            "single": single}


@pytest.mark.slow
def test_two_workers_train_like_one_process(uninterrupted):
    run = uninterrupted
    loss2, summary = history_loss(run["out"])
    loss1, summary1 = history_loss(run["single"])
    assert summary["workers"] == 2 and len(loss2) == EPOCHS
    # The same batches, the same summed gradients: float rounding only.
    np.testing.assert_allclose(loss2, loss1, rtol=1e-4)
    # Validation too (under fit: Keras's evaluate, distributed by Keras).
    np.testing.assert_allclose(summary["history"]["val_loss"],
                               summary1["history"]["val_loss"], rtol=1e-4)
    for a, b in zip(weights(run["out"]), weights(run["single"])):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    # Only the chief's run folder is left; the workers' temporary ones
    # (and their TMPDIRs under the log folder) are gone.
    assert os.listdir(run["out"].parent) == ["run"]
    assert sorted(os.listdir(run["out"])) == [
        "checkpoints", "model.keras", "summary.json", "tensorboard"]
    assert not (run["logs"] / "tmp").exists()


@pytest.mark.slow
def test_each_global_batch_splits_into_disjoint_halves(uninterrupted):
    run = uninterrupted
    seen = [step_indices(run["logs"] / f"worker-{w}.log") for w in (0, 1)]
    set_seed(SEED)  # the workers' seeds: the same epoch permutations
    steps = N // BATCH
    for epoch in range(1, EPOCHS + 1):
        order = epoch_order(N, SEED, epoch - 1)  # (N,)
        for step in range(1, steps + 1):
            a, b = seen[0][epoch, step], seen[1][epoch, step]
            batch = order[(step - 1) * BATCH:step * BATCH]  # (BATCH,)
            assert len(a) == len(b) == BATCH // 2
            assert not set(a) & set(b)
            assert sorted(a + b) == sorted(batch.tolist())
        union = [i for s in range(1, steps + 1)
                 for w in (0, 1) for i in seen[w][epoch, s]]
        assert sorted(union) == list(range(N))  # every example once
    assert len(seen[0]) == len(seen[1]) == EPOCHS * steps


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_after_first_checkpoint(out, logs, loop):
    """Start the launch, SIGKILL worker 1 once both the chief and worker 1
    saved checkpoint 1; returns ``(returncode, output, whether the chief
    still ran when the launcher's line naming worker 1 came)``."""
    proc = subprocess.Popen(launch_command(out, logs, loop),
                            env=worker_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines, named, pids = [], [], {}

    def pump():
        for line in proc.stdout:
            lines.append(line)
            if "tfnn launch: worker 1" in line and "chief" in pids:
                named.append(_running(pids["chief"]))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    deadline = time.monotonic() + RUN_TIMEOUT
    chief = os.path.join(out, "checkpoints", "ckpt-1.index")
    mine = os.path.join(logs, "tmp", "worker-1", "*", "checkpoints",
                        "ckpt-1.index")
    try:
        while not (os.path.exists(chief) and glob.glob(mine)):
            assert proc.poll() is None, "".join(lines)[-3000:]
            assert time.monotonic() < deadline, "no checkpoint 1"
            time.sleep(0.02)
        with open(os.path.join(logs, "workers.json")) as fh:
            workers = json.load(fh)["workers"]
        pids["chief"] = workers[0]["pid"]
        os.kill(workers[1]["pid"], signal.SIGKILL)
        code = proc.wait(timeout=60)  # no hang
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    reader.join(timeout=10)
    return code, "".join(lines), named == [True]


@pytest.mark.slow
def test_lost_worker_fails_fast_and_the_rerun_resumes(uninterrupted):
    run = uninterrupted
    root = run["root"]
    out, logs = root / "again" / "run", root / "again-logs"
    code, output, named_at_once = kill_after_first_checkpoint(
        out, logs, run["loop"])
    assert code == 128 + signal.SIGKILL, output[-3000:]
    assert "worker 1 (pid" in output and "was killed by SIGKILL" in output
    # Named at once: the chief still ran when the line came (the launcher
    # did not wait for the chief's collective ops to time out), and the
    # launch ended within the 60 s wait above (grace 5 s, then SIGKILL).
    assert named_at_once, output[-3000:]
    latest = tf.train.latest_checkpoint(str(out / "checkpoints"))
    assert latest is not None and int(latest.rsplit("-", 1)[1]) < EPOCHS

    done = run_launch(out, logs, run["loop"])  # the same command again
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    resumed = RESUMED.search(done.stdout + done.stderr)
    assert resumed and resumed[1] == latest
    assert int(resumed[2]) == int(latest.rsplit("-", 1)[1])
    loss, summary = history_loss(out)
    loss_ref, summary_ref = history_loss(run["out"])
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-5)
    assert summary["test_accuracy"] == pytest.approx(
        summary_ref["test_accuracy"], abs=1e-4)
    for a, b in zip(weights(out), weights(run["out"])):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert os.listdir(out.parent) == ["run"]


@pytest.mark.slow
def test_worker_that_cannot_reach_the_chief_exits_2(tmp_path):
    ports = tfnn_cluster.free_ports(2)  # nobody listens on the chief's
    config = tfnn_cluster.tf_config([f"127.0.0.1:{p}" for p in ports], 1)
    env = {**worker_env(), "TF_CONFIG": json.dumps(config)}
    done = subprocess.run(  # the 120 s timeout bounds the wait
        tfnn_command("train", "--strategy", "multiworker",
                     "--startup-timeout", "5", "--epochs", "1",
                     "--train-limit", "256", "--out", str(tmp_path / "r")),
        env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    errors = [ln for ln in done.stderr.splitlines()
              if ln.startswith("tfnn train: error:")]
    assert len(errors) == 1
    assert f"worker 1 (127.0.0.1:{ports[1]}) found no complete cluster" \
        in errors[0] and f"chief 127.0.0.1:{ports[0]}" in errors[0]
    assert "within 5 s" in errors[0]  # the --startup-timeout ran out


# -- bad input: one line, exit 2, before any worker starts -------------------


def cli_error(capsys, argv):
    """``tfnn ARGV``'s exit status and its stderr's lines."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("argv, expected", [
    (["launch", "--workers", "0", "--", "--epochs", "1"],
     "--workers must be an integer >= 1. Received: workers=0"),
    (["launch", "--workers", "2"], "no tfnn train flags after --"),
    (["launch", "--workers", "2", "--"], "no tfnn train flags after --"),
    (["launch", "--workers", "2", "--", "--strategy", "mirrored"],
     "tfnn launch trains with --strategy multiworker"),
    (["launch", "--workers", "2", "--restarts", "-1", "--", "--epochs",
      "1"], "--restarts must be >= 0"),
])
def test_launch_bad_arguments_exit_2(capsys, argv, expected):
    code, err = cli_error(capsys, argv)
    assert code == 2 and len(err) == 1
    assert expected in err[0] and err[0].startswith("tfnn launch: error:")


def test_launch_port_in_use_exits_2(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, err = cli_error(capsys, [
            "launch", "--workers", "2", "--port-base", str(port), "--",
            "--epochs", "1"])
    assert code == 2 and len(err) == 1
    assert f"port {port} on 127.0.0.1 is in use" in err[0]


@pytest.mark.parametrize("text, expected", [
    ("{not json", "TF_CONFIG is not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', 'TF_CONFIG has no "cluster"'),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}, '
     '"task": {"type": "worker", "index": 3}}',
     'task index 3 is out of range for 1 "worker"'),
    ('{"cluster": {"worker": ["nohost"]}, "task": {"type": "worker"}}',
     "address 'nohost' is not host:port"),
    ('{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker"}}',
     "an address repeats"),
])
def test_train_malformed_tf_config_exits_2(capsys, monkeypatch, tmp_path,
                                           text, expected):
    monkeypatch.setenv("TF_CONFIG", text)
    code, err = cli_error(capsys, [
        "train", "--strategy", "multiworker", "--epochs", "1",
        "--out", str(tmp_path / "r")])
    assert code == 2 and len(err) == 1 and expected in err[0]


def test_train_own_port_in_use_exits_2(capsys, monkeypatch, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        monkeypatch.setenv("TF_CONFIG", json.dumps(
            tfnn_cluster.tf_config([address, "127.0.0.1:1"], 0)))
        code, err = cli_error(capsys, [
            "train", "--strategy", "multiworker", "--epochs", "1",
            "--out", str(tmp_path / "r")])
    assert code == 2 and len(err) == 1
    assert f"worker 0's address {address} is in use" in err[0]


# -- pure logic ---------------------------------------------------------------


def test_tf_config_of_each_worker_parses_back():
    addresses = ["127.0.0.1:4000", "127.0.0.1:4001", "127.0.0.1:4002"]
    for i in range(3):
        config = tfnn_cluster.tf_config(addresses, i)
        assert config == {"cluster": {"worker": addresses},
                          "task": {"type": "worker", "index": i}}
        c = tfnn_cluster.parse_tf_config(json.dumps(config))
        assert (c.num_workers, c.id_in_cluster, c.is_chief) == (3, i, i == 0)
        assert c.address == addresses[i] and c.name == f"worker {i}"
        assert c.chief_address == addresses[0]


def test_a_chief_task_is_the_chief_and_comes_first():
    c = tfnn_cluster.parse_tf_config(json.dumps({
        "cluster": {"chief": ["h:1"], "worker": ["h:2", "h:3"]},
        "task": {"type": "worker", "index": 0}}))
    assert c.addresses == ("h:1", "h:2", "h:3")
    assert (c.id_in_cluster, c.is_chief) == (1, False)


def test_write_dir_is_a_temporary_folder_except_on_the_chief(tmp_path):
    config = tfnn_cluster.tf_config(["127.0.0.1:1", "127.0.0.1:2"], 0)
    chief = tfnn_cluster.parse_tf_config(json.dumps(config))
    config["task"]["index"] = 1
    other = tfnn_cluster.parse_tf_config(json.dumps(config))
    out = str(tmp_path / "run")
    assert tfnn_cluster.write_dir(out, chief) == out
    assert tfnn_cluster.write_dir(out, None) == out
    tmp = tfnn_cluster.write_dir(out, other)
    assert tmp != out and os.path.isdir(tmp) and "tfnn-worker1-" in tmp
    os.rmdir(tmp)


def test_describe_failure_names_the_lost_worker():
    cluster = tfnn_cluster.parse_tf_config(json.dumps(
        tfnn_cluster.tf_config(["127.0.0.1:4000", "127.0.0.1:4001"], 0)))
    message = (
        "{{function_node __wrapped__CollectiveReduceV2_device_/job:worker/"
        "replica:0/task:0/device:CPU:0}} Collective ops is aborted by: "
        "ipv4:127.0.0.1:4001: Connection refused\n"
        "Additional GRPC error information from remote target "
        "/job:worker/replica:0/task:1 while calling RecvBuf")
    line = tfnn_cluster.describe_failure(message, cluster)
    assert line == ("lost worker 1 (127.0.0.1:4001): Collective ops is "
                    "aborted by: ipv4:127.0.0.1:4001: Connection refused")


def test_port_in_use_sees_a_listening_socket():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert tfnn_cluster.port_in_use("127.0.0.1", port)
    assert not tfnn_cluster.port_in_use("127.0.0.1", port)
    ports = tfnn_cluster.free_ports(3)
    assert len(set(ports)) == 3


@pytest.mark.parametrize("size, replicas, expected", [
    (128, 2, [(0, 64), (64, 128)]),
    (7, 3, [(0, 3), (3, 5), (5, 7)]),  # the first 7 % 3 parts one longer
    (1, 2, [(0, 1), (1, 1)]),
])
def test_replica_slices_cut_a_batch_into_contiguous_parts(size, replicas,
                                                          expected):
    got = [sharding.replica_slice(size, r, replicas) for r in range(replicas)]
    assert [(s.start, s.stop) for s in got] == expected


def test_global_batch_sizes():
    assert sharding.global_batch_sizes(1000, 128) == [128] * 7 + [104]
    assert sharding.global_batch_sizes(1000, 128, True) == [128] * 7
    assert sharding.global_batch_sizes(10, 0) == [10]


def test_shard_epoch_covers_each_batch_once():
    n, b, seed, epoch = 250, 64, 3, 1
    set_seed(seed)
    order = epoch_order(n, seed, epoch)
    shards = sharding.shard_epoch(n, b, epoch, seed, [0, 1], 2)
    assert [sum(len(p) for p in step) for step in shards] == [64] * 3 + [58]
    for i, (a, c) in enumerate(shards):
        np.testing.assert_array_equal(np.concatenate([a, c]),
                                      order[i * b:(i + 1) * b])
    # One worker's call gives its replica's part of the same batches.
    mine = sharding.shard_epoch(n, b, epoch, seed, [1], 2)
    for step, (theirs,) in zip(shards, mine):
        np.testing.assert_array_equal(step[1], theirs)


def test_train_arguments_add_the_strategy():
    assert tfnn_launch.train_arguments(["--", "train", "--epochs", "2"]) == [
        "--epochs", "2", "--strategy", "multiworker"]
    kept = ["--strategy=multiworker", "--epochs", "2"]
    assert tfnn_launch.train_arguments(kept) == kept


def test_exit_status_of_a_killed_worker():
    assert tfnn_launch.exit_reason(-9) == "was killed by SIGKILL"
    assert tfnn_launch.exit_status(-9) == 137
    assert tfnn_launch.exit_status(4) == 4


# -- MultiWorkerFit in one process ---------------------------------------------


def compiled(model):
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(
                      name="accuracy")])
    return model


@pytest.mark.slow
def test_multiworker_fit_trains_like_the_model_itself():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 28, 28)).astype(np.float32)  # (n, 28, 28)
    y = rng.integers(0, 10, 96)
    plain = build_mlp(hidden=(8,), initializer_kwargs={"seed": 1})
    inner = build_mlp(hidden=(8,), initializer_kwargs={"seed": 1})
    wrapped = MultiWorkerFit(inner)
    fits = [compiled(m).fit(x, y, batch_size=32, epochs=2, shuffle=False,
                            verbose=0) for m in (plain, wrapped)]
    # Keras's own steps on the same batches: the same numbers, and
    # scalar logs (vectors only when the strategy spans workers).
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(fits[1].history[key],
                                   fits[0].history[key], rtol=1e-6)
    for a, b in zip(inner.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert not in_multi_worker_mode(tf.distribute.get_strategy())
    logs = wrapped.vector_logs({"loss": tf.constant(1.5)})
    assert logs["loss"].shape == ()


def test_multiworker_fit_round_trips_and_refuses_a_strategy_scope():
    inner = build_mlp(hidden=(8,), initializer_kwargs={"seed": 2})
    wrapped = MultiWorkerFit(inner)
    again = MultiWorkerFit.from_config(wrapped.get_config())
    again.model.set_weights(inner.get_weights())
    x = np.random.default_rng(3).normal(size=(4, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(again(x), inner(x), rtol=1e-6)
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        with pytest.raises(ValueError, match="outside strategy.scope"):
            MultiWorkerFit(inner)


def test_compile_for_fit_compiles_the_model_itself_off_multiworker():
    model = build_mlp(hidden=(8,))
    fitted, scope = keras_fit.compile_for_fit(
        model, keras.optimizers.SGD(0.1),
        strategy=tf.distribute.get_strategy())
    assert fitted is model and model.compiled
    with scope():  # no strategy's scope to enter
        assert not tf.distribute.has_strategy()
