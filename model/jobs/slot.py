"""The server's one training slot, and the files it is kept in.

``training/lock.json`` says what holds the slot: a Train-page job (``{"job": id, "pid": ...}``)
or, through ``model.jobs.queue.hold_slot``, another kind of training, the Class page's
fine-tuning (``{"other": name, "pid": ..., "pid_started": ...}``); its liveness comes from the
process id in it (``model.jobs.processes``). Every change to the lock or the queue happens under
one file lock (:func:`slot_guard`), and every JSON file here is replaced atomically
(``model.files``), so a reader sees the old file or the new one, never half of one. A job's folder
(``training/<job id>/``: its spec and progress) is read back here too.
"""
from __future__ import annotations

import time
from pathlib import Path

from model import data_dir
from model.files import file_lock, read_json, write_json_atomically
from model.jobs.job import Job, JobError, JobSpec
from model.jobs.processes import process_alive, process_running

STARTING_GRACE_SECONDS = 60  # a lock without a process id yet is a job being started, for this long


class SlotTaken(JobError):
    """Another training holds the server's one slot, a job or the Class page's fine-tuning; the
    message says which. Raised by ``model.jobs.queue.start`` and ``hold_slot``."""


def training_dir() -> Path:
    return data_dir() / "training"


def lock_path() -> Path:
    return training_dir() / "lock.json"


def slot_guard():
    """Held around every read-modify-write of the lock and the queue; functions named
    ``*_guarded`` expect their caller to hold it."""
    return file_lock(training_dir() / ".slot.flock")


def load_job(job_id: str, alive: bool = False) -> Job | None:
    folder = training_dir() / job_id
    raw = read_json(folder / "spec.json")
    if raw is None:
        return None
    try:
        spec = JobSpec.from_dict(raw)
    except (JobError, TypeError):
        return None
    return Job(job_id, folder, spec, read_json(folder / "progress.json") or {}, alive)


def latest_job() -> Job | None:
    """The most recent job started here, whatever its state; None before the first."""
    folder = training_dir()
    ids = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if folder.is_dir() else []
    for job_id in reversed(ids):
        job = load_job(job_id)
        if job is not None:
            return job
    return None


def read_lock() -> dict | None:
    return read_json(lock_path())


def running_pid() -> int | None:
    """The process id of whatever holds the training slot, if it has one."""
    pid = (read_lock() or {}).get("pid")
    return pid if isinstance(pid, int) else None


def lock_alive(lock: dict) -> bool:
    if lock.get("pid") is None:
        return time.time() - float(lock.get("created", 0)) < STARTING_GRACE_SECONDS
    if isinstance(lock.get("job"), str):
        return process_alive(lock["pid"])
    return process_running(lock["pid"], lock.get("pid_started"))  # another kind of training


def holder(lock: dict | None) -> Job | str | None:
    """What ``lock`` says holds the slot: the Train-page job (alive or not: a dead one shows as
    failed), the name of the model another kind of training (the Class page's fine-tuning) is
    making while it runs, or None."""
    if lock is None:
        return None
    if isinstance(lock.get("other"), str):
        return lock["other"] if lock_alive(lock) else None
    if isinstance(lock.get("job"), str):
        return load_job(lock["job"], lock_alive(lock))
    return None


def holder_words(lock: dict) -> str:
    """What holds the slot, e.g. "mlp-2 is training now" (call only while it does)."""
    held = holder(lock)
    if isinstance(held, str):
        return f"{held} is being fine-tuned for the class now"
    return f"{held.spec.name if held else 'Another network'} is training now"


def slot_free(lock: dict | None) -> bool:
    """No job holds the slot: no lock, its process gone, or its job over (and about to exit)."""
    if lock is None:
        return True
    if not lock_alive(lock):
        return True
    if not isinstance(lock.get("job"), str):
        return False  # another kind of training, alive
    job = load_job(lock["job"], True)
    return job is None or not job.running
