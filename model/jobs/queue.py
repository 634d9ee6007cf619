"""Training jobs started from the browser: one at a time per server, each in a process of its own,
and a short queue of runs waiting for the slot.

    job = start(JobSpec(name="mlp-demo", recipe="seed002_mlp", epochs=2, train_size=5000))
    status()        # the running job, or the last one: its state, curves so far, ETA
    enqueue(JobSpec(name="cnn-next", recipe="cnn"), recipes)   # while one runs: waits its turn
    queued()        # the waiting runs, first in line first; dequeue(run.id) removes one
    stop()          # ends it within seconds; the best epoch so far is kept

Everything lives under ``model.data_dir()``: ``training/<job id>/`` (the spec, ``progress.json``
that the job rewrites atomically, its log), ``training/lock.json`` (what holds the one training
slot: ``model.jobs.slot``), ``training/queue.json`` (the waiting runs) and ``models/<name>/``
(the finished models: ``model.jobs.models``). The job itself runs ``python -m
model.jobs.runner`` with one thread and a low priority, so the pages stay quick while it trains.

The next queued run starts when the slot comes free, with no browser needed: the ending job
starts it as it exits, and whoever next asks for ``status()`` starts it if that job could not
(it was killed, or a fine-tuning held the slot: :func:`hold_slot`). Every change to the lock or
the queue happens under the slot's file lock, so two sessions or two servers acting at once
never start two jobs or lose a queued run. This module imports neither TensorFlow nor Streamlit.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from model import MODEL_DIR
from model.files import read_json, write_json_atomically
from model.jobs.job import Job, JobError, JobSpec, mnist_problem
from model.jobs.models import clear_staging_leftovers, user_models
from model.jobs.processes import JOB_MODULE, process_running, process_started, remember
from model.jobs.slot import (
    SlotTaken,
    holder,
    holder_words,
    latest_job,
    load_job,
    lock_alive,
    lock_path,
    read_lock,
    slot_free,
    slot_guard,
    training_dir,
)

# Caps for the job's process: one thread for every math library, and a low priority.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}
NICENESS = 15
QUEUE_LIMIT = 5  # runs waiting; enough for a lesson, short enough that the last one still runs in it


class QueueFull(JobError):
    """QUEUE_LIMIT runs are already waiting."""


@dataclass(frozen=True)
class QueuedRun:
    """A run waiting for the training slot."""

    id: str
    spec: JobSpec
    added: float  # time.time() when it joined the queue
    owner: str | None = None  # who added it, as the caller names them (the page: its browser session)
    position: int = 0  # 1 for the next to start


def slot_holder() -> Job | str | None:
    """What the Train page shows, from one read of the lock: the name of the model a training
    other than a Train-page job (the Class page's fine-tuning) is making in the slot now; else
    the job holding the slot (alive or not: a dead one shows as failed); else the most recent
    job; None before the first. When the slot is free and runs are queued, the first of them
    starts first (for this process's server)."""
    lock = read_lock()
    if (lock is not None or _queue_entries()) and slot_free(lock):
        promote()  # also waits out another session starting a job, so its half-made start is never seen
        lock = read_lock()
    held = holder(lock)
    return latest_job() if held is None else held


def status() -> Job | None:
    """The job holding the training slot if any (alive or not: a dead one shows as failed),
    else the most recent job; None before the first. Starts the first queued run when the
    slot is free, as :func:`slot_holder` does."""
    held = slot_holder()
    return latest_job() if isinstance(held, str) else held


def running_job() -> Job | None:
    job = status()
    return job if job is not None and job.running else None


# --------------------------------------------------------------------------- starting and stopping


def _check_new(spec: JobSpec, recipes: list[str]) -> None:
    """JobError unless ``spec`` could start now, the slot aside: sound settings, MNIST there."""
    problems = spec.problems(recipes)
    if problems:
        raise JobError(" ".join(problems))
    mnist = mnist_problem()
    if mnist:
        raise JobError(mnist)


def _check_name_guarded(name: str, lock: dict | None, skip_run: str | None = None) -> None:
    """JobError when ``name`` is taken: by a model trained here, by the job in the slot (its
    model is on the way), or by a queued run other than ``skip_run``."""
    if name in user_models():
        raise JobError(f"There is already a model called {name}. Pick another name or delete it first.")
    if lock is not None and not slot_free(lock):
        held = holder(lock)
        if name == (held.spec.name if isinstance(held, Job) else held):
            raise JobError(f"{name} is the name of the network training now; pick another.")
    if any(run.spec.name == name and run.id != skip_run for run in _queue_entries()):
        raise JobError(f"A run called {name} is already waiting in the queue; pick another name.")


def _new_job_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + \
        f"-{os.getpid() % 10000:04d}-{time.time_ns() % 10**6:06d}"


def _spawn_guarded(spec: JobSpec, server_pid: int) -> Job:
    """Start ``spec`` in the free slot; the job ends itself if ``server_pid`` goes away."""
    job_id = _new_job_id()
    # First, replacing a stale lock: a reader without the guard who finds a lock but not its job
    # yet waits for the guard (see status), and never sees the slot empty mid-start.
    write_json_atomically(lock_path(), {"job": job_id, "pid": None, "created": time.time()})
    clear_staging_leftovers()
    folder = training_dir() / job_id
    folder.mkdir(parents=True)
    write_json_atomically(folder / "spec.json", asdict(spec))
    write_json_atomically(folder / "progress.json", {"state": "starting", "message": "Starting…"})
    env = {**os.environ, **THREAD_ENV}
    try:
        with open(folder / "log.txt", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", JOB_MODULE, str(folder), str(server_pid)],
                cwd=MODEL_DIR.parent, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C meant for the server is not the job's; it watches the server
            )
    except OSError as error:
        lock_path().unlink(missing_ok=True)
        write_json_atomically(folder / "progress.json", {
            "state": "failed", "message": f"The training process could not start ({error.strerror})."})
        raise JobError(f"The training process could not start ({error.strerror}).") from None
    remember(process)
    write_json_atomically(lock_path(), {"job": job_id, "pid": process.pid, "created": time.time()})
    return Job(job_id, folder, spec, {"state": "starting"}, True)


def start(spec: JobSpec, recipes: list[str]) -> Job:
    """Start training ``spec`` in a process of its own. SlotTaken while another job runs (or a
    queued run takes the free slot first), JobError for bad settings, missing MNIST or a name
    already taken."""
    _check_new(spec, recipes)
    with slot_guard():
        _promote_guarded(os.getpid())
        lock = read_lock()
        if not slot_free(lock):
            raise SlotTaken(f"{holder_words(lock)}; one training at a time.")
        _check_name_guarded(spec.name, lock)
        return _spawn_guarded(spec, os.getpid())


def hold_slot(name: str, spawn: Callable[[], int]) -> int:
    """Run ``spawn``, which starts another kind of training making the model ``name`` and
    returns its process id, in the free slot; that process holds the slot until it ends, so a
    Train-page job waits for it in the queue (started by whoever next asks for ``status()``).
    Queued runs go first. SlotTaken while a job trains; whatever ``spawn`` raises, with the slot
    left free."""
    with slot_guard():
        _promote_guarded(os.getpid())
        lock = read_lock()
        if not slot_free(lock):
            raise SlotTaken(f"{holder_words(lock)}; one training at a time.")
        write_json_atomically(lock_path(), {"other": name, "pid": None, "created": time.time()})
        try:
            pid = spawn()
        except BaseException:
            lock_path().unlink(missing_ok=True)
            raise
        write_json_atomically(lock_path(), {"other": name, "pid": pid, "pid_started": process_started(pid),
                                            "created": time.time()})
        return pid


def stop() -> Job | None:
    """Ask the running job to stop; it keeps its best epoch so far. The job it was, or None."""
    lock = read_lock()
    if lock is None or not isinstance(lock.get("job"), str) or not lock_alive(lock):
        return None  # a fine-tuning in the slot is not this page's to stop
    pid = lock.get("pid")
    if isinstance(pid, int):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    return load_job(lock["job"], True)


def release(job_id: str, server_pid: int | None = None, server_started: int | None = None) -> None:
    """The job gives the slot back (the job runner, when it ends) and, while the server it
    worked for is still there, starts the next queued run for that server. With the server
    gone, the queue waits for the next server's ``status()``."""
    with slot_guard():
        lock = read_lock()
        if lock is not None and lock.get("job") == job_id:
            lock_path().unlink(missing_ok=True)
        if server_pid is not None and process_running(server_pid, server_started):
            _promote_guarded(server_pid)


# --------------------------------------------------------------------------- the queue


def _queue_path() -> Path:
    return training_dir() / "queue.json"


def _queue_entries() -> list[QueuedRun]:
    runs = []
    for raw in (read_json(_queue_path()) or {}).get("runs", []):
        try:
            runs.append(QueuedRun(str(raw["id"]), JobSpec.from_dict(raw["spec"]), float(raw["added"]),
                                  raw.get("owner"), len(runs) + 1))
        except (JobError, TypeError, KeyError, ValueError):
            continue  # a run this version cannot read is dropped rather than blocking the queue
    return runs


def _write_queue_guarded(runs: list[QueuedRun]) -> None:
    write_json_atomically(_queue_path(), {"runs": [
        {"id": run.id, "spec": asdict(run.spec), "added": run.added, "owner": run.owner} for run in runs]})


def queued() -> list[QueuedRun]:
    """The runs waiting for the slot, the next to start first."""
    return _queue_entries()


def enqueue(spec: JobSpec, recipes: list[str], owner: str | None = None) -> QueuedRun:
    """Put ``spec`` at the end of the queue, checked as ``start`` checks it (its name also
    unlike every queued run's); it starts by itself when the runs before it are done, at once
    if the slot is free. QueueFull when QUEUE_LIMIT runs are waiting."""
    _check_new(spec, recipes)
    with slot_guard():
        runs = _queue_entries()
        if len(runs) >= QUEUE_LIMIT:
            raise QueueFull(f"The queue is full: {QUEUE_LIMIT} runs are waiting already. Add yours when one "
                            "of them has started, or remove one.")
        _check_name_guarded(spec.name, read_lock())
        run = QueuedRun(f"q{time.time_ns()}-{os.getpid()}", spec, time.time(), owner, len(runs) + 1)
        _write_queue_guarded([*runs, run])
        _promote_guarded(os.getpid())
        return run


def dequeue(run_id: str) -> QueuedRun:
    """Take a waiting run out of the queue. JobError when it is no longer there."""
    with slot_guard():
        runs = _queue_entries()
        gone = next((run for run in runs if run.id == run_id), None)
        if gone is None:
            raise JobError("That run is no longer waiting: it has started or someone removed it.")
        _write_queue_guarded([run for run in runs if run.id != run_id])
        return gone


def promote() -> Job | None:
    """Start the first queued run if the slot is free (for this process's server); the job
    started, or None."""
    with slot_guard():
        return _promote_guarded(os.getpid())


def _promote_guarded(server_pid: int) -> Job | None:
    """The first queued run that can start, started in the free slot. A run that can no longer
    start (its name taken meanwhile, MNIST gone) is recorded as a failed job, with the reason,
    and the next one tried."""
    if not slot_free(read_lock()):
        return None
    runs = _queue_entries()
    while runs:
        run, runs = runs[0], runs[1:]
        _write_queue_guarded(runs)  # out of the queue first: it never starts twice
        try:
            mnist = mnist_problem()
            if mnist:
                raise JobError(mnist)
            _check_name_guarded(run.spec.name, None, skip_run=run.id)
        except JobError as error:
            _record_failed(run.spec, str(error))
            continue
        try:
            return _spawn_guarded(run.spec, server_pid)
        except JobError:
            continue  # recorded as failed in its own folder
    return None


def _record_failed(spec: JobSpec, message: str) -> None:
    folder = training_dir() / _new_job_id()
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomically(folder / "spec.json", asdict(spec))
    write_json_atomically(folder / "progress.json",
                          {"state": "failed", "message": f"It could not start: {message}"})
