"""A seed-003-style hyperparameter search for the numpy FCN, scored on the validation split.

    python -m model.training.search --data-dir ../shared/mnist

Sweeps learning rate x hidden size x weight decay with short runs (one epoch each, so the
whole grid of 18 takes minutes on a laptop CPU) and writes
``model/search/results.json``. Short runs rank settings by how fast they learn, which is not
quite how well they end up; the grid is a map to explore, not the final word. The test set
is never touched.
"""
from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from model import MODEL_DIR
from model.data.mnist import MnistError, Split, load_splits
from model.scratch import SCRATCH_RECIPES, build_network, fit
from model.serving.artifacts import ArtifactError
from model.training.results import epoch_rank

ARCH = "seed003_numpy"
GRID = {
    "learning_rate": [0.1, 0.5, 1.0],  # 0.5 is the seed's
    "hidden": [256, 1024],  # 1024 is the seed's
    "weight_decay": [0.0, 1e-5, 1e-3],  # 1e-5 is the seed's
}
SUBSET = None  # training images per run; None = the whole training split (55,000)
EPOCHS = 1
SEED = 0
RESULTS_PATH = Path("search") / "results.json"  # under the model directory
COMMAND = "python -m model.training.search"
ROW_KEYS = ("learning_rate", "hidden", "weight_decay", "val_accuracy", "val_loss", "seconds")


class SearchResultsError(ArtifactError):
    """results.json is missing or unreadable; the message names the command that rebuilds it."""

    def __init__(self, path: Path, problem: str, arch: str = ARCH):
        super().__init__(path, problem, arch)
        self.args = (f"{self.path} is {problem}. Regenerate it with: {COMMAND}",)


def run_config(
    train: Split, val: Split, learning_rate: float, hidden: int, weight_decay: float, epochs: int
) -> dict:
    """Train one setting with the seed's recipe otherwise; its validation score."""
    recipe = replace(SCRATCH_RECIPES[ARCH], learning_rate=learning_rate, weight_decay=weight_decay)
    network = build_network(ARCH, seed=SEED, hidden=hidden)
    started = time.perf_counter()
    history, best_epoch = fit(network, recipe.optimizer(), train, val, epochs, recipe.batch_size, SEED)
    best = history[best_epoch - 1]
    return {
        "learning_rate": learning_rate,
        "hidden": hidden,
        "weight_decay": weight_decay,
        "val_accuracy": best["val_accuracy"],
        "val_loss": best["val_loss"],
        "seconds": round(time.perf_counter() - started, 2),
    }


def search(
    data_dir=None, subset: int | None = SUBSET, epochs: int = EPOCHS, grid: dict = GRID, log=print
) -> dict:
    train, val, _, mnist = load_splits(data_dir)
    # The training split is already in a seeded random order (model.data.mnist.split_validation),
    # so its first images are a fair, class-balanced-in-expectation sample.
    train = Split(train.images[:subset], train.labels[:subset])
    rows = []
    for learning_rate, hidden, weight_decay in itertools.product(*grid.values()):
        row = run_config(train, val, learning_rate, hidden, weight_decay, epochs)
        rows.append(row)
        log(format_row(row))
    # Ties in accuracy (a few images in 5,000) go to the lower validation loss.
    best = max(rows, key=epoch_rank)
    recipe = SCRATCH_RECIPES[ARCH]
    return {
        "arch": ARCH,
        "grid": grid,
        "rows": rows,
        "best": best,
        "settings": {
            "train_size": len(train),
            "validation_size": len(val),
            "epochs": epochs,
            "batch_size": recipe.batch_size,
            "schedule": f"lr x{recipe.decay_rate:g} every {recipe.decay_steps} steps",
            "seed": SEED,
        },
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "data": {"source": mnist.source, "checksums": mnist.checksums},
        "command": "python -m model.training.search " + " ".join(sys.argv[1:]),
    }


def format_row(row: dict) -> str:
    return (
        f"{row['learning_rate']:>6g} {row['hidden']:>6d} {row['weight_decay']:>8g}   "
        f"{row['val_accuracy']:.4f}  {row['val_loss']:.4f}  {row['seconds']:6.1f}"
    )


TABLE_HEADER = "    lr hidden    decay   val_acc val_loss  seconds"


def write_results(results: dict, path: Path) -> None:
    """Write atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".json", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(results, indent=1) + "\n")
    os.chmod(tmp, 0o644)  # mkstemp's 0600 would make the committed file private
    os.replace(tmp, path)


def load_search_results(model_dir: Path = MODEL_DIR) -> dict:
    """The last search's results.json, checked; SearchResultsError if missing or corrupt."""
    path = Path(model_dir) / RESULTS_PATH
    try:
        results = json.loads(path.read_text())
    except FileNotFoundError:
        raise SearchResultsError(path, "missing") from None
    except OSError as e:
        raise SearchResultsError(path, f"unreadable ({e.strerror})") from e
    except json.JSONDecodeError as e:
        raise SearchResultsError(path, f"corrupt (not valid JSON: {e.msg} at line {e.lineno})") from e
    if not isinstance(results, dict):
        raise SearchResultsError(path, "corrupt (not a JSON object)")
    rows = results.get("rows")
    complete = isinstance(rows, list) and all(isinstance(r, dict) and set(ROW_KEYS) <= set(r) for r in rows)
    if not (rows and complete):
        raise SearchResultsError(path, f"corrupt (no 'rows' list with {', '.join(ROW_KEYS)})")
    if not (isinstance(results.get("best"), dict) and set(ROW_KEYS) <= set(results["best"])):
        raise SearchResultsError(path, "corrupt (no 'best' row)")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Hyperparameter search for the numpy FCN (seed 003).")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DIR)")
    parser.add_argument("--subset", type=int, default=SUBSET, help="training images per run (default: all)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--out", type=Path, default=MODEL_DIR / RESULTS_PATH)
    args = parser.parse_args(argv)
    images = args.subset or "all training"
    settings = int(np.prod([len(v) for v in GRID.values()]))
    print(f"{ARCH}: {settings} settings, {args.epochs} epoch(s) on {images} images each")
    print(TABLE_HEADER)
    started = time.perf_counter()
    try:
        results = search(args.data_dir, args.subset, args.epochs)
    except MnistError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_results(results, args.out)
    print(f"best:\n{format_row(results['best'])}")
    print(f"{time.perf_counter() - started:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
