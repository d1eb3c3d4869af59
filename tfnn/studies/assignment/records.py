"""The assignment's records, shipped: the best MLP and the best CNN exported
through the serving path (``saved_models/mnist_<arch>_record/<version>/``),
each scored on the full MNIST test set before it is published."""

from __future__ import annotations

import logging
import os

from tfnn.shipping import export_savedmodel, list_versions, read_metadata

logger = logging.getLogger(__name__)

DEFAULT_COMMAND = "python scripts/mnist_accuracy.py --export"


def record_name(arch: str) -> str:
    """The model name a record of kind ``arch`` is exported under."""
    return f"mnist_{arch}_record"


def export_records(result, base_dir="saved_models", manual_dir=None,
                   data_dir=None, command=None, only=None) -> dict:
    """Export the best MLP and the best CNN of ``result`` as
    ``base_dir/mnist_<arch>_record/<next version>/``. Each SavedModel is
    scored on the full MNIST test set before it is published, and must
    predict exactly what the in-memory model predicts. ``only``: these
    kinds ("mlp", "cnn") only.

    Returns ``{arch: {"path", "test_accuracy"}}`` of the new versions.
    """
    splits = result["splits"]
    out = {}
    for arch, model in result["models"].items():
        if only is not None and arch not in only:
            continue
        rec = result["records"][arch]
        path = export_savedmodel(
            model, splits.preprocessor, base_dir, name=record_name(arch),
            metadata={"assignment_record": rec["label"],
                      "val_accuracy": rec["val_accuracy"],
                      "assignment_config": result["config"],
                      "command": command or DEFAULT_COMMAND},
            dataset=splits.dataset, manual_dir=manual_dir, data_dir=data_dir)
        meta = read_metadata(path)
        out[arch] = {"path": os.path.relpath(path),
                     "test_accuracy": meta["test_accuracy"]}
        logger.info("%s record %s: %.4f on the test set (%s)", arch,
                    rec["label"], meta["test_accuracy"], path)
    return out


def existing_exports(result, base_dir="saved_models") -> dict:
    """The already exported records of ``result`` (same model label and
    test accuracy in the newest version's metadata), so a rerun that reads
    the runs back can write the report without exporting again."""
    out = {}
    for arch, rec in result.get("records", {}).items():
        versions = list_versions(os.path.join(base_dir, record_name(arch)))
        if not versions:
            continue
        path = os.path.join(base_dir, record_name(arch), str(versions[-1]))
        meta = read_metadata(path)
        if (meta.get("assignment_record") == rec["label"]
                and meta.get("test_accuracy") == rec["test_accuracy"]):
            out[arch] = {"path": os.path.relpath(path),
                         "test_accuracy": meta["test_accuracy"]}
    return out
