"""Note 003's assignment: MNIST accuracy, one change at a time — the same
as ``tfnn assignment``.

    python scripts/mnist_accuracy.py --export        # the full run
    python scripts/mnist_accuracy.py --quick --docs /tmp/a
"""

import sys

from tfnn.cli import main

if __name__ == "__main__":
    sys.exit(main(["assignment", *sys.argv[1:]]))
