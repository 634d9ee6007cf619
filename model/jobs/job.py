"""What a training job is: its settings (:class:`JobSpec`), checked in words a student
understands; its state as the pages see it (:class:`Job`); and what stops one from starting
whatever the slot (missing MNIST, the teacher's passcode). No processes here."""
from __future__ import annotations

import hmac
import os
import re
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from model import MODEL_DIR
from model.data.mnist_sources import IDX_MD5, data_copy_dir, find_mnist
from model.serving.artifacts import short_path, shipped_archs

TEACHER_CODE_ENV = "DIGITLAB_TEACHER_CODE"
CUSTOM = "custom"  # the recipe name of the Train page's own small builder
# Optimizer -> the learning rate it starts from; "recipe" keeps the recipe's own (and its schedule).
OPTIMIZERS = {"recipe": None, "adam": 1e-3, "sgd": 0.05, "rmsprop": 1e-3}
FULL_TRAINING_SET = 55_000
FINAL_STATES = ("finished", "stopped", "failed")
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


class JobError(RuntimeError):
    """A job cannot be started, stopped or deleted; the message says why in plain words."""


@dataclass(frozen=True)
class JobSpec:
    """What to train: a Keras recipe (or the small builder), and how."""

    name: str  # the new model's name and folder
    recipe: str = "seed002_mlp"  # a recipe of model.training.networks, or CUSTOM
    epochs: int = 2
    batch_size: int = 128
    train_size: int = 5_000  # training digits (the first of the fixed, shuffled training split)
    optimizer: str = "recipe"  # a key of OPTIMIZERS
    learning_rate: float | None = None  # None: the optimizer's default
    augment: bool | None = None  # None: the recipe's
    seed: int = 0
    # The small builder's knobs (recipe == CUSTOM only).
    conv_blocks: int = 2
    filters: int = 16
    dense_units: int = 128
    dropout: float = 0.25

    @classmethod
    def from_dict(cls, raw: dict) -> JobSpec:
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise JobError(f"unknown settings: {', '.join(sorted(unknown))}")
        return cls(**raw)

    def problems(self, recipes: list[str]) -> list[str]:
        """Every setting that is out of range, in words a student understands; [] when fine."""
        found = []
        if not isinstance(self.name, str) or not NAME_PATTERN.fullmatch(self.name):
            found.append("The name must be 1 to 40 lower-case letters, digits, - or _, starting with a letter "
                         "or digit.")
        elif self.name in shipped_archs(MODEL_DIR):
            found.append(f"{self.name} is the name of a model that comes with the app; pick another.")
        if self.recipe not in recipes and self.recipe != CUSTOM:
            found.append(f"There is no network called {self.recipe}.")
        checks = [
            ("epochs", self.epochs, 1, 50, int),
            ("batch size", self.batch_size, 8, 2048, int),
            ("training digits", self.train_size, 500, FULL_TRAINING_SET, int),
            ("seed", self.seed, 0, 10**6, int),
            ("conv blocks", self.conv_blocks, 0, 3, int),
            ("filters", self.filters, 4, 128, int),
            ("dense units", self.dense_units, 0, 2048, int),
            ("dropout", self.dropout, 0.0, 0.9, (int, float)),
        ]
        for label, value, low, high, kind in checks:
            if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
                found.append(f"The {label} must be between {low:,} and {high:,}.")
        if self.optimizer not in OPTIMIZERS:
            found.append(f"There is no optimizer called {self.optimizer}.")
        if self.learning_rate is not None and not (
            isinstance(self.learning_rate, (int, float)) and 1e-6 <= self.learning_rate <= 2.0
        ):
            found.append("The learning rate must be between 0.000001 and 2.")
        if self.augment is not None and not isinstance(self.augment, bool):
            found.append("Augmentation is either on or off.")
        return found


@dataclass
class Job:
    """One training job as the pages see it."""

    id: str
    folder: Path
    spec: JobSpec
    progress: dict = field(default_factory=dict)
    alive: bool = False  # its process is running

    @property
    def state(self) -> str:
        """starting, training, saving (while alive); finished, stopped or failed (after)."""
        reported = self.progress.get("state", "starting")
        if reported in FINAL_STATES or self.alive:
            return reported
        return "failed"

    @property
    def running(self) -> bool:
        return self.state not in FINAL_STATES

    @property
    def message(self) -> str:
        if self.state == "failed" and self.progress.get("state") not in FINAL_STATES:
            return ("The training process ended without finishing: the app's server was stopped or the "
                    "process was killed. Nothing was saved.")
        return self.progress.get("message", "")

    @property
    def fraction_done(self) -> float:
        total = self.progress.get("total") or 0
        return min(1.0, self.progress.get("seen", 0) / total) if total else 0.0

    def eta_seconds(self, now: float | None = None) -> float | None:
        """Seconds until training ends, from the pace so far; None before there is one."""
        began, seen, total = (self.progress.get(k) for k in ("training_started", "seen", "total"))
        if not (began and seen and total) or not self.running:
            return None
        elapsed = max((now or time.time()) - began, 0.0)
        return elapsed / seen * max(total - seen, 0)


def mnist_problem(environ: dict | None = None) -> str | None:
    """What stops a job from finding MNIST, and how to get it; None when it is there."""
    if find_mnist(environ) is not None:
        return None
    return ("Training needs the MNIST digits, and they are not on this computer yet. Press Get MNIST on the "
            f"Train page, or copy the four files {', '.join(IDX_MD5)} into the folder "
            f"{short_path(data_copy_dir(environ))}.")


def teacher_code_required(environ: dict | None = None) -> bool:
    return bool((os.environ if environ is None else environ).get(TEACHER_CODE_ENV))


def passcode_ok(given: str | None, environ: dict | None = None) -> bool:
    """Whether ``given`` is the teacher's passcode (always, when none is set)."""
    expected = (os.environ if environ is None else environ).get(TEACHER_CODE_ENV)
    if not expected:
        return True
    return hmac.compare_digest((given or "").encode(), expected.encode())
