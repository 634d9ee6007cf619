"""The not-a-digit check of a network for the canvas, set on digits drawn on the canvas.

    fit_and_write("cnn_pen", splits, train_drawings, validation_drawings)
    python -m model.handwriting.calibrate --arch cnn_pen   # remake them

The shipped check (``model.explaining.novelty``) fits its class clouds on MNIST's training digits and flags
the top 2% of MNIST's validation digits; it then told 7% of real pen-drawn digits that they did
not look like digits, 28% of the 9s, because it flags whatever MNIST's writers did not do. Here
the clouds also hold the pen drawings the network trained on, and the threshold is the lowest
that flags at most 0.5% of drawn validation digits and 1.5% of any one digit
(``novelty.drawn_threshold``). bench/penbench.py measures what it does to unseen writers'
digits and to letters and scribbles.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from model import MODEL_DIR
from model.explaining import embedding, novelty
from model.data.mnist import MnistError, load_splits, unit_pixels
from model.handwriting.trainset import drawings_for_run
from model.serving.artifacts import ArtifactError, load_card
from model.training.results import update_card


def fit_and_write(arch: str, splits, train_drawings, validation_drawings, model_dir: Path = MODEL_DIR) -> dict:
    """Write ``arch``'s novelty statistics and map; put the threshold and what set it on its card."""
    _train, val, _test, _ = splits
    images = np.concatenate([unit_pixels(val.images), validation_drawings.images])
    labels = np.concatenate([val.labels, validation_drawings.labels]).astype(np.int64)
    description = (f"{len(val):,} MNIST validation digits and {len(validation_drawings):,} drawn on the "
                   f"canvas (validation digits redrawn with a pen, the named styles); at most "
                   f"{1 - novelty.DRAWN_QUANTILE:.1%} of them flagged, "
                   f"{1 - novelty.DRAWN_PER_DIGIT_QUANTILE:.1%} of any digit")
    stats = novelty.fit(arch, model_dir=model_dir, splits=splits,
                        also_train=(train_drawings.images, train_drawings.labels),
                        drawn=(images, labels, description))
    fields = stats.card_fields()
    update_card(Path(model_dir) / arch, fields)
    embedding.fit(arch, model_dir=model_dir, splits=splits)
    return fields


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Remake a pen model's not-a-digit statistics, set on drawn digits.")
    parser.add_argument("--arch", default="cnn_pen")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DIR)")
    parser.add_argument("--pen-dir", type=Path, default=None, help="pen stroke data (default: $DIGITLAB_PEN_DIR)")
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    args = parser.parse_args(argv)
    try:
        card = load_card(args.arch, args.model_dir)
        train, val, test, mnist = load_splits(args.data_dir)
    except (ArtifactError, MnistError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    limit = card.get("limit")
    if limit:
        train, val, test = (s.head(limit) for s in (train, val, test))
    # The same drawings the run trained on: the cache is keyed by the seed, the limit and the data.
    drawings, val_drawn, _used = drawings_for_run(train, val, mnist.checksums, args.pen_dir, card.get("seed", 0), limit)
    fields = fit_and_write(args.arch, (train, val, test, mnist), drawings, val_drawn, args.model_dir)
    print(f"{args.arch}: not-a-digit threshold {fields['novelty_threshold']} ({fields['novelty_calibrated_on']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
