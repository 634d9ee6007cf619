"""MNIST, loaded from the four original IDX files (or a Keras ``mnist.npz``) and verified.

    train, val, test = load_splits("../shared/mnist")

Where from, in this order: the argument (``--data-dir``), else ``$MNIST_DIR``, else the data
folder's copy (``data/mnist``), else the four files are downloaded into that copy
(``model.data.mnist_download``, from ``$DIGITLAB_MNIST_URL``). Every failure raises
:class:`MnistError` naming the path and the problem. From the command line:

    python -m model.data.mnist                          # where MNIST is, or that it is not here
    python -m model.data.mnist --download [--to DIR]    # fetch the four files (default: data/mnist)
"""
from __future__ import annotations

import argparse
import gzip
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.data.mnist_download import (
    MNIST_URL_ENV,
    TOTAL_BYTES,
    DownloadError,
    by_hand,
    download_mnist,
    megabytes,
    mnist_url,
    source_words,
)
from model.data.mnist_sources import (
    IDX_MD5,
    MNIST_ENV,
    NPZ_NAME,
    NPZ_SHA256,
    MnistError,
    data_copy_dir,
    file_digest,
    find_mnist,
    holds_mnist,
    mnist_dir_setting,
)

# The validation split is the same for every model and every training seed, so that
# validation numbers of different models are comparable; the test set is never used to choose.
VALIDATION_SIZE = 5_000
VALIDATION_SEED = 1998


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


def _download_into_data_copy() -> Mnist:
    folder = data_copy_dir()
    print(f"MNIST is not on this computer yet: downloading the four files ({megabytes(TOTAL_BYTES)}) from "
          f"{source_words(mnist_url())} into {folder}", file=sys.stderr)
    try:
        download_mnist(folder)
    except DownloadError as error:
        unset = "" if mnist_dir_setting() else f"No MNIST folder given (--data-dir or {MNIST_ENV}) and "
        raise MnistError(f"{unset}the download did not finish: {error} {by_hand(str(folder))}") from None
    return _load_idx_dir(folder)


def _load_from(where: Path) -> Mnist:
    if where.is_file() and where.suffix == ".npz":
        return _load_npz(where)
    if not where.is_dir():
        raise MnistError(f"{where}: no such directory")
    if (where / NPZ_NAME).is_file() and not (where / next(iter(IDX_MD5))).exists():
        return _load_npz(where / NPZ_NAME)
    return _load_idx_dir(where)


def load_mnist(data_dir: str | os.PathLike | None = None) -> Mnist:
    """Load and verify MNIST from ``data_dir``; without one, from ``$MNIST_DIR`` or the data
    folder's copy, whichever holds it first, else download it into the data folder's copy."""
    if data_dir:
        return _load_from(Path(data_dir).expanduser())
    given = mnist_dir_setting()
    if given is not None and holds_mnist(given) is None:
        print(f"{MNIST_ENV}={given} does not hold MNIST; looking in the data folder instead.", file=sys.stderr)
    found = find_mnist()
    return _load_from(found) if found is not None else _download_into_data_copy()


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Where MNIST is on this computer; with --download, fetch the four original files.")
    parser.add_argument("--download", action="store_true",
                        help="fetch those of the four files that are not there whole, checked against their MD5")
    parser.add_argument("--to", type=Path, default=None, help=f"into this folder (default: {data_copy_dir()})")
    parser.add_argument("--url", default=None,
                        help=f"the folder URL holding the four .gz files (default: ${MNIST_URL_ENV}, "
                        f"else {mnist_url({})})")
    args = parser.parse_args(argv)
    if not args.download:
        found = find_mnist()
        if found is None:
            print("MNIST is not on this computer yet. Fetch it: python -m model.data.mnist --download\n"
                  + by_hand(str(data_copy_dir())).replace("`", ""))
            return 1
        print(f"MNIST: {found} (the four files, verified)" if found.is_dir() else f"MNIST: {found} (verified)")
        return 0
    folder, url = args.to or data_copy_dir(), args.url or mnist_url()
    if holds_mnist(folder) is not None:
        print(f"{folder} holds MNIST already; nothing to download.")
        return 0
    print(f"Downloading the MNIST files from {source_words(url)} into {folder}", flush=True)
    try:
        download_mnist(folder, url, on_file=lambda name: print(f"  {name}: checked", flush=True))
    except DownloadError as error:
        print(f"{error}\n{by_hand(str(folder)).replace('`', '')}", file=sys.stderr)
        return 1
    print(f"Done: {folder} holds MNIST.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
