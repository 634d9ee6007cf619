"""Artifacts computed from a trained model's own features, written beside its other files:
the not-a-digit statistics (``novelty.npz``, and its threshold on the card) and the 2-D map of
the digits (``embedding.npz``). Training makes them; for a model made before, or after its files
were replaced:

    python -m model.explaining.derived --arch cnn
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from model import MODEL_DIR
from model.data.mnist import MnistError, load_splits
from model.explaining import embedding, novelty
from model.serving.artifacts import load_card, shipped_archs
from model.training.results import update_card


def write_feature_artifacts(arch: str, splits, model_dir: Path = MODEL_DIR) -> dict:
    """Fit and write every feature artifact ``model_dir/arch`` can have (the features come from
    its LiteRT export); returns what was added to its card. What cannot be made is said on stderr
    and skipped: the model itself is fine without these."""
    folder = Path(model_dir) / arch
    if not (folder / "model.tflite").is_file():
        print(f"note: {arch} has no LiteRT export, so no novelty statistics or map", file=sys.stderr)
        return {}
    added: dict = {}
    try:
        added.update(novelty.fit(arch, model_dir=model_dir, splits=splits).card_fields())
        update_card(folder, added)
    except novelty.NoveltyError as e:
        print(f"note: {e}", file=sys.stderr)
    try:
        embedding.fit(arch, model_dir=model_dir, splits=splits)
    except novelty.NoveltyError as e:
        print(f"note: {e}", file=sys.stderr)
    return added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make the not-a-digit statistics and the map of trained models.")
    parser.add_argument("--arch", action="append", help="model folder (repeatable); default: every LiteRT model")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DIR)")
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR, help="where the models' folders are")
    args = parser.parse_args(argv)

    archs = args.arch or [a for a in shipped_archs(args.model_dir) if (args.model_dir / a / "model.tflite").is_file()]
    unknown = [a for a in archs if not (args.model_dir / a / "card.json").is_file()]
    if unknown:
        print(f"no trained model named {', '.join(unknown)} in {args.model_dir}", file=sys.stderr)
        return 2
    try:
        splits = load_splits(args.data_dir)
    except MnistError as e:
        print(e, file=sys.stderr)
        return 2
    for arch in archs:
        if "novelty_calibrated_on" in load_card(arch, args.model_dir):
            # Set on drawn digits: an MNIST-only refit would undo that.
            print(f"{arch}: left as it is; its not-a-digit check is set on drawn digits. Remake it with: "
                  f"python -m model.handwriting.calibrate --arch {arch}", file=sys.stderr)
            continue
        added = write_feature_artifacts(arch, splits, args.model_dir)
        made = [name for name in (novelty.STATS_FILE, embedding.EMBEDDING_FILE) if (args.model_dir / arch / name).is_file()]
        threshold = f", not-a-digit threshold {added['novelty_threshold']:.2f}" if added else ""
        print(f"{arch}: {', '.join(made) or 'nothing'} in {args.model_dir / arch}{threshold}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
