"""``tfnn speedrun [--seeds 5] [--target 0.99] [--arch cnn|mlp]``: train
the speedrun recipe (:mod:`tfnn.studies.speedrun`) from a cold process per
seed and print a table: seconds from the process's start to its exit, test
accuracy, epochs, and the median over the seeds.

Exit status 0 when every seed reached the target, 1 when one did not, 2 on
bad input.
"""

from __future__ import annotations

from tfnn.provenance import write_json


def add_arguments(parser):
    from tfnn.studies.speedrun.recipes import ARCHS

    parser.add_argument("--arch", default="cnn", choices=ARCHS,
                        help="the recipe: cnn (99.0 %%) or mlp (98.0 %%)")
    parser.add_argument("--seeds", type=int, default=5,
                        help="seeds, each in a fresh process (default 5)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--target", type=float, default=None,
                        help="test accuracy to reach (default: the "
                        "recipe's)")
    parser.add_argument("--train-limit", type=int, default=None,
                        help="train on the first N images only (a quick "
                        "check; the target is then out of reach)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the recipe's epochs")
    parser.add_argument("--manual-dir", default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", default=None,
                        help="also write the runs to this JSON file")


def check_args(args) -> None:
    """Bad values as one-line ``ValueError``s, before any process starts."""
    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1. Received: {args.seeds}")
    if args.target is not None and not 0 < args.target <= 1:
        raise ValueError("--target is a test accuracy in (0, 1]. "
                         f"Received: {args.target}")
    for name in ("train_limit", "epochs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1. "
                             f"Received: {value}")


def run(args) -> int:
    from tfnn.data import load_arrays
    from tfnn.studies.speedrun import format_table, race

    check_args(args)
    # The one-off preparation first (tfds's build from the official files
    # and the decoded copy beside it, as a user's first run makes them), so
    # every seed's time counts loading what a user's next run loads.
    for split in ("train", "test"):
        load_arrays("mnist", split, args.manual_dir, args.data_dir)
    result = race(args.arch, seeds=args.seeds, target=args.target,
                  first_seed=args.first_seed, train_limit=args.train_limit,
                  epochs=args.epochs, manual_dir=args.manual_dir,
                  data_dir=args.data_dir)
    print(format_table(result))
    if args.json:
        write_json(args.json, result)
    return 0 if result["all_reached"] else 1
