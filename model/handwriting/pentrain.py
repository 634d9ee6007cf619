"""Train a shipped network further for the canvas: MNIST plus digits drawn with a pen.

    python -m model.handwriting.pentrain --base cnn --name cnn_pen

One run, top to bottom: MNIST's training digits, the pen-domain drawings of
``model.handwriting.trainset`` (MNIST redrawn with a round pen, the named styles, real pen
digits of the training writers), the base model's weights, a few epochs on the mix with the base
recipe's own augmentation and a cosine learning rate, the best epoch on MNIST's and the pen
drawings' validation digits together, then the usual artifacts in ``model/<name>/`` and the
not-a-digit statistics calibrated on drawn digits (``model.handwriting.calibrate``).
``bench/penbench.py --arch NAME --record`` then puts the pen benchmark's figures on the card.

Starting from the shipped ``cnn`` rather than from nothing: it already reads MNIST at 99.6%,
and a run from scratch on the bigger mix would take about two hours on this 2-core machine.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import model.serving.quiet_tensorflow  # noqa: F401 - first, before anything imports TensorFlow

# isort: split
import keras
import numpy as np
import tensorflow as tf

from model import MODEL_DIR
from model.data.mnist import MnistError, load_splits, unit_pixels
from model.handwriting import calibrate
from model.handwriting.trainset import drawings_for_run
from model.serving.evaluate import score
from model.serving.inference import Classifier, inference_ms, load_forward
from model.train import Recorder, augmenter
from model.training.networks import RECIPES
from model.training.results import cpu_name, describe_optimizer, keras_result, library_versions, write_model_folder

EPOCHS = 4
BATCH_SIZE = 128
LEARNING_RATE = 5e-4  # the start of a cosine decay to 0; the base ended its own run near 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train a network for pen-drawn digits, from a shipped one.")
    parser.add_argument("--base", default="cnn", help="the shipped Keras model to start from")
    parser.add_argument("--name", default="cnn_pen", help="the new model: OUT/NAME/")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DIR)")
    parser.add_argument("--pen-dir", type=Path, default=None, help="pen stroke data (default: $DIGITLAB_PEN_DIR)")
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--limit", type=int, default=None,
                        help="a smoke run: the first N digits of each split and N pen samples, 5 drawings a style")
    args = parser.parse_args(argv)

    try:
        train, val, test, mnist = load_splits(args.data_dir)
    except MnistError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.limit:
        train, val, test = (s.head(args.limit) for s in (train, val, test))
    started = time.perf_counter()
    drawings, val_drawn, used = drawings_for_run(train, val, mnist.checksums, args.pen_dir, args.seed, args.limit)
    print(f"pen drawings: {len(drawings):,} to train on, {len(val_drawn):,} to validate "
          f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)

    x = np.concatenate([unit_pixels(train.images), drawings.images])[..., None]
    y = np.concatenate([train.labels.astype(np.int32), drawings.labels.astype(np.int32)])
    val_x = np.concatenate([unit_pixels(val.images), val_drawn.images])[..., None]
    val_y = np.concatenate([val.labels.astype(np.int32), val_drawn.labels.astype(np.int32)])

    keras.utils.set_random_seed(args.seed)
    recipe = RECIPES[args.base]
    dataset = (tf.data.Dataset.from_tensor_slices((x, y))
               .shuffle(len(y), seed=args.seed, reshuffle_each_iteration=True)
               .batch(BATCH_SIZE)
               .map(augmenter(args.seed, recipe), num_parallel_calls=tf.data.AUTOTUNE)
               .prefetch(tf.data.AUTOTUNE))
    steps = int(np.ceil(len(y) / BATCH_SIZE))
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(args.learning_rate, steps * args.epochs))
    net = keras.models.load_model(Path(MODEL_DIR) / args.base / "model.keras", safe_mode=True, compile=False)
    net.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    recorder = Recorder(val_x)
    net.fit(dataset, epochs=args.epochs, validation_data=(val_x, val_y), callbacks=[recorder], shuffle=False,
            verbose=1 if sys.stdout.isatty() else 2)
    net.set_weights(recorder.best_weights)
    train_seconds = time.perf_counter() - started

    counts = {kind: int((drawings.kinds == kind).sum()) for kind in np.unique(drawings.kinds)}
    result = keras_result(net, recorder.rows, recorder.best_epoch, describe_optimizer(optimizer), {
        "base": {"arch": args.base, "test_accuracy": None},
        "trained_on": {"mnist_train_digits": len(train), "pen_drawings": counts, "pen_sources": used,
                       "augmentation": f"{args.base}'s recipe (shift, rotation, zoom, stroke width)"},
    })
    test_x = unit_pixels(test.images)
    evaluation = {"arch": args.name, **score(result.predict_proba(test_x), test.labels, test.images)}
    card = {
        "arch": args.name,
        "summary": f"{args.base} trained further for pen-drawn digits (MNIST + pen drawings)",
        "source": "Digit Lab (model.handwriting.pentrain)",
        "published_accuracy": None,
        "framework": result.framework, "params": result.params, "layers": result.layers,
        "epochs": args.epochs, "best_epoch": result.best_epoch, "batch_size": BATCH_SIZE, "seed": args.seed,
        "optimizer": result.optimizer, **result.extras,
        "train_size": len(y), "validation_size": len(val_y), "limit": args.limit,
        "test_accuracy": evaluation["accuracy"], "test_loss": evaluation["loss"],
        "test_errors": evaluation["errors"],
        "data": {"source": mnist.source, "checksums": mnist.checksums},
        "train_seconds": round(train_seconds, 1), "cpu": cpu_name(), "versions": library_versions(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m model.handwriting.pentrain " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    card["base"]["test_accuracy"] = _base_accuracy(args.base)

    def finish(folder: Path, card: dict) -> None:
        card["runtime"], forward = load_forward(folder, args.name)
        card["inference_ms"] = inference_ms(Classifier(args.name, card["runtime"], card, forward).predict_proba,
                                            test_x[0])

    history = {"arch": args.name, "best_epoch": result.best_epoch, "epochs": result.history}
    write_model_folder(Path(args.out) / args.name, result, card, history, evaluation, finish)
    calibrate.fit_and_write(args.name, (train, val, test, mnist), drawings, val_drawn, args.out)
    print(f"{args.name}: MNIST test {evaluation['accuracy']:.4%}, best epoch {result.best_epoch}/{args.epochs}, "
          f"{train_seconds / 60:.1f} min -> {args.out / args.name}\n"
          f"its pen figures, onto the card: .venv/bin/python bench/penbench.py --arch {args.name} --record")
    return 0


def _base_accuracy(base: str) -> float | None:
    from model.serving.artifacts import load_card

    return load_card(base).get("test_accuracy")


if __name__ == "__main__":
    sys.exit(main())
