"""``tfnn experiment list | run NAME|all [--quick] [--out DIR] | gallery
[--only NAME…] [--from-json]``."""

from __future__ import annotations

import logging

from tfnn.studies import experiments, gallery

logger = logging.getLogger(__name__)


def add_arguments(parser):
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    sub.add_parser("list", help="the experiments of the notes")
    run = sub.add_parser("run", help="run one experiment, or all")
    run.add_argument("name", help="an experiment name, or 'all'")
    run.add_argument("--quick", action="store_true",
                     help="the fast config the tests use")
    run.add_argument("--out", default="experiments_out",
                     help="folder for NAME.png and NAME.json")
    gallery = sub.add_parser(
        "gallery", help="run everything in full mode and write "
        "docs/experiments.md with the figures under docs/figures")
    gallery.add_argument("--docs", default="docs")
    gallery.add_argument("--quick", action="store_true")
    gallery.add_argument("--only", nargs="+", default=None,
                         help="regenerate only these experiments")
    gallery.add_argument("--from-json", action="store_true",
                         help="run nothing: rebuild the page from the "
                         "saved DOCS/figures/NAME.json")


def run(args) -> int:
    if args.action == "list":
        for i, name in enumerate(experiments.names(), 1):
            print(f"{i:>2}. {name:<22} {experiments.get(name).TITLE}")
        return 0
    mode = "quick" if args.quick else "full"
    if args.action == "gallery":
        path = (gallery.rebuild_gallery(args.docs) if args.from_json else
                gallery.write_gallery(args.docs, mode=mode, only=args.only))
        logger.info("wrote %s", path)
        return 0
    chosen = experiments.names() if args.name == "all" else [args.name]
    for name in chosen:
        result = experiments.run(name, mode=mode, out_dir=args.out)
        logger.info("%s: %s", name, experiments.get(name).summarize(result))
    return 0
