"""``tfnn predict --url URL image.png|images.npy …``: ask a server;
``tfnn predict --model PATH …``: run a local SavedModel folder, ``.tflite``
or ``.onnx`` file in its own runtime, no server.

The client (``tfnn.serving.client``) needs NumPy and httpx only, so it is
imported here at the top, ``tfnn --help`` included; the local runtimes
load with ``--model`` (``tfnn.shipping.formats.load_runner``).
"""

from __future__ import annotations

import json
import logging

from tfnn.serving.client import format_predictions, load_images, predict
from tfnn.shipping import formats

logger = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--url",
                        default="http://127.0.0.1:8501/v1/models/mnist",
                        help="model URL (default: %(default)s)")
    parser.add_argument("--model", default=None, metavar="PATH",
                        help="run this SavedModel folder, .tflite or .onnx "
                        "file here instead of asking a server")
    parser.add_argument("--signature", default=None,
                        help="signature_name (default: serving_default)")
    parser.add_argument("--json", action="store_true",
                        help="print JSON instead of a table")
    parser.add_argument("images", nargs="+",
                        help=".png/.jpg pictures (28×28 as they are, larger "
                        "ones made into MNIST digits) or .npy arrays")


def run(args) -> int:
    try:
        images, labels = load_images(args.images)
        if args.model:
            result = formats.run_batches(formats.load_runner(args.model),
                                         images)
        else:
            result = predict(args.url, images, signature_name=args.signature)
    except (OSError, ValueError, RuntimeError) as err:
        logger.error("predict failed: %s", err)
        return 1
    if args.json:
        print(json.dumps([
            {"image": label, "class": int(c), "probabilities": p.tolist()}
            for label, c, p in zip(labels, result["classes"],
                                   result["probabilities"])
        ]))
    else:
        print(format_predictions(labels, result))
    return 0
