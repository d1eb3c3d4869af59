"""``tfnn assignment [--quick] [--stages …] [--export] [--from-json]``:
note 003's assignment, stage by stage, into ``docs/assignment.md``."""

from __future__ import annotations

import logging

from tfnn import data
from tfnn.provenance import command_line
from tfnn.studies import assignment

logger = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help="1 epoch on 2,000 images per stage (the tests)")
    parser.add_argument("--stages", nargs="+", default=None,
                        help="run only these stages (default: the mode's)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per stage (x3 from 'longer' on)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--ensembles", nargs="+", default=None,
                        help="stages whose seeds are also ensembled "
                        "(default: longer, cnn and cnn_wider)")
    parser.add_argument("--tta-shift", type=int, default=None,
                        help="test-time augmentation for the --ensembles "
                        "stages: mean over the (2r+1)^2 shifts of up to r "
                        "pixels (default 1; 0: none)")
    parser.add_argument("--docs", default="docs",
                        help="writes DOCS/assignment.md and DOCS/assignment/")
    parser.add_argument("--from-json", action="store_true",
                        help="train nothing: write DOCS/assignment.md again "
                        "from the saved DOCS/assignment/assignment.json")
    parser.add_argument("--export", action="store_true",
                        help="export the best MLP and the best CNN, scored "
                        "on the real test set, under --saved-models")
    parser.add_argument("--saved-models", default="saved_models")
    parser.add_argument("--cache-dir", default="runs/assignment",
                        help="every trained model and its numbers; a rerun "
                        "reads finished stages back (resume). '' for none")
    parser.add_argument("--manual-dir", default=None,
                        help="folder of the official MNIST files "
                        "(default: $TFNN_MANUAL_DIR)")
    parser.add_argument("--data-dir", default=None)


def run(args) -> int:
    # TensorFlow loads with the packages' first names used (tfnn.lazy),
    # here, not when the parser is built.
    if args.from_json:
        logger.info("wrote %s", assignment.rebuild_report(args.docs))
        return 0
    config = dict(assignment.QUICK if args.quick else assignment.FULL)
    for key in ("stages", "epochs", "seeds", "ensembles", "tta_shift"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    splits = data.load("mnist", "standardize", 5000, args.manual_dir,
                       args.data_dir)
    result = assignment.run(config, splits=splits,
                            cache_dir=args.cache_dir or None)
    command = command_line()
    exports = assignment.existing_exports(result, args.saved_models)
    if args.export:  # the records not exported yet
        exports.update(assignment.export_records(
            result, args.saved_models, args.manual_dir, args.data_dir,
            command=command,
            only=[a for a in result["records"] if a not in exports]))
    path = assignment.write_report(result, args.docs, command, exports)
    for arch, rec in result["records"].items():
        logger.info("%s record: %s, %.2f %% validation, %.2f %% test",
                    arch, rec["label"], 100 * rec["val_accuracy"],
                    100 * rec["test_accuracy"])
    logger.info("wrote %s (%.0f min)", path, result["seconds"] / 60)
    return 0
