"""Latency and size of every format of a version, in-process.

    python scripts/format_latency.py saved_models/mnist/1
    python scripts/format_latency.py saved_models/mnist_cnn_record/3 \
        --repeats 20

Prints a Markdown table (format, file, size, batch, p50, images/s) of the
SavedModel, LiteRT float, LiteRT int8 and ONNX Runtime, each in its own
runtime (``tfnn.shipping.formats.format_latency``).
"""

import argparse

from tfnn.shipping import formats


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("path", nargs="?", default="saved_models/mnist/1",
                   help="version folder (default: %(default)s)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 100])
    p.add_argument("--repeats", type=int, default=50)
    args = p.parse_args(argv)
    rows = formats.format_latency(args.path, batch_sizes=args.batch_sizes,
                                  repeats=args.repeats)
    print(formats.latency_table(rows))


if __name__ == "__main__":
    main()
