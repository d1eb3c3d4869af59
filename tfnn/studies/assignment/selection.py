"""The journey end to end, and every choice made on the validation split.

:func:`run` trains the stages (:func:`~tfnn.studies.assignment.stages.
run_stages`), then makes every trained model a candidate: each seed's model
of each stage, the ensembles of the stages named in ``config["ensembles"]``
(the mean of the seeds' softmax outputs, :mod:`tfnn.models.ensembles`) and
their test-time-shifted versions (:mod:`tfnn.models.tta`). The best
candidate by validation accuracy, overall and per kind (MLP, CNN; small
enough to commit), is the record; the test set is only reported.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from tfnn.models.ensembles import ensemble_model, probabilities
from tfnn.models.tta import offsets
from tfnn.studies import measures
from tfnn.studies.assignment.stages import (
    JOURNEY,
    JOURNEY_NAMES,
    MODES,
    run_stages,
    splits_for,
)
from tfnn.training.metrics import confusion_matrix


class Candidate(NamedTuple):
    """A model that may become a record, with its softmax outputs."""

    label: str  # "relu (seed 0)", "ensemble of cnn", …
    arch: str  # "mlp" or "cnn"
    model: object  # a keras.Model
    val_probs: np.ndarray  # (n_val, classes)
    test_probs: np.ndarray  # (n_test, classes)

    def val_accuracy(self, splits) -> float:
        return accuracy(self.val_probs, splits.y_val)

    def test_accuracy(self, splits) -> float:
        return accuracy(self.test_probs, splits.y_test)


def accuracy(probs, labels) -> float:
    """The fraction of rows of ``probs`` whose argmax is the label."""
    return float(np.mean(np.asarray(probs).argmax(1) == labels))


def scored(label, arch, model, splits) -> Candidate:
    """``model`` as a candidate: its probabilities on val and test."""
    return Candidate(label, arch, model, probabilities(model, splits.x_val),
                     probabilities(model, splits.x_test))


def run(config=None, mode="quick", splits=None, cache_dir=None):
    """The journey of :data:`JOURNEY` (``mode`` "quick" or "full", or an
    explicit ``config``), with the ensembles and the best model's errors.

    Returns a dict: ``config``, ``stages`` (rows of :func:`run_stages`),
    ``ensembles`` (rows), ``tta`` (rows of the test-time-shifted single
    models), ``records`` ({"mlp"|"cnn": label and accuracies}), ``best``
    (the candidate with the highest validation accuracy: its test
    predictions, confusion matrix and misclassified indices), ``models``
    ({"mlp"|"cnn": the record's model}) and ``splits`` (the last two are
    not JSON: see :func:`to_json`).
    """
    if config is None:
        if mode not in MODES:
            raise ValueError(f"Unknown mode {mode!r}; choose from "
                             f"{sorted(MODES)}")
        config = dict(MODES[mode])
    splits = splits_for(config, splits)
    t0 = time.perf_counter()
    # Every model is a candidate for a record (and an ensemble member).
    rows, kept = run_stages(JOURNEY, config, splits,
                            keep=config.get("stages", JOURNEY_NAMES),
                            cache_dir=cache_dir)
    arch = {r["name"]: r["model_config"]["arch"] for r in rows}
    candidates = [scored(f"{name} (seed {seed})", arch[name], model, splits)
                  for name, members in kept.items()
                  for seed, model in members]
    ensembles = _plain_ensembles(config, kept, candidates, splits)
    tta = add_test_time_shifts(config, kept, candidates, ensembles, splits)
    models, records = pick_records(candidates, splits,
                                   config.get("record_max_mb", 5.0))
    best = max(candidates, key=lambda c: c.val_accuracy(splits))
    return {
        "config": config,
        "stages": rows,
        "ensembles": ensembles,
        "tta": tta,
        "records": records,
        "best": errors_of(best, splits),
        "n_train": int(len(splits.x_train)), "n_val": int(len(splits.x_val)),
        "n_test": int(len(splits.x_test)),
        "seconds": time.perf_counter() - t0,
        "models": models,
        "splits": splits,
        "mode": "full" if config.get("n_train") is None else "quick",
    }


def to_json(result) -> dict:
    """The JSON-safe part of :func:`run`'s result."""
    return {k: v for k, v in result.items()
            if k not in ("models", "splits")}


def pick_records(candidates, splits, record_max_mb=5.0):
    """The best MLP and the best CNN by validation accuracy, among the
    candidates whose float32 weights take at most ``record_max_mb`` (a
    record must stay small enough to commit and serve: an ensemble of three
    800-800 MLPs is 15 MB, one is 5 MB).

    Returns ``(models, records)``, both keyed by "mlp" / "cnn".
    """
    max_params = record_max_mb * 2**20 / 4
    models, records = {}, {}
    for arch in ("mlp", "cnn"):
        of_arch = [c for c in candidates if c.arch == arch
                   and c.model.count_params() <= max_params]
        if of_arch:
            best = max(of_arch, key=lambda c: c.val_accuracy(splits))
            models[arch] = best.model
            records[arch] = {"label": best.label,
                             "val_accuracy": best.val_accuracy(splits),
                             "test_accuracy": best.test_accuracy(splits)}
    return models, records


def errors_of(best, splits) -> dict:
    """The candidate's test predictions: accuracy, confusion matrix, the
    misclassified indices with the predicted class and its probability."""
    predicted = best.test_probs.argmax(1)
    wrong = np.flatnonzero(predicted != splits.y_test)
    confusion = confusion_matrix(splits.y_test, predicted,
                                 splits.num_classes)
    return {"label": best.label, "val_accuracy": best.val_accuracy(splits),
            "test_accuracy": float(np.mean(predicted == splits.y_test)),
            "confusion": confusion.tolist(),
            "misclassified": wrong.tolist(),
            "predicted": predicted[wrong].tolist(),
            "probability": best.test_probs[wrong, predicted[wrong]].tolist()}


def _plain_ensembles(config, kept, candidates, splits):
    """The ensemble of each stage in ``config["ensembles"]`` that has two
    seeds or more; their rows (added to ``candidates`` too)."""
    ensembles = []
    for name in config.get("ensembles", ()):
        if name not in kept or len(kept[name]) < 2:
            continue
        members = [c for c in candidates if c.label.startswith(f"{name} (")]
        add_ensemble(f"ensemble of {name}", members,
                     ensemble_model([c.model for c in members],
                                    name=f"ensemble_{name}"),
                     splits, candidates, ensembles)
    return ensembles


def add_test_time_shifts(config, kept, candidates, ensembles, splits):
    """Test-time augmentation for the stages named in ``ensembles``: each
    seed's model, and their ensemble, averaged over the (2r+1)² shifted
    copies of every image (r = ``config["tta_shift"]``, 0: none). Adds the
    new models to ``candidates`` (so validation decides whether they win)
    and the ensembles' rows to ``ensembles``; returns one row per stage for
    the single models (accuracies per seed, mean ± std, gain over the same
    models without shifts)."""
    shift = int(config.get("tta_shift", 0))
    if not shift:
        return []
    copies = len(offsets(shift))
    fill = splits.preprocessor.background
    suffix = f" + shifts ±{shift} px"
    rows = []
    for name in config.get("ensembles", ()):
        if name not in kept:
            continue
        labels = {f"{name} (seed {seed})" for seed, _ in kept[name]}
        singles = [c for c in candidates if c.label in labels]
        shifted = [scored(c.label + suffix, c.arch,
                          ensemble_model([c.model],
                                         name=f"tta_{c.model.name}",
                                         max_shift=shift, fill=fill),
                          splits)
                   for c in singles]
        candidates.extend(shifted)
        rows.append(_gain_row(name + suffix, copies, singles, shifted,
                              splits))
        if len(singles) < 2:
            continue
        # The mean over members of each member's mean over copies is the
        # mean over both: the same p̄ as the one model built here.
        add_ensemble(f"ensemble of {name}{suffix}", shifted,
                     ensemble_model([c.model for c in singles],
                                    name=f"ensemble_{name}_tta",
                                    max_shift=shift, fill=fill),
                     splits, candidates, ensembles, copies=copies)
    return rows


def _gain_row(name, copies, before, after, splits):
    """Accuracies of the shifted models ``after`` per seed, mean ± std and
    the gain of their mean over the same models ``before`` the shifts."""
    row = {"name": name, "copies": copies, "members": len(before)}
    for key, probs, y in (("val", "val_probs", splits.y_val),
                          ("test", "test_probs", splits.y_test)):
        now = [accuracy(getattr(c, probs), y) for c in after]
        was = [accuracy(getattr(c, probs), y) for c in before]
        row[f"{key}_accuracy"] = now
        row[f"{key}_accuracy_mean"], row[f"{key}_accuracy_std"] = \
            measures.mean_std(now)
        row[f"{key}_gain"] = float(np.mean(now) - np.mean(was))
    return row


def add_ensemble(label, members, model, splits, candidates, ensembles,
                 **extra):
    """Score ``model``, the ensemble of ``members`` (candidates), by the
    mean of the members' probabilities; add its row to ``ensembles`` and
    it to ``candidates``."""
    ens = Candidate(label, members[0].arch, model,
                    np.mean([c.val_probs for c in members], axis=0),
                    np.mean([c.test_probs for c in members], axis=0))
    ensembles.append({"name": label, "members": len(members), **extra,
                      "arch": ens.arch,
                      "val_accuracy": ens.val_accuracy(splits),
                      "test_accuracy": ens.test_accuracy(splits),
                      "parameters": int(model.count_params())})
    candidates.append(ens)
