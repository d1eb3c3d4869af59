"""Serve saved_models/<name> over TensorFlow Serving's REST API.

    python scripts/serve.py --model-dir saved_models/mnist --port 8501
    curl http://127.0.0.1:8501/v1/models/mnist
"""

import argparse
import logging
import sys

from tfnn.cli.commands import serve


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    serve.add_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return serve.run(args)


if __name__ == "__main__":
    sys.exit(main())
