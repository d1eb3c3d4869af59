"""The ``tfnn`` command line: ``tfnn <command> [options]``.

Each command lives in ``tfnn/commands/<command>.py`` with two functions,
``add_arguments(parser)`` and ``run(args) -> int`` (and optionally
``before_tensorflow(argv)``, for settings that must precede the import of
TensorFlow); this module only routes.
Commands import TensorFlow lazily, so ``tfnn --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

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
    "export": "export a trained model as a SavedModel for TensorFlow Serving",
    "verify": "check a SavedModel's accuracy on the real test set",
    "serve": "serve SavedModels over TensorFlow Serving's REST API",
    "predict": "send images to a running server and print the classes",
}


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr, exit 2:
    ``tfnn train: error: argument --epochs: invalid int value: 'x' (tfnn
    train --help lists the options)``. The usage of ``tfnn train`` (every
    config field is a flag) would bury the message."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help "
                     "lists the options)\n")


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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if commands is None or name in commands:
            _load(name).add_arguments(p)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
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
