"""Evaluate a trained run on the real test set."""

from __future__ import annotations

import json
import os

import numpy as np

from tfnn import data as tfnn_data
from tfnn.batched_inference import map_batches
from tfnn.models import load_model
from tfnn.training.metrics import confusion_matrix


def load_run(path):
    """``(model, summary)`` from a run folder or a ``model.keras`` beside
    its ``summary.json``."""
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    model_path = os.path.join(path, "model.keras") if os.path.isdir(path) \
        else path
    summary_path = os.path.join(folder, "summary.json")
    if not os.path.exists(model_path):
        raise FileNotFoundError(f"No model at {model_path}")
    summary = {}
    if os.path.exists(summary_path):
        with open(summary_path) as fh:
            summary = json.load(fh)
    return load_model(model_path), summary


def predictions(model, x, batch_size=2000) -> np.ndarray:
    """Class predictions (argmax of the outputs) of ``model`` in inference
    mode."""
    return map_batches(
        lambda xb: np.asarray(model(xb, training=False)).argmax(-1), x,
        batch_size)


def evaluate_run(path, dataset=None, manual_dir=None, data_dir=None):
    """Accuracy and confusion matrix of a run's model on the test set, with
    the run's own preprocessing (training-set statistics)."""
    model, summary = load_run(path)
    dataset = dataset or summary.get("dataset", "mnist")
    pre = tfnn_data.Preprocessor.from_dict(
        summary.get("preprocessor", {"kind": "standardize"}))
    x, y = tfnn_data.load_arrays(dataset, "test", manual_dir, data_dir)
    pred = predictions(model, pre(x))
    correct = int((pred == y).sum())
    return {"dataset": dataset, "n": int(len(y)), "correct": correct,
            "accuracy": correct / len(y),
            "confusion_matrix": confusion_matrix(y, pred)}
