"""The speedrun itself: each seed in a fresh process, timed from the
process's start to its exit.

What a user waits for counts: the interpreter starting, TensorFlow's
import, loading MNIST, building and compiling the model, every training
epoch (with its validation pass), and the final test evaluation. So
:func:`race` starts ``python -m tfnn.studies.speedrun run_seed …`` once per
seed (:func:`tfnn.studies.processes.in_subprocess`) and takes the wall time
of that process; the process itself (:func:`run_seed`) trains the recipe
with ``tfnn.training.whole_run.train`` (the same run ``tfnn train`` makes, its
loop chosen by ``choose_loop``) and reports its phases. A seed reaches the
target when its test accuracy, measured once at the end, is at least the
recipe's: the recipe's epochs are fixed (chosen on validation), the test
set only scores the result.
"""

from __future__ import annotations

import logging
import os
import statistics
import time

from tfnn.data import prefetch
from tfnn.runtime import (
    ONEDNN,
    import_tensorflow_without_matplotlib,
    onednn_wanted,
)
from tfnn.studies.processes import in_subprocess
from tfnn.studies.speedrun.recipes import check_arch, configs, recipe

logger = logging.getLogger(__name__)

MODULE = "tfnn.studies.speedrun"  # python -m MODULE run_seed KWARGS OUT


def run_seed(arch="cnn", seed=0, train_limit=None, epochs=None,
             manual_dir=None, data_dir=None) -> dict:
    """One seed of ``arch``'s recipe, in this process.

    Args:
        arch: a key of :data:`~tfnn.studies.speedrun.recipes.RECIPES`.
        seed: the run's seed.
        train_limit, epochs: a shorter run (tests). Optional.
        manual_dir, data_dir: where MNIST is (see ``tfnn.data.prepare``).

    Returns:
        ``{"arch", "seed", "test_accuracy" (of the recipe's prediction,
        test-time shifts included), "plain_test_accuracy" (the model's
        alone), "val_accuracy" (per epoch), "epochs", "train_seconds",
        "run_seconds" (data to test score), "loop", "steps" (the optimizer
        steps taken)}``.
    """
    # MNIST is read and standardized on a thread while TensorFlow imports
    # (in the run's process only); train's load takes it. TensorFlow's
    # modules are imported only after the thread has started.
    prefetch(seed=int(seed), train_limit=train_limit, manual_dir=manual_dir,
             data_dir=data_dir)
    # A seed's process draws nothing with Keras's gallery helpers.
    import_tensorflow_without_matplotlib()
    from tfnn.models.ensembles import shifted_accuracy
    from tfnn.training.whole_run import train

    t0 = time.perf_counter()
    changes = {k: v for k, v in (("train_limit", train_limit),
                                 ("epochs", epochs)) if v is not None}
    model_config, train_config = configs(arch, seed, **changes)
    result = train(model_config, train_config, manual_dir=manual_dir,
                   data_dir=data_dir, progress=False)
    summary = result.summary
    accuracy = float(result.test_accuracy)
    shifts = recipe(arch).get("test_shifts")
    if shifts:
        s = result.splits
        accuracy = shifted_accuracy(result.model, s.x_test, s.y_test,
                                    fill=s.preprocessor.background,
                                    **shifts)
        logger.info("test accuracy %.4f with test-time shifts (%s, ±%d px)",
                    accuracy, shifts["pattern"], shifts["max_shift"])
    return {"arch": arch, "seed": int(seed),
            "test_accuracy": accuracy,
            "plain_test_accuracy": float(result.test_accuracy),
            "val_accuracy": [float(a) for a in
                             result.history.to_dict().get("val_accuracy", [])],
            "epochs": train_config.epochs,
            "train_seconds": summary["train_seconds"],
            "run_seconds": time.perf_counter() - t0,
            "loop": summary["loop"]["reason"],
            "steps": len(result.history.step_loss)}


def race(arch="cnn", seeds=5, target=None, first_seed=0, function="run_seed",
         **kwargs) -> dict:
    """``seeds`` seeds of ``arch``'s recipe, each in a fresh process.

    Args:
        arch: the recipe.
        seeds: how many seeds (``first_seed``, ``first_seed + 1`` …).
        target: the test accuracy to reach. Defaults to the recipe's.
        function: who trains it: "run_seed" (tfnn) or "torch_seed" (the
            same recipe in PyTorch, :mod:`~tfnn.studies.speedrun.baselines`).
        **kwargs: :func:`run_seed`'s ``train_limit``, ``epochs``,
            ``manual_dir``, ``data_dir`` (``torch_seed``: not
            ``data_dir``).

    Returns:
        ``{"arch", "target", "recipe", "by", "runs": [run_seed's dict +
        "seconds" (the process's wall time) and "reached"],
        "median_seconds", "all_reached"}``.
    """
    return race_side_by_side(arch, (function,), seeds, target,
                             first_seed, **kwargs)[function]


def race_side_by_side(arch="cnn", functions=("run_seed",), seeds=5,
                      target=None, first_seed=0, **kwargs) -> dict:
    """:func:`race` for each of ``functions`` (e.g. ``("run_seed",
    "torch_seed")``), their seeds alternating (seed 0 by each, then seed 1
    by each …), so that every pair of processes sees the same load on the
    machine and their ratio compares like with like.

    Returns:
        ``{function: race's dict}``.

    Raises:
        ValueError: a function named twice.
    """
    check_arch(arch)
    if len(set(functions)) != len(functions):
        raise ValueError(f"each function once, not {list(functions)}")
    target = recipe(arch)["target"] if target is None else float(target)
    # ``tfnn train`` turns oneDNN on for convnets before TensorFlow loads.
    env = ({ONEDNN: os.environ.get(ONEDNN, "1")} if onednn_wanted(arch)
           else {})
    runs = {function: [] for function in functions}
    for seed in range(first_seed, first_seed + int(seeds)):
        for function in functions:
            r = in_subprocess(MODULE, function, env, arch=arch, seed=seed,
                              **kwargs)
            r["seconds"] = r.pop("process_seconds")
            r["reached"] = r["test_accuracy"] >= target
            logger.info("%s seed %d: %.1f s, test accuracy %.4f%s",
                        function, seed, r["seconds"], r["test_accuracy"],
                        "" if r["reached"] else f" (below {target:.3f})")
            runs[function].append(r)
    return {function: {
        "arch": arch, "target": target, "recipe": recipe(arch),
        "by": function, "runs": rs,
        "median_seconds": statistics.median(r["seconds"] for r in rs),
        "all_reached": all(r["reached"] for r in rs)}
        for function, rs in runs.items()}


def format_table(result: dict) -> str:
    """The race as a Markdown table (one row a seed) and its median."""
    lines = [f"speedrun {result['arch']}: target {result['target']:.1%} "
             "test accuracy",
             "",
             "| seed | seconds (process) | of which training | test "
             "accuracy | without test-time shifts | epochs | reached |",
             "|---:|---:|---:|---:|---:|---:|:---|"]
    for r in result["runs"]:
        plain = r.get("plain_test_accuracy", r["test_accuracy"])
        lines.append(f"| {r['seed']} | {r['seconds']:.1f} | "
                     f"{r['train_seconds']:.1f} | {r['test_accuracy']:.2%} | "
                     f"{plain:.2%} | {r['epochs']} | "
                     f"{'yes' if r['reached'] else 'NO'} |")
    lines += ["", f"median {result['median_seconds']:.1f} s over "
              f"{len(result['runs'])} seeds; "
              + ("every seed reached the target" if result["all_reached"]
                 else "NOT every seed reached the target")]
    return "\n".join(lines)
