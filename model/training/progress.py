"""Carrying a Keras run on after an interruption: after every epoch the run's state (weights,
optimizer, curves, best weights so far, every epoch's validation probabilities) is kept in
``OUT/.progress/<arch>-seed<S>/``, and a run started again with the same settings resumes
after the last finished epoch instead of starting over."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from model.training.judge import VALIDATION_PROBABILITIES, load_epoch_probabilities, save_epoch_probabilities
from model.training.results import dump_json, write_artifacts_atomically

PROGRESS_DIR = ".progress"  # under --out


def progress_dir(out: Path, arch: str, seed: int) -> Path:
    return Path(out) / PROGRESS_DIR / f"{arch}-seed{seed}"


def save_progress(folder: Path, settings: dict, recorder, labels: np.ndarray) -> None:
    """``recorder``: the run's ``model.train.Recorder`` after an epoch."""

    def fill(staging: Path) -> None:
        recorder.model.save_weights(staging / "latest.weights.h5")  # with the optimizer's state
        np.savez(staging / "best.npz", *recorder.best_weights)
        save_epoch_probabilities(staging / VALIDATION_PROBABILITIES, recorder.val_probabilities, labels)
        dump_json(staging / "state.json", {
            "settings": settings,
            "rows": recorder.rows,
            "best_epoch": recorder.best_epoch,
            "best_key": list(recorder.best_key),
            "resumed": recorder.resumed,
        })

    write_artifacts_atomically(folder, fill)


def resume(folder: Path, settings: dict, model, recorder) -> int:
    """Load the state a previous run of the same settings left in ``folder`` into ``model`` and
    ``recorder``; the number of epochs it had finished (0: start afresh)."""
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
    # The judge skips epochs whose probabilities are missing from the file.
    recorder.val_probabilities = load_epoch_probabilities(folder / VALIDATION_PROBABILITIES)
    recorder.best_key = tuple(state["best_key"])
    done = len(recorder.rows)
    recorder.resumed = state.get("resumed", []) + [done]
    print(f"resuming after epoch {done} of a run interrupted earlier ({folder})", flush=True)
    return done
