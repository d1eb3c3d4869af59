"""The assignment's journey: its stages, its two modes, and the engine that
trains every stage for every seed (resuming from saved runs).

Each stage of :data:`JOURNEY` is ``(name, ModelConfig overrides,
TrainConfig overrides)``, applied on top of all the stages before it
(:func:`stage_configs`). :func:`run_stages` trains them through the one
trainer (:func:`tfnn.studies.mnist_runs.train`) and aggregates the seeds: mean
± sample std (:func:`tfnn.studies.measures.mean_std`) and the gain over the
stage before.
"""

from __future__ import annotations

import json
import logging
import os

from tfnn.atomic_json import write_json
from tfnn.config import ModelConfig
from tfnn.models import load_model, save_model
from tfnn.studies import measures, mnist_runs
from tfnn.training import TrainConfig

logger = logging.getLogger(__name__)

# (name, ModelConfig overrides, TrainConfig overrides): cumulative.
JOURNEY = [
    ("baseline",
     {"arch": "mlp", "hidden": [64], "activation": "sigmoid",
      "initializer": "small_normal", "output": "sigmoid",
      "batch_norm": False, "dropout": 0.0},
     {"optimizer": "sgd", "learning_rate": 0.01, "batch_size": 32,
      "schedule": "constant"}),
    ("relu", {"activation": "relu"}, {}),
    ("he_init", {"initializer": "he_normal"}, {}),
    ("adam", {}, {"optimizer": "adam", "learning_rate": 1e-3}),
    ("logits_output", {"output": "logits"}, {}),
    ("wider_deeper", {"hidden": [256, 256]}, {}),
    ("batch_norm", {"batch_norm": True}, {}),
    ("dropout", {"dropout": 0.2}, {}),
    ("cosine_lr", {}, {"schedule": "cosine"}),
    ("wider", {"hidden": [800, 800]}, {}),
    ("augment", {"augment_shift": 0.1, "augment_rotation": 10.0}, {}),
    ("longer", {}, {"epochs_factor": 3}),
    ("cnn", {"arch": "cnn", "filters": [16, 32], "hidden": [128]}, {}),
    ("cnn_wider", {"filters": [32, 64]}, {}),
    ("cnn_deeper", {"convs_per_block": 2}, {}),
]
JOURNEY_NAMES = [name for name, _, _ in JOURNEY]

# What each stage is, and the note it comes from (the report's table).
WHY = {
    "baseline": "784-64-10 with note 000's sigmoid output and batch 32; "
                "sigmoid hidden units (note 000's are ReLU), W = 0.01·N(0,1), "
                "SGD lr 0.01 and the loss are ours",
    "relu": "f(x) = max(0, x) (notes 000, 003)",
    "he_init": "W ~ N(0, 2/fan_in) (notes 001-003)",
    "adam": "Adam, lr 1e-3 (notes 001, 003)",
    "logits_output": "softmax cross-entropy on logits, no output sigmoid "
                     "(note 002)",
    "wider_deeper": "784-256-256-10 (note 003)",
    "batch_norm": "Linear → BN → ReLU (notes 002-004)",
    "dropout": "dropout 0.2 after every hidden block (note 002)",
    "cosine_lr": "lr_t = lr·½(1 + cos(πt/T)) (ours: no note names a "
                 "schedule)",
    "wider": "784-800-800-10",
    "augment": "random shifts ±10 % and rotations ±10° in training",
    "longer": "3× the epochs",
    "cnn": "[Conv3×3 → BN → ReLU → MaxPool]×2 (16, 32) → Dense 128",
    "cnn_wider": "32, 64 channels",
    "cnn_deeper": "two Conv3×3 → BN → ReLU per block",
    "ensemble": "mean of the seeds' softmax outputs",
    "tta": "Test-time augmentation: each test image is also shown shifted "
           "by every whole-pixel offset of up to r pixels in each direction "
           "((2r+1)² copies, the background moving in), and the prediction "
           "is the mean of the softmax outputs over the copies "
           "(tfnn.models.tta).",
}

# The full run: every stage up to cnn_wider, 3 seeds, all of MNIST.
# cnn_deeper has ~4x cnn_wider's multiply-adds per image: name it with
# --stages where the budget allows (docs/assignment.md records what the
# full run took).
FULL = {
    "stages": JOURNEY_NAMES[:-1],
    "epochs": 4,
    "n_train": None,
    "n_val": None,
    "n_test": None,
    "seeds": [0, 1, 2],
    "ensembles": ["longer", "cnn", "cnn_wider"],
    "tta_shift": 1,
    "record_max_mb": 5.0,
}
# The quick run: the full run's stages and ensembles on 2,000 training
# images, one epoch, one seed (every code path, a few minutes).
QUICK = dict(FULL, epochs=1, n_train=2000, n_val=1000, n_test=2000,
             seeds=[0])
MODES = {"quick": QUICK, "full": FULL}

# The per-seed numbers of a stage (lists, one entry per seed).
PER_SEED = ("val_accuracy", "test_accuracy", "train_accuracy", "val_curve",
            "seconds")


def stage_configs(stages=JOURNEY, epochs=1, seed=0):
    """``[(name, ModelConfig, TrainConfig)]``: each stage's overrides applied
    on top of all earlier ones. A stage's ``epochs_factor`` multiplies
    ``epochs`` (from then on)."""
    model, train, out = {}, {}, []
    factor = 1
    for name, model_changes, train_changes in stages:
        model.update(model_changes)
        train_changes = dict(train_changes)
        factor *= train_changes.pop("epochs_factor", 1)
        train.update(train_changes)
        mc = ModelConfig(**model, initializer_kwargs={"seed": seed})
        tc = TrainConfig(**train, epochs=epochs * factor, seed=seed)
        out.append((name, mc, tc))
    return out


def splits_for(config, splits=None):
    """MNIST (standardized with the training set's statistics) cut to the
    config's ``n_train`` / ``n_val`` / ``n_test`` (None keeps all)."""
    return mnist_runs.subset(splits or mnist_runs.mnist(), config["n_train"],
                             config["n_test"], config["n_val"])


def _read_back(folder, key):
    """``(entry, model)`` saved in ``folder`` for this ``key``, or None."""
    path = os.path.join(folder, "entry.json")
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        saved = json.load(fh)
    if saved["key"] != json.loads(json.dumps(key)):
        return None
    return saved["entry"], load_model(os.path.join(folder, "model.keras"),
                                      compile=False)


def train_stage(name, seed, mc, tc, splits, cache_dir=None):
    """``(entry, model)`` of one stage and seed: trained, or read back from
    ``cache_dir/<name>-seed<seed>/`` when a finished run with the same
    configs and data sizes is there (an interrupted journey resumes).

    ``entry`` holds the run's last validation, test and training accuracy,
    its validation curve, training seconds and parameter count.
    """
    key = {"model_config": mc.to_dict(), "train_config": tc.to_dict(),
           "sizes": [len(splits.x_train), len(splits.x_val),
                     len(splits.x_test)]}
    folder = cache_dir and os.path.join(cache_dir, f"{name}-seed{seed}")
    found = folder and _read_back(folder, key)
    if found:
        logger.info("stage %s, seed %d: read back from %s", name, seed,
                    folder)
        return found
    logger.info("stage %s, seed %d: %d epochs", name, seed, tc.epochs)
    result = mnist_runs.train(mc, tc, splits)
    h = result.history
    entry = {"val_accuracy": float(h.val_accuracy[-1]),
             "test_accuracy": float(result.test_accuracy),
             "train_accuracy": float(h.accuracy[-1]),
             "val_curve": [float(v) for v in h.val_accuracy],
             "seconds": float(result.summary["train_seconds"]),
             "parameters": int(result.summary["parameters"])}
    if folder:
        os.makedirs(folder, exist_ok=True)
        save_model(result.model, os.path.join(folder, "model.keras"))
        # written last: marks the run finished
        write_json(os.path.join(folder, "entry.json"),
                   {"key": key, "entry": entry})
    return entry, result.model


def _stage_rows(stages, entries):
    """One row per stage trained: its numbers, mean ± std of each, the
    gains over the stage before and the stage's own overrides."""
    rows, prev = [], None
    changes = {n: (m, t) for n, m, t in stages}
    for name in [n for n, _, _ in stages if n in entries]:
        row = {"name": name, **entries[name]}
        for key in ("val_accuracy", "test_accuracy", "train_accuracy",
                    "seconds"):
            row[key + "_mean"], row[key + "_std"] = measures.mean_std(row[key])
        for key in ("val", "test"):
            row[key + "_gain"] = (
                0.0 if prev is None else
                row[key + "_accuracy_mean"] - prev[key + "_accuracy_mean"])
        row["model_changes"], row["train_changes"] = changes[name]
        rows.append(row)
        prev = row
    return rows


def run_stages(stages, config, splits=None, keep=(), cache_dir=None):
    """Train every stage of ``stages`` (cumulative overrides) for each of
    ``config["seeds"]``; the stages named in ``keep`` keep their trained
    models (for ensembles and records). With ``cache_dir`` every trained
    model and its numbers are saved there, and finished runs are read back
    instead of trained again.

    Returns ``(rows, kept)``: one row per stage (config, accuracies per seed
    with mean ± std, gains over the stage before, training seconds) and
    ``{stage: [(seed, model), …]}``.
    """
    splits = splits_for(config, splits)
    names = [n for n, _, _ in stages]
    wanted = config.get("stages", names)
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        raise ValueError(f"Unknown stages {unknown}; choose from {names}")
    entries, kept = {}, {}
    for seed in config["seeds"]:
        for name, mc, tc in stage_configs(stages, config["epochs"], seed):
            if name not in wanted:
                continue
            one, model = train_stage(name, seed, mc, tc, splits, cache_dir)
            e = entries.setdefault(name, {
                **{k: [] for k in PER_SEED},
                "parameters": one["parameters"],
                "model_config": mc.to_dict(), "epochs": tc.epochs,
                "train_config": tc.to_dict()})
            for k in PER_SEED:
                e[k].append(one[k])
            if name in keep:
                kept.setdefault(name, []).append((seed, model))
    return _stage_rows(stages, entries), kept
