"""The Class page's fine-tuning in the background (model/classroom/finetune_runs.py): one run at a time,
however many sessions press at once, and a run whose process ended is not "running" for ever."""
from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from model.classroom import finetune_runs
from model.classroom.finetune import FinetuneError, digits_setting
from model.classroom.finetune_runs import CHECK_DIGITS_ENV, MNIST_DIGITS_ENV
from model.jobs import queue, slot
from model.jobs.job import JobSpec
from model.training.networks import RECIPES


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIGITLAB_DB", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    return tmp_path / "data"


def test_two_presses_at_once_start_one_run(data):
    started, busy = [], []

    def press():
        try:
            started.append(finetune_runs.start("cnn", "cnn_class"))
        except finetune_runs.FinetuneBusy as error:
            busy.append(str(error))

    presses = [threading.Thread(target=press) for _ in range(4)]
    for thread in presses:
        thread.start()
    for thread in presses:
        thread.join()
    try:
        # The run imports TensorFlow for seconds before it can fail on the empty database,
        # so it is alive for every press.
        assert len(started) == 1 and len(busy) == 3, (started, busy)
        assert "cnn_class is being fine-tuned now" in busy[0]
        status = finetune_runs.status()
        assert status["state"] == "running" and status["pid"] == started[0] and status["name"] == "cnn_class"
        with pytest.raises(finetune_runs.FinetuneBusy):
            finetune_runs.start("cnn", "other_class")
    finally:
        for pid in started:
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while finetune_runs.status()["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    # Killed without a word: failed, not a zombie taken for a run.
    status = finetune_runs.status()
    assert status["state"] == "failed" and "stopped" in status["message"]
    assert json.loads(finetune_runs.progress_path().read_text())["pid"] == started[0]


def test_no_fine_tuning_starts_while_a_train_page_job_trains(data, monkeypatch, mnist_dir):
    monkeypatch.setenv("MNIST_DIR", mnist_dir)
    spec = JobSpec(name="mlp-now", recipe="seed002_mlp", epochs=30, train_size=2000)
    queue.start(spec, list(RECIPES))
    try:
        with pytest.raises(slot.SlotTaken, match="mlp-now is training now"):
            finetune_runs.start("cnn", "cnn_class")
        assert finetune_runs.status() is None and queue.slot_holder().spec.name == "mlp-now"
    finally:
        os.kill(slot.running_pid(), signal.SIGKILL)


def test_a_bad_name_starts_nothing(data):
    with pytest.raises(ValueError, match="lower-case"):
        finetune_runs.start("cnn", "../evil")
    assert finetune_runs.status() is None


def test_a_status_of_a_process_that_is_gone_or_reused_is_failed(tmp_path):
    path = tmp_path / "progress.json"
    assert finetune_runs.status(path) is None
    path.write_text(json.dumps({"state": "running", "pid": 2**22 + 12345, "name": "x"}))
    assert finetune_runs.status(path)["state"] == "failed"
    # This process, but started at another time: a later process given the run's id.
    path.write_text(json.dumps({"state": "running", "pid": os.getpid(), "pid_started": -1, "name": "x"}))
    assert finetune_runs.status(path)["state"] == "failed"
    finetune_runs.Progress(path)("running", "Training", 0.5)
    assert finetune_runs.status(path)["state"] == "running"


def test_the_run_size_comes_from_the_command_line_the_environment_or_the_default(monkeypatch):
    monkeypatch.delenv(MNIST_DIGITS_ENV, raising=False)
    assert digits_setting(None, MNIST_DIGITS_ENV, 12_000, "--mnist-digits") == 12_000
    monkeypatch.setenv(MNIST_DIGITS_ENV, " 500 ")
    assert digits_setting(None, MNIST_DIGITS_ENV, 12_000, "--mnist-digits") == 500
    assert digits_setting(800, MNIST_DIGITS_ENV, 12_000, "--mnist-digits") == 800
    monkeypatch.setenv(CHECK_DIGITS_ENV, "lots")
    with pytest.raises(FinetuneError, match=f"{CHECK_DIGITS_ENV} must be a whole number"):
        digits_setting(None, CHECK_DIGITS_ENV, 15_000, "--check-digits")
    with pytest.raises(FinetuneError, match="--check-digits cannot be negative"):
        digits_setting(-1, CHECK_DIGITS_ENV, 15_000, "--check-digits")
