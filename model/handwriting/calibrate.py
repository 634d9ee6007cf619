"""The not-a-digit check of a network for the canvas, set on digits drawn on the canvas.

    fit_and_write("cnn_pen", splits, train_drawings, validation_drawings)

The shipped check (``model.explaining.novelty``) fits its class clouds on MNIST's training digits and flags
the top 2% of MNIST's validation digits; it then told 7% of real pen-drawn digits that they did
not look like digits, 28% of the 9s, because it flags whatever MNIST's writers did not do. Here
the clouds also hold the pen drawings the network trained on, and the threshold is the lowest
that flags at most 0.5% of drawn validation digits and 1.5% of any one digit
(``novelty.drawn_threshold``). bench/penbench.py measures what it does to unseen writers'
digits and to letters and scribbles.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from model import MODEL_DIR
from model.explaining import embedding, novelty
from model.data.mnist import unit_pixels
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
