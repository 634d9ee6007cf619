"""A network for both paper and pens: the weights of a shipped network and its pen-trained
successor, blended.

    python -m model.handwriting.blend --base cnn --pen cnn_pen --name cnn_blend

``cnn_pen`` (``cnn`` trained further on pen drawings, ``model.handwriting.pentrain``) reads unseen
writers' pen digits better than ``cnn`` but MNIST's test digits worse. A network fine-tuned from
another stays near it, so the straight line between their weights holds networks with some of
each (Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022: WiSE-FT). This run
tries the mixes in ``MIXES``, keeps the one that reads the most of the validation digits (MNIST's
validation split and the drawn validation set together, as ``pentrain`` picks its epoch; no test
digit and no benchmark writer is looked at), and writes it as a model like any other, with its
not-a-digit check calibrated on drawn digits. ``bench/penbench.py --arch NAME --record`` then puts
the pen benchmark's figures on its card.

Measured here (bench/README.md): along the line, MNIST and pen accuracy trade almost linearly;
re-estimating the BatchNorm statistics for a mix made both worse, so they are blended too.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import model.serving.quiet_tensorflow  # noqa: F401 - first, before anything imports TensorFlow

# isort: split
import keras
import numpy as np

from model import MODEL_DIR
from model.data.mnist import MnistError, load_splits, unit_pixels
from model.handwriting import calibrate
from model.handwriting.trainset import drawings_for_run
from model.serving.artifacts import ArtifactError, load_card
from model.serving.evaluate import score
from model.serving.inference import Classifier, inference_ms, load_forward
from model.training.results import cpu_name, keras_result, library_versions, write_model_folder

MIXES = tuple(round(0.1 * k, 1) for k in range(11))  # the share of the pen network's weights


def blend(base: list[np.ndarray], pen: list[np.ndarray], mix: float) -> list[np.ndarray]:
    return [(1 - mix) * b + mix * p for b, p in zip(base, pen)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Blend a shipped network with its pen-trained successor.")
    parser.add_argument("--base", default="cnn")
    parser.add_argument("--pen", default="cnn_pen", help="a network trained further from --base")
    parser.add_argument("--name", default="cnn_blend", help="the new model: OUT/NAME/")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DIR)")
    parser.add_argument("--pen-dir", type=Path, default=None, help="pen stroke data (default: $DIGITLAB_PEN_DIR)")
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    try:
        pen_card = load_card(args.pen)
        train, val, test, mnist = load_splits(args.data_dir)
    except (ArtifactError, MnistError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if pen_card.get("base", {}).get("arch") != args.base:
        print(f"error: {args.pen} was not trained from {args.base}; only a network and one trained "
              f"further from it lie on one line", file=sys.stderr)
        return 2
    # The drawings the pen network trained and was validated on (cached by its seed).
    drawings, val_drawn, _used = drawings_for_run(train, val, mnist.checksums, args.pen_dir, pen_card.get("seed", 0))
    val_x = np.concatenate([unit_pixels(val.images), val_drawn.images])[..., None]
    val_y = np.concatenate([val.labels, val_drawn.labels])

    load = lambda arch: keras.models.load_model(Path(MODEL_DIR) / arch / "model.keras",  # noqa: E731
                                                safe_mode=True, compile=False)
    base_weights, pen_weights = load(args.base).get_weights(), load(args.pen).get_weights()
    net = load(args.base)
    rows = []
    for mix in MIXES:
        net.set_weights(blend(base_weights, pen_weights, mix))
        right = net.predict(val_x, batch_size=1000, verbose=0).argmax(axis=1) == val_y
        rows.append({"mix": mix, "val_accuracy": float(right.mean()),
                     "val_mnist": float(right[:len(val)].mean()), "val_drawn": float(right[len(val):].mean())})
        print(f"mix {mix:.1f}: validation {rows[-1]['val_accuracy']:.4%} (MNIST {rows[-1]['val_mnist']:.4%}, "
              f"drawn {rows[-1]['val_drawn']:.4%})", file=sys.stderr)
    # On a tie, the mix nearer the base: it has been read by more of the app's users.
    chosen = max(rows, key=lambda row: (row["val_accuracy"], -row["mix"]))
    net.set_weights(blend(base_weights, pen_weights, chosen["mix"]))

    result = keras_result(net, [], 0, f"none: {1 - chosen['mix']:.0%} {args.base} + {chosen['mix']:.0%} {args.pen}",
                          {"base": {"arch": args.base, "test_accuracy": load_card(args.base).get("test_accuracy")},
                           "blend": {"of": [args.base, args.pen], "mix": chosen["mix"], "chosen_on":
                                     f"{len(val):,} MNIST validation digits and {len(val_drawn):,} drawn ones",
                                     "mixes": rows},
                           "trained_on": pen_card.get("trained_on")})
    test_x = unit_pixels(test.images)
    evaluation = {"arch": args.name, **score(result.predict_proba(test_x), test.labels, test.images)}
    history = json.loads((Path(MODEL_DIR) / args.pen / "history.json").read_text())
    history["arch"] = args.name
    history["note"] = f"the epochs of {args.pen}; {args.name} is {chosen['mix']:.0%} of its weights"
    card = {
        "arch": args.name,
        "summary": f"{args.base} and {args.pen} blended ({chosen['mix']:.0%} {args.pen}): MNIST and pens",
        "source": "Digit Lab (model.handwriting.blend)",
        "published_accuracy": None,
        "framework": result.framework, "params": result.params, "layers": result.layers,
        "epochs": pen_card.get("epochs"), "best_epoch": pen_card.get("best_epoch"),
        "batch_size": pen_card.get("batch_size"), "seed": pen_card.get("seed", 0),
        "optimizer": result.optimizer, **result.extras,
        "train_size": pen_card.get("train_size"), "validation_size": len(val_y), "limit": None,
        "test_accuracy": evaluation["accuracy"], "test_loss": evaluation["loss"],
        "test_errors": evaluation["errors"],
        "data": {"source": mnist.source, "checksums": mnist.checksums},
        "train_seconds": round(time.perf_counter() - started, 1), "cpu": cpu_name(), "versions": library_versions(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m model.handwriting.blend " + " ".join(sys.argv[1:] if argv is None else argv),
    }

    def finish(folder: Path, card: dict) -> None:
        card["runtime"], forward = load_forward(folder, args.name)
        card["inference_ms"] = inference_ms(Classifier(args.name, card["runtime"], card, forward).predict_proba,
                                            test_x[0])

    write_model_folder(Path(args.out) / args.name, result, card, history, evaluation, finish)
    calibrate.fit_and_write(args.name, (train, val, test, mnist), drawings, val_drawn, args.out)
    print(f"{args.name}: {chosen['mix']:.0%} {args.pen}, MNIST test {evaluation['accuracy']:.4%} -> "
          f"{args.out / args.name}\nits pen figures, onto the card: "
          f".venv/bin/python bench/penbench.py --arch {args.name} --record")
    return 0


if __name__ == "__main__":
    sys.exit(main())
