"""Training speed on this machine, per architecture, through the real training path.

    MNIST_DIR=../shared/mnist .venv/bin/python bench/train_speed.py [--arch NAME ...] [--images 6000]

For each architecture, trains ``--epochs`` (default 2) epochs on the first ``--images`` training
images with the very function ``python -m model.train`` uses (its recipe: batch size,
augmentation, ensemble members), and reports the last epoch: training images per second and what
that makes one epoch of the 55,000 training images. The first epoch is not counted: it includes
tracing and graph building. TensorFlow uses every core (intra-op threads = cores); the numpy
engine uses the BLAS threads it is given.

For ``cnn`` it also prints the wall time to 99.0% validation accuracy in the shipped training
run, summed from the per-epoch seconds in ``model/cnn/history.json`` (that run was timed by the
training command itself, on the full data).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from model import MODEL_DIR  # noqa: E402
from model.data.mnist import Split, load_splits  # noqa: E402

FULL_EPOCH = 55_000
TARGET_VAL_ACCURACY = 0.99


def measure(arch: str, train: Split, val: Split, epochs: int) -> dict:
    """Images per second of ``arch``'s own training loop, from its last epoch's timing."""
    from model.scratch import SCRATCH_RECIPES, train_scratch
    from model.train import train_keras
    from model.training.config import TrainConfig
    from model.training.networks import RECIPES

    if arch in RECIPES:
        recipe = RECIPES[arch]
        result = train_keras(TrainConfig(arch, epochs=epochs, batch_size=recipe.batch_size), recipe, train, val)
    else:
        recipe = SCRATCH_RECIPES[arch]
        result = train_scratch(arch, train, val, epochs, recipe.batch_size, seed=0)
    # An epoch's seconds include scoring the (small) validation set; negligible at this size.
    seconds = result.history[-1]["seconds"]
    per_second = len(train) / seconds
    return {
        "arch": arch,
        "images_per_second": per_second,
        "seconds_per_epoch": FULL_EPOCH / per_second,
        "batch_size": recipe.batch_size,
        "params": result.params,
    }


def time_to_accuracy(history_path: Path, target: float = TARGET_VAL_ACCURACY) -> dict | None:
    """Cumulative training seconds until validation accuracy first reaches ``target``."""
    try:
        rows = json.loads(history_path.read_text())["epochs"]
    except (OSError, ValueError, KeyError):
        return None
    elapsed = 0.0
    for row in rows:
        elapsed += row["seconds"]
        if row["val_accuracy"] >= target:
            return {"epoch": row["epoch"], "seconds": elapsed, "val_accuracy": row["val_accuracy"]}
    return {"epoch": None, "seconds": elapsed, "val_accuracy": max(r["val_accuracy"] for r in rows)}


def report(rows: list[dict], reached: dict | None) -> str:
    lines = [
        f"{'arch':<15} {'batch':>5} {'params':>9} {'images/s':>9} {'s/epoch (55k)':>14}",
    ]
    for r in rows:
        lines.append(
            f"{r['arch']:<15} {r['batch_size']:>5} {r['params']:>9,} {r['images_per_second']:>9.0f} "
            f"{r['seconds_per_epoch']:>14.1f}"
        )
    if reached is None:
        lines.append("cnn: no model/cnn/history.json to read the time to 99.0% from")
    elif reached["epoch"] is None:
        lines.append(f"cnn: never reached 99.0% validation accuracy (best {reached['val_accuracy']:.2%})")
    else:
        lines.append(
            f"cnn: 99.0% validation accuracy after epoch {reached['epoch']}, "
            f"{reached['seconds']:.0f} s ({reached['seconds'] / 60:.1f} min) of the shipped training run"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from model.train import all_arch_names

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", nargs="*", default=None, help="default: every architecture")
    parser.add_argument("--images", type=int, default=6000, help="training images per timed epoch")
    parser.add_argument("--epochs", type=int, default=2, help="the last one is timed")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DIR)")
    args = parser.parse_args(argv)

    train, val, _, _ = load_splits(args.data_dir)
    train = Split(train.images[: args.images], train.labels[: args.images])
    val = Split(val.images[:500], val.labels[:500])
    print(f"{os.cpu_count()} cores; {args.images} images an epoch, epoch {args.epochs} timed", flush=True)
    rows = []
    for arch in args.arch or all_arch_names():
        rows.append(measure(arch, train, val, args.epochs))
        print(f"  {arch}: {rows[-1]['images_per_second']:.0f} images/s", flush=True)
    print(report(rows, time_to_accuracy(MODEL_DIR / "cnn" / "history.json")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
