"""Training jobs started from the browser: one at a time per server, each in a process of its own.

    job = start(JobSpec(name="mlp-demo", recipe="seed002_mlp", epochs=2, train_size=5000))
    status()        # the running job, or the last one: its state, curves so far, ETA
    stop()          # ends it within seconds; the best epoch so far is kept
    delete_model("mlp-demo")

Everything lives under ``model.data_dir()``: ``training/<job id>/`` (the spec, ``progress.json``
that the job rewrites atomically, its log), ``training/lock.json`` (which job holds the one
training slot, and its process id) and ``models/<name>/`` (the finished models, written by
``model.train.run`` all or nothing). The job itself runs ``python -m model.job_runner`` with
one thread and a low priority, so the pages stay quick while it trains.

A job whose process is gone without it saying it finished (the server or the job killed) shows
as failed, never as running: liveness comes from the process id in the lock, not from the
progress file. This module imports neither TensorFlow nor Streamlit.
"""
from __future__ import annotations

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
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from model import MODEL_DIR, data_dir
from model.artifacts import shipped_archs
from model.data import IDX_MD5

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


class JobError(RuntimeError):
    """A job cannot be started, stopped or deleted; the message says why in plain words."""


class JobBusy(JobError):
    """Another training holds the server's one slot."""


@dataclass(frozen=True)
class JobSpec:
    """What to train: a Keras recipe (or the small builder), and how."""

    name: str  # the new model's name and folder
    recipe: str = "seed002_mlp"  # a recipe of model.networks, or CUSTOM
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


# --------------------------------------------------------------------------- where things live


def training_dir() -> Path:
    return data_dir() / "training"


def models_dir() -> Path:
    """Where the models trained here live, one folder each, like model/<arch>/."""
    return data_dir() / "models"


def _lock_path() -> Path:
    return training_dir() / "lock.json"


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


def _lock() -> dict | None:
    return read_json(_lock_path())


def running_pid() -> int | None:
    """The process id of the job holding the training slot, if it has one."""
    pid = (_lock() or {}).get("pid")
    return pid if isinstance(pid, int) else None


def _lock_alive(lock: dict) -> bool:
    if lock.get("pid") is None:
        return time.time() - float(lock.get("created", 0)) < STARTING_GRACE_SECONDS
    return process_alive(lock["pid"])


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
    else the most recent job; None before the first."""
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


def _clear_stale_lock() -> None:
    """Free the slot of a job that is over: its process gone, or done and about to exit."""
    lock = _lock()
    if lock is None:
        return
    job = load_job(lock["job"], _lock_alive(lock)) if isinstance(lock.get("job"), str) else None
    if not _lock_alive(lock) or job is None or not job.running:
        _lock_path().unlink(missing_ok=True)


def _clear_staging_leftovers() -> None:
    """Half-built model folders a killed job left (hidden: ``.<name>.tmp-*``)."""
    folder = models_dir()
    if folder.is_dir():
        for leftover in folder.glob(".*.tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)


def start(spec: JobSpec, recipes: list[str]) -> Job:
    """Start training ``spec`` in a process of its own. JobBusy while another job runs,
    JobError for bad settings, missing MNIST or a name already taken."""
    problems = spec.problems(recipes)
    if problems:
        raise JobError(" ".join(problems))
    mnist = mnist_problem()
    if mnist:
        raise JobError(mnist)
    busy = running_job()
    if busy is not None:
        raise JobBusy(f"{busy.spec.name} is training now; one training at a time.")
    if spec.name in user_models():
        raise JobError(f"There is already a model called {spec.name}. Pick another name or delete it first.")
    _clear_stale_lock()
    _clear_staging_leftovers()

    job_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{os.getpid() % 10000:04d}-{time.time_ns() % 10**6:06d}"
    folder = training_dir() / job_id
    folder.mkdir(parents=True)
    write_json_atomically(folder / "spec.json", asdict(spec))
    write_json_atomically(folder / "progress.json", {"state": "starting", "message": "Starting…"})
    try:  # the slot: whoever creates the lock file first
        fd = os.open(_lock_path(), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        shutil.rmtree(folder, ignore_errors=True)
        raise JobBusy("Another training has just started; one training at a time.") from None
    with os.fdopen(fd, "w") as f:
        json.dump({"job": job_id, "pid": None, "created": time.time()}, f)

    env = {**os.environ, **THREAD_ENV}
    with open(folder / "log.txt", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", JOB_MODULE, str(folder)],
            cwd=MODEL_DIR.parent, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C meant for the server is not the job's; it watches the server
        )
    _children[process.pid] = process
    write_json_atomically(_lock_path(), {"job": job_id, "pid": process.pid, "created": time.time()})
    return Job(job_id, folder, spec, {"state": "starting"}, True)


def stop() -> Job | None:
    """Ask the running job to stop; it keeps its best epoch so far. The job it was, or None."""
    lock = _lock()
    if lock is None or not _lock_alive(lock):
        return None
    pid = lock.get("pid")
    if isinstance(pid, int):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    return load_job(lock["job"], True)


def release(job_id: str) -> None:
    """The job gives the slot back (the job runner, when it ends)."""
    lock = _lock()
    if lock is not None and lock.get("job") == job_id:
        _lock_path().unlink(missing_ok=True)


def delete_model(name: str) -> None:
    """Remove a model trained here (never a shipped one)."""
    if name not in user_models():
        raise JobError(f"{name} is not a model trained here.")
    folder = models_dir() / name
    retired = Path(tempfile.mkdtemp(prefix=f".{name}.deleted-", dir=models_dir()))
    folder.rename(retired / name)  # gone from every list at once, then removed
    shutil.rmtree(retired, ignore_errors=True)
