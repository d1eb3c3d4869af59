"""The ``tfnn`` command line: ``tfnn <command> [options]``.

Each command lives in ``tfnn/cli/commands/<command>.py`` with two
functions, ``add_arguments(parser)`` and ``run(args) -> int`` (and
optionally ``before_tensorflow(argv)``, for settings that must precede the
import of TensorFlow); this module only routes. Commands import TensorFlow
lazily, so ``tfnn --help`` and ``tfnn --version`` are instant.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import os
import sys

from tfnn import __version__

# command -> one-line help. Order is the order of --help.
COMMANDS = {
    "train": "train a model on MNIST / Fashion-MNIST (custom loop or fit)",
    "launch": "train on N worker processes here (MultiWorkerMirroredStrategy)",
    "evaluate": "accuracy and confusion matrix of a saved model on the "
                "test set",
    "experiment": "run the notes' experiments: figures and numbers",
    "assignment": "note 003's assignment: MNIST accuracy stage by stage",
    "speedrun": "train from a cold process to 99 percent MNIST test "
                "accuracy, timed per seed",
    "export": "export a trained model as a SavedModel for TensorFlow Serving "
              "(and LiteRT, int8, ONNX)",
    "verify": "check a SavedModel's (and each format's) accuracy on the "
              "real test set",
    "serve": "serve SavedModels over TensorFlow Serving's REST API",
    "predict": "send images to a running server, or run a model file "
               "here, and print the classes",
}


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr, exit 2:
    ``tfnn train: error: argument --epochs: invalid int value: 'x' (tfnn
    train --help lists the options)``. The usage of ``tfnn train`` (every
    config field is a flag) would bury the message."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help "
                     "lists the options)\n")


# The distributions TensorFlow ships as, first found wins.
TENSORFLOW_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tf-nightly",
                            "tensorflow-macos")


def distribution_version(*names: str) -> str:
    """The installed version of the first of the distributions ``names``,
    from the installed metadata (nothing is imported); "not installed"
    when there is none."""
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


def version_line() -> str:
    """``tfnn 0.1.0 (TensorFlow 2.21.0, Keras 3.15.0)``: tfnn's version and
    those of the TensorFlow and Keras it runs on."""
    return (f"tfnn {__version__} (TensorFlow "
            f"{distribution_version(*TENSORFLOW_DISTRIBUTIONS)}, Keras "
            f"{distribution_version('keras')})")


class VersionAction(argparse.Action):
    """``--version``: prints :func:`version_line` and exits 0; the
    versions are looked up only when the flag is given."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=dest,
                         **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_line())
        parser.exit(0)


def _load(command: str):
    return importlib.import_module(f"tfnn.cli.commands.{command}")


def build_parser(commands=None) -> argparse.ArgumentParser:
    parser = Parser(
        prog="tfnn",
        description="Training neural networks, from the notes: activations, "
        "initialization, BatchNorm, dropout, optimizers, shipping.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging"
    )
    parser.add_argument(
        "--version", action=VersionAction,
        help="print the versions of tfnn, TensorFlow and Keras and exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if commands is None or name in commands:
            _load(name).add_arguments(p)
    return parser


def main(argv=None) -> int:
    """The ``tfnn`` command: ``argv`` (default: ``sys.argv[1:]``) routed
    to its command. Returns the exit status; bad input exits 2 with one
    line naming what is wrong."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # TensorFlow's INFO/WARNING logs (oneDNN notices …) stay quiet in the
    # command's process unless the user asked for them.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Only the chosen command's module is imported to build its options.
    chosen = next((a for a in argv if a in COMMANDS), None)
    # Settings that must precede `import tensorflow` (tfnn.runtime).
    hook = chosen and getattr(_load(chosen), "before_tensorflow", None)
    if hook:
        hook(argv[argv.index(chosen) + 1:])
    parser = build_parser(commands={chosen} if chosen else set())
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(message)s",
    )
    if not args.verbose:  # tfds logs every dataset it opens
        logging.getLogger("absl").setLevel(logging.WARNING)
    try:
        return int(_load(args.command).run(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        # Bad input (unknown key, missing data folder …): the message says
        # what to do; a traceback would only hide it. --verbose shows it.
        if args.verbose:
            raise
        message = " ".join(str(err).split())  # one line, always
        parser.exit(2, f"tfnn {args.command}: error: {message}\n")


if __name__ == "__main__":
    sys.exit(main())
