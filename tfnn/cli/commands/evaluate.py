"""``tfnn evaluate PATH``: accuracy and confusion matrix on the test set of
a run folder (``model.keras`` + ``summary.json``) or a ``.keras`` file.

The evaluation (``tfnn.training.evaluation``) is imported when the command
runs: ``tfnn --help`` must not wait for TensorFlow.
"""

from __future__ import annotations

import logging

from tfnn.atomic_json import write_json
from tfnn.training.metrics import format_confusion

logger = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("path", help="run folder or model.keras")
    parser.add_argument("--dataset", default=None,
                        help="default: the run's dataset")
    parser.add_argument("--manual-dir", default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", default=None,
                        help="also write the numbers to this JSON file")


def run(args) -> int:
    # Loads TensorFlow and the models: not at ``tfnn evaluate --help``.
    from tfnn.training.evaluation import evaluate_run

    result = evaluate_run(args.path, dataset=args.dataset,
                          manual_dir=args.manual_dir, data_dir=args.data_dir)
    print(f"{result['dataset']} test accuracy: {result['accuracy']:.4f} "
          f"({result['correct']}/{result['n']})")
    print(format_confusion(result["confusion_matrix"]))
    if args.json:
        write_json(args.json, result)  # NumPy values become lists/numbers
    return 0
