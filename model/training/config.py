"""Every setting of one training run, in one object: what ``python -m model.train`` parses its
command line into, what the Train page's jobs are built from, and what a run compares with the
progress an interrupted run left behind before carrying it on."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from model import MODEL_DIR


@dataclass(frozen=True)
class TrainConfig:
    arch: str = "cnn"  # a recipe: model.training.networks.RECIPES or model.scratch.SCRATCH_RECIPES
    epochs: int | None = None  # None: the recipe's
    batch_size: int | None = None  # None: the recipe's
    seed: int = 0
    data_dir: str | None = None  # the MNIST folder; None: $MNIST_DIR
    out: Path = MODEL_DIR  # the artifacts go to out/<name>/
    name: str | None = None  # the model's folder and name; None: arch
    limit: int | None = None  # only the first N digits of every split (smoke runs)
    train_size: int | None = None  # only the first N training digits (validation and test stay whole)
    # Build the model from N runs of seeds seed..seed+N-1 and ship their average; None: the
    # recipe's (a number, even 1, builds it from member runs, reusing finished ones).
    members: int | None = None
    as_member: bool = False  # one run of an ensemble: written as trained, without finishing steps
    resumable: bool = True  # keep each epoch's state in out/.progress so a rerun carries on

    @property
    def model_name(self) -> str:
        return self.name or self.arch

    def with_recipe_defaults(self, recipe) -> TrainConfig:
        """The same settings with the recipe's epochs and batch size filled in where unset."""
        return replace(self, epochs=self.epochs or recipe.epochs, batch_size=self.batch_size or recipe.batch_size)

    def resume_settings(self, checksums: dict) -> dict:
        """What a run must share with an interrupted one to carry on from its progress."""
        settings = {"arch": self.arch, "seed": self.seed, "epochs": self.epochs, "batch_size": self.batch_size,
                    "limit": self.limit, "data": checksums}
        if self.train_size is not None:
            settings["train_size"] = self.train_size
        return settings
