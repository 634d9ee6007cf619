"""Teach a shipped model a class's handwriting: train it further on the class's drawings
(model.classroom.storage) mixed with MNIST training digits, so that it forgets nothing it knew.

    python -m model.classroom.finetune --db URL --arch cnn --name cnn_class [--out DIR] [--class-code C]

A fixed share of the class's writers (``--held-out``, chosen by their anonymous session ids,
so no writer is on both sides) is kept out of training and scores the model before and after,
as does the MNIST test set. Writes ``OUT/NAME/`` with the usual artifacts (model.keras,
model.tflite, card.json, history.json, evaluation.json); the card names the base model, the
data, and both scores before and after. ``--progress FILE`` keeps a JSON file up to date with
what the run is doing (``model.classroom.finetune_runs``, which starts the Class page's runs, reads it).

``$DIGITLAB_FINETUNE_MNIST_DIGITS`` and ``$DIGITLAB_FINETUNE_CHECK_DIGITS`` set the defaults of
``--mnist-digits`` and ``--check-digits`` (so also the Class page's button): on a slow server,
fewer digits make a quicker run, at the price of a rougher check that MNIST is not forgotten.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import model.serving.quiet_tensorflow  # noqa: F401 - first, before anything imports TensorFlow

# isort: split
from model import MODEL_DIR
from model.classroom.finetune_runs import CHECK_DIGITS_ENV, MNIST_DIGITS_ENV, Progress
from model.classroom.storage import Answers, Storage, StorageError, database_url
from model.data.mnist import MnistError, load_splits, unit_pixels
from model.serving.artifacts import DIGESTS_KEY, ArtifactError, load_card, weights_digests
from model.serving.evaluate import score
from model.serving.inference import Classifier, inference_ms, load_forward
from model.training.results import dump_json, export_litert, write_artifacts_atomically

HELD_OUT_SHARE = 0.3
MNIST_DIGITS = 12_000  # MNIST training digits mixed in each epoch
CLASS_SHARE = 0.25  # the class's drawings are repeated (shifted) to about this share of an epoch
EPOCHS = 3
BATCH_SIZE = 128
LEARNING_RATE = 1e-4
MAX_SHIFT = 2  # px; each repeat of a class drawing is moved by up to this much
MIN_DRAWINGS = 20
# The tuned weights are blended back towards the base's (w = base + mix * (tuned - base), Wortsman
# et al. 2022, "robust fine-tuning"): the largest mix tried that keeps what the base knew, i.e.
# whose accuracy on the MNIST validation digits plus CHECK_DIGITS training digits left out of the
# mix is at most MNIST_TOLERANCE below the base's. 5,000 validation digits alone were too few:
# two runs' choices on them moved the test score by 0.1 point either way. The test digits only
# score.
MIXES = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)
CHECK_DIGITS = 15_000
MNIST_TOLERANCE = 0.0003  # 6 of 20,000 digits
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class FinetuneError(RuntimeError):
    """Fine-tuning cannot start or finish; the message says why, for the user."""


@dataclass
class ClassSplit:
    train: Answers
    held_out: Answers
    train_sessions: list[str]
    held_out_sessions: list[str]


def split_by_writer(answers: Answers, share: float = HELD_OUT_SHARE) -> ClassSplit:
    """Hold out ``share`` of the writers (at least one, never all): those whose session ids
    come first in SHA-256 order, a fixed choice that depends on nothing but the ids."""
    sessions = sorted(set(answers.sessions.tolist()), key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    if len(sessions) < 2:
        raise FinetuneError("fine-tuning needs drawings from at least 2 writers (browser sessions): "
                            "one to learn from and one to test on")
    n_out = min(max(1, round(share * len(sessions))), len(sessions) - 1)
    held = set(sessions[:n_out])
    mask = np.array([s in held for s in answers.sessions.tolist()], bool)

    def pick(keep: np.ndarray) -> Answers:
        return type(answers)(**{k: v[keep] for k, v in vars(answers).items()})

    return ClassSplit(pick(~mask), pick(mask), sorted(set(sessions) - held), sorted(held))


def _shifted(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros_like(images)
    for i, image in enumerate(images):
        dy, dx = rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, 2)
        out[i, max(dy, 0):28 + min(dy, 0), max(dx, 0):28 + min(dx, 0)] = \
            image[max(-dy, 0):28 + min(-dy, 0), max(-dx, 0):28 + min(-dx, 0)]
    return out


def training_mix(class_images, class_labels, mnist_images, mnist_labels, rng):
    """MNIST digits plus the class's drawings, the latter repeated (each copy shifted a little)
    to about ``CLASS_SHARE`` of the whole."""
    repeats = max(1, round(CLASS_SHARE / (1 - CLASS_SHARE) * len(mnist_images) / max(len(class_images), 1)))
    copies = [class_images] + [_shifted(class_images, rng) for _ in range(repeats - 1)]
    x = np.concatenate([mnist_images, *copies]).astype(np.float32)
    y = np.concatenate([mnist_labels, np.tile(class_labels, repeats)]).astype(np.int32)
    order = rng.permutation(len(x))
    return x[order], y[order]


def _accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float((probabilities.argmax(axis=1) == labels).mean()) if len(labels) else float("nan")


def _per_digit(probabilities: np.ndarray, labels: np.ndarray) -> list[float | None]:
    right = probabilities.argmax(axis=1) == labels
    return [round(float(right[labels == d].mean()), 4) if (labels == d).any() else None for d in range(10)]


def finetune(
    db_url: str,
    arch: str,
    name: str,
    out: Path = MODEL_DIR,
    model_dir: Path = MODEL_DIR,
    data_dir=None,
    class_code: str | None = None,
    epochs: int = EPOCHS,
    mnist_digits: int = MNIST_DIGITS,
    held_out_share: float = HELD_OUT_SHARE,
    test_limit: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    learning_rate: float = LEARNING_RATE,
    check_digits: int = CHECK_DIGITS,
) -> dict:
    """Fine-tune ``model_dir/arch`` on the class's drawings; write ``out/name/``; return its card."""
    progress = progress or Progress(None)
    if not NAME.match(name):
        raise FinetuneError("a model name is lower-case letters, digits and _, starting with a letter")
    if name == arch:
        raise FinetuneError("give the fine-tuned model its own name: the base model stays as it is")
    existing = Path(out) / name / "card.json"
    if existing.exists():
        try:
            tuned_before = "base" in json.loads(existing.read_text())
        except ValueError:
            tuned_before = False
        if not tuned_before:
            raise FinetuneError(
                f"{name} is a model trained from scratch; choose another name for the new one")
    try:
        base_card = load_card(arch, model_dir)
    except ArtifactError as e:
        raise FinetuneError(str(e)) from e
    base_file = Path(model_dir) / arch / "model.keras"
    if not base_file.is_file():
        raise FinetuneError(f"{arch} has no Keras model (model.keras) to train further")

    progress("running", "Reading the class's drawings", 0.01)
    storage = Storage(db_url)
    try:
        answers = storage.answers(class_code=class_code)
    finally:
        storage.close()
    if len(answers) < MIN_DRAWINGS:
        raise FinetuneError(f"fine-tuning needs at least {MIN_DRAWINGS} drawings; there are {len(answers)}")
    split = split_by_writer(answers, held_out_share)

    progress("running", "Reading MNIST", 0.03)
    train, val, test, mnist = load_splits(data_dir)
    if test_limit:
        test = type(test)(test.images[:test_limit], test.labels[:test_limit])
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train))
    picked = order[:min(mnist_digits, len(train))]
    unused = order[len(picked):][:check_digits]
    mnist_x = unit_pixels(train.images[picked])
    x, y = training_mix(split.train.images, split.train.labels, mnist_x, train.labels[picked], rng)
    test_x = unit_pixels(test.images)
    val_x = unit_pixels(val.images)
    check_x = np.concatenate([val_x, unit_pixels(train.images[unused])])
    check_y = np.concatenate([val.labels, train.labels[unused]])

    progress("running", "Loading the model", 0.05)
    # Imported only now, after the progress note: it takes seconds, which the Class page
    # shows as this step, and the module's helpers stay usable without TensorFlow.
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    model = keras.models.load_model(base_file, safe_mode=True, compile=False)

    def predict(images: np.ndarray) -> np.ndarray:
        return model.predict(images[..., None], batch_size=1000, verbose=0)

    def scores(test_probabilities: np.ndarray) -> dict:
        held_out = predict(split.held_out.images)
        return {"mnist_test": _accuracy(test_probabilities, test.labels),
                "held_out_class": _accuracy(held_out, split.held_out.labels),
                "held_out_class_per_digit": _per_digit(held_out, split.held_out.labels)}

    progress("running", "Scoring the model before", 0.07)
    before = scores(predict(test_x))
    base_check = _accuracy(predict(check_x), check_y)
    base_weights = [w.copy() for w in model.get_weights()]

    # Batch normalisation keeps MNIST's statistics: a small class set must not shift them.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    optimizer = keras.optimizers.Adam(learning_rate)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rows: list[dict] = []

    class Recorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()
            progress("running", f"Training, epoch {epoch + 1} of {epochs}", 0.1 + 0.75 * epoch / epochs,
                     epoch=epoch + 1, epochs=epochs)

        def on_train_batch_end(self, batch, logs=None):
            if batch % 20 == 0:
                steps = self.params.get("steps") or 1
                done = (len(rows) + (batch + 1) / steps) / epochs
                progress("running", f"Training, epoch {len(rows) + 1} of {epochs}", 0.1 + 0.75 * done,
                         epoch=len(rows) + 1, epochs=epochs)

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1}
            for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                row[key] = float(logs[key])
            row["learning_rate"] = learning_rate
            row["seconds"] = round(time.perf_counter() - self.started, 3)
            rows.append(row)

    started = time.perf_counter()
    model.fit(x[..., None], y, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True,
              validation_data=(val_x[..., None], val.labels.astype(np.int32)), callbacks=[Recorder()],
              verbose=2 if not sys.stdout.isatty() else 1)
    train_seconds = time.perf_counter() - started

    progress("running", "Blending towards the base model", 0.86)
    tuned_weights = model.get_weights()
    tried = []
    for mix in MIXES:
        model.set_weights([b + mix * (t - b) for b, t in zip(base_weights, tuned_weights)])
        check_accuracy = _accuracy(predict(check_x), check_y)
        tried.append({"mix": mix, "mnist_check_accuracy": check_accuracy,
                      "class_train_accuracy": _accuracy(predict(split.train.images), split.train.labels)})
        if check_accuracy >= base_check - MNIST_TOLERANCE:
            break
    else:
        mix = 0.0
        model.set_weights(base_weights)
    blend = {"mix": mix, "mnist_check_digits": len(check_y), "base_mnist_check_accuracy": base_check,
             "tolerance": MNIST_TOLERANCE, "tried": tried}

    progress("running", "Scoring the model after", 0.9)
    test_probabilities = predict(test_x)
    after = scores(test_probabilities)
    evaluation = {"arch": name, **score(test_probabilities, test.labels, test.images)}
    history = {"arch": name, "best_epoch": epochs, "epochs": rows}
    digest = hashlib.sha256(
        np.ascontiguousarray(answers.images).tobytes() + answers.labels.tobytes()).hexdigest()
    card = {
        **{k: v for k, v in base_card.items() if k not in (
            "runtime", "inference_ms", "inference_measured", "resumed_after_epoch", "sha256", "files",
            "novelty_threshold")},
        "arch": name,
        "summary": f"{arch} fine-tuned on a class's drawings",
        "source": "Digit Lab (model.classroom.finetune)",
        "published_accuracy": None,
        "base": {"arch": arch, "date": base_card.get("date"),
                 "test_accuracy": base_card.get("test_accuracy")},
        "tuned_on": (
            f"{len(split.train)} drawings by {len(split.train_sessions)} writers of the class"
            f"{f' {class_code}' if class_code else ''}, each repeated with small shifts, mixed with "
            f"{len(picked):,} MNIST training digits, {epochs} epochs, then blended {mix:.0%} of the way "
            f"from {arch}'s weights to the tuned ones; tested on {len(split.held_out)} drawings by "
            f"{len(split.held_out_sessions)} other writers"),
        "finetune": {
            "epochs": epochs, "batch_size": BATCH_SIZE, "learning_rate": learning_rate,
            "batch_norm": "frozen", "class_share": CLASS_SHARE, "max_shift_px": MAX_SHIFT,
            "held_out_share": held_out_share, "seed": seed, "blend": blend,
        },
        "class_data": {
            "database": sa_redacted(db_url),
            "class_code": class_code,
            "drawings": len(answers),
            "writers": len(split.train_sessions) + len(split.held_out_sessions),
            "train_drawings": len(split.train),
            "held_out_drawings": len(split.held_out),
            "held_out_writers": len(split.held_out_sessions),
            "sha256": digest,
        },
        "scores": {"before": before, "after": after},
        "epochs": epochs,
        "best_epoch": epochs,
        "batch_size": BATCH_SIZE,
        "seed": seed,
        "optimizer": f"Adam(lr={learning_rate})",
        "train_size": len(x),
        "validation_size": len(val),
        "test_accuracy": evaluation["accuracy"],
        "test_loss": evaluation["loss"],
        "test_errors": evaluation["errors"],
        "limit": test_limit,
        "data": {"source": mnist.source, "checksums": mnist.checksums, "mnist_train_digits": len(picked)},
        "train_seconds": round(train_seconds, 1),
        "versions": {**base_card.get("versions", {}), "tensorflow": tf.__version__,
                     "keras": keras.__version__},
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m model.classroom.finetune " + " ".join(sys.argv[1:]),
    }

    progress("running", "Writing the model", 0.93)

    def fill(folder: Path) -> None:
        model.save(folder / "model.keras")
        export_litert(model, folder / "model.tflite")
        card["runtime"], forward = load_forward(folder, name)
        classifier = Classifier(name, card["runtime"], card, forward)
        card["inference_ms"] = inference_ms(classifier.predict_proba, test_x[0])
        dump_json(folder / "history.json", history)
        dump_json(folder / "evaluation.json", evaluation, compact=True)
        card[DIGESTS_KEY] = weights_digests(folder)
        dump_json(folder / "card.json", card)

    write_artifacts_atomically(Path(out) / name, fill)
    progress("done", "Finished", 1.0, name=name, scores=card["scores"])
    return card


def digits_setting(given: int | None, env: str, default: int, flag: str) -> int:
    """A number of MNIST digits: the command line's, else the environment's, else ``default``."""
    if given is None:
        raw = os.environ.get(env, "").strip()
        try:
            given = int(raw) if raw else default
        except ValueError:
            raise FinetuneError(f"{env} must be a whole number of digits, not {raw!r}") from None
        flag = env
    if given < 0:
        raise FinetuneError(f"{flag} cannot be negative")
    return given


def sa_redacted(url: str) -> str:
    """A database URL without its password, for the card."""
    import sqlalchemy as sa

    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fine-tune a shipped model on a class's drawings.")
    parser.add_argument("--db", default=None,
                        help="the class database URL (default: $DIGITLAB_DB, else the app's)")
    parser.add_argument("--arch", default="cnn",
                        help="the base model (a folder of --model-dir with model.keras)")
    parser.add_argument("--name", required=True, help="the new model's name: OUT/NAME/")
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR, help="where the base model's folder is")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DIR)")
    parser.add_argument("--class-code", default=None, help="only this class's drawings")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--mnist-digits", type=int, default=None,
                        help=f"MNIST training digits mixed in (default: ${MNIST_DIGITS_ENV}, else {MNIST_DIGITS:,})")
    parser.add_argument("--check-digits", type=int, default=None,
                        help="MNIST training digits, besides the validation digits, that check the blend "
                             f"keeps what the base knew (default: ${CHECK_DIGITS_ENV}, else {CHECK_DIGITS:,})")
    parser.add_argument("--held-out", type=float, default=HELD_OUT_SHARE,
                        help="share of writers kept for testing")
    parser.add_argument("--test-limit", type=int, default=None,
                        help="score on only the first N MNIST test digits")
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--progress", type=Path, default=None, help="keep this JSON file up to date")
    parser.add_argument("--nice", type=int, default=0, help="lower the run's priority by this much")
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    progress = Progress(args.progress)

    try:
        mnist_digits = digits_setting(args.mnist_digits, MNIST_DIGITS_ENV, MNIST_DIGITS, "--mnist-digits")
        check_digits = digits_setting(args.check_digits, CHECK_DIGITS_ENV, CHECK_DIGITS, "--check-digits")
        card = finetune(
            args.db or database_url(), args.arch, args.name, args.out, args.model_dir, args.data_dir,
            args.class_code, args.epochs, mnist_digits, args.held_out, args.test_limit, args.seed,
            progress, args.learning_rate, check_digits)
    except (FinetuneError, StorageError, MnistError) as e:
        progress("failed", str(e), 1.0)
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BaseException as e:
        progress("failed", f"fine-tuning stopped ({type(e).__name__})", 1.0)
        raise
    before, after = card["scores"]["before"], card["scores"]["after"]
    print(f"{card['arch']}: MNIST test {before['mnist_test']:.2%} -> {after['mnist_test']:.2%}; "
          f"held-out class "
          f"writers {before['held_out_class']:.2%} -> {after['held_out_class']:.2%} "
          f"({card['class_data']['held_out_drawings']} drawings); {card['train_seconds'] / 60:.1f} min "
          f"-> {args.out / card['arch']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
