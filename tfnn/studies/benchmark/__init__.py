"""Training and serving speed, measured side by side in one run.

Paths (all on the real MNIST training set, the same architecture, He-normal
init, Adam 1e-3, batch 128, the same epochs):

* ``tfnn``     – tfnn's default training path (``Trainer(fast=True)``: the
                 whole epoch in one compiled function, XLA for the dense step);
* ``readable`` – the readable per-step loop (``Trainer(fast=False)``);
* ``fit``      – Keras ``compile``/``fit``;
* ``torch``    – PyTorch eager with ``Adam(fused=True)`` (optional: skipped
                 with a message when torch is not installed;
                 ``pip install torch==2.13.0``).

Epochs are interleaved (one epoch of each path in turn, several rounds), so
every path sees the same machine load; the first epoch of each path is its
warm-up (tracing/compilation) and is reported as compile time. Examples/s is
the median over the remaining epochs. Achieved GFLOP/s is examples/s times
the model's training FLOPs per example (forward 2 FLOPs per multiply-add,
backward twice the forward), compared with a float32 matrix product's rate
measured in the same run. Ratios, never absolute numbers, are meant to be
compared; tests never depend on them (measurements: README, docs/).

The CNN runs twice, each in a fresh process (:func:`in_subprocess`): with
oneDNN's kernels, which ``tfnn train --arch cnn`` turns on
(:mod:`tfnn.runtime`), and with TensorFlow's default kernels.

:func:`step_profile` shows where one train step goes: the median ms of the
batch gather, the forward pass, forward + loss + gradients, Adam's apply and
the full step, each compiled and looped in-graph as the fast path runs its
step, beside the same parts of the PyTorch step.

Modules: ``workload`` (what is trained: the models, their FLOPs,
:class:`TrainingPath`), ``ceiling`` (the matrix-product peak and the MLP
step's products alone), ``training_speed`` (the training paths, timed
side by side), ``torch_models`` (PyTorch, imported lazily), ``profile``
(one step's parts), ``serving_load`` (``tfnn serve`` under load),
``worker`` (a benchmark function in a fresh process, through
:mod:`tfnn.studies.processes`), ``report`` (Markdown) and ``suite`` (the
whole benchmark, with :mod:`tfnn.studies.speedrun`'s rows).
"""

from tfnn.studies.benchmark.ceiling import (
    matmul_peak,
    mlp_matmul_ceiling,
    mlp_matmuls,
)
from tfnn.studies.benchmark.profile import (
    PROFILE_PARTS,
    format_step_profile,
    step_profile,
    tfnn_step_parts,
    time_parts,
    torch_step_parts,
)
from tfnn.studies.benchmark.report import format_report
from tfnn.studies.benchmark.serving_load import serving_speed
from tfnn.studies.benchmark.suite import (
    in_subprocess,
    run,
    run_profile,
    step_profiles,
)
from tfnn.studies.benchmark.training_speed import (
    build_paths,
    prototype_path,
    run_training,
    time_to_accuracy,
)
from tfnn.studies.benchmark.workload import (
    ARCHS,
    CNN_FILTERS,
    CNN_HIDDEN,
    MLP_HIDDEN,
    PATHS,
    TrainingPath,
    cnn_flops_per_example,
    mlp_flops_per_example,
    tfnn_config,
)

__all__ = ["ARCHS", "CNN_FILTERS", "CNN_HIDDEN", "MLP_HIDDEN", "PATHS",
           "PROFILE_PARTS", "TrainingPath", "build_paths",
           "cnn_flops_per_example",
           "format_report", "format_step_profile", "in_subprocess",
           "matmul_peak", "mlp_flops_per_example", "mlp_matmul_ceiling",
           "mlp_matmuls", "prototype_path", "run",
           "run_profile",
           "run_training", "serving_speed", "step_profile", "step_profiles",
           "tfnn_config", "tfnn_step_parts", "time_parts",
           "time_to_accuracy", "torch_step_parts"]
