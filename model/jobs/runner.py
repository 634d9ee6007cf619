"""One training job from the Train page, run in a process of its own by
``model.jobs.queue.start``.

    python -m model.jobs.runner DATA/training/<job id> [SERVER_PID]

It trains with ``model.train.run`` (the same artifacts and card as the command line, marked as
trained here) into ``model.jobs.models.models_dir()``, and keeps ``progress.json`` in the job's
folder up to date: a point on the live curves every few hundred digits, a row per epoch, and its
state. SIGTERM (``model.jobs.queue.stop``) ends training at the next batch, keeping the best
epoch so far; if the server it works for (SERVER_PID, else its parent) goes away, it ends
without saving.
As it exits it gives the slot back and starts the next queued run, for that same server: a job
started by an ending job has that job, not the server, as its parent.
"""
from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from dataclasses import replace
from functools import partial
from pathlib import Path

import keras
import tensorflow as tf

from model.data.mnist import MnistError
from model.files import read_json, write_json_atomically
from model.jobs import queue
from model.jobs.job import CUSTOM, JobError, JobSpec
from model.jobs.job import OPTIMIZERS as STARTING_RATES  # optimizer -> the learning rate it starts from
from model.jobs.models import models_dir
from model.jobs.processes import process_running, process_started
from model.train import TrainingStopped, run
from model.training.config import TrainConfig
from model.training.networks import OPTIMIZERS, RECIPES, Recipe, build_custom, custom_summary

POINT_EVERY_DIGITS = 500  # a point on the live curves
WRITE_EVERY_SECONDS = 0.5  # progress.json at most this often between points and epochs
SERVER_CHECK_SECONDS = 0.5  # how often a job whose parent is not the server asks after the server


def recipe_for(spec: JobSpec) -> Recipe:
    """The spec's network and training recipe: a shipped recipe, or the small builder, with the
    optimizer and augmentation the student chose."""
    if spec.recipe == CUSTOM:
        knobs = dict(conv_blocks=spec.conv_blocks, filters=spec.filters, dense_units=spec.dense_units,
                     dropout=spec.dropout)
        recipe = Recipe(partial(build_custom, **knobs, name=spec.name.replace("-", "_")),
                        lambda steps: OPTIMIZERS["adam"](STARTING_RATES["adam"]), custom_summary(**knobs),
                        epochs=spec.epochs, source="built on the Train page")
    else:
        recipe = RECIPES[spec.recipe]
    if spec.optimizer != "recipe" or spec.learning_rate is not None:
        name = "adam" if spec.optimizer == "recipe" else spec.optimizer
        rate = spec.learning_rate or STARTING_RATES[name]
        recipe = replace(recipe, optimizer=lambda steps: OPTIMIZERS[name](rate))
    if spec.augment is not None:
        recipe = replace(recipe, augment=spec.augment)
    return recipe


class ProgressWriter:
    def __init__(self, folder: Path):
        self.path = folder / "progress.json"
        self.state: dict = {"state": "starting", "message": "Loading the digits…", "points": [], "rows": []}
        self.written = 0.0

    def update(self, force: bool = True, **changes) -> None:
        self.state.update(changes, updated=time.time())
        if force or time.time() - self.written >= WRITE_EVERY_SECONDS:
            write_json_atomically(self.path, self.state)
            self.written = time.time()


class ServerGone(Exception):
    """The app's server that started this job has ended."""


class Server:
    """The app's server this job works for: its parent, or the server of the job that started it."""

    def __init__(self, pid: int):
        self.pid = pid
        self.started = process_started(pid)
        self.checked = 0.0

    def alive(self) -> bool:
        if os.getppid() == self.pid:
            return True  # a parent that dies leaves its child to another parent
        if time.monotonic() - self.checked < SERVER_CHECK_SECONDS:
            return True
        self.checked = time.monotonic()
        return process_running(self.pid, self.started)


class Watcher(keras.callbacks.Callback):
    """Reports progress to ``progress.json`` and ends training when asked to."""

    def __init__(self, writer: ProgressWriter, spec: JobSpec, stop_requested, server: Server):
        super().__init__()
        self.writer, self.spec, self.stop_requested, self.server = writer, spec, stop_requested, server
        self.epoch = 0
        self.next_point = POINT_EVERY_DIGITS

    def _check(self) -> None:
        if self.stop_requested():
            if self.writer.state["rows"]:
                self.writer.update(state="saving", message="Stopping; saving the best epoch so far…")
            raise TrainingStopped
        if not self.server.alive():
            raise ServerGone

    def on_train_begin(self, logs=None):
        self._check()
        self.writer.update(state="training", message="Training…", training_started=time.time())

    def on_train_end(self, logs=None):
        self.writer.update(state="saving", message="Scoring the test digits and saving…")

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        seen = self.epoch * self.spec.train_size + min((batch + 1) * self.spec.batch_size, self.spec.train_size)
        point = seen >= self.next_point
        if point:
            self.next_point = seen + POINT_EVERY_DIGITS
            self.writer.state["points"].append(
                {"seen": seen, "loss": float(logs["loss"]), "accuracy": float(logs["accuracy"])})
        self.writer.update(force=point, seen=seen, epoch=self.epoch + 1)
        self._check()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **{k: float(logs[k]) for k in ("loss", "accuracy", "val_loss", "val_accuracy")}}
        self.writer.state["rows"].append(row)
        self.writer.update(seen=(epoch + 1) * self.spec.train_size, epoch=epoch + 1)
        self._check()


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    folder = Path(args[0])
    job_id = folder.name
    server = Server(int(args[1]) if len(args) > 1 else os.getppid())
    stop = {"requested": False}

    def request_stop(signum, frame):
        stop["requested"] = True

    signal.signal(signal.SIGTERM, request_stop)
    os.nice(max(0, queue.NICENESS - os.nice(0)))  # a job started by a job inherits its niceness
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    writer = ProgressWriter(folder)
    try:
        spec = JobSpec.from_dict(read_json(folder / "spec.json") or {})
        writer.update(epochs=spec.epochs, total=spec.epochs * spec.train_size, seen=0)
        recipe = recipe_for(spec)
        config = TrainConfig(arch=spec.recipe, name=spec.name, epochs=spec.epochs, batch_size=spec.batch_size,
                             seed=spec.seed, out=models_dir(), train_size=spec.train_size, resumable=False)
        watcher = Watcher(writer, spec, lambda: stop["requested"], server)
        card = run(config, recipe, callbacks=(watcher,), card_fields={
            "trained_here": True,
            "published_accuracy": None,
            "source": f"trained on the Train page from {spec.recipe}",
            "command": "the Train page",
            "job": {"id": job_id, **vars(spec)},
        })
        kept = f"kept epoch {card['best_epoch']}, the best on the validation digits"
        if stop["requested"]:
            done = len(writer.state["rows"])
            writer.update(state="stopped", model=spec.name, test_accuracy=card["test_accuracy"],
                          best_epoch=card["best_epoch"],
                          message=f"Stopped after {done} of {spec.epochs} epochs; {kept}. Saved as {spec.name}.")
        else:
            writer.update(state="finished", model=spec.name, test_accuracy=card["test_accuracy"],
                          best_epoch=card["best_epoch"], message=f"Finished; {kept}. Saved as {spec.name}.")
        return 0
    except TrainingStopped:
        writer.update(state="stopped", message="Stopped before the first epoch finished, so there was nothing "
                      "to keep.")
        return 0
    except ServerGone:
        writer.update(state="failed", message="The app's server stopped while this was training. Nothing was saved.")
        return 1
    except (MnistError, JobError) as error:
        writer.update(state="failed", message=str(error))
        return 1
    except Exception as error:  # noqa: BLE001 - the page shows a plain message; the log has the rest
        traceback.print_exc()
        writer.update(state="failed", message=f"Training failed ({type(error).__name__}). Nothing was saved.")
        return 1
    finally:
        queue.release(job_id, server.pid, server.started)


if __name__ == "__main__":
    sys.exit(main())
