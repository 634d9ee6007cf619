"""Where MNIST is on this computer: the four original files (their names, sizes and the
checksums published with them), the folders looked in, in order, and whether a folder holds a
verified set.

    find_mnist()     # $MNIST_DIR if it holds MNIST, else the data folder's copy; None when neither does

The data folder's copy (``model.data_dir() / "mnist"``) is where the Train page's Get MNIST and
``python -m model.data.mnist --download`` put the files. Checking a folder reads each file's
checksum once per version of the file, so the pages can look again every second for files a
teacher copies in by hand.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from model import data_dir

MNIST_ENV = "MNIST_DIR"
# The checksums published with the original files (yann.lecun.com/exdb/mnist, MD5SUMS), and
# their sizes: the download's progress bar knows the total before any server says it.
IDX_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
IDX_BYTES = {
    "train-images-idx3-ubyte.gz": 9_912_422,
    "train-labels-idx1-ubyte.gz": 28_881,
    "t10k-images-idx3-ubyte.gz": 1_648_877,
    "t10k-labels-idx1-ubyte.gz": 4_542,
}
# The SHA-256 Keras pins for its own copy (keras.datasets.mnist).
NPZ_NAME = "mnist.npz"
NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


class MnistError(RuntimeError):
    """MNIST could not be found, fetched or loaded; the message says where and why."""


def file_digest(path: Path, algorithm: str = "md5") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_digests: dict[tuple[str, str], tuple[int, int, str]] = {}
_digests_lock = threading.Lock()


def _digest_once(path: Path, algorithm: str) -> str | None:
    """The file's digest, computed once per version of it (mtime and size); None when unreadable."""
    try:
        stat = path.stat()
        key, stamp = (str(path.resolve()), algorithm), (stat.st_mtime_ns, stat.st_size)
        cached = _digests.get(key)
        if cached is not None and cached[:2] == stamp:
            return cached[2]
        digest = file_digest(path, algorithm)
    except OSError:
        return None
    with _digests_lock:
        _digests[key] = (*stamp, digest)
    return digest


def good_idx_file(path: Path) -> bool:
    """Whether ``path`` is one of the four original files, whole and unchanged."""
    name = path.name
    try:
        if name not in IDX_MD5 or path.stat().st_size != IDX_BYTES[name]:
            return False  # the size first: a file still being copied costs no checksum
    except OSError:
        return False
    return _digest_once(path, "md5") == IDX_MD5[name]


def holds_mnist(where: Path) -> Path | None:
    """What to load from ``where`` (a folder, or a Keras ``mnist.npz``) when it holds a verified
    MNIST: the folder of the four IDX files, or the npz; None when it does not."""
    if where.is_file():
        return where if where.suffix == ".npz" and _digest_once(where, "sha256") == NPZ_SHA256 else None
    if not where.is_dir():
        return None
    if all(good_idx_file(where / name) for name in IDX_MD5):
        return where
    npz = where / NPZ_NAME
    return npz if npz.is_file() and _digest_once(npz, "sha256") == NPZ_SHA256 else None


def data_copy_dir(environ: dict | None = None) -> Path:
    """The data folder's copy of MNIST: where Get MNIST downloads it."""
    return data_dir(environ) / "mnist"


def mnist_dir_setting(environ: dict | None = None) -> Path | None:
    """``$MNIST_DIR`` as a path; None when unset or empty (``make run`` exports it empty on a
    machine without ``../shared/mnist``)."""
    where = (os.environ if environ is None else environ).get(MNIST_ENV, "").strip()
    return Path(where).expanduser() if where else None


def find_mnist(environ: dict | None = None) -> Path | None:
    """Where to load MNIST from, in the loader's order: ``$MNIST_DIR`` when it holds a verified
    set, else the data folder's copy when it does; None when neither does."""
    for where in (mnist_dir_setting(environ), data_copy_dir(environ)):
        if where is not None and (found := holds_mnist(where)) is not None:
            return found
    return None
