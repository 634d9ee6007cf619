"""Train one network on MNIST and write its artifacts into ``model/<arch>/``.

    python -m model.train --arch cnn --data-dir ../shared/mnist

One run, top to bottom: load the digits, build the recipe's network (``model.training.networks``), fit
it while keeping the weights of its best validation epoch, score it on the test digits, and
write the model (``model.keras`` + ``model.tflite``), ``history.json``, ``evaluation.json``
and ``card.json``. The folder is swapped in only once complete, so an interrupted run leaves
the previous artifacts as they were.

The rest lives in modules of its own: ``model.training.config`` (the settings), ``model.training.progress``
(carrying on after an interruption), ``model.training.ensemble`` (several runs averaged),
``model.training.shift_averaging``, ``model.scratch`` (the numpy networks) and ``model.training.results``
(what a run hands back, and writing it).
"""
from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import model.serving.quiet_tensorflow  # noqa: F401 - first, before anything imports TensorFlow

# isort: split
import keras
import numpy as np
import tensorflow as tf

from model import MODEL_DIR
from model.data.mnist import MnistError, Split, load_splits, unit_pixels
from model.explaining.derived import write_feature_artifacts
from model.scratch import SCRATCH_RECIPES, train_scratch
from model.serving.evaluate import score
from model.serving.inference import Classifier, inference_ms, load_forward
from model.training.config import TrainConfig
from model.training.ensemble import MEMBERS_DIR, train_ensemble
from model.training.judge import VALIDATION_PROBABILITIES, save_epoch_probabilities
from model.training.networks import RECIPES, Recipe
from model.training.progress import progress_dir, resume, save_progress
from model.training.results import (  # noqa: F401 - ARTIFACT_FILES and export_litert are imported from here too
    ARTIFACT_FILES,
    TrainResult,
    cpu_name,
    describe_optimizer,
    epoch_rank,
    export_litert,
    keras_result,
    library_versions,
    write_artifacts_atomically,
    write_model_folder,
)
from model.training.shift_averaging import choose_shift_averaging


class TrainingStopped(Exception):
    """Raised by a callback to end training early; the run keeps its best epoch so far."""


def all_arch_names() -> list[str]:
    return list(RECIPES) + list(SCRATCH_RECIPES)


# --------------------------------------------------------------------------- the data


def as_input(split: Split) -> np.ndarray:
    """(N, 28, 28) uint8 digits -> (N, 28, 28, 1) float32 in [0, 1], what the networks take."""
    return unit_pixels(split.images)[..., None]


def augmenter(seed: int, recipe: Recipe):
    """Training-time distortions that make MNIST look like digits people draw on a canvas."""
    fill = {"fill_mode": "constant"}
    distortions = []
    if recipe.rotation_degrees:
        distortions.append(keras.layers.RandomRotation(recipe.rotation_degrees / 360, seed=seed, **fill))
    if recipe.zoom:
        distortions.append(keras.layers.RandomZoom((-recipe.zoom, recipe.zoom), seed=seed + 1, **fill))
    distortions.append(keras.layers.RandomTranslation(recipe.shift, recipe.shift, seed=seed + 2, **fill))
    geometry = keras.Sequential(distortions)
    rng = tf.random.Generator.from_seed(seed + 3)

    def augment(images, labels):
        images = geometry(images, training=True)
        if not recipe.vary_stroke_width:
            return images, labels
        # Stroke thickness: blend each digit towards its 3x3 dilation (thicker) or erosion
        # (thinner) by a random amount, since people draw with every brush width.
        dilated = tf.nn.max_pool2d(images, 3, 1, "SAME")
        eroded = -tf.nn.max_pool2d(-images, 3, 1, "SAME")
        amount = rng.uniform([tf.shape(images)[0], 1, 1, 1], -0.5, 0.8)
        target = tf.where(amount > 0, dilated, eroded)
        images = images + tf.abs(amount) * (target - images)
        return tf.clip_by_value(images, 0.0, 1.0), labels

    return augment


# --------------------------------------------------------------------------- the training loop


class Recorder(keras.callbacks.Callback):
    """Times each epoch, logs the learning rate, keeps the best validation weights, and keeps
    every epoch's validation probabilities: with them, ``model.training.judge`` can pick epochs on one
    half of the validation digits and score on the other (a fair figure for the best of 30)."""

    def __init__(self, val_x: np.ndarray):
        super().__init__()
        self.val_x = val_x
        self.rows: list[dict] = []
        self.best_key = None
        self.best_weights = None
        self.best_epoch = 0
        self.resumed: list[int] = []
        self.val_probabilities: dict[int, np.ndarray] = {}
        self.after_epoch = None  # called with the recorder after each epoch's bookkeeping

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1}
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            row[key] = float(logs[key])
        row["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        row["seconds"] = round(time.perf_counter() - self.started, 3)
        self.rows.append(row)
        probabilities = self.model.predict(self.val_x, batch_size=1000, verbose=0)
        self.val_probabilities[epoch + 1] = probabilities.astype(np.float32)
        if self.best_key is None or epoch_rank(row) > self.best_key:
            self.best_key, self.best_epoch = epoch_rank(row), epoch + 1
            self.best_weights = self.model.get_weights()
        if self.after_epoch is not None:
            self.after_epoch(self)


def train_keras(
    config: TrainConfig, recipe: Recipe, train: Split, val: Split,
    progress: Path | None = None, settings: dict | None = None, callbacks: tuple = (),
) -> TrainResult:
    """Train ``recipe``'s network with ``config``'s epochs, batch size and seed (set, not None).
    With ``progress``, the state after each epoch is kept in that folder, and a run started
    again with the same ``settings`` carries on after the last finished epoch. ``callbacks``:
    more Keras callbacks (a watcher that raises :class:`TrainingStopped` ends it early)."""
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()

    train_ds = (
        tf.data.Dataset.from_tensor_slices((as_input(train), train.labels.astype(np.int32)))
        .shuffle(len(train), seed=config.seed, reshuffle_each_iteration=True)
        .batch(config.batch_size)
    )
    if recipe.augment:
        train_ds = train_ds.map(augmenter(config.seed, recipe), num_parallel_calls=tf.data.AUTOTUNE)
    train_ds = train_ds.prefetch(tf.data.AUTOTUNE)
    val_x = as_input(val)
    val_ds = tf.data.Dataset.from_tensor_slices((val_x, val.labels.astype(np.int32))).batch(1000)

    steps_per_epoch = int(np.ceil(len(train) / config.batch_size))
    optimizer = recipe.optimizer(steps_per_epoch)
    model = recipe.build()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    recorder = Recorder(val_x)
    resumed_at = 0
    if progress is not None:
        recorder.after_epoch = lambda r: save_progress(progress, settings, r, val.labels)
        resumed_at = resume(progress, settings, model, recorder)
    try:
        model.fit(
            train_ds,
            epochs=config.epochs,
            initial_epoch=resumed_at,
            validation_data=val_ds,
            callbacks=[recorder, *callbacks],
            shuffle=False,  # train_ds shuffles itself; Keras would only warn that it ignores this
            verbose=1 if sys.stdout.isatty() else 2,
        )
    except TrainingStopped:
        if recorder.best_weights is None:
            raise
    model.set_weights(recorder.best_weights)

    result = keras_result(model, recorder.rows, recorder.best_epoch, describe_optimizer(optimizer), {
        **recipe.card_fields(1),
        # Epochs done before an interruption; after one the data order and augmentation start
        # afresh from the seed, so a resumed run is not bit-identical to an uninterrupted one.
        "resumed_after_epoch": recorder.resumed,
    })
    if recorder.resumed:
        result.train_seconds = sum(row["seconds"] for row in recorder.rows)
    result.epoch_val_probabilities = recorder.val_probabilities
    return result


# --------------------------------------------------------------------------- one run


def run(config: TrainConfig, recipe: Recipe | None = None, callbacks: tuple = (),
        card_fields: dict | None = None) -> dict:
    """Train ``config.arch`` (or ``recipe``, a variant of it) and write its artifacts to
    ``config.out/<name>/``; returns its card. ``card_fields`` are added to the card."""
    train, val, test, mnist = load_splits(config.data_dir)
    if config.limit:  # a quick smoke run on the first `limit` images of each split
        train, val, test = (s.head(config.limit) for s in (train, val, test))
    train = train.head(config.train_size)
    started = time.perf_counter()

    if config.arch in SCRATCH_RECIPES:
        recipe = SCRATCH_RECIPES[config.arch]
        config = config.with_recipe_defaults(recipe)
        result = train_scratch(config.arch, train, val, config.epochs, config.batch_size, config.seed)
        summary = recipe.summary
    elif config.arch in RECIPES or recipe is not None:
        recipe = recipe or RECIPES[config.arch]
        config = config.with_recipe_defaults(recipe)
        if not config.as_member and (config.members is not None or recipe.members > 1):
            config = replace(config, members=config.members or recipe.members)
            result = train_ensemble(config, recipe, val, mnist.checksums, train_member=run)
        else:
            progress = progress_dir(config.out, config.arch, config.seed) if config.resumable else None
            result = train_keras(config, recipe, train, val, progress, config.resume_settings(mnist.checksums),
                                 callbacks)
        if recipe.shift_averaging and not config.as_member:
            result = choose_shift_averaging(config.arch, result, val)
        summary = recipe.summary
        if result.extras.get("members", 1) > 1:
            summary = f"{result.extras['members']} x ({summary}), averaged"
        if result.extras.get("shift_averaging", {}).get("shipped"):
            summary += "; averaged over 1-px shifts"
    else:
        raise SystemExit(f"unknown --arch {config.arch!r}; choose from {', '.join(all_arch_names())}")
    train_seconds = result.train_seconds or time.perf_counter() - started

    test_x = unit_pixels(test.images)
    name = config.model_name
    evaluation = {"arch": name, **score(result.predict_proba(test_x), test.labels, test.images)}
    history = {"arch": name, "best_epoch": result.best_epoch, "epochs": result.history}
    if result.member_histories:
        history["members"] = result.member_histories
    card = {
        "arch": name,
        "summary": summary,
        "source": recipe.source,
        "published_accuracy": recipe.published_accuracy,
        "framework": result.framework,
        "params": result.params,
        "layers": result.layers,
        "epochs": config.epochs,
        "best_epoch": result.best_epoch,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "optimizer": result.optimizer,
        **result.extras,
        "limit": config.limit,
        "train_size": len(train),
        "validation_size": len(val),
        "test_accuracy": evaluation["accuracy"],
        "test_loss": evaluation["loss"],
        "test_errors": evaluation["errors"],
        "data": {"source": mnist.source, "checksums": mnist.checksums},
        "train_seconds": round(train_seconds, 1),
        "cpu": cpu_name(),
        "versions": library_versions(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m model.train " + " ".join(sys.argv[1:]),
        **(card_fields or {}),
    }

    # A member's folder (under .members) keeps every epoch's validation probabilities for the judge.
    keep_probabilities = MEMBERS_DIR in Path(config.out).resolve().parts

    def finish(folder: Path, card: dict) -> None:
        if keep_probabilities and result.epoch_val_probabilities:
            save_epoch_probabilities(folder / VALIDATION_PROBABILITIES, result.epoch_val_probabilities, val.labels)
        # Measured here, on the machine that trained it, with the runtime the Draw page uses.
        card["runtime"], forward = load_forward(folder, name)
        classifier = Classifier(name, card["runtime"], card, forward)
        card["inference_ms"] = inference_ms(classifier.predict_proba, test_x[0])

    write_model_folder(Path(config.out) / name, result, card, history, evaluation, finish)
    if config.arch in RECIPES:
        shutil.rmtree(progress_dir(config.out, config.arch, config.seed), ignore_errors=True)
    card.update(write_feature_artifacts(name, (train, val, test, mnist), config.out))
    return card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train a Digit Lab model and write its artifacts.")
    parser.add_argument("--arch", default="cnn", help="one of: " + ", ".join(all_arch_names()))
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DIR)")
    parser.add_argument("--out", type=Path, default=MODEL_DIR, help="artifacts go to OUT/<arch>/")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images (smoke runs)")
    parser.add_argument("--members", type=int, default=None, help="build the model from N member runs "
                        "(seeds SEED..SEED+N-1, in OUT/.members/, finished ones reused) and ship their average")
    args = parser.parse_args(argv)
    if args.members is not None and args.members < 1:
        parser.error("--members must be 1 or more")
    config = TrainConfig(arch=args.arch, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                         data_dir=args.data_dir, out=args.out, limit=args.limit, members=args.members)
    try:
        card = run(config)
    except MnistError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"{card['arch']}: test accuracy {card['test_accuracy']:.4%} ({card['test_errors']} errors), "
        f"best epoch {card['best_epoch']}/{card['epochs']}, {card['train_seconds'] / 60:.1f} min "
        f"-> {args.out / card['arch']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
