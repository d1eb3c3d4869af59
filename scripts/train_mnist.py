"""Train an MNIST model: the same options as ``tfnn train``.

    python scripts/train_mnist.py --epochs 10 --batch-norm --dropout 0.2
"""

import sys

from tfnn.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
