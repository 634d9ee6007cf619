"""The MNIST loader: real files verified, every broken input named in the error. Where it looks,
and the download when MNIST is nowhere: tests/test_mnist_download.py."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from model.data.mnist import (
    IDX_MD5,
    VALIDATION_SIZE,
    MnistError,
    _read_idx,
    load_mnist,
    load_splits,
    split_validation,
)


def test_loads_the_real_files_with_official_checksums(mnist):
    assert mnist.train.images.shape == (60_000, 28, 28)
    assert mnist.test.images.shape == (10_000, 28, 28)
    assert mnist.train.images.dtype == np.uint8
    assert mnist.checksums == IDX_MD5
    # MNIST's known class balance: every digit 5,421 to 6,742 times in training.
    counts = np.bincount(mnist.train.labels, minlength=10)
    assert counts.min() == 5421 and counts.max() == 6742
    assert mnist.test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_validation_split_is_fixed_disjoint_and_from_training(mnist):
    train_a, val_a = split_validation(mnist.train)
    train_b, val_b = split_validation(mnist.train)
    assert len(val_a) == VALIDATION_SIZE and len(train_a) == 60_000 - VALIDATION_SIZE
    np.testing.assert_array_equal(val_a.labels, val_b.labels)
    np.testing.assert_array_equal(train_a.images[:50], train_b.images[:50])
    # Disjoint: no validation image also appears among the training images.
    train_rows = {img.tobytes() for img in train_a.images[:20_000]}
    assert not any(img.tobytes() in train_rows for img in val_a.images[:500] if img.any())


def test_load_splits_never_touches_test_for_validation(mnist_dir, mnist):
    _, val, test, _ = load_splits(mnist_dir)
    np.testing.assert_array_equal(test.labels, mnist.test.labels)
    assert not np.array_equal(val.images[:100], mnist.test.images[:100])


def _copy_set(source: str, target: Path) -> Path:
    target.mkdir()
    for name in IDX_MD5:
        shutil.copy(Path(source) / name, target / name)
    return target


def test_bad_directory_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(MnistError, match="nowhere: no such directory"):
        load_mnist(missing)


def test_missing_file_is_named(tmp_path, mnist_dir):
    folder = _copy_set(mnist_dir, tmp_path / "mnist")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MnistError, match="missing t10k-labels-idx1-ubyte.gz"):
        load_mnist(folder)


def test_wrong_checksum_is_named(tmp_path, mnist_dir):
    folder = _copy_set(mnist_dir, tmp_path / "mnist")
    labels = folder / "train-labels-idx1-ubyte.gz"
    raw = bytearray(labels.read_bytes())
    raw[-20] ^= 0xFF
    labels.write_bytes(bytes(raw))
    with pytest.raises(MnistError, match=r"train-labels-idx1-ubyte.gz: bad checksum \(md5 [0-9a-f]{32}, expected d53e"):
        load_mnist(folder)


def test_corrupted_file_is_named(tmp_path):
    # Past the checksum, the parser still refuses what is not an IDX file of the right shape.
    not_gzip = tmp_path / "a.gz"
    not_gzip.write_bytes(b"this is not gzip")
    with pytest.raises(MnistError, match="not a readable gzip file"):
        _read_idx(not_gzip, 2049, (3,))
    wrong_magic = tmp_path / "b.gz"
    wrong_magic.write_bytes(gzip.compress(np.array([2051, 3], ">u4").tobytes() + bytes(3)))
    with pytest.raises(MnistError, match="magic number 2049"):
        _read_idx(wrong_magic, 2049, (3,))
    wrong_shape = tmp_path / "c.gz"
    wrong_shape.write_bytes(gzip.compress(np.array([2049, 5], ">u4").tobytes() + bytes(5)))
    with pytest.raises(MnistError, match=r"wrong shape \(5,\), expected \(3,\)"):
        _read_idx(wrong_shape, 2049, (3,))
    truncated = tmp_path / "d.gz"
    truncated.write_bytes(gzip.compress(np.array([2049, 3], ">u4").tobytes() + bytes(2)))
    with pytest.raises(MnistError, match="2 values, expected 3"):
        _read_idx(truncated, 2049, (3,))


def test_npz_with_wrong_checksum_is_refused(tmp_path):
    fake = tmp_path / "mnist.npz"
    np.savez(fake, x_train=np.zeros((1, 28, 28)), y_train=[0], x_test=np.zeros((1, 28, 28)), y_test=[0])
    with pytest.raises(MnistError, match="mnist.npz: bad checksum"):
        load_mnist(fake)


def test_environment_variable_is_used(monkeypatch, mnist_dir):
    monkeypatch.setenv("MNIST_DIR", mnist_dir)
    assert load_mnist().source == mnist_dir
