"""Fetching the four original MNIST files into a folder, once, checked, for the Train page's
Get MNIST, the command line (``python -m model.data.mnist --download``) and the loader.

    download_mnist(folder)           # here and now; raises DownloadError saying what went wrong
    start_download(folder)           # in a thread of this server; False if one is under way already
    download_status(folder)          # what the download into ``folder`` is doing, for any process

The files come from ``$DIGITLAB_MNIST_URL`` (a folder on a web server holding the four ``.gz``
files, as a school's own copy can be), else the public mirror below. Each file is written under
a hidden temporary name, checked against its published size and MD5 as it arrives, and renamed
to its own name only once it has passed: an interrupted or wrong download leaves nothing in the
folder, and a file already there and whole is not fetched again.

One download into a folder at a time, across a server's sessions, several servers and the
command line: starting one happens under a file lock beside the folder, and a download under
way is one whose status file names a process that still runs (``.mnist-download.json`` beside
``mnist/``; its progress too, so every tab's progress bar reads it). This module imports no
Streamlit.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from model.data.mnist_sources import IDX_BYTES, IDX_MD5, MnistError, data_copy_dir, good_idx_file
from model.files import file_lock, read_json, write_json_atomically
from model.jobs.processes import process_running, process_started

MNIST_URL_ENV = "DIGITLAB_MNIST_URL"
# The four original files as torchvision fetches them (its first mirror since the original site
# stopped serving them to scripts); cannot be reached from the machine this was written on.
DEFAULT_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
URL_SCHEMES = ("http", "https", "file")
TIMEOUT_SECONDS = 30  # for the connection and for each read: a stalled server is an interruption
CHUNK_BYTES = 64 * 1024
REPORT_EVERY_SECONDS = 0.2  # the status file's progress, at most this often
PART_MARK = ".part-"  # a file being fetched: .<name>.part-<random>, renamed once checked
TOTAL_BYTES = sum(IDX_BYTES.values())
MEGABYTE = 1 << 20


class DownloadError(MnistError):
    """The download did not finish; the message says why in plain words (no server path)."""


class DownloadBusy(DownloadError):
    """Another download into the same folder is under way."""


@dataclass(frozen=True)
class DownloadStatus:
    """What the download into a folder is doing, as the pages show it."""

    state: str  # "idle" (never started here), "downloading", "done" or "failed"
    done: int = 0  # bytes fetched so far, of
    total: int = 0  # the bytes the files still missing at the start came to
    source: str = ""  # where from, for people: the server's name (never a password in the URL)
    message: str = ""  # why it failed

    @property
    def running(self) -> bool:
        return self.state == "downloading"

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0


def megabytes(count: int) -> str:
    return f"{count / MEGABYTE:.1f} MB"


def mnist_url(environ: dict | None = None) -> str:
    """The folder URL the four files are fetched from: ``$DIGITLAB_MNIST_URL``, else the mirror."""
    url = ((os.environ if environ is None else environ).get(MNIST_URL_ENV) or "").strip() or DEFAULT_MNIST_URL
    return url if url.endswith("/") else url + "/"


def source_words(url: str) -> str:
    """Where a URL points, for a message: its server's name, without any user or password."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        return "a folder on this computer"
    return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else url


def by_hand(where: str) -> str:
    """What to do without internet; ``where`` is the folder as the reader should see it."""
    files = ", ".join(f"`{name}`" for name in IDX_MD5)
    return (f"Without internet, copy the four MNIST files {files} into the folder `{where}` on this computer "
            "(from a USB stick, or from the same folder of another Digit Lab). No restart is needed: "
            "Digit Lab looks for them again by itself.")


def status_path(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}-download.json")


def _guard(folder: Path):
    """Held while a download is claimed, and around every write of its status."""
    return file_lock(folder.with_name(f".{folder.name}-download.flock"))


def download_status(folder: Path | None = None) -> DownloadStatus:
    """The latest download into ``folder`` (default: the data folder's copy). One whose process
    has gone without saying how it ended shows as failed, never as under way."""
    folder = folder or data_copy_dir()
    found = read_json(status_path(folder))
    if found is None:
        return DownloadStatus("idle")
    state = found.get("state")
    message = str(found.get("message", ""))
    if state == "downloading" and not process_running(found.get("pid"), found.get("pid_started")):
        state, message = "failed", "The download stopped: the program fetching the files was closed."
    if state not in ("downloading", "done", "failed"):
        return DownloadStatus("idle")
    numbers = [found.get(key) for key in ("done", "total")]
    done, total = (n if isinstance(n, int) and n >= 0 else 0 for n in numbers)
    return DownloadStatus(state, done, total, str(found.get("source", "")), message)


class _Status:
    """The status file of one download, written by the process doing it."""

    def __init__(self, folder: Path, url: str, total: int):
        self.path, self.folder = status_path(folder), folder
        self.fields = {"state": "downloading", "done": 0, "total": total, "source": source_words(url),
                       "pid": os.getpid(), "pid_started": process_started(os.getpid()), "started": time.time()}
        self.written = 0.0

    def write(self, force: bool = True, **changes) -> None:
        self.fields.update(changes, updated=time.time())
        if force or time.time() - self.written >= REPORT_EVERY_SECONDS:
            with _guard(self.folder):
                write_json_atomically(self.path, self.fields)
            self.written = time.time()

    def add(self, count: int) -> None:
        self.write(force=False, done=self.fields["done"] + count)


def _claim(folder: Path, url: str) -> tuple[_Status, list[str]]:
    """Make this process the one downloading into ``folder``: DownloadBusy when another
    download into it is under way. The files still to fetch (not there, or not whole)."""
    with _guard(folder):
        if download_status(folder).running:
            raise DownloadBusy("The MNIST files are being downloaded already (from another tab or another program); "
                               "wait for that download to finish.")
        # Nobody is downloading: what a killed download left under a temporary name goes.
        if folder.is_dir():
            for leftover in folder.glob(f".*{PART_MARK}*"):
                leftover.unlink(missing_ok=True)
        missing = [name for name in IDX_MD5 if not good_idx_file(folder / name)]
        status = _Status(folder, url, sum(IDX_BYTES[name] for name in missing))
        write_json_atomically(status.path, {**status.fields, "updated": time.time()})
    return status, missing


def _fetch(url: str, name: str, folder: Path, status: _Status) -> None:
    """One file, from ``url`` into ``folder/name``, checked before it gets its name."""
    expected_size, source = IDX_BYTES[name], source_words(url)
    try:
        fd, part = tempfile.mkstemp(prefix=f".{name}{PART_MARK}", dir=folder)
    except OSError as error:
        raise DownloadError(f"Digit Lab cannot write into its data folder ({error.strerror}).") from None
    got = 0
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(urllib.request.Request(
                    url + name, headers={"User-Agent": "Digit Lab"}), timeout=TIMEOUT_SECONDS)
            except urllib.error.HTTPError as error:
                raise DownloadError(f"{source} answered {error.code} {error.reason} for {name}: is "
                                    f"{MNIST_URL_ENV} the folder that holds the four MNIST files?") from None
            except (urllib.error.URLError, OSError, ValueError) as error:
                reason = getattr(error, "reason", error)
                reason = getattr(reason, "strerror", None) or reason  # an OSError's words, not its path
                raise DownloadError(f"Digit Lab could not reach {source} ({reason}). This computer may be "
                                    "offline, or the address blocked.") from None
            digest = hashlib.md5()
            with response:
                while True:
                    try:
                        chunk = response.read(CHUNK_BYTES)
                    except (OSError, http.client.HTTPException) as error:
                        raise DownloadError(
                            f"The download of {name} from {source} stopped after {megabytes(got)} of "
                            f"{megabytes(expected_size)} ({type(error).__name__}); nothing of it was kept. "
                            "Try again.") from None
                    if not chunk:
                        break
                    got += len(chunk)
                    if got > expected_size:
                        raise DownloadError(f"{name} from {source} is larger than the MNIST file: it is not "
                                            "MNIST, and was not kept.")
                    digest.update(chunk)
                    try:
                        out.write(chunk)
                    except OSError as error:
                        raise DownloadError(
                            f"Digit Lab cannot write into its data folder ({error.strerror}).") from None
                    status.add(len(chunk))
            if got < expected_size:
                raise DownloadError(f"The download of {name} from {source} stopped after {megabytes(got)} of "
                                    f"{megabytes(expected_size)}; nothing of it was kept. Try again.")
            if digest.hexdigest() != IDX_MD5[name]:
                raise DownloadError(f"{name} from {source} is not the original MNIST file (its MD5 checksum "
                                    "differs from the published one), so it was not kept.")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(part, 0o644)  # a temporary file is its owner's alone; MNIST is for every user of the folder
        os.replace(part, folder / name)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise


def _download_claimed(folder: Path, url: str, status: _Status, missing: list[str],
                      on_file: Callable[[str], None] | None) -> None:
    made_folder = not folder.exists()
    try:
        if urllib.parse.urlsplit(url).scheme not in URL_SCHEMES:
            raise DownloadError(f"{MNIST_URL_ENV} must be an http, https or file address, not "
                                f"{source_words(url)!r}.")
        folder.mkdir(parents=True, exist_ok=True)
        for name in missing:
            _fetch(url, name, folder, status)
            if on_file is not None:
                on_file(name)
    except BaseException as error:
        message = str(error) if isinstance(error, DownloadError) else \
            f"The download failed ({type(error).__name__}). The server's log says more."
        status.write(state="failed", message=message)
        if made_folder:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: the files fetched before stay
        raise
    status.write(state="done", done=status.fields["total"])


def download_mnist(folder: Path | None = None, url: str | None = None,
                   on_file: Callable[[str], None] | None = None) -> Path:
    """Fetch into ``folder`` (default: the data folder's copy) those of the four files that are
    not there whole, from ``url`` (default: :func:`mnist_url`); ``on_file(name)`` after each one.
    Returns the folder. DownloadBusy while another download into it is under way, DownloadError
    when a file cannot be fetched whole and right (the files fetched before it stay)."""
    folder = Path(folder or data_copy_dir())
    url = url or mnist_url()
    status, missing = _claim(folder, url)
    _download_claimed(folder, url, status, missing, on_file)
    return folder


def start_download(folder: Path | None = None, url: str | None = None) -> bool:
    """Start :func:`download_mnist` in a thread of this process; False, starting nothing, when
    a download into the folder is under way already (pressed in another tab, or another
    server's). Whatever happens, ends in the status file (:func:`download_status`)."""
    folder = Path(folder or data_copy_dir())
    url = url or mnist_url()
    try:
        status, missing = _claim(folder, url)
    except DownloadBusy:
        return False

    def run() -> None:
        try:
            _download_claimed(folder, url, status, missing, None)
        except DownloadError:
            pass  # said in the status file
        except BaseException as error:  # noqa: BLE001 - the status file says it failed; the log, why
            print(f"[digit-lab] MNIST download: {type(error).__name__}: {error}", flush=True)

    threading.Thread(target=run, name="mnist-download", daemon=True).start()
    return True
