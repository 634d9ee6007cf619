"""Training jobs started from the browser: one at a time per server, each in a process of its own,
and a short queue of runs waiting for the slot.

    job = start(JobSpec(name="mlp-demo", recipe="seed002_mlp", epochs=2, train_size=5000))
    status()        # the running job, or the last one: its state, curves so far, ETA
    enqueue(JobSpec(name="cnn-next", recipe="cnn"), recipes)   # while one runs: waits its turn
    queued()        # the waiting runs, first in line first; dequeue(run.id) removes one
    stop()          # ends it within seconds; the best epoch so far is kept
    delete_model("mlp-demo")

Everything lives under ``model.data_dir()``: ``training/<job id>/`` (the spec, ``progress.json``
that the job rewrites atomically, its log), ``training/lock.json`` (which job holds the one
training slot, and its process id; or, through :func:`hold_slot`, the Class page's
fine-tuning), ``training/queue.json`` (the waiting runs) and ``models/<name>/`` (the finished
models, written by ``model.train.run`` all or nothing). The job itself runs
``python -m model.job_runner`` with one thread and a low priority, so the pages stay quick while
it trains.

A job whose process is gone without it saying it finished (the server or the job killed) shows
as failed, never as running: liveness comes from the process id in the lock, not from the
progress file. The next queued run starts when the slot comes free, with no browser needed: the
ending job starts it as it exits, and whoever next asks for ``status()`` starts it if that job
could not (it was killed, or a fine-tuning held the slot). Every change to the lock or the
queue happens under one file lock (``training/.slot.flock``), so two sessions or two servers
acting at once never start two jobs or lose a queued run. This module imports neither
TensorFlow nor Streamlit.
"""
from __future__ import annotations

import fcntl
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from model import MODEL_DIR, data_dir
from model.data.mnist import IDX_MD5
from model.serving.artifacts import shipped_archs

JOB_MODULE = "model.job_runner"
TEACHER_CODE_ENV = "DIGITLAB_TEACHER_CODE"
MNIST_ENV = "MNIST_DIR"
CUSTOM = "custom"  # the recipe name of the Train page's own small builder
# Optimizer -> the learning rate it starts from; "recipe" keeps the recipe's own (and its schedule).
OPTIMIZERS = {"recipe": None, "adam": 1e-3, "sgd": 0.05, "rmsprop": 1e-3}
FULL_TRAINING_SET = 55_000
FINAL_STATES = ("finished", "stopped", "failed")
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
STARTING_GRACE_SECONDS = 60  # a lock without a process id yet is a job being started, for this long
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


class JobError(RuntimeError):
    """A job cannot be started, stopped or deleted; the message says why in plain words."""


class JobBusy(JobError):
    """Another training holds the server's one slot."""


class QueueFull(JobError):
    """QUEUE_LIMIT runs are already waiting."""


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


@dataclass(frozen=True)
class QueuedRun:
    """A run waiting for the training slot."""

    id: str
    spec: JobSpec
    added: float  # time.time() when it joined the queue
    owner: str | None = None  # who added it, as the caller names them (the page: its browser session)
    position: int = 0  # 1 for the next to start


# --------------------------------------------------------------------------- where things live


def training_dir() -> Path:
    return data_dir() / "training"


def models_dir() -> Path:
    """Where the models trained here live, one folder each, like model/<arch>/."""
    return data_dir() / "models"


def _lock_path() -> Path:
    return training_dir() / "lock.json"


def _queue_path() -> Path:
    return training_dir() / "queue.json"


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on the file ``path`` (made if need be) for the block, between threads
    and processes alike: each call opens the file anew, so two threads of one server exclude
    each other too. Not re-entrant."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by jobs
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _slot_guard():
    """Held around every read-modify-write of the lock and the queue; functions named
    ``*_guarded`` expect their caller to hold it."""
    return file_lock(training_dir() / ".slot.flock")


def user_models() -> list[str]:
    """The finished models trained here, by name (a folder with a card; staging folders are hidden)."""
    return sorted(set(shipped_archs(models_dir())) - set(shipped_archs(MODEL_DIR)))


def recipe_choices() -> dict[str, dict]:
    """Every Keras recipe the Train page offers, from the card of its shipped model (so the
    page needs no TensorFlow): name -> summary, augment, epochs, batch_size, seconds_per_digit
    (training seconds per digit per epoch, as measured when it was trained)."""
    choices = {}
    for arch in shipped_archs(MODEL_DIR):
        card = read_json(MODEL_DIR / arch / "card.json") or {}
        if not str(card.get("framework", "")).startswith("keras") or card.get("members", 1) != 1:
            continue
        digits = (card.get("train_size") or 0) * (card.get("epochs") or 0)
        choices[arch] = {
            "summary": card.get("summary", ""),
            "augment": bool(card.get("augment")),
            "epochs": card.get("epochs"),
            "batch_size": card.get("batch_size"),
            "seconds_per_digit": card["train_seconds"] / digits if digits and card.get("train_seconds") else None,
        }
    return choices


def write_json_atomically(path: Path, obj) -> None:
    """Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict | None:
    """A JSON object from ``path``; None when missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------- liveness


_children: dict[int, subprocess.Popen] = {}  # jobs this process started, reaped when they end


def process_alive(pid: object) -> bool:
    """Whether ``pid`` is a running job process (not ended, not a zombie, not a reused id)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _children.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, someone else's
    proc = Path("/proc") / str(pid)
    if proc.is_dir():
        try:
            if proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return False
            command = proc.joinpath("cmdline").read_bytes()
            # Empty for a moment while the process is still starting (its exec under way).
            return not command or JOB_MODULE.encode() in command
        except (OSError, IndexError):
            return False
    return True


def process_started(pid: object) -> int | None:
    """When process ``pid`` started (clock ticks since boot), to tell it from a later process
    given the same id; None when there is no such live process or no /proc to ask."""
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        fields_after_name = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields_after_name[0] == "Z":
        return None
    try:
        return int(fields_after_name[19])
    except (IndexError, ValueError):
        return None


def process_running(pid: object, started: object = None) -> bool:
    """Whether process ``pid`` still runs and is the one that started at ``started`` (from
    :func:`process_started`; any start when not an int): not ended, not a zombie, not a later
    process given the same id. For a process whatever its command (a job's server, a fine-tune)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if not Path("/proc").is_dir():
        return True
    now = process_started(pid)
    return now is not None and (not isinstance(started, int) or now == started)


def _lock() -> dict | None:
    return read_json(_lock_path())


def running_pid() -> int | None:
    """The process id of whatever holds the training slot, if it has one."""
    pid = (_lock() or {}).get("pid")
    return pid if isinstance(pid, int) else None


def _lock_alive(lock: dict) -> bool:
    if lock.get("pid") is None:
        return time.time() - float(lock.get("created", 0)) < STARTING_GRACE_SECONDS
    if isinstance(lock.get("job"), str):
        return process_alive(lock["pid"])
    return process_running(lock["pid"], lock.get("pid_started"))  # another kind of training


def _holder_words(lock: dict) -> str:
    """What holds the slot, e.g. "mlp-2 is training now" (call only while it does)."""
    if isinstance(lock.get("other"), str):
        return f"{lock['other']} is being fine-tuned for the class now"
    job = load_job(lock["job"], True) if isinstance(lock.get("job"), str) else None
    return f"{job.spec.name if job else 'Another network'} is training now"


def other_training() -> str | None:
    """The model a training other than a Train-page job (the Class page's fine-tuning) is
    making in the slot now, or None."""
    lock = _lock()
    if lock is None or not isinstance(lock.get("other"), str) or not _lock_alive(lock):
        return None
    return lock["other"]


def hold_slot(name: str, spawn: Callable[[], int]) -> int:
    """Run ``spawn``, which starts another kind of training making the model ``name`` and
    returns its process id, in the free slot; that process holds the slot until it ends, so a
    Train-page job waits for it in the queue (started by whoever next asks for ``status()``).
    Queued runs go first. JobBusy while a job trains; whatever ``spawn`` raises, with the slot
    left free."""
    with _slot_guard():
        _promote_guarded(os.getpid())
        lock = _lock()
        if not _slot_free(lock):
            raise JobBusy(f"{_holder_words(lock)}; one training at a time.")
        write_json_atomically(_lock_path(), {"other": name, "pid": None, "created": time.time()})
        try:
            pid = spawn()
        except BaseException:
            _lock_path().unlink(missing_ok=True)
            raise
        write_json_atomically(_lock_path(), {"other": name, "pid": pid, "pid_started": process_started(pid),
                                             "created": time.time()})
        return pid


# --------------------------------------------------------------------------- reading jobs


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


def status() -> Job | None:
    """The job holding the training slot if any (alive or not: a dead one shows as failed),
    else the most recent job; None before the first. When the slot is free and runs are
    queued, the first of them starts first (for this process's server)."""
    lock = _lock()
    if (lock is not None or _queue_entries()) and _slot_free(lock):
        promote()  # also waits out another session starting a job, so its half-made start is never seen
    lock = _lock()
    if lock is not None and isinstance(lock.get("job"), str):
        job = load_job(lock["job"], _lock_alive(lock))
        if job is not None:
            return job
    folder = training_dir()
    ids = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if folder.is_dir() else []
    for job_id in reversed(ids):
        job = load_job(job_id)
        if job is not None:
            return job
    return None


def running_job() -> Job | None:
    job = status()
    return job if job is not None and job.running else None


# --------------------------------------------------------------------------- starting and stopping


def mnist_problem(environ: dict | None = None) -> str | None:
    """What stops a job from finding MNIST, as the fix to make; None when the files are there."""
    environ = os.environ if environ is None else environ
    where = environ.get(MNIST_ENV)
    files = ", ".join(IDX_MD5)
    if not where:
        return (f"Training needs the MNIST digits. Set {MNIST_ENV} to a folder holding the four files {files} "
                f"(or a Keras mnist.npz), then restart the app: {MNIST_ENV}=/path/to/mnist streamlit run app.py")
    path = Path(where).expanduser()
    if path.is_file() and path.suffix == ".npz":
        return None
    missing = [name for name in IDX_MD5 if not (path / name).is_file()]
    if path.is_dir() and (not missing or (path / "mnist.npz").is_file()):
        return None
    return (f"Training needs the MNIST digits, and {MNIST_ENV} ({where}) does not hold them. "
            f"Point {MNIST_ENV} at a folder holding the four files {files}, then restart the app.")


def teacher_code_required(environ: dict | None = None) -> bool:
    return bool((os.environ if environ is None else environ).get(TEACHER_CODE_ENV))


def passcode_ok(given: str | None, environ: dict | None = None) -> bool:
    """Whether ``given`` is the teacher's passcode (always, when none is set)."""
    expected = (os.environ if environ is None else environ).get(TEACHER_CODE_ENV)
    if not expected:
        return True
    return hmac.compare_digest((given or "").encode(), expected.encode())


def _slot_free(lock: dict | None) -> bool:
    """No job holds the slot: no lock, its process gone, or its job over (and about to exit)."""
    if lock is None:
        return True
    if not _lock_alive(lock):
        return True
    if not isinstance(lock.get("job"), str):
        return False  # another kind of training, alive
    job = load_job(lock["job"], True)
    return job is None or not job.running


def _clear_staging_leftovers() -> None:
    """Half-built model folders a killed job left (hidden: ``.<name>.tmp-*``)."""
    folder = models_dir()
    if folder.is_dir():
        for leftover in folder.glob(".*.tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)


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
    if lock is not None and not _slot_free(lock):
        holder = load_job(lock["job"], True) if isinstance(lock.get("job"), str) else None
        if name in (holder.spec.name if holder else None, lock.get("other")):
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
    write_json_atomically(_lock_path(), {"job": job_id, "pid": None, "created": time.time()})
    _clear_staging_leftovers()
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
        _lock_path().unlink(missing_ok=True)
        write_json_atomically(folder / "progress.json", {
            "state": "failed", "message": f"The training process could not start ({error.strerror})."})
        raise JobError(f"The training process could not start ({error.strerror}).") from None
    _children[process.pid] = process
    write_json_atomically(_lock_path(), {"job": job_id, "pid": process.pid, "created": time.time()})
    return Job(job_id, folder, spec, {"state": "starting"}, True)


def start(spec: JobSpec, recipes: list[str]) -> Job:
    """Start training ``spec`` in a process of its own. JobBusy while another job runs (or a
    queued run takes the free slot first), JobError for bad settings, missing MNIST or a name
    already taken."""
    _check_new(spec, recipes)
    with _slot_guard():
        _promote_guarded(os.getpid())
        lock = _lock()
        if not _slot_free(lock):
            raise JobBusy(f"{_holder_words(lock)}; one training at a time.")
        _check_name_guarded(spec.name, lock)
        return _spawn_guarded(spec, os.getpid())


def stop() -> Job | None:
    """Ask the running job to stop; it keeps its best epoch so far. The job it was, or None."""
    lock = _lock()
    if lock is None or not isinstance(lock.get("job"), str) or not _lock_alive(lock):
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
    with _slot_guard():
        lock = _lock()
        if lock is not None and lock.get("job") == job_id:
            _lock_path().unlink(missing_ok=True)
        if server_pid is not None and process_running(server_pid, server_started):
            _promote_guarded(server_pid)


# --------------------------------------------------------------------------- the queue


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
    with _slot_guard():
        runs = _queue_entries()
        if len(runs) >= QUEUE_LIMIT:
            raise QueueFull(f"The queue is full: {QUEUE_LIMIT} runs are waiting already. Add yours when one "
                            "of them has started, or remove one.")
        _check_name_guarded(spec.name, _lock())
        run = QueuedRun(f"q{time.time_ns()}-{os.getpid()}", spec, time.time(), owner, len(runs) + 1)
        _write_queue_guarded([*runs, run])
        _promote_guarded(os.getpid())
        return run


def dequeue(run_id: str) -> QueuedRun:
    """Take a waiting run out of the queue. JobError when it is no longer there."""
    with _slot_guard():
        runs = _queue_entries()
        gone = next((run for run in runs if run.id == run_id), None)
        if gone is None:
            raise JobError("That run is no longer waiting: it has started or someone removed it.")
        _write_queue_guarded([run for run in runs if run.id != run_id])
        return gone


def promote() -> Job | None:
    """Start the first queued run if the slot is free (for this process's server); the job
    started, or None."""
    with _slot_guard():
        return _promote_guarded(os.getpid())


def _promote_guarded(server_pid: int) -> Job | None:
    """The first queued run that can start, started in the free slot. A run that can no longer
    start (its name taken meanwhile, MNIST gone) is recorded as a failed job, with the reason,
    and the next one tried."""
    if not _slot_free(_lock()):
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


def delete_model(name: str) -> None:
    """Remove a model trained here (never a shipped one)."""
    if name not in user_models():
        raise JobError(f"{name} is not a model trained here.")
    folder = models_dir() / name
    retired = Path(tempfile.mkdtemp(prefix=f".{name}.deleted-", dir=models_dir()))
    folder.rename(retired / name)  # gone from every list at once, then removed
    shutil.rmtree(retired, ignore_errors=True)
