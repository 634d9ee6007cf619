"""A fair figure for one run and for an average of runs, from the validation digits alone.

    python -m model.training.judge [--arch cnn] [--members-dir model/.members] [--json]

Every run keeps its best epoch on the validation digits, so its validation accuracy is the best
of ~30 noisy draws and flatters it against an average of runs. Cross-fitting removes that
without spending a single training digit: split the validation digits in two at random; for
each half, make every choice on the other half only (each run's best epoch, and which run is
the best single one), then count the errors on this half. Summed over both halves, every
digit is scored by choices it played no part in.

It reads the ``validation_probabilities.npz`` each member run keeps (every epoch's
probabilities and the labels; see ``model.train``).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from model import MODEL_DIR

SPLIT_SEED = 0
# Every epoch's validation probabilities, kept by ``model.train`` with a run's progress and with
# each ensemble member (OUT/.members/...); not with shipped models, where 30 x 5,000 x 10
# float32s (6 MB) per retraining would go into git. Not float16: near 0.1 it keeps about four
# digits, and an early epoch's near-even probabilities rounded to it tie, so argmax took the lower
# class and the kept figures disagreed with the run's own val_accuracy (CI, stop 35).
VALIDATION_PROBABILITIES = "validation_probabilities.npz"


def save_epoch_probabilities(path: Path, by_epoch: dict[int, np.ndarray], labels: np.ndarray) -> None:
    """With the labels, so that the file alone is enough to judge."""
    epochs = sorted(by_epoch)
    empty = np.zeros((0, len(labels), 10), np.float32)
    stacked = np.stack([by_epoch[e] for e in epochs]) if epochs else empty
    np.savez_compressed(path, epochs=np.asarray(epochs, np.int32), probabilities=stacked,
                        labels=np.asarray(labels, np.uint8))


def _read(path: Path) -> tuple[dict[int, np.ndarray], np.ndarray | None]:
    try:
        with np.load(path) as saved:
            by_epoch = {int(e): p for e, p in zip(saved["epochs"], saved["probabilities"])}
            return by_epoch, saved["labels"]
    except (OSError, KeyError, ValueError):
        return {}, None


def load_epoch_probabilities(path: Path) -> dict[int, np.ndarray]:
    """epoch -> (N, 10) probabilities from :func:`save_epoch_probabilities`; {} if none kept."""
    return _read(path)[0]


@dataclass(frozen=True)
class Verdict:
    n: int  # validation digits, each scored once
    runs: dict[str, int]  # each run alone, its epoch chosen on the other half: errors
    best_single: int  # the run that looks best on the other half, scored here: errors
    average: int  # all runs averaged, each at its epoch chosen on the other half: errors

    def accuracy(self, errors: int) -> float:
        return 1.0 - errors / self.n


def _chosen_epoch(by_epoch: dict[int, np.ndarray], labels: np.ndarray, rows: np.ndarray) -> int:
    """The epoch with the most right on ``rows``; on a tie the lower log loss (as training does)."""

    def key(epoch: int) -> tuple[float, float]:
        p = by_epoch[epoch][rows].astype(np.float32)
        right = float(np.mean(p.argmax(axis=1) == labels[rows]))
        loss = float(-np.mean(np.log(np.clip(p[np.arange(len(rows)), labels[rows]], 1e-7, 1.0))))
        return right, -loss

    return max(sorted(by_epoch), key=key)


def _errors(p: np.ndarray, labels: np.ndarray) -> int:
    return int(np.sum(p.argmax(axis=1) != labels))


def cross_fitted(
    runs: dict[str, dict[int, np.ndarray]], labels: np.ndarray, seed: int = SPLIT_SEED
) -> Verdict:
    """Errors of each run, of the best single run and of the average of all runs, every choice
    made on the half of the validation digits that is not being scored."""
    labels = np.asarray(labels)
    if not runs or any(not by_epoch for by_epoch in runs.values()):
        raise ValueError("every run needs at least one epoch of validation probabilities")
    order = np.random.default_rng(seed).permutation(len(labels))
    halves = (np.sort(order[: len(labels) // 2]), np.sort(order[len(labels) // 2:]))
    per_run = dict.fromkeys(runs, 0)
    best_single = average = 0
    for scored, chooser in (halves, halves[::-1]):
        chosen = {name: by_epoch[_chosen_epoch(by_epoch, labels, chooser)] for name, by_epoch in runs.items()}
        for name, p in chosen.items():
            per_run[name] += _errors(p[scored], labels[scored])
        # Fewest errors on the choosing half; on a tie the first run (the lowest seed).
        pick = min(runs, key=lambda name: _errors(chosen[name][chooser], labels[chooser]))
        best_single += _errors(chosen[pick][scored], labels[scored])
        mean = np.mean([p[scored].astype(np.float32) for p in chosen.values()], axis=0)
        average += _errors(mean, labels[scored])
    return Verdict(len(labels), per_run, best_single, average)


def load_runs(paths: dict[str, Path]) -> tuple[dict[str, dict[int, np.ndarray]], np.ndarray | None]:
    """The runs whose file kept per-epoch probabilities (the others named on stderr: trained
    before they were kept), and the validation labels they share."""
    runs, labels = {}, None
    for name, path in paths.items():
        by_epoch, these = _read(path)
        if not by_epoch:
            print(f"note: {path} is missing or empty: {name} is left out", file=sys.stderr)
            continue
        if labels is not None and not np.array_equal(labels, these):
            raise ValueError(f"{path}: its validation digits are not the other runs' (another split)")
        runs[name], labels = by_epoch, these
    return runs, labels


def _member_files(members_dir: Path, arch: str, seeds: list[int]) -> dict[str, Path]:
    return {f"seed{s}": Path(members_dir) / f"seed{s}" / arch / VALIDATION_PROBABILITIES for s in seeds}


def judge_members(members_dir: Path, arch: str, seeds: list[int]) -> dict | None:
    """The verdict on these members (as a dict, for a card) when every one of them kept its
    per-epoch validation probabilities; else None."""
    files = _member_files(members_dir, arch, seeds)
    runs, labels = load_runs(files)
    return asdict(cross_fitted(runs, labels)) if len(runs) == len(files) else None


def load_member_runs(members_dir: Path, arch: str) -> tuple[dict[str, dict[int, np.ndarray]], np.ndarray]:
    """Every finished member of ``arch`` under ``members_dir`` (``seed<S>/<arch>/``) that kept
    its per-epoch validation probabilities, by seed."""
    found = [f.parent.name[4:] for f in Path(members_dir).glob(f"seed*/{arch}")]
    seeds = sorted(int(s) for s in found if s.isdigit())
    runs, labels = load_runs(_member_files(members_dir, arch, seeds))
    if not runs:
        raise FileNotFoundError(
            f"no member of {arch!r} under {members_dir} kept per-epoch validation probabilities")
    return runs, labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Judge one run against the average of runs, fairly.")
    parser.add_argument("--arch", default="cnn")
    parser.add_argument("--members-dir", type=Path, default=MODEL_DIR / ".members")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        runs, labels = load_member_runs(args.members_dir, args.arch)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    verdict = cross_fitted(runs, labels)
    if args.json:
        print(json.dumps({"arch": args.arch, **asdict(verdict)}))
        return 0
    print(f"{args.arch}: {verdict.n} validation digits, each scored with choices made on the other half")
    for name, errors in verdict.runs.items():
        print(f"  {name:>10}: {errors:3d} errors  {verdict.accuracy(errors):.2%}")
    print(f"  {'best one':>10}: {verdict.best_single:3d} errors  {verdict.accuracy(verdict.best_single):.2%}")
    print(f"  {'average':>10}: {verdict.average:3d} errors  {verdict.accuracy(verdict.average):.2%}"
          f"  ({len(runs)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
