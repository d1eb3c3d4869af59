"""``tfnn train``: train a model; every ModelConfig / TrainConfig field is a
flag (``--hidden 512 256 --activation leaky_relu --batch-norm --dropout 0.2
--optimizer nag --learning-rate 0.05 --schedule cosine …``) or comes from
``--config FILE`` (JSON or YAML with ``model:`` and ``train:`` sections).
Rerunning the same command resumes from the run folder's last checkpoint."""

from __future__ import annotations

import argparse
import logging
import os
import tempfile

from tfnn import data, nn, training
from tfnn.cli.flags import add_dataclass_flags, dataclass_from_args
from tfnn.config import (
    ARCHS,
    BN_PLACEMENTS,
    DOWNSAMPLING,
    OUTPUTS,
    ModelConfig,
)
from tfnn.config_files import load_config_file
from tfnn.runtime import (
    import_tensorflow_without_matplotlib,
    prefer_kernels_for,
)

logger = logging.getLogger(__name__)


# The flags that choose the data, and load()'s argument each sets.
DATA_FLAGS = {"dataset": str, "preprocessing": str, "validation_size": int,
              "seed": int, "train_limit": int, "manual_dir": str,
              "data_dir": str}


def before_tensorflow(argv) -> None:
    """Called with the raw arguments before TensorFlow is imported: the
    model's arch (``--arch``, else the ``--config`` file's, else mlp) picks
    the CPU kernels (:func:`tfnn.runtime.prefer_kernels_for`), and the
    data those arguments choose starts loading on a thread while
    TensorFlow imports (:func:`tfnn.data.prefetch`; the run's ``load``
    takes it when its arguments turn out the same, and reads afresh
    otherwise); then TensorFlow and Keras are imported without matplotlib
    (:func:`tfnn.runtime.import_tensorflow_without_matplotlib`: this
    process never calls Keras's gallery helpers)."""
    peek = argparse.ArgumentParser(add_help=False)
    for flag in ("arch", "config", *DATA_FLAGS):
        peek.add_argument("--" + flag.replace("_", "-"), dest=flag)
    peek.add_argument("-h", "--help", action="store_true")
    known, _ = peek.parse_known_args(argv)
    config = {}
    if known.config:
        try:
            config = load_config_file(known.config)
        except Exception:  # noqa: BLE001  run() reports the bad file
            pass
    sections = {k: v if isinstance(v, dict) else {}
                for k, v in (config if isinstance(config, dict) else {}
                             ).items()}
    prefer_kernels_for(known.arch or sections.get("model", {}).get("arch")
                       or "mlp")
    if not known.help:
        _prefetch(known, sections.get("train", {}))
    import_tensorflow_without_matplotlib()


def _prefetch(known, train_section: dict) -> None:
    """:func:`tfnn.data.prefetch` of the data flags (over the config
    file's ``train`` section); nothing where a value does not parse (the
    run reports it)."""
    given = {}
    for name, kind in DATA_FLAGS.items():
        value = getattr(known, name)
        if value is None:
            value = train_section.get(name)
        if value is None:
            continue
        try:
            given[name] = kind(value)
        except (TypeError, ValueError):
            return
    data.prefetch(**given)


# Flags whose meaning the field's name and default do not tell.
MODEL_HELP = {
    "initializer": "the hidden layers' initializer (the output layer's is "
    "--output-initializer)",
    "output_initializer": "the output layer's initializer; the default "
    "starts the logits near 0, so the initial loss is ≈ ln 10 (note 004)",
}
TRAIN_HELP = {
    "loop": "auto: tfnn.training.choose_loop picks (the fast path, its "
    "step XLA-compiled only where that pays; the readable loop for short "
    "runs and when distributed); fast: one compiled function per epoch; "
    "custom: the readable per-step loop; fit: Keras's own fit",
    "strategy": "default: one device; mirrored: every local GPU (or CPU); "
    "multiworker: the processes of $TF_CONFIG (tfnn launch sets it; "
    "docs/distributed.md)",
    "collective_timeout": "multiworker: a collective (the gradients' "
    "all-reduce) waiting longer for the other workers fails the run",
    "startup_timeout": "multiworker: a worker that finds no complete "
    "cluster within this many seconds exits 2",
    "loss_guard": "note 004's babysitting rule: a running loss above "
    "--loss-guard-factor × the initial loss means the learning rate is too "
    "high: stop (exit 3), warn once, or off; a NaN/Inf loss always stops",
}


def check_run_folder(out: str) -> None:
    """Create the run folder ``out`` and write a file into it, so a folder
    that cannot be written fails now, in one line, not after training.

    Raises:
        ValueError: naming the folder and the reason.
    """
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise ValueError(
            f"cannot write the run folder --out {out}: "
            f"{err.strerror or err}") from err


def add_arguments(parser):
    # Imported here, not at the top: TensorFlow loads with them, and
    # must load after before_tensorflow() chose the kernels (the router
    # imports this module first).
    from tfnn.training.config import LOSS_GUARDS
    from tfnn.training.whole_run import RECOMMENDED_MODEL, RECOMMENDED_TRAIN

    parser.add_argument("--config", help="JSON/YAML file with 'model' and "
                        "'train' sections; flags override it")
    parser.add_argument("--out", default=None,
                        help="run folder (default: runs/<dataset>-<arch>)")
    parser.add_argument("--manual-dir", default=None,
                        help="folder with the four official files "
                        "(or set TFNN_MANUAL_DIR)")
    parser.add_argument("--data-dir", default=None,
                        help="where tfds keeps prepared datasets "
                        "(or set TFNN_DATA_DIR)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars")
    add_dataclass_flags(parser, ModelConfig, group="model",
                        defaults=RECOMMENDED_MODEL, helps=MODEL_HELP,
                        choices={
        "arch": ARCHS, "activation": nn.activations.names(),
        "initializer": nn.initializers.names(),
        "output_initializer": nn.initializers.names(), "output": OUTPUTS,
        "bn_placement": BN_PLACEMENTS, "downsample": DOWNSAMPLING})
    add_dataclass_flags(parser, training.TrainConfig, group="training",
                        defaults=RECOMMENDED_TRAIN, helps=TRAIN_HELP,
                        choices={
        "dataset": data.DATASETS, "preprocessing": data.PREPROCESSING,
        "optimizer": nn.optimizers.names(), "schedule": nn.schedules.names(),
        "strategy": training.STRATEGIES, "loop": training.LOOPS,
        "loss_guard": LOSS_GUARDS})


def run(args) -> int:
    # TensorFlow loads here, after before_tensorflow() chose the kernels.
    from tfnn.training.whole_run import (
        RECOMMENDED_MODEL,
        RECOMMENDED_TRAIN,
        train,
    )

    # recommended defaults < config file < flags; the file is checked
    # against the two dataclasses (sections, keys, types) first.
    sections = {"model": ModelConfig, "train": training.TrainConfig}
    file_cfg = load_config_file(args.config, sections) if args.config else {}
    model_cfg = dataclass_from_args(ModelConfig, args, {
        **RECOMMENDED_MODEL.to_dict(), **file_cfg.get("model", {})})
    train_cfg = dataclass_from_args(training.TrainConfig, args, {
        **RECOMMENDED_TRAIN.to_dict(), **file_cfg.get("train", {})})
    out = args.out or os.path.join(
        "runs", f"{train_cfg.dataset}-{model_cfg.arch}")
    check_run_folder(out)  # before the data loads and the model trains
    try:
        result = train(model_cfg, train_cfg, out_dir=out,
                       manual_dir=args.manual_dir, data_dir=args.data_dir,
                       progress=not args.no_progress)
    except training.TrainingDiverged as err:
        logger.error("tfnn train: error: %s", err)
        return 3
    except training.ClusterFailed as err:  # multiworker: a worker was lost
        logger.error("tfnn train: error: %s", err)
        return 4
    logger.info("test accuracy %.4f; run folder %s (tensorboard --logdir "
                "%s)", result.test_accuracy, out,
                os.path.join(out, "tensorboard"))
    return 0
