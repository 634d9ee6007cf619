"""Several whole training runs of one recipe, shipped as one model that averages their
probabilities (``python -m model.train --members N``).

Each member is an ordinary run written to ``OUT/.members/seed<S>/<arch>/``, and a member
already there from the same recipe, data and settings is reused rather than trained again: an
ensemble takes hours on a CPU, so a run cut short resumes at the next unfinished member (and
that member after its last finished epoch). Separate runs (their own initialisation, shuffling
and augmentation) make the members differ more than training them side by side on the same
batches does, and averaging pays only for the errors they do not share.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from model.data.mnist import Split
from model.training.config import TrainConfig
from model.training.judge import judge_members
from model.training.networks import Recipe
from model.training.results import TrainResult, describe_optimizer, epoch_rank, keras_result, validation_accuracy

MEMBERS_DIR = ".members"  # under --out; each member's own artifacts, kept out of git


def train_ensemble(
    config: TrainConfig, recipe: Recipe, val: Split, checksums: dict, train_member: Callable[[TrainConfig], dict]
) -> TrainResult:
    """``config.members`` runs of seeds ``config.seed``, ``config.seed + 1``, ... averaged.
    ``train_member(member_config)`` trains one run and returns its card (``model.train.run``)."""
    arch, members = config.arch, config.members
    cards, histories, networks = [], [], []
    for i in range(members):
        member = replace(config, seed=config.seed + i, out=config.out / MEMBERS_DIR / f"seed{config.seed + i}",
                         members=None, as_member=True)
        folder = member.out / arch
        card = reusable_member(folder, member, recipe, checksums)
        if card is None:
            print(f"member {i + 1}/{members}: training {arch}, seed {member.seed} -> {folder}", flush=True)
            card = train_member(member)
        else:
            print(f"member {i + 1}/{members}: reusing {folder} (trained {card['date']})", flush=True)
        trained = keras.models.load_model(folder / "model.keras", safe_mode=True, compile=False)
        # Renamed: two networks of one name cannot sit side by side in the averaging model.
        network = recipe.build(name=arch if members == 1 else f"{arch}_seed{member.seed}")
        network.set_weights(trained.get_weights())
        cards.append(card)
        histories.append(json.loads((folder / "history.json").read_text()))
        networks.append(network)

    member_runs = [_member_run(c, h) for c, h in zip(cards, histories)]
    if members == 1:  # one finished run, taken as it is (and given the recipe's finishing steps)
        history = histories[0]
        result = keras_result(networks[0], history["epochs"], history["best_epoch"], cards[0]["optimizer"],
                              {**recipe.card_fields(1), "member_runs": member_runs})
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
    best_epoch = max(mean_rows, key=epoch_rank)["epoch"]

    result = keras_result(model, mean_rows, best_epoch, cards[0]["optimizer"], {})
    result.extras = {
        **recipe.card_fields(members),
        # The choice between an ensemble and one network is made here, on validation digits.
        "validation_accuracy": validation_accuracy(result.predict_proba, val),
        "member_runs": member_runs,
    }
    judged = judge_members(config.out / MEMBERS_DIR, arch, [c["seed"] for c in cards])
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


def reusable_member(folder: Path, member: TrainConfig, recipe: Recipe, checksums: dict) -> dict | None:
    """The card of a finished member in ``folder`` trained exactly as ``member`` would be (same
    recipe, seed, epochs, batch size, digits and data), else None."""
    try:
        card = json.loads((folder / "card.json").read_text())
    except (OSError, ValueError):
        return None
    if not (folder / "model.keras").is_file() or not (folder / "history.json").is_file():
        return None
    steps_per_epoch = int(np.ceil(card.get("train_size", 0) / member.batch_size)) or 1
    expected = {
        "arch": member.arch,
        "seed": member.seed,
        "epochs": member.epochs,
        "batch_size": member.batch_size,
        "limit": member.limit,
        "augment": recipe.augment,
        "optimizer": describe_optimizer(recipe.optimizer(steps_per_epoch)),
        "params": int(recipe.build().count_params()),
    }
    found = {key: card.get(key) for key in expected}
    if found != expected or card.get("data", {}).get("checksums") != checksums:
        return None
    # A card without the flag comes from a recipe that varied the stroke width whenever it augmented.
    if card.get("vary_stroke_width", recipe.vary_stroke_width) != recipe.vary_stroke_width:
        return None
    return card
