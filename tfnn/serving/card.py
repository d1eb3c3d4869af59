"""A served version's model card, from the ``metadata.json`` beside it.

``GET /v1/models/{name}[/versions/{v}]/card`` (``tfnn.serving.page``)
answers :func:`model_card`: what the page of ``tfnn serve`` shows next to
the drawing pad: the measured test accuracy, the architecture, the
preprocessing inside the model, and when and how the model was trained
and exported. Every field is read from ``metadata.json``
(``tfnn.shipping`` writes it at export); a missing one is ``None``, so a
SavedModel exported elsewhere still gets a card (name and version only).

Plain Python: no TensorFlow.
"""

from __future__ import annotations

from typing import Any


def _join(parts) -> str:
    return " · ".join(p for p in parts if p)


def describe_architecture(config: dict[str, Any] | None) -> str | None:
    """One line for a ``ModelConfig`` dict, e.g. ``MLP 784-512-512-10 ·
    relu · he_normal init · BatchNorm before activation · dropout 0.3``."""
    if not config:
        return None
    shape = config.get("input_shape") or [28, 28]
    size = 1
    for n in shape:
        size *= int(n)
    hidden = [int(n) for n in config.get("hidden") or []]
    classes = int(config.get("num_classes", 10))
    if config.get("arch") == "cnn":
        filters = "-".join(str(f) for f in config.get("filters") or [])
        k = config.get("kernel_size", 3)
        dense = "-".join(str(n) for n in hidden + [classes])
        layers = f"CNN conv {filters} ({k}×{k}) → dense {dense}"
    else:
        layers = "MLP " + "-".join(str(n) for n in [size, *hidden, classes])
    bn = config.get("batch_norm") and (
        "BatchNorm " + str(config.get("bn_placement", "")).replace("_", " "))
    dropout = config.get("dropout") and f"dropout {config['dropout']:g}"
    reg = config.get("reg") and f"L2 {config['reg']:g}"
    init = config.get("initializer") and f"{config['initializer']} init"
    return _join([layers, config.get("activation"), init, bn, dropout, reg])


def describe_preprocessing(pre: dict[str, Any] | None) -> str | None:
    """The input normalization the SavedModel applies to raw pixels."""
    if not pre:
        return None
    kind = pre.get("kind")
    if kind == "standardize":
        formula = (f"(x/255 − {pre.get('mean', 0):.4f}) / "
                   f"{pre.get('std', 1):.4f}")
    elif kind == "minmax":
        formula = "x/255"
    else:
        formula = "x"
    return f"{kind}: {formula}, inside the SavedModel"


def describe_training(train: dict[str, Any] | None) -> str | None:
    """Epochs, optimizer, learning rate, schedule, batch size, seed."""
    if not train:
        return None
    parts = [
        train.get("epochs") and f"{train['epochs']} epochs",
        train.get("optimizer") and (
            f"{train['optimizer']} lr {train.get('learning_rate', '?')}"),
        train.get("schedule") and f"{train['schedule']} schedule",
        train.get("batch_size") and f"batch {train['batch_size']}",
        train.get("seed") is not None and f"seed {train['seed']}",
    ]
    return _join(parts)


def model_card(name: str, version: int, meta: dict[str, Any]
               ) -> dict[str, Any]:
    """The card of one version.

    Args:
        name: the model name in URLs.
        version: the version served.
        meta: its ``metadata.json`` (``{}`` when there is none).

    Returns:
        A JSON-ready dict: ``name``, ``version``, ``test_accuracy`` (a
        fraction), ``test_correct``, ``test_examples``, ``dataset``,
        ``architecture``, ``preprocessing``, ``input``, ``training``,
        ``train_command``, ``export_command``, ``created`` (the export's
        time), ``software``; ``None`` where ``meta`` does not say.
    """
    inputs = (meta.get("signatures", {}).get("serving_default", {})
              .get("inputs", {}))
    image = inputs.get(meta.get("input_name", "images")) or {}
    software = meta.get("versions") or {}
    return {
        "name": name,
        "version": int(version),
        "dataset": meta.get("dataset"),
        "test_accuracy": meta.get("test_accuracy"),
        "test_correct": meta.get("test_correct"),
        "test_examples": meta.get("test_examples"),
        "architecture": (describe_architecture(meta.get("model_config"))
                         or meta.get("assignment_record")),
        "preprocessing": describe_preprocessing(meta.get("preprocessor")),
        "input": image.get("accepts"),
        "training": describe_training(meta.get("train_config")),
        "train_command": meta.get("train_command"),
        "export_command": meta.get("command"),
        "created": meta.get("created"),
        "software": _join(f"{k} {v}" for k, v in sorted(software.items()))
        or None,
    }
