"""MNIST, loaded from the four original IDX files (or a Keras ``mnist.npz``) and verified.

    train, val, test = load_splits("../shared/mnist")

The directory comes from the argument, else ``$MNIST_DIR``; with neither, the standard Keras
download is tried. Every failure raises :class:`MnistError` naming the path and the problem.
"""
from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The checksums published with the original files (yann.lecun.com/exdb/mnist, MD5SUMS).
IDX_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
# The SHA-256 Keras pins for its own copy (keras.datasets.mnist).
NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

# The validation split is the same for every model and every training seed, so that
# validation numbers of different models are comparable; the test set is never used to choose.
VALIDATION_SIZE = 5_000
VALIDATION_SEED = 1998


class MnistError(RuntimeError):
    """MNIST could not be loaded; the message says where and why."""


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # (N, 28, 28) uint8, 0 = background, 255 = ink
    labels: np.ndarray  # (N,) uint8

    def __len__(self) -> int:
        return len(self.labels)

    def head(self, n: int | None) -> "Split":
        """The first ``n`` digits (all of them for None)."""
        return self if n is None else Split(self.images[:n], self.labels[:n])


def unit_pixels(images: np.ndarray, dtype=np.float32) -> np.ndarray:
    """uint8 pixels 0..255 -> [0, 1], the input every Digit Lab model takes."""
    return np.asarray(images).astype(dtype) / 255


@dataclass(frozen=True)
class Mnist:
    train: Split
    test: Split
    source: str  # the directory or file it came from
    checksums: dict[str, str]  # file name -> verified digest


def file_digest(path: Path, algorithm: str = "md5") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_idx(path: Path, magic: int, shape: tuple[int, ...]) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise MnistError(f"{path}: not a readable gzip file ({e})") from e
    header_ints = 1 + len(shape)
    header = np.frombuffer(raw[: 4 * header_ints], dtype=">u4")
    if len(header) < header_ints or header[0] != magic:
        raise MnistError(f"{path}: not an IDX file with magic number {magic}")
    if tuple(int(d) for d in header[1:]) != shape:
        raise MnistError(f"{path}: wrong shape {tuple(header[1:].tolist())}, expected {shape}")
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * header_ints)
    if data.size != int(np.prod(shape)):
        raise MnistError(f"{path}: {data.size} values, expected {int(np.prod(shape))}")
    return data.reshape(shape)


def _load_idx_dir(directory: Path) -> Mnist:
    missing = [name for name in IDX_MD5 if not (directory / name).is_file()]
    if missing:
        raise MnistError(f"{directory}: missing {', '.join(missing)}")
    checksums = {}
    for name, expected in IDX_MD5.items():
        actual = file_digest(directory / name)
        if actual != expected:
            raise MnistError(f"{directory / name}: bad checksum (md5 {actual}, expected {expected})")
        checksums[name] = actual
    train = Split(
        _read_idx(directory / "train-images-idx3-ubyte.gz", 2051, (60_000, 28, 28)),
        _read_idx(directory / "train-labels-idx1-ubyte.gz", 2049, (60_000,)),
    )
    test = Split(
        _read_idx(directory / "t10k-images-idx3-ubyte.gz", 2051, (10_000, 28, 28)),
        _read_idx(directory / "t10k-labels-idx1-ubyte.gz", 2049, (10_000,)),
    )
    return Mnist(train, test, str(directory), checksums)


def _load_npz(path: Path) -> Mnist:
    actual = file_digest(path, "sha256")
    if actual != NPZ_SHA256:
        raise MnistError(f"{path}: bad checksum (sha256 {actual}, expected {NPZ_SHA256})")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, KeyError, ValueError) as e:
        raise MnistError(f"{path}: not a Keras mnist.npz ({e})") from e
    return Mnist(
        Split(arrays["x_train"], arrays["y_train"]),
        Split(arrays["x_test"], arrays["y_test"]),
        str(path),
        {path.name: actual},
    )


def _download_with_keras() -> Mnist:
    try:
        from keras.utils import get_file

        path = get_file(
            "mnist.npz",
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
            file_hash=NPZ_SHA256,
        )
    except Exception as e:  # any network or cache failure ends in the same advice
        raise MnistError(
            "No MNIST directory given (--data-dir or MNIST_DIR) and the Keras download failed "
            f"({type(e).__name__}: {e}). Point MNIST_DIR at a folder holding the four IDX .gz files."
        ) from e
    return _load_npz(Path(path))


def load_mnist(data_dir: str | os.PathLike | None = None) -> Mnist:
    """Load and verify MNIST from ``data_dir``, ``$MNIST_DIR`` or the Keras download."""
    data_dir = data_dir or os.environ.get("MNIST_DIR") or None
    if data_dir is None:
        return _download_with_keras()
    path = Path(data_dir).expanduser()
    if path.is_file() and path.suffix == ".npz":
        return _load_npz(path)
    if not path.is_dir():
        raise MnistError(f"{path}: no such directory")
    if (path / "mnist.npz").is_file() and not (path / next(iter(IDX_MD5))).exists():
        return _load_npz(path / "mnist.npz")
    return _load_idx_dir(path)


def split_validation(train: Split) -> tuple[Split, Split]:
    """Carve the fixed, seeded validation set out of the training set."""
    order = np.random.default_rng(VALIDATION_SEED).permutation(len(train))
    val_idx, train_idx = order[:VALIDATION_SIZE], order[VALIDATION_SIZE:]
    return (
        Split(train.images[train_idx], train.labels[train_idx]),
        Split(train.images[val_idx], train.labels[val_idx]),
    )


def load_splits(data_dir: str | os.PathLike | None = None) -> tuple[Split, Split, Split, Mnist]:
    """Return ``(train, val, test, mnist)`` with the fixed validation split."""
    mnist = load_mnist(data_dir)
    train, val = split_validation(mnist.train)
    return train, val, mnist.test, mnist
