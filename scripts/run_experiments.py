"""Run the notes' experiments: the same as ``tfnn experiment …``.

    python scripts/run_experiments.py list
    python scripts/run_experiments.py run weight_init --quick --out out/
    python scripts/run_experiments.py gallery        # docs/experiments.md
"""

import sys

from tfnn.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", *sys.argv[1:]]))
