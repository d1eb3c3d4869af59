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
compared; tests never depend on them (measurements: docs/performance.md).

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

from tfnn.lazy import lazy_exports

_EXPORTS = {
    "cnn_flops_per_example": "tfnn.studies.benchmark.workload",
    "mlp_flops_per_example": "tfnn.studies.benchmark.workload",
    "tfnn_config": "tfnn.studies.benchmark.workload",
    "matmul_peak": "tfnn.studies.benchmark.ceiling",
    "mlp_matmul_ceiling": "tfnn.studies.benchmark.ceiling",
    "mlp_matmuls": "tfnn.studies.benchmark.ceiling",
    "prototype_path": "tfnn.studies.benchmark.training_speed",
    "run_training": "tfnn.studies.benchmark.training_speed",
    "time_to_accuracy": "tfnn.studies.benchmark.training_speed",
    "PROFILE_PARTS": "tfnn.studies.benchmark.profile",
    "step_profile": "tfnn.studies.benchmark.profile",
    "format_report": "tfnn.studies.benchmark.report",
    "in_subprocess": "tfnn.studies.benchmark.suite",
    "run": "tfnn.studies.benchmark.suite",
    "run_profile": "tfnn.studies.benchmark.suite",
    "step_profiles": "tfnn.studies.benchmark.suite",
    "serving_speed": "tfnn.studies.benchmark.serving_load",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
