"""Training jobs (model.jobs): settings checked, one at a time, Stop keeps the best epoch, a
killed job or server shows as failed with no half-written model, and queued runs start by
themselves, in order, when the slot comes free. Real processes, real MNIST."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from model.jobs import queue, slot
from model.jobs.job import (
    CUSTOM,
    TEACHER_CODE_ENV,
    Job,
    JobError,
    JobSpec,
    mnist_problem,
    passcode_ok,
    teacher_code_required,
)
from model.jobs.job import OPTIMIZERS as STARTING_RATES
from model.jobs.models import delete_model, models_dir, recipe_choices, user_models
from model.jobs.processes import process_alive
from model.training.networks import OPTIMIZERS, RECIPES

ROOT = Path(__file__).resolve().parents[1]
WAIT = 240  # s; generous: the machine is shared and the job runs at low priority


@pytest.fixture
def data_dir(tmp_path, monkeypatch, mnist_dir):
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MNIST_DIR", mnist_dir)
    monkeypatch.delenv(TEACHER_CODE_ENV, raising=False)
    yield tmp_path
    for run in queue.queued():  # never leave a training behind, nor one waiting to start
        queue.dequeue(run.id)
    pid = slot.running_pid()
    if pid is not None and process_alive(pid):
        os.kill(pid, signal.SIGKILL)


def wait_for(condition, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s; last status {queue.status()}"
        time.sleep(0.2)


def lock_holder() -> tuple[Job | None, int | None]:
    """The job in the slot and its process id, read without starting a queued run (as status() would)."""
    lock = slot.read_json(slot.training_dir() / "lock.json") or {}
    return (slot.load_job(lock["job"]) if "job" in lock else None), lock.get("pid")


def listening_for_stop(job_id: str) -> bool:
    """The job has read its settings, so SIGTERM is a stop request from here on, not a kill."""
    return "total" in (slot.read_json(slot.training_dir() / job_id / "progress.json") or {})


def training_with_an_epoch_done():
    job = queue.status()
    return job if job is not None and job.state == "training" and job.progress.get("rows") else None


def test_the_page_offers_every_keras_recipe_and_optimizer():
    assert set(recipe_choices()) == set(RECIPES)
    assert set(STARTING_RATES) - {"recipe"} == set(OPTIMIZERS)


def test_bad_settings_are_refused_in_plain_words(data_dir):
    recipes = list(RECIPES)
    assert JobSpec(name="mlp-demo").problems(recipes) == []
    assert JobSpec(name="cnn").problems(recipes) == [
        "cnn is the name of a model that comes with the app; pick another."]
    for bad in ("", "../x", "Big", "a" * 41, "a b"):
        assert "The name must be" in JobSpec(name=bad).problems(recipes)[0]
    problems = JobSpec(name="x", recipe="nope", epochs=0, train_size=10**6, dropout=2.0, optimizer="adagrad",
                       learning_rate=5.0, conv_blocks=9).problems(recipes)
    assert problems == [
        "There is no network called nope.",
        "The epochs must be between 1 and 50.",
        "The training digits must be between 500 and 55,000.",
        "The conv blocks must be between 0 and 3.",
        "The dropout must be between 0.0 and 0.9.",
        "There is no optimizer called adagrad.",
        "The learning rate must be between 0.000001 and 2.",
    ]
    with pytest.raises(JobError, match="unknown settings: evil"):
        JobSpec.from_dict({"name": "x", "evil": 1})
    with pytest.raises(JobError, match="There is no network"):
        queue.start(JobSpec(name="x", recipe="nope"), recipes)
    assert queue.status() is None  # nothing was started


def test_without_mnist_the_message_says_how_to_get_it(tmp_path):
    fresh = {"DIGITLAB_DATA_DIR": str(tmp_path / "data")}
    for environ in (fresh, {**fresh, "MNIST_DIR": str(tmp_path)}):
        problem = mnist_problem(environ)
        assert "Press Get MNIST on the Train page" in problem and "t10k-labels-idx1-ubyte.gz" in problem
        assert str(tmp_path) not in problem  # no server path on a page


def test_with_mnist_there_is_no_problem(mnist_dir, tmp_path):
    assert mnist_problem({"MNIST_DIR": mnist_dir, "DIGITLAB_DATA_DIR": str(tmp_path)}) is None


def test_teacher_passcode():
    assert passcode_ok("anything", {})
    assert not teacher_code_required({})
    env = {TEACHER_CODE_ENV: "owl-42"}
    assert teacher_code_required(env)
    assert passcode_ok("owl-42", env)
    assert not passcode_ok("owl-4", env) and not passcode_ok(None, env)


@pytest.mark.slow
def test_stop_keeps_the_best_epoch_and_one_job_at_a_time(data_dir):
    spec = JobSpec(name="mlp-stopped", recipe="seed002_mlp", epochs=30, train_size=2000, batch_size=64)
    job = queue.start(spec, list(RECIPES))
    assert job.running
    with pytest.raises(slot.SlotTaken, match="mlp-stopped is training now"):
        queue.start(JobSpec(name="another"), list(RECIPES))

    wait_for(training_with_an_epoch_done, "a first epoch")
    live = queue.status()
    assert live.progress["points"], "no live points on the curves"
    assert 0 < live.fraction_done < 1 and live.eta_seconds() > 0
    asked = time.monotonic()
    assert queue.stop().id == job.id
    wait_for(lambda: queue.status().state != "training", "training to end after Stop", timeout=60)
    print(f"Stop ended training in {time.monotonic() - asked:.1f} s")
    done = wait_for(lambda: (j := queue.status()) and not j.running and j, "the job to end")

    assert done.state == "stopped", done.message
    rows = done.progress["rows"]
    assert 1 <= len(rows) < 30
    assert user_models() == ["mlp-stopped"]
    folder = models_dir() / "mlp-stopped"
    card = json.loads((folder / "card.json").read_text())
    history = json.loads((folder / "history.json").read_text())
    assert card["trained_here"] is True and card["job"]["recipe"] == "seed002_mlp"
    assert card["train_size"] == 2000 and card["validation_size"] == 5000
    best = max(rows, key=lambda r: (r["val_accuracy"], -r["val_loss"]))
    assert card["best_epoch"] == best["epoch"] == history["best_epoch"]
    assert [r["epoch"] for r in history["epochs"]] == [r["epoch"] for r in rows]
    for name in ("card.json", "history.json", "evaluation.json", "model.keras", "model.tflite"):
        assert (folder / name).is_file(), name
    assert "Saved as mlp-stopped" in done.message
    wait_for(lambda: not (slot.training_dir() / "lock.json").exists(), "the job to free the slot", timeout=60)

    delete_model("mlp-stopped")
    assert user_models() == [] and not folder.exists()
    with pytest.raises(JobError):
        delete_model("cnn")  # a shipped model is never deleted


@pytest.mark.slow
def test_a_killed_job_shows_as_failed_and_leaves_no_model(data_dir):
    spec = JobSpec(name="mlp-killed", recipe="seed002_mlp", epochs=30, train_size=5000)
    queue.start(spec, list(RECIPES))
    wait_for(training_with_an_epoch_done, "a first epoch")
    pid = slot.running_pid()
    os.kill(pid, signal.SIGKILL)
    job = wait_for(lambda: (j := queue.status()) and not j.running and j, "the killed job to show as ended")
    assert job.state == "failed" and "Nothing was saved" in job.message
    assert user_models() == []
    leftovers = list(models_dir().iterdir()) if models_dir().exists() else []
    assert [p.name for p in leftovers if not p.name.startswith(".")] == []
    # The slot is free again: a new job may start (the fixture ends it).
    queue.start(JobSpec(name="mlp-next", epochs=1, train_size=1000), list(RECIPES))
    assert queue.running_job().spec.name == "mlp-next"


@pytest.mark.slow
def test_a_job_whose_server_is_killed_ends_without_saving(data_dir):
    """The server (here a stand-in process that starts the job and queues another) is SIGKILLed
    mid-training: the job notices, ends, and the next look shows the run as failed, not running;
    the queued run waits for a live server and starts at that server's next look."""
    code = (
        "import time\nfrom model.jobs import queue\nfrom model.jobs.job import JobSpec\n"
        "from model.training.networks import RECIPES\n"
        "queue.start(JobSpec(name='mlp-orphan', epochs=30, train_size=5000), list(RECIPES))\n"
        "queue.enqueue(JobSpec(name='mlp-after', epochs=1, train_size=500), list(RECIPES))\n"
        "print('started', flush=True)\ntime.sleep(600)\n"
    )
    server = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "started"
        wait_for(training_with_an_epoch_done, "a first epoch")
        orphan, job_pid = lock_holder()
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
        wait_for(lambda: not process_alive(job_pid), "the orphaned job's process to exit", timeout=60)
    finally:
        server.kill()
    job = slot.load_job(orphan.id)
    assert job.state == "failed" and "Nothing was saved" in job.message
    assert user_models() == []
    assert [run.spec.name for run in queue.queued()] == ["mlp-after"]  # not started for a dead server
    assert queue.status().spec.name == "mlp-after" and queue.running_job() is not None
    assert slot.load_job(orphan.id).state == "failed"


def test_the_builder_and_the_optimizer_choice_make_what_was_asked_for():
    from model.jobs.runner import recipe_for

    spec = JobSpec(name="mine", recipe=CUSTOM, conv_blocks=3, filters=8, dense_units=0, dropout=0.0,
                   augment=True, optimizer="sgd", learning_rate=0.03)
    recipe = recipe_for(spec)
    model = recipe.build()
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [8, 16, 32] and model.output_shape == (None, 10)
    assert not any(type(layer).__name__ in ("Dropout", "Dense") for layer in model.layers[:-1])
    optimizer = recipe.optimizer(100)
    assert type(optimizer).__name__ == "SGD" and float(optimizer.learning_rate) == pytest.approx(0.03)
    assert recipe.augment and recipe.summary == "conv8-pool, conv16-pool, conv32-pool"

    shipped = recipe_for(JobSpec(name="x", recipe="seed004_cnn", augment=False))
    assert shipped.build().count_params() == RECIPES["seed004_cnn"].build().count_params()
    assert not shipped.augment and shipped.optimizer is RECIPES["seed004_cnn"].optimizer


def tiny(name: str) -> JobSpec:
    return JobSpec(name=name, recipe="seed002_mlp", epochs=1, train_size=500)


@pytest.mark.slow
def test_queued_runs_wait_their_turn_and_start_when_the_slot_frees(data_dir):
    recipes = list(RECIPES)
    first = queue.start(JobSpec(name="first", epochs=30, train_size=2000), recipes)

    # Two sessions add runs at the same moment: every run is kept, in one order.
    names = {"a": ["a-1", "a-2"], "b": ["b-1", "b-2"]}
    ready, errors = threading.Barrier(2), []

    def add(who):
        ready.wait()
        for name in names[who]:
            try:
                queue.enqueue(tiny(name), recipes, owner=who)
            except Exception as error:  # noqa: BLE001 - reported by the assert below
                errors.append(error)

    threads = [threading.Thread(target=add, args=(who,)) for who in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    waiting = queue.queued()
    assert sorted(run.spec.name for run in waiting) == ["a-1", "a-2", "b-1", "b-2"]
    assert [run.position for run in waiting] == [1, 2, 3, 4]
    assert {run.owner for run in waiting if run.spec.name.startswith("a")} == {"a"}

    # Checked as Start checks, and the name unlike the running and the waiting ones.
    with pytest.raises(JobError, match="There is no network called nope"):
        queue.enqueue(JobSpec(name="x", recipe="nope"), recipes)
    with pytest.raises(JobError, match="already waiting in the queue"):
        queue.enqueue(tiny("a-1"), recipes)
    with pytest.raises(JobError, match="first is the name of the network training now"):
        queue.enqueue(tiny("first"), recipes)
    with pytest.raises(slot.SlotTaken, match="first is training now"):
        queue.start(tiny("c"), recipes)
    queue.enqueue(tiny("fifth"), recipes)
    with pytest.raises(queue.QueueFull, match="The queue is full: 5 runs are waiting"):
        queue.enqueue(tiny("sixth"), recipes)

    # Removing: the rest keep their order; a run already gone says so.
    keep = next(run for run in queue.queued() if run.spec.name == "b-1")
    for run in queue.queued():
        if run.id != keep.id:
            assert queue.dequeue(run.id).spec == run.spec
    with pytest.raises(JobError, match="no longer waiting"):
        queue.dequeue(waiting[0].id if waiting[0].id != keep.id else waiting[1].id)
    assert [(r.spec.name, r.position) for r in queue.queued()] == [("b-1", 1)]

    # The first ends (stopped); the job itself starts the next, with no status() call to do it.
    wait_for(lambda: listening_for_stop(first.id), "the first job to read its settings")
    queue.stop()

    def next_started():
        job, pid = lock_holder()
        return job is not None and job.spec.name == "b-1" and pid is not None and (job, pid)

    nxt, pid = wait_for(next_started, "the queued run to start by itself")
    assert process_alive(pid) and queue.queued() == []
    assert slot.load_job(first.id).state == "stopped"
    assert queue.status().id == nxt.id and queue.status().running
    # Its parent, the first job, is gone: it still works for this server, and finishes.
    done = wait_for(lambda: (j := slot.load_job(nxt.id, process_alive(pid))) and not j.running and j,
                    "the queued run to finish")
    assert done.state == "finished", done.message
    assert "b-1" in user_models()


def test_a_killed_job_lets_the_queue_move_on(data_dir):
    recipes = list(RECIPES)
    queue.start(JobSpec(name="doomed", epochs=30, train_size=2000), recipes)
    queue.enqueue(tiny("next-up"), recipes)
    doomed_pid = wait_for(slot.running_pid, "the job's process id")
    os.kill(doomed_pid, signal.SIGKILL)
    wait_for(lambda: not process_alive(doomed_pid), "the killed job to be gone", timeout=30)
    # The next look finds the slot free and starts the waiting run, once, however many look at once.
    ready, seen = threading.Barrier(4), []

    def look():
        ready.wait()
        seen.append(queue.status())

    threads = [threading.Thread(target=look) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len({job.id for job in seen}) == 1
    job = seen[0]
    assert job.spec.name == "next-up" and job.running and queue.queued() == []
    started = [p for p in slot.training_dir().iterdir() if p.is_dir() and (p / "spec.json").exists()]
    assert len(started) == 2
    assert slot.running_pid() != doomed_pid and process_alive(slot.running_pid())
    with pytest.raises(slot.SlotTaken, match="next-up is training now"):
        queue.start(tiny("another"), recipes)


def test_a_fine_tuning_holds_the_slot_and_queued_runs_wait_for_it(data_dir):
    """The Class page's fine-tuning (model.classroom.finetune_runs) takes the same slot through hold_slot:
    no job starts beside it, Stop leaves it alone, and the queue moves on once it has ended."""
    recipes = list(RECIPES)
    tuner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])  # its process
    try:
        assert queue.hold_slot("cnn_class", lambda: tuner.pid) == tuner.pid
        assert queue.slot_holder() == "cnn_class"
        with pytest.raises(slot.SlotTaken, match="cnn_class is being fine-tuned for the class now"):
            queue.start(tiny("blocked"), recipes)
        with pytest.raises(slot.SlotTaken):
            queue.hold_slot("other_class", lambda: pytest.fail("a second training was started"))
        with pytest.raises(JobError, match="training now"):
            queue.enqueue(tiny("cnn_class"), recipes)
        queue.enqueue(tiny("after-tuning"), recipes)
        looked = queue.status()
        assert looked is None or not looked.running
        assert [run.spec.name for run in queue.queued()] == ["after-tuning"]
        assert queue.stop() is None and tuner.poll() is None
    finally:
        tuner.kill()
        tuner.wait()
    job = queue.slot_holder()  # the fine-tuning has ended, so the slot is free: the waiting run starts
    assert isinstance(job, Job) and job.spec.name == "after-tuning" and job.running and queue.queued() == []
    with pytest.raises(slot.SlotTaken, match="after-tuning is training now"):
        queue.hold_slot("cnn_class", lambda: pytest.fail("a fine-tuning was started beside a job"))


def test_a_training_that_cannot_start_leaves_the_slot_free(data_dir):
    def broken_spawn() -> int:
        raise OSError("no such program")

    with pytest.raises(OSError):
        queue.hold_slot("cnn_class", broken_spawn)
    assert queue.slot_holder() is None and not (slot.training_dir() / "lock.json").exists()
