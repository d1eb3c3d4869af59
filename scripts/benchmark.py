"""Training and serving speed of tfnn beside Keras fit and PyTorch.

    python scripts/benchmark.py --out benchmark.json
    python scripts/benchmark.py --profile-only   # where one step goes
"""

import argparse
import json
import logging

from tfnn.studies import benchmark


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--cnn-epochs", type=int, default=2)
    p.add_argument("--cnn-train", type=int, default=10_000)
    p.add_argument("--no-time-to-accuracy", action="store_true")
    p.add_argument("--cnn-max-epochs", type=int, default=5,
                   help="epochs the CNN gets to reach 99.0 %% test accuracy")
    p.add_argument("--cnn-time-to-99", action="store_true",
                   help="also the notes' CNN epoch by epoch to 99 %% "
                   "(minutes)")
    p.add_argument("--speedrun-seeds", type=int, default=3,
                   help="seeds of the speedrun rows (0: none)")
    p.add_argument("--keras-io", action="store_true",
                   help="add keras.io's convnet recipe to the speedrun rows "
                   "(minutes)")
    p.add_argument("--serving-dir", default="saved_models/mnist")
    p.add_argument("--out", default=None,
                   help="JSON report (default: benchmark.json; none with "
                   "--profile-only)")
    p.add_argument("--no-profile", action="store_true",
                   help="leave out the profile of one train step")
    p.add_argument("--profile-only", action="store_true",
                   help="only the profile of one train step (MLP and CNN)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line a request
    if args.profile_only:
        report = benchmark.run_profile(out=args.out)
        print(benchmark.format_report(report))
        return
    report = benchmark.run(epochs=args.epochs, cnn_epochs=args.cnn_epochs,
                           cnn_train=args.cnn_train,
                           time_to_acc=not args.no_time_to_accuracy,
                           serving_dir=args.serving_dir,
                           out=args.out or "benchmark.json",
                           profile=not args.no_profile,
                           cnn_max_epochs=args.cnn_max_epochs,
                           cnn_time_to_99=args.cnn_time_to_99,
                           speedrun_seeds=args.speedrun_seeds,
                           keras_io=args.keras_io)
    print(benchmark.format_report(report))
    print(json.dumps({"seconds": report["seconds"]}))


if __name__ == "__main__":
    main()
