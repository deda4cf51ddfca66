"""``python -m paralab.training.cli cnn|baseline-cnn|fcn``: train, evaluate, export, describe.

``paralab train <args>`` delegates here. Examples::

    python -m paralab.training.cli baseline-cnn --budget-minutes 6
    python -m paralab.training.cli cnn --budget-minutes 48
    python -m paralab.training.cli fcn --budget-minutes 25
    python -m paralab.training.cli cnn --limit 512 --epochs 1 --out /tmp/models  # smoke run
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT.parent / "shared" / "datasets"


def _default(*candidates: Path) -> Path | None:
    return next((path for path in candidates if path.exists()), None)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="paralab train", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    cifar = _default(SHARED / "cifar10" / "cifar10-jpeg.tar.gz", SHARED / "cifar10")
    pets = _default(SHARED / "oxford-iiit-pet-subset", SHARED / "oxford-iiit-pet")
    specs = {
        "cnn": ("airbench-style CIFAR-10 CNN", cifar, 48.0, 10.0),
        "baseline-cnn": (
            "the seed's baseline CNN (result goes into the CNN manifest)",
            cifar,
            6.0,
            30.0,
        ),
        "fcn": ("U-Net for Oxford-IIIT Pet trimaps", pets, 25.0, 200.0),
    }
    for command, (help_text, data, minutes, epochs) in specs.items():
        sub = commands.add_parser(command, help=help_text)
        sub.add_argument(
            "--data",
            type=Path,
            default=data,
            required=data is None,
            help="dataset folder or CIFAR .tar.gz (default: %(default)s)",
        )
        sub.add_argument(
            "--out", type=Path, default=ROOT / "models", help="models folder (default: %(default)s)"
        )
        sub.add_argument(
            "--budget-minutes",
            type=float,
            default=minutes,
            help="stop training after this much wall-clock (default: %(default)s)",
        )
        sub.add_argument(
            "--epochs",
            type=float,
            default=epochs,
            help="planned epochs; the budget may end training earlier",
        )
        sub.add_argument("--limit", type=int, default=None, help="images per split (quick runs)")
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--batch-size", type=int, default=None)
        sub.add_argument(
            "--widths",
            default=None,
            help="comma-separated layer widths (default: the architecture's)",
        )
        sub.add_argument(
            "--size",
            type=int,
            default=128 if command == "fcn" else 32,
            help="square input size in pixels (default: %(default)s)",
        )
        if command == "cnn":
            sub.add_argument(
                "--tta",
                choices=("none", "flip", "flip-translate"),
                default="flip",
                help="test-time augmentation built into the shipped model (default: %(default)s)",
            )
        if command == "fcn":
            sub.add_argument(
                "--encoder",
                type=Path,
                default=None,
                help="a trained CIFAR-10 model.keras whose frozen features the U-Net reuses",
            )
            sub.add_argument(
                "--finetune-encoder",
                action="store_true",
                help="train the encoder's convolutions too (BatchNorm stays frozen)",
            )
            sub.add_argument(
                "--train-size",
                type=int,
                default=None,
                help="side of the training crops (default: 3/4 of --size, FixRes-style)",
            )
        sub.add_argument("--version", default="1.0.0")
        sub.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    from paralab.training import pipelines

    runs = {
        "cnn": pipelines.run_cnn,
        "baseline-cnn": pipelines.run_baseline,
        "fcn": pipelines.run_fcn,
    }
    return runs[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
