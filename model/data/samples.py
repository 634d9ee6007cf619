"""A few MNIST test digits shipped with the app (``assets/sample_digits.npz``), so the Inside
page has a digit to show when no drawing is made and MNIST is not on the server.

Written by ``python -m model.data.samples --data-dir $MNIST_DIR`` (ten of each digit, the first
ones of the test set; about 18 KB).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from model import MODEL_DIR
from model.data.mnist import load_mnist

SAMPLES_PATH = MODEL_DIR.parent / "assets" / "sample_digits.npz"
PER_DIGIT = 10


def pick_samples(labels: np.ndarray, per_digit: int = PER_DIGIT) -> np.ndarray:
    """Indices of the first ``per_digit`` images of each digit, in test-set order."""
    labels = np.asarray(labels)
    chosen = np.concatenate([np.flatnonzero(labels == d)[:per_digit] for d in range(10)])
    return np.sort(chosen)


def write_samples(images: np.ndarray, labels: np.ndarray, indices: np.ndarray,
                  path: Path = SAMPLES_PATH) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, images=np.asarray(images, np.uint8)[indices],
                        labels=np.asarray(labels, np.uint8)[indices],
                        indices=np.asarray(indices, np.int32))
    return path


def load_samples(path: Path = SAMPLES_PATH) -> dict[str, np.ndarray]:
    """``images`` (N, 28, 28) uint8, ``labels`` (N,), ``indices`` (N,) in the MNIST test set.
    Raises ``OSError``/``ValueError`` if the file is missing or damaged."""
    with np.load(path, allow_pickle=False) as data:
        samples = {k: data[k] for k in ("images", "labels", "indices")}
    n = len(samples["labels"])
    if samples["images"].shape != (n, 28, 28) or samples["indices"].shape != (n,) or n == 0:
        raise ValueError(f"{path} does not hold 28x28 digits with labels")
    return samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DIR)")
    parser.add_argument("--out", type=Path, default=SAMPLES_PATH)
    args = parser.parse_args(argv)
    test = load_mnist(args.data_dir).test
    path = write_samples(test.images, test.labels, pick_samples(test.labels), args.out)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
