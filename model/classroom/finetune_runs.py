"""The Class page's fine-tuning in the background: one run at a time per data folder, in a
process of its own (``python -m model.classroom.finetune``), and the progress file it keeps.

    start("cnn", "cnn_class", model_dir, out)   # FinetuneBusy while a run is alive, SlotTaken while a job trains
    status()   # None, or {"state": "running" | "done" | "failed", "message", "fraction", "name", ...}

``data_dir()/finetune-progress.json`` says what the run is doing; the run rewrites it
atomically (:class:`Progress`). A run whose process is gone without saying it finished shows
as failed, never as running: liveness comes from the process id (and its start time, so a
later process given the same id is not taken for it). Every write of the file, the starter's
and the run's, happens under one file lock (``.finetune-progress.flock`` beside it), so two sessions or
two servers pressing the button at once start one run, and the run's first note cannot be
overwritten by its starter's. Light on purpose (no TensorFlow, no database driver): the Class
page reads it every two seconds.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from model import MODEL_DIR, data_dir
from model.files import file_lock, write_json_atomically
from model.jobs import queue
from model.jobs.models import models_dir
from model.jobs.processes import process_running, process_started

RUN_MODULE = "model.classroom.finetune"
PROGRESS_FILE = "finetune-progress.json"
NICENESS = 10  # below the lesson's pages on a shared CPU
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# The run's size, for a server too slow for the defaults (the defaults of model.classroom.finetune's
# --mnist-digits and --check-digits, so the button's too): fewer digits make a quicker run whose
# check that MNIST is not forgotten is rougher.
MNIST_DIGITS_ENV = "DIGITLAB_FINETUNE_MNIST_DIGITS"
CHECK_DIGITS_ENV = "DIGITLAB_FINETUNE_CHECK_DIGITS"

_children: dict[int, subprocess.Popen] = {}  # runs this process started, reaped when they end


class FinetuneBusy(RuntimeError):
    """A fine-tuning is running already; the message names it."""


def progress_path() -> Path:
    return data_dir() / PROGRESS_FILE


def _guard(path: Path):
    """Held around every write of ``path`` and around starting a run."""
    return file_lock(path.with_name(f".{path.stem}.flock"))


class Progress:
    """What the run is doing, as a small JSON file replaced atomically (or nowhere)."""

    def __init__(self, path: Path | None):
        self.path = path
        self.started = time.time()
        self.pid_started = process_started(os.getpid())

    def __call__(self, state: str, message: str, fraction: float, **extra) -> None:
        if self.path is None:
            return
        with _guard(self.path):
            write_json_atomically(self.path, {
                "state": state, "message": message, "fraction": round(float(fraction), 3),
                "pid": os.getpid(), "pid_started": self.pid_started, "started": self.started,
                "updated": time.time(), **extra,
            })


def _alive(pid: object, pid_started: object) -> bool:
    """Whether ``pid`` is still the run that wrote the status."""
    child = _children.get(pid) if isinstance(pid, int) else None
    if child is not None and child.poll() is not None:  # reaps it: no zombie left behind
        _children.pop(pid, None)
        return False
    return process_running(pid, pid_started)


def status(path: Path | None = None) -> dict | None:
    """The latest run's status, or None when there has been none."""
    path = path or progress_path()
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict):
        return None
    if found.get("state") == "running" and not _alive(found.get("pid"), found.get("pid_started")):
        found = {**found, "state": "failed", "message": "The fine-tuning stopped (its process ended)."}
    return found


def start(arch: str, name: str, model_dir: Path = MODEL_DIR, out: Path | None = None,
          class_code: str | None = None, path: Path | None = None) -> int:
    """Start fine-tuning ``model_dir/arch`` into ``out/name`` (default: the models trained here)
    on the class's drawings ($DIGITLAB_DB) in the background; its process id. It holds the Train
    page's training slot while it runs. Raises :class:`FinetuneBusy` while a run is alive,
    ``model.jobs.slot.SlotTaken`` while a Train-page job trains, ``ValueError`` for a name that
    cannot be one."""
    if not NAME.match(name):
        raise ValueError("a model name is lower-case letters, digits and _, starting with a letter")
    path = path or progress_path()
    out = out or models_dir()
    # The database URL reaches the run through the environment ($DIGITLAB_DB), not its
    # command line, where anyone on the machine could read a password.
    command = [sys.executable, "-m", RUN_MODULE, "--arch", arch, "--name", name, "--model-dir",
               str(model_dir), "--out", str(out), "--progress", str(path), "--nice", str(NICENESS)]
    if class_code:
        command += ["--class-code", class_code]
    def spawn() -> int:
        with open(path.with_suffix(".log"), "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, cwd=MODEL_DIR.parent)
        _children[process.pid] = process
        return process.pid

    with _guard(path):
        running = status(path)
        if running is not None and running.get("state") == "running":
            raise FinetuneBusy(f"{running.get('name') or 'A model'} is being fine-tuned now; one at a time.")
        # The Train page's slot: a fine-tuning and a Train-page job never share the CPU.
        pid = queue.hold_slot(name, spawn)
        write_json_atomically(path, {"state": "running", "message": "Starting", "fraction": 0.0, "pid": pid,
                              "pid_started": process_started(pid), "started": time.time(), "name": name})
    return pid
