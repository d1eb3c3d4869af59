"""The speedrun's rows of the benchmark: ``tfnn speedrun``'s race beside
the same recipe in PyTorch, both per seed in fresh processes (their
times count everything a user waits for; their seeds alternate), and,
opt-in (minutes), keras.io's convnet recipe trained with ``fit`` to the
same target (:mod:`tfnn.studies.speedrun.baselines`)."""

from __future__ import annotations

import importlib.util
import logging

from tfnn.studies.processes import in_subprocess
from tfnn.studies.speedrun import MODULE, race_side_by_side

logger = logging.getLogger(__name__)


def speedrun_rows(seeds=3, archs=("cnn", "mlp"), keras_io=False,
                  keras_io_max_epochs=15, **race_kwargs) -> dict:
    """``{arch: {"tfnn": race, "torch": race (when PyTorch is installed),
    "torch_over_tfnn": the ratio of their median seconds}}``, plus
    "keras_io" (its seconds to 99 %, and "keras_io_over_tfnn") when
    ``keras_io``. ``race_kwargs``: a shorter race (tests:
    ``train_limit``, ``epochs``)."""
    has_torch = importlib.util.find_spec("torch") is not None
    if not has_torch:
        logger.warning("PyTorch is not installed: the speedrun's torch rows "
                       "are left out (pip install torch==2.13.0)")
    out = {}
    functions = ("run_seed", "torch_seed") if has_torch else ("run_seed",)
    for arch in archs:
        # tfnn's and PyTorch's seeds alternate: each pair, the same load.
        both = race_side_by_side(arch, functions, seeds=seeds,
                                 **race_kwargs)
        row = {"tfnn": both["run_seed"]}
        if has_torch:
            row["torch"] = both["torch_seed"]
            row["torch_over_tfnn"] = (row["torch"]["median_seconds"]
                                      / row["tfnn"]["median_seconds"])
        out[arch] = row
    if keras_io:
        k = in_subprocess(MODULE, "keras_io_seed",
                          max_epochs=keras_io_max_epochs)
        out["keras_io"] = k
        if k["seconds_to_target"] and "cnn" in out:
            out["keras_io_over_tfnn"] = (k["seconds_to_target"]
                                         / out["cnn"]["tfnn"]["median_seconds"])
    return out


def format_speedrun_rows(rows: dict) -> list:
    """The rows as Markdown lines: per arch the median seconds from a cold
    process, the worst seed's test accuracy and the ratios."""
    lines = ["### Speedrun (each seed a fresh process: start to exit)", "",
             "| recipe | by | seeds | median s | min test acc | every seed "
             "reached |", "|---|---|---|---|---|---|"]
    for arch, row in rows.items():
        if arch.startswith("keras_io"):
            continue
        for by in ("tfnn", "torch"):
            if by in row:
                r = row[by]
                worst = min(x["test_accuracy"] for x in r["runs"])
                lines.append(
                    f"| {arch} to {r['target']:.1%} | {by} | "
                    f"{len(r['runs'])} | {r['median_seconds']:.1f} | "
                    f"{worst:.2%} | {'yes' if r['all_reached'] else 'no'} |")
    ratios = [f"{arch}: torch/tfnn = {row['torch_over_tfnn']:.2f}x"
              for arch, row in rows.items()
              if isinstance(row, dict) and "torch_over_tfnn" in row]
    if "keras_io" in rows:
        k = rows["keras_io"]
        lines.append(
            f"| keras.io convnet to {k['target']:.1%} | keras fit | 1 | "
            + (f"{k['seconds_to_target']:.1f} (epoch {k['epoch_reached']})"
               if k["seconds_to_target"] else
               f"not in {len(k['curve'])} epochs")
            + f" | {k['test_accuracy']:.2%} | "
            f"{'yes' if k['seconds_to_target'] else 'no'} |")
        if "keras_io_over_tfnn" in rows:
            ratios.append(
                f"keras.io/tfnn = {rows['keras_io_over_tfnn']:.2f}x")
    return lines + ["", "ratios: " + ", ".join(ratios), ""]
