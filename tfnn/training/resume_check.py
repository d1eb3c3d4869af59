"""A run folder resumes only the configuration that made it.

``tfnn train`` resumes from the last checkpoint in its run folder, and the
default ``--out`` (``runs/<dataset>-<arch>``) is the same for every run of
one architecture, so a second command with other flags lands in the first
run's folder. Restoring those checkpoints into another model fails with
TensorFlow's shape or ``RestoreV2`` errors, and into the same model with
another recipe silently mixes two configurations in one run.

So the run keeps its configuration beside its checkpoints
(``checkpoints/config.json``, :func:`record_config`), and
:func:`check_resume` compares it with the new run's before anything is
restored: a field outside :data:`MAY_CHANGE` that differs refuses the
resume (:class:`RunFolderMismatch`, a ValueError: the command line prints
its one line and exits 2).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from tfnn.atomic_json import write_json
from tfnn.config import ModelConfig
from tfnn.training.config import TrainConfig

CHECKPOINTS = "checkpoints"  # the run folder's checkpoint folder
CONFIG_FILE = "config.json"  # the configuration, beside the checkpoints
# TensorFlow's CheckpointManager index: present once a checkpoint is saved.
CHECKPOINT_INDEX = "checkpoint"
SUMMARY_FILE = "summary.json"  # a finished run's record (older folders)

# TrainConfig fields a resumed run may change. Every ModelConfig field
# defines the model (its variables' shapes, or what a step computes), so
# none is here. Of TrainConfig's, these change neither what the model
# learns from nor the step it takes:
#   epochs              where the run stops: more epochs extend the run
#                       (a schedule over the epochs, such as cosine, is
#                       stretched over the new total from the step reached)
#   jit, deterministic  how the same step runs: XLA or not, op determinism
#   histograms          what TensorBoard records
#   overfit_check       note 004's check before the run, on a fresh copy
#   loss_guard, loss_guard_factor   when a diverging run stops
#   collective_timeout, startup_timeout   how long a multi-worker run waits
# Not here, because they change the run: the data (dataset,
# preprocessing, validation_size, train_limit, seed: the split and the
# batches' order), the optimizer and its learning rate and schedule (their
# slots are in the checkpoints), batch_size and drop_remainder (the steps
# of an epoch), mixed_precision (the optimizer's loss scaling), strategy and
# loop (how the batches are split and which dropout masks are drawn).
MAY_CHANGE = frozenset({
    "epochs", "jit", "deterministic", "histograms", "overfit_check",
    "loss_guard", "loss_guard_factor", "collective_timeout",
    "startup_timeout",
})


class RunFolderMismatch(ValueError):
    """The run folder's checkpoints were made with another configuration."""


def config_record(model_config: ModelConfig,
                  train_config: TrainConfig) -> dict[str, Any]:
    """What :func:`record_config` writes: both configurations as JSON
    values (tuples as lists)."""
    return json.loads(json.dumps({
        "model_config": model_config.to_dict(),
        "train_config": train_config.to_dict(),
    }))


def record_config(folder: str, model_config: ModelConfig,
                  train_config: TrainConfig) -> str:
    """Write the configuration into ``folder``'s checkpoint folder (before
    the first checkpoint is saved). Returns the file's path."""
    directory = os.path.join(folder, CHECKPOINTS)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, CONFIG_FILE)
    write_json(path, config_record(model_config, train_config))
    return path


def saved_config(out_dir: str) -> dict[str, Any] | None:
    """The configuration recorded in the run folder ``out_dir``: its
    ``checkpoints/config.json``, else (a folder from before the record
    was kept) its finished run's ``summary.json``; None when neither."""
    for path in (os.path.join(out_dir, CHECKPOINTS, CONFIG_FILE),
                 os.path.join(out_dir, SUMMARY_FILE)):
        try:
            with open(path) as fh:
                saved = json.load(fh)
        except (OSError, ValueError):
            continue
        if isinstance(saved, dict) and {"model_config",
                                        "train_config"} <= set(saved):
            return saved
    return None


def differences(saved: dict[str, Any], current: dict[str, Any],
                may_change=MAY_CHANGE) -> list[str]:
    """``"field: old → new"`` for every field of the two configurations
    that differs, except those in ``may_change``. A field missing from
    ``saved`` (added to tfnn after that run) counts as its default."""
    found = []
    for section, cls in (("model_config", ModelConfig),
                         ("train_config", TrainConfig)):
        defaults = {f.name: field_default(f) for f in dataclasses.fields(cls)}
        old = {**json.loads(json.dumps(defaults)), **saved[section]}
        new = current[section]
        for name in sorted(set(old) | set(new)):
            if name in may_change or old.get(name) == new.get(name):
                continue
            found.append(f"{name}: {shown(old.get(name))} → "
                         f"{shown(new.get(name))}")
    return found


def field_default(f: dataclasses.Field):
    """A dataclass field's default value (tuples as lists)."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    value = f.default
    return list(value) if isinstance(value, tuple) else value


def shown(value) -> str:
    """A configuration value as JSON writes it: ``0.2``, ``[16]``,
    ``"adam"``, ``null``."""
    return json.dumps(value, ensure_ascii=False)


def check_resume(out_dir: str | None, model_config: ModelConfig,
                 train_config: TrainConfig) -> None:
    """Refuse to resume the run folder ``out_dir`` with a configuration
    other than its checkpoints'. Nothing to resume (no folder, no
    checkpoint yet) is never refused; nothing is read but JSON.

    Raises:
        RunFolderMismatch: one line naming the folder, each field that
            differs (old → new) and how to start afresh.
    """
    if not out_dir or not os.path.exists(
            os.path.join(out_dir, CHECKPOINTS, CHECKPOINT_INDEX)):
        return
    afresh = ("rerun with that configuration to resume it (--epochs may "
              "change), or start afresh with another --out")
    saved = saved_config(out_dir)
    if saved is None:
        raise RunFolderMismatch(
            f"the run folder {out_dir} holds checkpoints with no record of "
            f"their configuration ({CHECKPOINTS}/{CONFIG_FILE}): start "
            "afresh with another --out")
    changed = differences(saved, config_record(model_config, train_config))
    if changed:
        raise RunFolderMismatch(
            f"the run folder {out_dir} holds checkpoints of another "
            f"configuration ({'; '.join(changed)}): {afresh}")
