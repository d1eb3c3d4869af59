"""Every experiment the notes describe, by name.

Each experiment is a module ``tfnn/studies/experiments/<name>.py`` with:

* ``TITLE`` (one line) and ``CLAIM`` (the note's claim, with the note number);
* ``QUICK`` and ``FULL``: dict configs. ``QUICK`` is cut down to little data
  and few epochs (the tests use it); ``FULL`` is the note's own setting (the
  gallery uses it);
* ``run(config: dict) -> dict``: seeded; returns plain data (numbers, lists,
  NumPy arrays, nested dicts) and never plots;
* ``plot(result) -> matplotlib.figure.Figure``: titled, labelled axes; never
  calls ``plt.show()``;
* ``summarize(result) -> str``: one Markdown paragraph: what was measured
  and whether the note's claim held, computed from ``result``;
* optionally ``limits(result) -> str``: a Markdown paragraph on what the
  experiment does not settle (the gallery prints it after the summary).

:func:`run` looks an experiment up, merges overrides into its config, runs
it and (with ``out_dir``) writes ``NAME.json`` and ``NAME.png``.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from tfnn.atomic_json import write_json

__all__ = ["EXPERIMENTS", "MODES", "config", "get", "names", "run", "save"]

# name -> the experiment's number (its docstring's "Experiment N"). Order
# is the gallery's order.
EXPERIMENTS = {
    "activations": 1,
    "activation_histograms": 2,
    "vanishing_gradient": 3,
    "linear_collapse": 4,
    "weight_init": 5,
    "input_normalization": 6,
    "batch_norm": 7,
    "dropout": 8,
    "batch_size": 9,
    "optimizer_paths": 10,
    "lr_sweep": 11,
    "random_search": 12,
    "sanity_checks": 13,
    "rbm_pretraining": 14,
    "depth_width": 15,
    "assignment_steps": 16,
}
MODES = ("quick", "full")


def names():
    """The experiment names, in the gallery's order."""
    return list(EXPERIMENTS)


def get(name: str):
    """The module of experiment ``name``."""
    key = name.lower().replace("-", "_")
    if key not in EXPERIMENTS:
        raise ValueError(f"Unknown experiment {name!r}; choose from {names()}")
    return importlib.import_module(f"tfnn.studies.experiments.{key}")


def config(name: str, mode: str = "quick", **overrides) -> dict[str, Any]:
    """The ``quick`` or ``full`` config of ``name`` with ``overrides``."""
    if mode not in MODES:
        raise ValueError(f"Unknown mode {mode!r}; choose from {list(MODES)}")
    module = get(name)
    base = dict(module.QUICK if mode == "quick" else module.FULL)
    unknown = sorted(set(overrides) - set(base))
    if unknown:
        raise ValueError(
            f"Unknown config keys {unknown} for {name}; valid: {sorted(base)}"
        )
    return {**base, **overrides}


def run(name: str, mode: str = "quick", out_dir: str | None = None,
        **overrides) -> dict[str, Any]:
    """Run experiment ``name``; with ``out_dir`` write NAME.json and
    NAME.png there. Returns the result dict."""
    module = get(name)
    cfg = config(name, mode, **overrides)
    result = module.run(cfg)
    result.setdefault("config", cfg)
    result.setdefault("mode", mode)
    if out_dir:
        save(name, result, out_dir)
    return result


def save(name: str, result: dict[str, Any], out_dir: str) -> None:
    """Write ``NAME.json`` (the numbers) and ``NAME.png`` (the figure)."""
    os.makedirs(out_dir, exist_ok=True)
    fig = get(name).plot(result)
    fig.savefig(os.path.join(out_dir, f"{name}.png"), dpi=110,
                bbox_inches="tight")
    write_json(os.path.join(out_dir, f"{name}.json"), result, indent=1)

