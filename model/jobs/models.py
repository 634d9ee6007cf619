"""The models on either side of a Train-page job: the recipes the page offers (from the shipped
models' cards, so the page needs no TensorFlow), and the models trained here
(``models/<name>/`` under ``model.data_dir()``, each written by ``model.train.run`` all or
nothing): listed, cleared of a killed job's half-built folder, deleted."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from model import MODEL_DIR, data_dir
from model.files import read_json
from model.jobs.job import JobError
from model.serving.artifacts import shipped_archs


def models_dir() -> Path:
    """Where the models trained here live, one folder each, like model/<arch>/."""
    return data_dir() / "models"


def user_models() -> list[str]:
    """The finished models trained here, by name (a folder with a card; staging folders are hidden)."""
    return sorted(set(shipped_archs(models_dir())) - set(shipped_archs(MODEL_DIR)))


def recipe_choices() -> dict[str, dict]:
    """Every Keras recipe the Train page offers, from the card of its shipped model (so the
    page needs no TensorFlow): name -> summary, augment, epochs, batch_size, seconds_per_digit
    (training seconds per digit per epoch, as measured when it was trained)."""
    choices = {}
    for arch in shipped_archs(MODEL_DIR):
        card = read_json(MODEL_DIR / arch / "card.json") or {}
        # A model trained further from another (cnn_pen, a class's fine-tuning) is no recipe.
        if (not str(card.get("framework", "")).startswith("keras") or card.get("members", 1) != 1
                or "base" in card):
            continue
        digits = (card.get("train_size") or 0) * (card.get("epochs") or 0)
        choices[arch] = {
            "summary": card.get("summary", ""),
            "augment": bool(card.get("augment")),
            "epochs": card.get("epochs"),
            "batch_size": card.get("batch_size"),
            "seconds_per_digit": card["train_seconds"] / digits if digits and card.get("train_seconds") else None,
        }
    return choices


def clear_staging_leftovers() -> None:
    """Half-built model folders a killed job left (hidden: ``.<name>.tmp-*``)."""
    folder = models_dir()
    if folder.is_dir():
        for leftover in folder.glob(".*.tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)


def delete_model(name: str) -> None:
    """Remove a model trained here (never a shipped one)."""
    if name not in user_models():
        raise JobError(f"{name} is not a model trained here.")
    folder = models_dir() / name
    retired = Path(tempfile.mkdtemp(prefix=f".{name}.deleted-", dir=models_dir()))
    folder.rename(retired / name)  # gone from every list at once, then removed
    shutil.rmtree(retired, ignore_errors=True)
