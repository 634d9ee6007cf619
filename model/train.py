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
    arch: str, train: Split, val: Split, epochs: int, batch_size: int, seed: int, members: int | None = None
) -> TrainResult:
    import dataclasses

    import keras
    import tensorflow as tf

    from model.networks import RECIPES

    recipe = RECIPES[arch]
    if members:
        recipe = dataclasses.replace(recipe, members=members)
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
    if recipe.members == 1:
        model = trainer = recipe.build()
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    else:
        model, trainer = _ensemble(arch, recipe)
        outputs = ["probabilities"] + [f"member_{i}" for i in range(recipe.members)]
        trainer.compile(
            optimizer=optimizer,
            # Each member learns on its own loss: a loss on the average alone would let the
            # members lean on each other and lose the independence that makes averaging pay.
            loss={name: "sparse_categorical_crossentropy" for name in outputs},
            loss_weights={name: 0.0 if name == "probabilities" else 1.0 / recipe.members for name in outputs},
            metrics={"probabilities": ["accuracy"]},
        )
        as_targets = _every_output(outputs)
        train_ds, val_ds = train_ds.map(as_targets), val_ds.map(as_targets)
    train_ds = train_ds.prefetch(tf.data.AUTOTUNE)

    class Recorder(keras.callbacks.Callback):
        """Times each epoch, logs the learning rate, and keeps the best validation weights."""

        def __init__(self):
            super().__init__()
            self.rows: list[dict] = []
            self.best_key = None
            self.best_weights = None
            self.best_epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1}
            # An ensemble's curves are those of its averaged output, the model that ships.
            prefix = "probabilities_" if recipe.members > 1 else ""
            for key in ("loss", "accuracy"):
                row[key] = float(logs[prefix + key])
                row["val_" + key] = float(logs["val_" + prefix + key])
            row["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            row["seconds"] = round(time.perf_counter() - self.started, 3)
            self.rows.append(row)
            key = (row["val_accuracy"], -row["val_loss"])
            if self.best_key is None or key > self.best_key:
                self.best_key, self.best_epoch = key, epoch + 1
                self.best_weights = self.model.get_weights()

    recorder = Recorder()
    trainer.fit(
        train_ds,
        epochs=epochs,
        validation_data=val_ds,
        callbacks=[recorder],
        verbose=1 if sys.stdout.isatty() else 2,
    )
    trainer.set_weights(recorder.best_weights)

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
        history=recorder.rows,
        best_epoch=recorder.best_epoch,
        layers=_layer_table(model),
        params=int(model.count_params()),
        predict_proba=predict_proba,
        save=save,
        optimizer=_describe_optimizer(optimizer),
        framework=f"keras {keras.__version__} (tensorflow {tf.__version__})",
        extras={
            "augment": recipe.augment,
            "vary_stroke_width": recipe.vary_stroke_width,
            "members": recipe.members,
        },
    )


def _ensemble(arch: str, recipe):
    """The shipped model (members' probabilities averaged) and the model that trains them.

    Both share the same layers; the trainer also exposes each member's own output so that
    each can be given its own loss.
    """
    import keras

    inputs = keras.Input(shape=(28, 28, 1), name="image")
    members = [recipe.build(name=f"{arch}_{i}") for i in range(recipe.members)]
    outputs = {f"member_{i}": member(inputs) for i, member in enumerate(members)}
    probabilities = keras.layers.Average(name="probabilities")(list(outputs.values()))
    shipped = keras.Model(inputs, probabilities, name=arch)
    trainer = keras.Model(inputs, {"probabilities": probabilities, **outputs}, name=f"{arch}_trainer")
    return shipped, trainer


def _every_output(names):
    def as_targets(images, labels):
        return images, {name: labels for name in names}

    return as_targets


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
) -> dict:
    from model.networks import RECIPES

    train, val, test, mnist = load_splits(data_dir)
    if limit:  # a quick smoke run on the first `limit` images of each split
        train, val, test = (Split(s.images[:limit], s.labels[:limit]) for s in (train, val, test))
    started = time.perf_counter()
    if arch in RECIPES:
        recipe = RECIPES[arch]
        epochs = epochs or recipe.epochs
        batch_size = batch_size or recipe.batch_size
        result = train_keras(arch, train, val, epochs, batch_size, seed, members)
        summary, published, source = recipe.summary, recipe.published_accuracy, recipe.source
    else:
        from model.scratch import SCRATCH_RECIPES, train_scratch

        if arch not in SCRATCH_RECIPES:
            raise SystemExit(f"unknown --arch {arch!r}; choose from {', '.join(all_arch_names())}")
        recipe = SCRATCH_RECIPES[arch]
        epochs = epochs or recipe.epochs
        batch_size = batch_size or recipe.batch_size
        result = train_scratch(arch, train, val, epochs, batch_size, seed)
        summary, published, source = recipe.summary, recipe.published_accuracy, recipe.source
    train_seconds = time.perf_counter() - started

    test_x = test.images.astype(np.float32) / 255.0
    evaluation = {"arch": arch, **score(result.predict_proba(test_x), test.labels, test.images)}
    history = {"arch": arch, "best_epoch": result.best_epoch, "epochs": result.history}
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

    def fill(folder: Path) -> None:
        result.save(folder)
        from model.inference import Classifier, inference_ms, load_forward

        # Measured here, on the machine that trained it, with the runtime the Draw page uses.
        card["runtime"], forward = load_forward(folder, arch)
        classifier = Classifier(arch, card["runtime"], card, forward)
        card["inference_ms"] = inference_ms(classifier.predict_proba, test_x[0])
        _dump(folder / "history.json", history)
        _dump(folder / "evaluation.json", evaluation, compact=True)  # pixels make it large
        _dump(folder / "card.json", card)

    write_artifacts_atomically(out / arch, fill)
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
    parser.add_argument("--members", type=int, default=None, help="train N networks, ship their average")
    args = parser.parse_args(argv)

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
