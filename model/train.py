"""Train one architecture and write its artifacts into ``model/<arch>/``.

    python -m model.train --arch cnn --data-dir ../shared/mnist

Writes, atomically (a temporary folder renamed into place, so an interrupted run leaves the
previous artifacts as they were): the model itself (``model.keras`` + ``model.tflite``, or
``weights.npz`` for the from-scratch numpy networks), ``history.json``, ``evaluation.json``
and ``card.json``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from model import MODEL_DIR
from model.data import Split, load_splits
from model.evaluate import score
from model.judge import (
    VALIDATION_PROBABILITIES,
    judge_members,
    load_epoch_probabilities,
    save_epoch_probabilities,
)

ARTIFACT_FILES = ("history.json", "evaluation.json", "card.json")


@dataclass
class TrainResult:
    """What any trainer (Keras or numpy) hands back for the artifacts to be written."""

    history: list[dict]  # one row per epoch: loss, accuracy, val_loss, val_accuracy, learning_rate, seconds
    best_epoch: int  # 1-based; the weights kept are this epoch's
    layers: list[dict]  # name, type, output_shape, params
    params: int
    predict_proba: Callable[[np.ndarray], np.ndarray]  # (N, 28, 28) float32 in [0, 1] -> (N, 10)
    save: Callable[[Path], None]  # writes the model file(s) into a folder
    optimizer: str
    framework: str
    extras: dict = field(default_factory=dict)
    train_seconds: float | None = None  # when not the wall time of this call (reused ensemble members)
    member_histories: list[dict] | None = None  # an ensemble's: each member's own curves
    # epoch (1-based) -> (N, 10) float16 validation probabilities after that epoch (Keras runs)
    epoch_val_probabilities: dict[int, np.ndarray] | None = None
    model: object = None  # the Keras model (Keras trainers only)


def all_arch_names() -> list[str]:
    from model.networks import RECIPES

    names = list(RECIPES)
    try:
        from model.scratch import SCRATCH_RECIPES

        names += list(SCRATCH_RECIPES)
    except ImportError:
        pass
    return names


# --------------------------------------------------------------------------- Keras training


def _augmenter(seed: int, recipe):
    """Training-time distortions that make MNIST look like digits people draw on a canvas."""
    import keras
    import tensorflow as tf

    vary_stroke_width = recipe.vary_stroke_width
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
        if not vary_stroke_width:
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


def _layer_table(model) -> list[dict]:
    rows = []
    for layer in model.layers:
        shape = getattr(layer, "output", None)
        rows.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output_shape": list(shape.shape[1:]) if shape is not None else None,
                "params": int(layer.count_params()),
            }
        )
    return rows


def train_keras(
    arch: str, train: Split, val: Split, epochs: int, batch_size: int, seed: int,
    progress: Path | None = None, settings: dict | None = None,
) -> TrainResult:
    """Train one network. With ``progress``, the state after each epoch (weights, optimizer,
    curves, best weights so far) is kept in that folder, and a run started again with the same
    ``settings`` carries on from the last finished epoch instead of starting over."""
    import keras
    import tensorflow as tf

    from model.networks import RECIPES

    recipe = RECIPES[arch]
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

    def as_input(split: Split) -> np.ndarray:
        return (split.images.astype(np.float32) / 255.0)[..., None]

    steps_per_epoch = int(np.ceil(len(train) / batch_size))
    train_ds = (
        tf.data.Dataset.from_tensor_slices((as_input(train), train.labels.astype(np.int32)))
        .shuffle(len(train), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )
    if recipe.augment:
        augment = _augmenter(seed, recipe)
        train_ds = train_ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    val_ds = tf.data.Dataset.from_tensor_slices((as_input(val), val.labels.astype(np.int32))).batch(1000)

    optimizer = recipe.optimizer(steps_per_epoch)
    model = recipe.build()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    train_ds = train_ds.prefetch(tf.data.AUTOTUNE)

    val_x = as_input(val)

    class Recorder(keras.callbacks.Callback):
        """Times each epoch, logs the learning rate, keeps the best validation weights, and keeps
        every epoch's validation probabilities: with them, ``model.judge`` can pick epochs on one
        half of the validation digits and score on the other (a fair figure for the best of 30)."""

        def __init__(self):
            super().__init__()
            self.rows: list[dict] = []
            self.best_key = None
            self.best_weights = None
            self.best_epoch = 0
            self.resumed: list[int] = []
            self.val_probabilities: dict[int, np.ndarray] = {}

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1}
            for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                row[key] = float(logs[key])
            row["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            row["seconds"] = round(time.perf_counter() - self.started, 3)
            self.rows.append(row)
            probabilities = self.model.predict(val_x, batch_size=1000, verbose=0)
            self.val_probabilities[epoch + 1] = probabilities.astype(np.float16)
            key = (row["val_accuracy"], -row["val_loss"])
            if self.best_key is None or key > self.best_key:
                self.best_key, self.best_epoch = key, epoch + 1
                self.best_weights = self.model.get_weights()
            if progress is not None:
                _save_progress(progress, settings, self, val.labels)

    recorder = Recorder()
    resumed_at = _resume(progress, settings, model, recorder) if progress is not None else 0
    model.fit(
        train_ds,
        epochs=epochs,
        initial_epoch=resumed_at,
        validation_data=val_ds,
        callbacks=[recorder],
        verbose=1 if sys.stdout.isatty() else 2,
    )
    model.set_weights(recorder.best_weights)
    result = _keras_result(model, recorder.rows, recorder.best_epoch, _describe_optimizer(optimizer), {
        **_recipe_extras(recipe, 1),
        # Epochs done before an interruption; after one the data order and augmentation start
        # afresh from the seed, so a resumed run is not bit-identical to an uninterrupted one.
        "resumed_after_epoch": recorder.resumed,
    })
    if recorder.resumed:
        result.train_seconds = sum(row["seconds"] for row in recorder.rows)
    result.epoch_val_probabilities = recorder.val_probabilities
    return result


PROGRESS_DIR = ".progress"  # under --out; a run's state after its last finished epoch


def _progress_dir(out: Path, arch: str, seed: int) -> Path:
    return out / PROGRESS_DIR / f"{arch}-seed{seed}"


def _recipe_extras(recipe, members: int) -> dict:
    """What every Keras model's card records about how its recipe trained it."""
    return {"augment": recipe.augment, "vary_stroke_width": recipe.vary_stroke_width, "members": members}


def _validation_accuracy(predict_proba: Callable[[np.ndarray], np.ndarray], val: Split) -> float:
    predicted = predict_proba(val.images.astype(np.float32) / 255.0).argmax(axis=1)
    return float(np.mean(predicted == val.labels))


def _save_progress(folder: Path, settings: dict | None, recorder, labels: np.ndarray) -> None:
    def fill(staging: Path) -> None:
        recorder.model.save_weights(staging / "latest.weights.h5")  # with the optimizer's state
        np.savez(staging / "best.npz", *recorder.best_weights)
        save_epoch_probabilities(staging / VALIDATION_PROBABILITIES, recorder.val_probabilities, labels)
        _dump(staging / "state.json", {
            "settings": settings,
            "rows": recorder.rows,
            "best_epoch": recorder.best_epoch,
            "best_key": list(recorder.best_key),
            "resumed": recorder.resumed,
        })

    write_artifacts_atomically(folder, fill)


def _resume(folder: Path, settings: dict | None, model, recorder) -> int:
    """Load the state a previous run of the same settings left in ``folder``; the epochs done."""
    recorder.resumed = []
    try:
        state = json.loads((folder / "state.json").read_text())
    except (OSError, ValueError):
        return 0
    if state.get("settings") != settings:
        print(f"{folder}: left by a run with other settings; starting afresh", flush=True)
        return 0
    model.optimizer.build(model.trainable_variables)
    model.load_weights(folder / "latest.weights.h5")
    with np.load(folder / "best.npz") as best:
        recorder.best_weights = [best[f"arr_{i}"] for i in range(len(best.files))]
    recorder.rows, recorder.best_epoch = state["rows"], state["best_epoch"]
    # Runs from before these were kept have none for their early epochs; the judge skips those.
    recorder.val_probabilities = load_epoch_probabilities(folder / VALIDATION_PROBABILITIES)
    recorder.best_key = tuple(state["best_key"])
    done = len(recorder.rows)
    recorder.resumed = state.get("resumed", []) + [done]
    print(f"resuming after epoch {done} of a run interrupted earlier ({folder})", flush=True)
    return done


def _keras_result(model, history: list[dict], best_epoch: int, optimizer: str, extras: dict) -> TrainResult:
    import keras
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def forward(x):
        return model(x, training=False)

    def predict_proba(images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, np.float32).reshape(-1, 28, 28, 1)
        return np.concatenate([forward(x[i : i + 2000]).numpy() for i in range(0, len(x), 2000)])

    def save(folder: Path) -> None:
        model.save(folder / "model.keras")
        export_litert(model, folder / "model.tflite")

    return TrainResult(
        history=history,
        best_epoch=best_epoch,
        layers=_layer_table(model),
        params=int(model.count_params()),
        predict_proba=predict_proba,
        save=save,
        optimizer=optimizer,
        framework=f"keras {keras.__version__} (tensorflow {tf.__version__})",
        extras=extras,
        model=model,
    )


def choose_shift_averaging(arch: str, result: TrainResult, val: Split) -> TrainResult:
    """The trained model or its shift-averaged form, whichever reads more validation digits
    right (the plain one on a tie: it is 5x cheaper to run). Both figures go on the card."""
    from model.networks import shift_averaged

    shifted = _keras_result(shift_averaged(result.model, arch), result.history, result.best_epoch,
                            result.optimizer, {})
    plain_accuracy = _validation_accuracy(result.predict_proba, val)
    shifted_accuracy = _validation_accuracy(shifted.predict_proba, val)
    chosen = shifted if shifted_accuracy > plain_accuracy else result
    chosen.extras = {
        **result.extras,
        "validation_accuracy": max(plain_accuracy, shifted_accuracy),
        "shift_averaging": {
            "validation_accuracy_without": plain_accuracy,
            "validation_accuracy_with": shifted_accuracy,
            "shipped": chosen is shifted,
        },
    }
    chosen.train_seconds, chosen.member_histories = result.train_seconds, result.member_histories
    return chosen


# --------------------------------------------------------------------------- ensembles

MEMBERS_DIR = ".members"  # under --out; each member's own artifacts, kept out of git


def train_ensemble(
    arch: str, members: int, val: Split, epochs: int, batch_size: int, seed: int, data_dir, out: Path,
    limit: int | None, checksums: dict,
) -> TrainResult:
    """``members`` networks of ``arch``, each a whole training run of its own with seeds ``seed``,
    ``seed + 1``, ..., shipped as one model that averages their probabilities.

    Each member is an ordinary run written to ``OUT/.members/seed<S>/<arch>/``, and a member
    already there from the same recipe, data and settings is reused rather than trained again:
    an ensemble takes hours on a CPU, so a run cut short resumes at the next unfinished member
    (and that member after its last finished epoch).
    Separate runs (their own initialisation, shuffling and augmentation) make the members
    differ more than training them side by side on the same batches did, and averaging pays
    only for the errors they do not share.
    """
    import keras

    from model.networks import RECIPES

    recipe = RECIPES[arch]
    cards, histories, networks = [], [], []
    for i in range(members):
        member_seed = seed + i
        folder = out / MEMBERS_DIR / f"seed{member_seed}"
        card = _reusable_member(folder / arch, arch, member_seed, epochs, batch_size, limit, checksums)
        if card is None:
            print(f"member {i + 1}/{members}: training {arch}, seed {member_seed} -> {folder / arch}", flush=True)
            card = run(arch, epochs, batch_size, member_seed, data_dir, folder, limit, as_member=True)
        else:
            print(f"member {i + 1}/{members}: reusing {folder / arch} (trained {card['date']})", flush=True)
        trained = keras.models.load_model(folder / arch / "model.keras", safe_mode=True, compile=False)
        # Renamed: two networks of one name cannot sit side by side in the averaging model.
        network = recipe.build(name=arch if members == 1 else f"{arch}_seed{member_seed}")
        network.set_weights(trained.get_weights())
        cards.append(card)
        histories.append(json.loads((folder / arch / "history.json").read_text()))
        networks.append(network)

    member_runs = [_member_run(c, h) for c, h in zip(cards, histories)]
    if members == 1:  # one finished run, taken as it is (and given the recipe's finishing steps)
        history = histories[0]
        result = _keras_result(networks[0], history["epochs"], history["best_epoch"], cards[0]["optimizer"],
                               {**_recipe_extras(recipe, 1), "member_runs": member_runs})
        result.train_seconds = cards[0]["train_seconds"]
        return result

    inputs = keras.Input(shape=(28, 28, 1), name="image")
    probabilities = keras.layers.Average(name="probabilities")([network(inputs) for network in networks])
    model = keras.Model(inputs, probabilities, name=arch)

    # The page's curves for an ensemble: the members' mean at each epoch (each member kept the
    # weights of its own best epoch; the mean curve's best epoch is only a summary).
    mean_rows = []
    for rows in zip(*(h["epochs"] for h in histories)):
        row = {"epoch": rows[0]["epoch"]}
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
            row[key] = float(np.mean([r[key] for r in rows]))
        row["seconds"] = round(sum(r["seconds"] for r in rows), 3)  # what the epoch cost, all members
        mean_rows.append(row)
    best_epoch = max(mean_rows, key=lambda r: (r["val_accuracy"], -r["val_loss"]))["epoch"]

    result = _keras_result(model, mean_rows, best_epoch, cards[0]["optimizer"], {})
    result.extras = {
        **_recipe_extras(recipe, members),
        # The choice between an ensemble and one network is made here, on validation digits.
        "validation_accuracy": _validation_accuracy(result.predict_proba, val),
        "member_runs": member_runs,
    }
    judged = judge_members(out / MEMBERS_DIR, arch, [c["seed"] for c in cards])
    if judged is not None:
        result.extras["fair_judge"] = judged
    result.train_seconds = sum(c["train_seconds"] for c in cards)
    result.member_histories = [
        {"seed": c["seed"], "best_epoch": h["best_epoch"], "epochs": h["epochs"]} for c, h in zip(cards, histories)
    ]
    return result


def _member_run(card: dict, history: dict) -> dict:
    return {
        "seed": card["seed"],
        "best_epoch": card["best_epoch"],
        "validation_accuracy": history["epochs"][card["best_epoch"] - 1]["val_accuracy"],
        "test_accuracy": card["test_accuracy"],
        "train_seconds": card["train_seconds"],
        "date": card["date"],
    }


def _reusable_member(
    folder: Path, arch: str, seed: int, epochs: int, batch_size: int, limit: int | None, checksums: dict
) -> dict | None:
    """The card of a finished member trained exactly as this ensemble would train it, else None."""
    from model.networks import RECIPES

    try:
        card = json.loads((folder / "card.json").read_text())
    except (OSError, ValueError):
        return None
    if not (folder / "model.keras").is_file() or not (folder / "history.json").is_file():
        return None
    recipe = RECIPES[arch]
    steps_per_epoch = int(np.ceil(card.get("train_size", 0) / batch_size)) or 1
    expected = {
        "arch": arch,
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "limit": limit,
        "augment": recipe.augment,
        "optimizer": _describe_optimizer(recipe.optimizer(steps_per_epoch)),
        "params": int(recipe.build().count_params()),
    }
    found = {key: card.get(key) for key in expected}
    if found != expected or card.get("data", {}).get("checksums") != checksums:
        return None
    # Cards written before the flag existed were trained when every augmented recipe varied it.
    if card.get("vary_stroke_width", recipe.vary_stroke_width) != recipe.vary_stroke_width:
        return None
    return card


def export_litert(model, path: Path) -> None:
    """A LiteRT flatbuffer of the same model, for the fast, TensorFlow-free Draw page."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    path.write_bytes(converter.convert())


def _describe_optimizer(optimizer) -> str:
    config = optimizer.get_config()
    lr = config.get("learning_rate")
    if isinstance(lr, dict):
        inner = lr.get("config", {})
        lr = f"{lr.get('class_name')}({', '.join(f'{k}={v}' for k, v in inner.items() if k != 'name')})"
    extras = ", ".join(f"{k}={config[k]}" for k in ("weight_decay", "momentum") if config.get(k))
    return f"{type(optimizer).__name__}(lr={lr}{', ' + extras if extras else ''})"


# --------------------------------------------------------------------------- artifacts


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} x{os.cpu_count()}"


def _library_versions() -> dict:
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("tensorflow", "keras"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = module.__version__
    return versions


def write_artifacts_atomically(target: Path, fill: Callable[[Path], None]) -> None:
    """Build the artifact folder beside ``target`` and swap it in only once complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would make the committed folder private
    try:
        fill(staging)
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            target.rename(retired / target.name)
            staging.rename(target)
            shutil.rmtree(retired)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _dump(path: Path, obj, compact: bool = False) -> None:
    text = json.dumps(obj, separators=(",", ":")) if compact else json.dumps(obj, indent=1)
    path.write_text(text + "\n")


def run(
    arch: str,
    epochs: int | None,
    batch_size: int | None,
    seed: int,
    data_dir,
    out: Path,
    limit: int | None = None,
    members: int | None = None,
    as_member: bool = False,
) -> dict:
    """Train ``arch`` and write its artifacts to ``out/<arch>/``; returns its card.
    ``as_member``: one network of an ensemble, written as trained (the ensemble as a whole
    gets the recipe's finishing steps)."""
    from model.networks import RECIPES

    train, val, test, mnist = load_splits(data_dir)
    if limit:  # a quick smoke run on the first `limit` images of each split
        train, val, test = (Split(s.images[:limit], s.labels[:limit]) for s in (train, val, test))
    started = time.perf_counter()
    if arch in RECIPES:
        recipe = RECIPES[arch]
        epochs = epochs or recipe.epochs
        batch_size = batch_size or recipe.batch_size
        # --members N, even 1, builds the model from member runs (finished ones reused).
        use_members = members is not None or recipe.members > 1
        members = members or recipe.members
        if use_members:
            result = train_ensemble(
                arch, members, val, epochs, batch_size, seed, data_dir, out, limit, mnist.checksums
            )
        else:
            settings = {"arch": arch, "seed": seed, "epochs": epochs, "batch_size": batch_size, "limit": limit,
                        "data": mnist.checksums}
            progress = _progress_dir(out, arch, seed)
            result = train_keras(arch, train, val, epochs, batch_size, seed, progress, settings)
        if recipe.shift_averaging and not as_member:
            result = choose_shift_averaging(arch, result, val)
        summary, published, source = recipe.summary, recipe.published_accuracy, recipe.source
        if result.extras.get("members", 1) > 1:
            summary = f"{result.extras['members']} x ({summary}), averaged"
        if result.extras.get("shift_averaging", {}).get("shipped"):
            summary += "; averaged over 1-px shifts"
    else:
        from model.scratch import SCRATCH_RECIPES, train_scratch

        if arch not in SCRATCH_RECIPES:
            raise SystemExit(f"unknown --arch {arch!r}; choose from {', '.join(all_arch_names())}")
        recipe = SCRATCH_RECIPES[arch]
        epochs = epochs or recipe.epochs
        batch_size = batch_size or recipe.batch_size
        result = train_scratch(arch, train, val, epochs, batch_size, seed)
        summary, published, source = recipe.summary, recipe.published_accuracy, recipe.source
    train_seconds = result.train_seconds or time.perf_counter() - started

    test_x = test.images.astype(np.float32) / 255.0
    evaluation = {"arch": arch, **score(result.predict_proba(test_x), test.labels, test.images)}
    history = {"arch": arch, "best_epoch": result.best_epoch, "epochs": result.history}
    if result.member_histories:
        history["members"] = result.member_histories
    card = {
        "arch": arch,
        "summary": summary,
        "source": source,
        "published_accuracy": published,
        "framework": result.framework,
        "params": result.params,
        "layers": result.layers,
        "epochs": epochs,
        "best_epoch": result.best_epoch,
        "batch_size": batch_size,
        "seed": seed,
        "optimizer": result.optimizer,
        **result.extras,
        "limit": limit,
        "train_size": len(train),
        "validation_size": len(val),
        "test_accuracy": evaluation["accuracy"],
        "test_loss": evaluation["loss"],
        "test_errors": evaluation["errors"],
        "data": {"source": mnist.source, "checksums": mnist.checksums},
        "train_seconds": round(train_seconds, 1),
        "cpu": _cpu_name(),
        "versions": _library_versions(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m model.train " + " ".join(sys.argv[1:]),
    }

    # A member's folder: train_ensemble's, or one member trained alone into model/.members/seed<S>.
    keep_probabilities = MEMBERS_DIR in Path(out).resolve().parts

    def fill(folder: Path) -> None:
        result.save(folder)
        if keep_probabilities and result.epoch_val_probabilities:
            save_epoch_probabilities(
                folder / VALIDATION_PROBABILITIES, result.epoch_val_probabilities, val.labels)
        from model.inference import Classifier, inference_ms, load_forward

        # Measured here, on the machine that trained it, with the runtime the Draw page uses.
        card["runtime"], forward = load_forward(folder, arch)
        classifier = Classifier(arch, card["runtime"], card, forward)
        card["inference_ms"] = inference_ms(classifier.predict_proba, test_x[0])
        _dump(folder / "history.json", history)
        _dump(folder / "evaluation.json", evaluation, compact=True)  # pixels make it large
        _dump(folder / "card.json", card)

    write_artifacts_atomically(out / arch, fill)
    from model.derived import write_feature_artifacts

    card.update(write_feature_artifacts(arch, (train, val, test, mnist), out))
    if arch in RECIPES:
        shutil.rmtree(_progress_dir(out, arch, seed), ignore_errors=True)
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

    from model.data import MnistError

    try:
        card = run(
            args.arch, args.epochs, args.batch_size, args.seed, args.data_dir, args.out, args.limit, args.members
        )
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
