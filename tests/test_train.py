"""Training: every architecture learns, artifacts are complete, consistent and written atomically."""
from __future__ import annotations

import json
import os
import shutil
import signal
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from model.serving.artifacts import weights_digests
from model.train import ARTIFACT_FILES, run, write_artifacts_atomically
from model.training.config import TrainConfig
from model.training.networks import RECIPES

ROOT = Path(__file__).resolve().parents[1]


# A line of TensorFlow's or LiteRT's C++ logging: "I0000 00:00:17...", absl's warning, XNNPACK's.
NATIVE_LOG_LINE = re.compile(r"^[IWEF]\d{4} |absl::|oneDNN|XNNPACK|Saved artifact", re.M)


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(RECIPES))
def test_every_architecture_builds_and_learns(arch, mnist):
    import keras

    keras.utils.set_random_seed(0)
    recipe = RECIPES[arch]
    model = recipe.build()
    assert model.output_shape == (None, 10)
    model.compile(optimizer=recipe.optimizer(10), loss="sparse_categorical_crossentropy")
    x = (mnist.train.images[:512].astype(np.float32) / 255)[..., None]
    y = mnist.train.labels[:512]
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=64, epochs=2, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert np.isfinite(after) and after < before, (before, after)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, mnist_dir):
    out = tmp_path_factory.mktemp("artifacts")
    card = run(TrainConfig("seed000_cnn", epochs=2, batch_size=128, seed=3, data_dir=mnist_dir, out=out, limit=3000))
    return out, card


@pytest.mark.slow
def test_artifact_set_is_complete_and_consistent(tiny_run):
    out, card = tiny_run
    folder = out / "seed000_cnn"
    for name in ARTIFACT_FILES + ("model.keras", "model.tflite"):
        assert (folder / name).is_file(), name
    history = json.loads((folder / "history.json").read_text())
    evaluation = json.loads((folder / "evaluation.json").read_text())
    assert card == json.loads((folder / "card.json").read_text())
    assert card["sha256"] == weights_digests(folder) and set(card["sha256"]) == {"model.keras", "model.tflite"}

    assert [row["epoch"] for row in history["epochs"]] == [1, 2]
    for row in history["epochs"]:
        assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"} <= row.keys()
    best = history["epochs"][history["best_epoch"] - 1]
    assert best["val_accuracy"] == max(r["val_accuracy"] for r in history["epochs"])

    matrix = np.array(evaluation["confusion_matrix"])
    n = evaluation["n"]
    assert n == 3000 == matrix.sum()
    assert evaluation["accuracy"] == pytest.approx(np.trace(matrix) / n)
    assert evaluation["errors"] == n - np.trace(matrix) == len(evaluation["misclassified"])
    assert [c["support"] for c in evaluation["per_class"]] == matrix.sum(axis=1).tolist()
    for c in evaluation["per_class"]:
        d = c["digit"]
        assert c["recall"] == pytest.approx(matrix[d, d] / matrix[d].sum())
    for wrong in evaluation["misclassified"][:20]:
        assert wrong["true"] != wrong["predicted"] == int(np.argmax(wrong["probabilities"]))
        assert np.array(wrong["pixels"]).shape == (28, 28)
    assert 0.80 < evaluation["accuracy"] <= 1.0

    assert card["test_accuracy"] == evaluation["accuracy"]
    assert card["test_errors"] == evaluation["errors"]
    assert card["epochs"] == 2 and card["seed"] == 3 and card["best_epoch"] == history["best_epoch"]
    assert card["params"] == sum(layer["params"] for layer in card["layers"]) > 0
    assert card["data"]["checksums"]["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert card["train_seconds"] > 0 and card["date"].startswith("20")


@pytest.mark.slow
def test_evaluate_json_reports_the_same_accuracy(tiny_run, mnist_dir):
    out, card = tiny_run
    result = subprocess.run(
        [sys.executable, "-m", "model.serving.evaluate", "--arch", "seed000_cnn", "--model-dir", str(out),
         "--data-dir", mnist_dir, "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["arch"] == "seed000_cnn" and summary["n"] == 10_000
    assert {"accuracy", "loss", "n"} <= summary.keys()
    # The tiny run was scored on 3,000 test digits, this on all 10,000: close, not equal.
    assert abs(summary["accuracy"] - card["test_accuracy"]) < 0.03


def test_evaluate_names_a_wrong_data_dir(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "model.serving.evaluate", "--arch", "cnn", "--data-dir", str(tmp_path / "x"), "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert result.returncode == 2
    assert "no such directory" in result.stderr and "Traceback" not in result.stderr


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_failing_write_leaves_old_artifacts_intact(tmp_path):
    target = tmp_path / "cnn"
    target.mkdir()
    (target / "card.json").write_text('{"old": true}')
    before = _snapshot(target)

    def half_written(folder: Path):
        (folder / "card.json").write_text('{"new": true}')
        raise KeyboardInterrupt  # as if Ctrl-C arrived mid-write

    with pytest.raises(KeyboardInterrupt):
        write_artifacts_atomically(target, half_written)
    assert _snapshot(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["cnn"]  # no staging folder left behind

    write_artifacts_atomically(target, lambda f: (f / "card.json").write_text('{"new": true}'))
    assert (target / "card.json").read_text() == '{"new": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["cnn"]


@pytest.mark.slow
def test_killed_training_leaves_old_artifacts_intact(tiny_run, mnist_dir, tmp_path):
    out, _ = tiny_run
    before = _snapshot(out / "seed000_cnn")
    process = subprocess.Popen(
        [sys.executable, "-m", "model.train", "--arch", "seed000_cnn", "--epochs", "50",
         "--limit", "3000", "--data-dir", mnist_dir, "--out", str(out)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    time.sleep(12)  # well into training: 50 epochs take far longer
    assert process.poll() is None, "training ended before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert _snapshot(out / "seed000_cnn") == before


def _shift(images: np.ndarray, down: int, right: int) -> np.ndarray:
    """``images`` (N, 28, 28, 1) moved by whole pixels, zeros coming in at the edges."""
    moved = np.zeros_like(images)
    h, w = images.shape[1:3]
    moved[:, max(down, 0): h + min(down, 0), max(right, 0): w + min(right, 0)] = \
        images[:, max(-down, 0): h + min(-down, 0), max(-right, 0): w + min(-right, 0)]
    return moved


def test_shift_averaging_averages_the_network_over_moved_copies(mnist, tmp_path):
    import keras

    from model.training.networks import SHIFTS, shift_averaged

    keras.utils.set_random_seed(0)
    network = RECIPES["seed002_cnn"].build()
    x = (mnist.test.images[:16].astype(np.float32) / 255)[..., None]
    expected = np.mean([network(_shift(x, d, r), training=False) for d, r in [(0, 0), *SHIFTS]], axis=0)
    wrapped = shift_averaged(network, "shifted")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(wrapped(x, training=False)), expected, atol=1e-6)
    assert wrapped.count_params() == network.count_params()  # no weights of its own
    assert sorted(SHIFTS) == [(-1, 0), (0, -1), (0, 1), (1, 0)]
    # It saves, loads in safe mode and runs on LiteRT like any shipped model.
    from model.serving.inference import load_forward
    from model.train import export_litert

    wrapped.save(tmp_path / "model.keras")
    export_litert(wrapped, tmp_path / "model.tflite")
    loaded = keras.models.load_model(tmp_path / "model.keras", safe_mode=True, compile=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x, training=False)), expected, atol=1e-6)
    runtime, forward = load_forward(tmp_path, "shifted")
    assert runtime == "litert"
    np.testing.assert_allclose(forward(x[..., 0]), expected, atol=1e-5)


@pytest.mark.slow
def test_training_ships_shift_averaging_only_when_validation_prefers_it(mnist_dir, tmp_path, monkeypatch):
    import dataclasses

    import keras

    monkeypatch.setitem(RECIPES, "seed000_cnn", dataclasses.replace(RECIPES["seed000_cnn"], shift_averaging=True))
    card = run(TrainConfig("seed000_cnn", epochs=1, batch_size=128, seed=0, data_dir=mnist_dir, out=tmp_path,
                           limit=2000))
    choice = card["shift_averaging"]
    with_, without = choice["validation_accuracy_with"], choice["validation_accuracy_without"]
    assert choice["shipped"] == (with_ > without)
    assert card["validation_accuracy"] == max(with_, without)
    model = keras.models.load_model(tmp_path / "seed000_cnn" / "model.keras", safe_mode=True, compile=False)
    assert ("Cropping2D" in [layer["type"] for layer in card["layers"]]) == choice["shipped"]
    assert any(isinstance(layer, keras.layers.Cropping2D) for layer in model.layers) == choice["shipped"]
    if choice["shipped"]:
        from model.training.networks import SHIFTS

        network = model.layers[-2]
        x = np.random.default_rng(1).random((4, 28, 28, 1), dtype=np.float32)
        expected = np.mean([network(_shift(x, d, r), training=False) for d, r in [(0, 0), *SHIFTS]], axis=0)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x, training=False)), expected, atol=1e-6)


@pytest.mark.slow
def test_an_ensemble_ships_the_average_of_its_members_and_resumes(mnist_dir, tmp_path, capsys, monkeypatch):
    import dataclasses

    import keras

    from model.serving.inference import load_classifier
    from model.training.ensemble import MEMBERS_DIR, reusable_member
    from model.training.judge import VALIDATION_PROBABILITIES, cross_fitted, load_epoch_probabilities

    # Shift averaging is tested on its own above; here the shipped model is the plain average.
    monkeypatch.setitem(RECIPES, "cnn", dataclasses.replace(RECIPES["cnn"], shift_averaging=False))
    members = 2
    settings = dict(epochs=1, batch_size=64, seed=5, data_dir=mnist_dir, out=tmp_path, limit=640, members=members)
    card = run(TrainConfig("cnn", **settings))
    assert card["members"] == members
    assert [m["seed"] for m in card["member_runs"]] == [5, 6]
    assert [layer["type"] for layer in card["layers"]] == ["InputLayer"] + ["Functional"] * members + ["Average"]
    assert card["params"] == members * RECIPES["cnn"].build().count_params()
    # Each member is a whole run of its own, with its own artifacts.
    member_cards = [json.loads((tmp_path / MEMBERS_DIR / f"seed{s}" / "cnn" / "card.json").read_text())
                    for s in (5, 6)]
    assert [c["seed"] for c in member_cards] == [5, 6]
    assert card["train_seconds"] == pytest.approx(sum(c["train_seconds"] for c in member_cards), abs=0.2)
    history = json.loads((tmp_path / "cnn" / "history.json").read_text())
    assert [m["seed"] for m in history["members"]] == [5, 6]
    assert history["epochs"][0]["val_accuracy"] == pytest.approx(
        np.mean([m["epochs"][0]["val_accuracy"] for m in history["members"]]))

    model = keras.models.load_model(tmp_path / "cnn" / "model.keras", safe_mode=True, compile=False)
    x = np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32)
    average = np.mean([keras.ops.convert_to_numpy(m(x, training=False)) for m in model.layers[1:-1]], axis=0)
    shipped = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(shipped, average, atol=1e-6)
    # Each member is the network its own run saved, and the members differ.
    first = keras.models.load_model(tmp_path / MEMBERS_DIR / "seed5" / "cnn" / "model.keras", compile=False)
    np.testing.assert_allclose(model.layers[1](x, training=False), first(x, training=False), atol=1e-6)
    second = keras.ops.convert_to_numpy(model.layers[2](x, training=False))
    assert np.abs(keras.ops.convert_to_numpy(first(x, training=False)) - second).max() > 1e-3
    # What the Draw page runs (LiteRT) is the same averaged model.
    np.testing.assert_allclose(load_classifier("cnn", tmp_path).predict_proba(x[..., 0]), shipped, atol=1e-5)

    # Each member keeps every epoch's validation probabilities (they agree with its curve), and
    # the ensemble's card carries the fair judge's figures computed from them.
    kept = {}
    for seed, member in zip((5, 6), history["members"]):
        path = tmp_path / MEMBERS_DIR / f"seed{seed}" / "cnn" / VALIDATION_PROBABILITIES
        kept[f"seed{seed}"] = load_epoch_probabilities(path)
        labels = np.load(path)["labels"]
        assert list(kept[f"seed{seed}"]) == [1] and kept[f"seed{seed}"][1].shape == (len(labels), 10)
        right = np.mean(kept[f"seed{seed}"][1].argmax(axis=1) == labels)
        assert right == pytest.approx(member["epochs"][0]["val_accuracy"], abs=1.5 / len(labels))
    assert card["fair_judge"] == dataclasses.asdict(cross_fitted(kept, labels))
    mean = (kept["seed5"][1].astype(np.float32) + kept["seed6"][1]) / 2
    assert card["fair_judge"]["average"] == int(np.sum(mean.argmax(axis=1) != labels))
    assert not (tmp_path / "cnn" / VALIDATION_PROBABILITIES).exists()  # shipped models: not in git

    # Run again with one member gone: only that one trains; the others are reused as they were.
    kept = _snapshot(tmp_path / MEMBERS_DIR / "seed5" / "cnn")
    shutil.rmtree(tmp_path / MEMBERS_DIR / "seed6")
    capsys.readouterr()
    again = run(TrainConfig("cnn", **settings))
    printed = capsys.readouterr().out
    assert "member 1/2: reusing" in printed
    assert "member 2/2: training cnn, seed 6" in printed
    assert _snapshot(tmp_path / MEMBERS_DIR / "seed5" / "cnn") == kept
    assert again["member_runs"][0] == card["member_runs"][0]
    # --members 1 ships one finished run as it is, without training.
    capsys.readouterr()
    single = run(TrainConfig("cnn", **{**settings, "members": 1}))
    assert "member 1/1: reusing" in capsys.readouterr().out
    assert single["members"] == 1 and single["params"] == RECIPES["cnn"].build().count_params()
    assert single["best_epoch"] == member_cards[0]["best_epoch"]
    shipped_single = keras.models.load_model(tmp_path / "cnn" / "model.keras", compile=False)
    np.testing.assert_allclose(shipped_single(x, training=False), first(x, training=False), atol=1e-6)

    # A member trained differently (other epochs, batch size or data) is never mixed in.
    folder, checksums = tmp_path / MEMBERS_DIR / "seed5" / "cnn", member_cards[0]["data"]["checksums"]
    member = TrainConfig("cnn", epochs=1, batch_size=64, seed=5, limit=640)

    def reusable(**changes):
        return reusable_member(folder, dataclasses.replace(member, **changes), RECIPES["cnn"], checksums)

    assert reusable() == member_cards[0]
    assert reusable(epochs=2) is None
    assert reusable(batch_size=128) is None
    assert reusable(limit=None) is None
    assert reusable_member(folder, member, RECIPES["cnn"], {**checksums, "t10k-labels-idx1-ubyte.gz": "0"}) is None


@pytest.mark.slow
def test_train_speed_bench_measures_the_real_loop(mnist):
    from bench import train_speed
    from model.data.mnist import Split

    train = Split(mnist.train.images[:1024], mnist.train.labels[:1024])
    val = Split(mnist.train.images[-256:], mnist.train.labels[-256:])
    row = train_speed.measure("seed002_mlp", train, val, epochs=2)
    assert row["images_per_second"] > 100
    assert row["seconds_per_epoch"] == pytest.approx(55_000 / row["images_per_second"])
    history = ROOT / "model" / "cnn" / "history.json"
    reached = train_speed.time_to_accuracy(history)
    rows = json.loads(history.read_text())["epochs"]
    first = next(r for r in rows if r["val_accuracy"] >= 0.99)
    assert reached["epoch"] == first["epoch"]
    assert reached["seconds"] == pytest.approx(sum(r["seconds"] for r in rows[: first["epoch"]]))


@pytest.mark.slow
def test_published_nets_bench_times_real_training_steps():
    from bench import published_nets

    rows = {r["network"]: r for r in published_nets.measure(steps=2, warmup=1, inference=False)}
    assert all(r["litert_ms"] is None for r in rows.values())
    print(published_nets.report(list(rows.values())))
    ours = rows.pop("cnn (ours)")
    assert ours["ratio"] == 1.0 and ours["params"] == 326_826
    epochs = json.loads((ROOT / "model" / "cnn" / "history.json").read_text())["epochs"]
    assert ours["epoch_minutes"] == pytest.approx(np.median([e["seconds"] for e in epochs]) / 60)
    for row in rows.values():  # networks over three times our size cost more a step
        assert row["params"] > 3 * ours["params"]
        assert row["ratio"] > 1.5
        assert row["published_run_hours"] == pytest.approx(row["epoch_minutes"] * 300 / 60)


@pytest.mark.slow
def test_an_interrupted_training_resumes_after_its_last_finished_epoch(mnist_dir, tmp_path):
    from model.training.ensemble import MEMBERS_DIR
    from model.training.judge import VALIDATION_PROBABILITIES, load_epoch_probabilities
    from model.training.progress import PROGRESS_DIR

    # As an ensemble member (under .members), so its artifacts keep every epoch's probabilities.
    tmp_path = tmp_path / MEMBERS_DIR / "seed2"
    command = [sys.executable, "-m", "model.train", "--arch", "seed000_cnn", "--epochs", "4", "--limit", "3000",
               "--seed", "2", "--data-dir", mnist_dir, "--out", str(tmp_path)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    state = tmp_path / PROGRESS_DIR / "seed000_cnn-seed2" / "state.json"
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 240
    while not (state.is_file() and len(json.loads(state.read_text())["rows"]) >= 2):
        assert process.poll() is None, "training ended before it could be interrupted"
        assert time.monotonic() < deadline, "no epoch finished within 240 s"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    saved = json.loads(state.read_text())["rows"]
    saved_probabilities = load_epoch_probabilities(state.parent / VALIDATION_PROBABILITIES)
    assert list(saved_probabilities) == [r["epoch"] for r in saved]
    assert not (tmp_path / "seed000_cnn").exists()

    # Without TF_CPP_MIN_LOG_LEVEL, as a student runs it: nothing from TensorFlow's C++ side.
    quiet_env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=quiet_env, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert not NATIVE_LOG_LINE.search(finished.stderr), finished.stderr[-2000:]
    assert f"resuming after epoch {len(saved)}" in finished.stdout
    history = json.loads((tmp_path / "seed000_cnn" / "history.json").read_text())
    card = json.loads((tmp_path / "seed000_cnn" / "card.json").read_text())
    # The epochs done before the kill are kept as they were, the rest were trained after it.
    assert [r["epoch"] for r in history["epochs"]] == [1, 2, 3, 4]
    assert history["epochs"][: len(saved)] == saved
    assert card["resumed_after_epoch"] == [len(saved)]
    # Every epoch's validation probabilities, those from before the kill as they were.
    probabilities = load_epoch_probabilities(tmp_path / "seed000_cnn" / VALIDATION_PROBABILITIES)
    assert list(probabilities) == [1, 2, 3, 4]
    for epoch, p in saved_probabilities.items():
        np.testing.assert_array_equal(probabilities[epoch], p)
    assert card["test_accuracy"] > 0.8
    # The learning-rate schedule carried on (the optimizer's step count was restored).
    rates = [r["learning_rate"] for r in history["epochs"]]
    assert rates == sorted(rates, reverse=True) and len(set(rates)) == 4
    assert not (tmp_path / PROGRESS_DIR / "seed000_cnn-seed2").exists()  # cleaned up once written
