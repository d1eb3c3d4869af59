"""Export a training run as a SavedModel for TensorFlow Serving.

    python scripts/export_model.py --run runs/cnn --name mnist
    # → saved_models/mnist/<version>/ + metadata.json, scored on MNIST test
"""

import argparse
import logging
import sys

from tfnn.cli.commands import export


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    export.add_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return export.run(args)


if __name__ == "__main__":
    sys.exit(main())
