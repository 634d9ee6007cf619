"""Artifacts computed from a trained model's own features, written beside its other files:
the not-a-digit statistics (``novelty.npz``) and the 2-D map of the digits (``embedding.npz``).

    python -m model.novelty --arch cnn --data-dir $MNIST_DIR     # for a shipped model
    write_feature_artifacts(arch, splits, out)                  # what training calls
"""
from __future__ import annotations

import sys
from pathlib import Path

from model import MODEL_DIR, embedding, novelty


def write_feature_artifacts(arch: str, splits, model_dir: Path = MODEL_DIR) -> dict:
    """Fit and write every feature artifact ``model_dir/arch`` can have (the features come from
    its LiteRT export); returns what was added to its card. What cannot be made is said on stderr
    and skipped: the model itself is fine without these."""
    if not (Path(model_dir) / arch / "model.tflite").is_file():
        print(f"note: {arch} has no LiteRT export, so no novelty statistics or map", file=sys.stderr)
        return {}
    added: dict = {}
    try:
        added.update(novelty.fit(arch, model_dir=model_dir, splits=splits).card_fields())
    except novelty.NoveltyError as e:
        print(f"note: {e}", file=sys.stderr)
    try:
        embedding.fit(arch, model_dir=model_dir, splits=splits)
    except novelty.NoveltyError as e:
        print(f"note: {e}", file=sys.stderr)
    return added
