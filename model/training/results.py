"""What a training run hands back, and how its artifacts reach ``<out>/<arch>/``.

Both trainers (Keras in ``model.train``, numpy in ``model.scratch``) return a
:class:`TrainResult`; :func:`write_model_folder` turns one into the folder every page reads:
the model file(s), ``history.json``, ``evaluation.json`` and ``card.json``, swapped in only
once complete.

TensorFlow is imported inside the functions that need it, so the numpy engine and the
pages can import this module without paying seconds for it.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from model.data.mnist import Split, unit_pixels
from model.serving.artifacts import DIGESTS_KEY, weights_digests

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
    # epoch (1-based) -> (N, 10) float32 validation probabilities after that epoch (Keras runs)
    epoch_val_probabilities: dict[int, np.ndarray] | None = None
    model: object = None  # the Keras model (Keras trainers only)


def epoch_rank(row: dict) -> tuple[float, float]:
    """How epochs are compared to choose the one whose weights are kept: the most validation
    digits right, and on a tie the lower validation loss."""
    return row["val_accuracy"], -row["val_loss"]


def validation_accuracy(predict_proba: Callable[[np.ndarray], np.ndarray], val: Split) -> float:
    return float(np.mean(predict_proba(unit_pixels(val.images)).argmax(axis=1) == val.labels))


def layer_table(model) -> list[dict]:
    """A Keras model's layers as the card lists them."""
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


def describe_optimizer(optimizer) -> str:
    """A Keras optimizer in one line for the card, e.g. ``Adam(lr=ExponentialDecay(...))``."""
    config = optimizer.get_config()
    lr = config.get("learning_rate")
    if isinstance(lr, dict):
        inner = lr.get("config", {})
        lr = f"{lr.get('class_name')}({', '.join(f'{k}={v}' for k, v in inner.items() if k != 'name')})"
    extras = ", ".join(f"{k}={config[k]}" for k in ("weight_decay", "momentum") if config.get(k))
    return f"{type(optimizer).__name__}(lr={lr}{', ' + extras if extras else ''})"


def keras_result(model, history: list[dict], best_epoch: int, optimizer: str, extras: dict) -> TrainResult:
    """A trained Keras model as a :class:`TrainResult`: it predicts through a compiled forward
    pass and saves as ``model.keras`` plus its LiteRT export."""
    import keras
    import tensorflow as tf

    def save(folder: Path) -> None:
        model.save(folder / "model.keras")
        export_litert(model, folder / "model.tflite")

    return TrainResult(
        history=history,
        best_epoch=best_epoch,
        layers=layer_table(model),
        params=int(model.count_params()),
        predict_proba=compiled_forward(model),
        save=save,
        optimizer=optimizer,
        framework=f"keras {keras.__version__} (tensorflow {tf.__version__})",
        extras=extras,
        model=model,
    )


def compiled_forward(model, chunk: int = 2000) -> Callable[[np.ndarray], np.ndarray]:
    """``model``'s probabilities for (N, 28, 28) images in [0, 1], through one compiled graph.
    ``model.predict`` pays tens of milliseconds of set-up on every call; this pays it once."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def call(x):
        return model(x, training=False)

    def forward(images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, np.float32).reshape(-1, 28, 28, 1)
        return np.concatenate([call(x[i : i + chunk]).numpy() for i in range(0, len(x), chunk)])

    return forward


def export_litert(model, path: Path) -> None:
    """A LiteRT flatbuffer of the same model, for the fast, TensorFlow-free Draw page."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the exported signature, every time
        path.write_bytes(converter.convert())


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} x{os.cpu_count()}"


def library_versions() -> dict:
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("tensorflow", "keras"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = module.__version__
    return versions


def dump_json(path: Path, obj, compact: bool = False) -> None:
    text = json.dumps(obj, separators=(",", ":")) if compact else json.dumps(obj, indent=1)
    path.write_text(text + "\n")


def update_card(folder: Path, fields: dict) -> dict:
    """Add ``fields`` to ``folder/card.json`` (fields computed after the model was written, such
    as its not-a-digit threshold); returns the new card. The weights' digests are unaffected."""
    card_path = Path(folder) / "card.json"
    card = json.loads(card_path.read_text())
    card.update(fields)
    # The digests stay the card's last entry, where recording them puts it.
    if DIGESTS_KEY in card:
        card[DIGESTS_KEY] = card.pop(DIGESTS_KEY)
    dump_json(card_path, card)
    return card


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


def write_model_folder(
    target: Path,
    result: TrainResult,
    card: dict,
    history: dict,
    evaluation: dict,
    finish: Callable[[Path, dict], None] | None = None,
) -> None:
    """The model file(s), ``history.json``, ``evaluation.json`` and ``card.json`` in ``target``,
    all or nothing. ``finish(folder, card)`` runs once the model file(s) are written and before
    the card is, to add what only the saved model can tell (its runtime and speed)."""

    def fill(folder: Path) -> None:
        result.save(folder)
        if finish is not None:
            finish(folder, card)
        dump_json(folder / "history.json", history)
        dump_json(folder / "evaluation.json", evaluation, compact=True)  # pixels make it large
        card[DIGESTS_KEY] = weights_digests(folder)  # the app checks the model files against these
        dump_json(folder / "card.json", card)

    write_artifacts_atomically(target, fill)
