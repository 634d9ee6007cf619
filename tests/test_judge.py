"""The fair judge between one run and an average of runs (model/training/judge.py), on constructed runs
whose right answers are known."""
from __future__ import annotations

import json

import numpy as np
import pytest

from model.training.judge import (
    cross_fitted,
    load_epoch_probabilities,
    load_member_runs,
    main,
    save_epoch_probabilities,
)

N = 5000


def _probabilities(labels: np.ndarray, wrong: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Confident on the right digit, except on ``wrong`` (a boolean mask), where a random other
    digit gets 0.6."""
    p = np.full((len(labels), 10), 0.01, np.float32)
    p[np.arange(len(labels)), labels] = 0.91
    others = (labels + rng.integers(1, 10, len(labels))) % 10
    p[wrong, labels[wrong]] = 0.31
    p[wrong, others[wrong]] = 0.61
    return p.astype(np.float16)


def test_one_run_with_one_epoch_has_nothing_to_choose():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, N)
    wrong = rng.random(N) < 0.02
    verdict = cross_fitted({"only": {1: _probabilities(labels, wrong, rng)}}, labels)
    assert verdict.n == N
    assert verdict.runs == {"only": int(wrong.sum())}
    assert verdict.best_single == verdict.average == int(wrong.sum())


def test_the_best_of_many_epochs_is_scored_without_its_luck():
    # 30 epochs that are all equally good (each digit wrong with chance 10%, independently):
    # picked and scored on the same digits, the best looks better than 90%; cross-fitted, not.
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, N)
    epochs = {e: _probabilities(labels, rng.random(N) < 0.10, rng) for e in range(1, 31)}
    in_sample_best = max(np.mean(p.argmax(1) == labels) for p in epochs.values())
    verdict = cross_fitted({"run": epochs}, labels)
    fair = verdict.accuracy(verdict.runs["run"])
    assert in_sample_best > 0.905  # the flattering figure a run's card reports
    assert abs(fair - 0.90) < 0.01  # 2.4 standard errors of a 5,000-digit figure
    assert fair < in_sample_best


def test_an_average_of_runs_that_err_on_different_digits_is_right_everywhere():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 10, N)
    third = np.arange(N) % 3
    runs = {f"seed{i}": {1: _probabilities(labels, third == i, rng)} for i in range(3)}
    verdict = cross_fitted(runs, labels)
    assert verdict.average == 0
    assert sorted(verdict.runs.values()) == sorted(int((third == i).sum()) for i in range(3))
    assert verdict.best_single > N / 4  # any one of them misses a third


def test_the_best_single_run_is_picked_on_the_other_half():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 10, N)
    good = {1: _probabilities(labels, rng.random(N) < 0.01, rng)}
    poor = {1: _probabilities(labels, rng.random(N) < 0.05, rng)}
    verdict = cross_fitted({"poor": poor, "good": good}, labels)
    assert verdict.best_single == verdict.runs["good"] < verdict.runs["poor"]


def test_the_command_reads_member_folders_and_names_the_ones_it_cannot_use(tmp_path, capsys):
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 10, N)
    for seed, share in ((0, 0.02), (1, 0.03)):
        folder = tmp_path / f"seed{seed}" / "cnn"
        folder.mkdir(parents=True)
        epochs = {e: _probabilities(labels, rng.random(N) < share, rng) for e in (1, 2)}
        save_epoch_probabilities(folder / "validation_probabilities.npz", epochs, labels)
        assert set(load_epoch_probabilities(folder / "validation_probabilities.npz")) == {1, 2}
    (tmp_path / "seed2" / "cnn").mkdir(parents=True)  # a member trained before they were kept
    runs, loaded_labels = load_member_runs(tmp_path, "cnn")
    assert list(runs) == ["seed0", "seed1"] and np.array_equal(loaded_labels, labels)

    assert main(["--members-dir", str(tmp_path), "--json"]) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert printed["n"] == N and set(printed["runs"]) == {"seed0", "seed1"}
    assert printed["average"] == cross_fitted(runs, labels).average
    assert "seed2" in captured.err

    other = tmp_path / "seed3" / "cnn"
    other.mkdir(parents=True)
    save_epoch_probabilities(other / "validation_probabilities.npz", {1: runs["seed0"][1]}, (labels + 1) % 10)
    with pytest.raises(ValueError, match="another split"):
        load_member_runs(tmp_path, "cnn")
    assert main(["--members-dir", str(tmp_path / "nowhere")]) == 2
    assert "kept per-epoch validation probabilities" in capsys.readouterr().err
