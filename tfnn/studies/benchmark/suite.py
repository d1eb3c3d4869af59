"""The whole benchmark (:func:`run`) and the step profiles alone
(:func:`run_profile`), as one JSON-ready report each."""

from __future__ import annotations

import logging
import os
import platform
import time

from tfnn.atomic_json import write_json
from tfnn.provenance import versions
from tfnn.runtime import ONEDNN, onednn_wanted
from tfnn.studies.benchmark.ceiling import matmul_peak, mlp_matmul_ceiling
from tfnn.studies.benchmark.grpc_load import grpc_serving_speed
from tfnn.studies.benchmark.profile import step_profile
from tfnn.studies.benchmark.serving_load import serving_speed
from tfnn.studies.benchmark.speedrun_rows import speedrun_rows
from tfnn.studies.benchmark.training_speed import run_training, time_to_accuracy
from tfnn.studies.processes import in_subprocess as _in_subprocess

logger = logging.getLogger(__name__)

WORKER = "tfnn.studies.benchmark.worker"  # its FUNCTIONS run in a process


def in_subprocess(function, env, **kwargs):
    """The benchmark ``function`` (a name of the worker's ``FUNCTIONS``)
    in a fresh process whose environment adds ``env``
    (:func:`tfnn.studies.processes.in_subprocess`)."""
    return _in_subprocess(WORKER, function, env, **kwargs)


def run(epochs=6, cnn_epochs=2, cnn_train=10_000, time_to_acc=True,
        serving_dir="saved_models/mnist", out=None, profile=True,
        cnn_max_epochs=5, cnn_time_to_99=False, speedrun_seeds=3,
        keras_io=False) -> dict:
    """The whole benchmark; writes JSON to ``out`` when given. ``profile``:
    add :func:`step_profiles` of the MLP and the CNN ("step_profile").
    ``speedrun_seeds``: seeds of the speedrun rows
    (:func:`~tfnn.studies.benchmark.speedrun_rows.speedrun_rows`; 0 leaves
    them out), with keras.io's recipe when ``keras_io`` (minutes).
    ``cnn_time_to_99``: also the notes' CNN epoch by epoch to 99 %
    (minutes; the speedrun is the fast way there).

    The CNN runs twice, each in a fresh process (:func:`in_subprocess`):
    with oneDNN's kernels, which ``tfnn train --arch cnn`` turns on
    (:mod:`tfnn.runtime`), and with TensorFlow's default (Eigen) on CPUs
    where TensorFlow leaves oneDNN off.
    """
    t_start = time.perf_counter()
    peak = matmul_peak()
    logger.info("matmul peak: %.1f GFLOP/s", peak)
    report = {"machine": {"cpus": os.cpu_count(),
                          "platform": platform.platform(),
                          "python": platform.python_version()},
              "matmul_gflops": peak}
    # The MLP step's own products alone: no MLP path can run faster. Like
    # the peak, measured at the start and again at the end (the larger
    # counts: a busy moment only ever slows a measurement down).
    ceiling = mlp_matmul_ceiling()
    logger.info("MLP matmul ceiling: %.0f examples/s", ceiling)
    report["mlp"] = run_training("mlp", epochs=epochs)
    report["mlp_bn_dropout"] = run_training(
        "mlp_bn_dropout", epochs=epochs, paths=("tfnn", "readable", "torch"))
    # oneDNN is a per-process switch (read when TensorFlow is imported), so
    # each kernel choice runs in a fresh process.
    cnn = {"arch": "cnn", "epochs": cnn_epochs, "n_train": cnn_train,
           "paths": ["tfnn", "fit", "torch"]}
    report["cnn"] = in_subprocess("run_training", {ONEDNN: "1"}, **cnn)
    report["cnn_eigen"] = in_subprocess("run_training", {ONEDNN: "0"}, **cnn)
    if time_to_acc:
        report["mlp_time_to_98"] = time_to_accuracy(0.98, "mlp", max_epochs=20)
        if cnn_time_to_99:
            report["cnn_time_to_99"] = in_subprocess(
                "time_to_accuracy", {ONEDNN: "1"}, target=0.99, arch="cnn",
                max_epochs=cnn_max_epochs)
    if speedrun_seeds:
        report["speedrun"] = speedrun_rows(speedrun_seeds,
                                           keras_io=keras_io)
    if profile:
        report["step_profile"] = step_profiles()
    if serving_dir and os.path.isdir(serving_dir):
        report["serving"] = serving_speed(serving_dir)
        report["grpc_serving"] = grpc_serving_speed(serving_dir)
    report["peak_after"] = matmul_peak()
    report["mlp_matmul_ceiling_runs"] = [ceiling, mlp_matmul_ceiling()]
    report["mlp_matmul_ceiling"] = max(report["mlp_matmul_ceiling_runs"])
    report["seconds"] = time.perf_counter() - t_start
    report["versions"] = versions(("torch",))
    if out:
        write_json(out, report)
    return report


def step_profiles(archs=("mlp", "cnn"), **kwargs) -> dict:
    """:func:`step_profile` of each arch; the CNN twice, in fresh processes,
    with oneDNN's kernels ("cnn", what ``tfnn train`` picks) and with
    Eigen's ("cnn_eigen"), as the benchmark trains it."""
    out = {}
    for arch in archs:
        if not onednn_wanted(arch):
            out[arch] = step_profile(arch, **kwargs)
            continue
        for key, flag in ((arch, "1"), (f"{arch}_eigen", "0")):
            out[key] = in_subprocess("step_profile", {ONEDNN: flag},
                                     arch=arch, **kwargs)
    return out


def run_profile(archs=("mlp", "cnn"), out=None, **kwargs) -> dict:
    """Only :func:`step_profile` of each arch, as a report; JSON to ``out``
    when given."""
    report = {"step_profile": step_profiles(archs, **kwargs),
              "versions": versions(("torch",))}
    if out:
        write_json(out, report)
    return report
