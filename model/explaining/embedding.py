"""Where a digit lands among the digits the network knows: a 2-D map of its last hidden layer.

    atlas = load_embedding("cnn")
    xy = atlas.place(features)                 # (N, D) -> (N, 2), exactly where the map puts it
    nearest, distance = atlas.neighbours(features[0], k=8)   # in all D numbers, not on the map

The map is a linear projection (linear discriminant analysis: the two directions of the
features that best pull the ten digits apart, fitted on 10,000 training digits) of 5,000 MNIST
test digits. Linear, so a new drawing is placed by the same formula as the digits already on
it, and its place means the same; t-SNE or UMAP draw prettier islands but have no honest way to
place a new point. Two numbers cannot hold the D the network uses: digits that overlap on the
map may be far apart for the network, so the neighbours shown are searched in the full feature
space, among 1,000 of the map's digits (100 of each; fewer for layers wider than 256) whose
features and pixels are stored.

Written as ``model/<arch>/embedding.npz`` (~300 KB) by ``python -m model.explaining.derived --arch cnn
--data-dir $MNIST_DIR`` and by training.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model import MODEL_DIR
from model.data.mnist import load_splits, unit_pixels
from model.explaining.novelty import features_in_batches, load_feature_model
from model.serving.artifacts import PerModel, features_command

EMBEDDING_FILE = "embedding.npz"
MAP_DIGITS = 5_000
FIT_DIGITS = 10_000
# Neighbour candidates per digit class: 100 for layers up to 256 wide, fewer for wider ones so
# that their stored features stay ~500 KB before compression.
POOL_FEATURES = 25_600


def pool_per_class(width: int) -> int:
    return max(10, min(100, POOL_FEATURES // width))

NEIGHBOURS = 8
SEED = 21


class EmbeddingError(RuntimeError):
    """The map is missing or unreadable; the message names the fix. ``path`` is the file;
    ``missing`` says it is absent, not damaged."""

    def __init__(self, message: str, path: Path, missing: bool = False):
        super().__init__(message)
        self.path, self.missing = path, missing


@dataclass(frozen=True)
class Embedding:
    centre: np.ndarray  # (D,)
    projection: np.ndarray  # (D, 2)
    points: np.ndarray  # (M, 2) the map's digits
    labels: np.ndarray  # (M,)
    pool: np.ndarray  # (P,) indices into points of the digits searchable as neighbours
    pool_features: np.ndarray  # (P, D) float32
    pool_images: np.ndarray  # (P, 28, 28) uint8

    def place(self, features: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(features).astype(np.float64) - self.centre) @ self.projection

    def neighbours(self, features: np.ndarray, k: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` pool digits nearest to ``features`` (D,) in Euclidean distance over all D
        features, nearest first: (indices into the pool, distances)."""
        f = np.asarray(features, np.float32).reshape(1, -1)
        d2 = ((self.pool_features - f) ** 2).sum(axis=1)
        nearest = np.argpartition(d2, k)[:k] if k < len(d2) else np.arange(len(d2))
        nearest = nearest[np.argsort(d2[nearest], kind="stable")]
        return nearest, np.sqrt(d2[nearest])

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path, centre=self.centre.astype(np.float32), projection=self.projection.astype(np.float32),
            points=self.points.astype(np.float32), labels=self.labels.astype(np.uint8),
            pool=self.pool.astype(np.uint16), pool_features=self.pool_features.astype(np.float16),
            pool_images=self.pool_images.astype(np.uint8),
        )

    @classmethod
    def load(cls, path: Path) -> "Embedding":
        fix = features_command(path.parent.name)
        try:
            with np.load(path, allow_pickle=False) as f:
                return cls(f["centre"].astype(np.float64), f["projection"].astype(np.float64), f["points"],
                           f["labels"], f["pool"].astype(np.int64), f["pool_features"].astype(np.float32),
                           f["pool_images"])
        except FileNotFoundError:
            raise EmbeddingError(f"{path} is missing. Make it with: {fix}", path, missing=True) from None
        except Exception as e:  # noqa: BLE001 - a damaged archive fails in many ways
            raise EmbeddingError(f"{path} is unreadable ({e}). Make it again with: {fix}", path) from e


# model_dir/arch/embedding.npz, read once per process.
load_embedding = PerModel(lambda arch, model_dir: Embedding.load(model_dir / arch / EMBEDDING_FILE))


def fit(arch: str, data_dir: str | None = None, model_dir: Path = MODEL_DIR, splits=None) -> Embedding:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis


    train, _val, test, _ = splits if splits is not None else load_splits(data_dir)
    model = load_feature_model(arch, model_dir)
    rng = np.random.default_rng(SEED)
    fit_rows = rng.permutation(len(train))[:FIT_DIGITS]
    fit_features = features_in_batches(model, unit_pixels(train.images[fit_rows]))
    lda = LinearDiscriminantAnalysis(n_components=2, solver="svd").fit(fit_features, train.labels[fit_rows])
    centre, projection = lda.xbar_, lda.scalings_[:, :2]

    shown = np.sort(rng.permutation(len(test))[:MAP_DIGITS])
    images, labels = test.images[shown], test.labels[shown]
    features = features_in_batches(model, unit_pixels(images))
    points = (features.astype(np.float64) - centre) @ projection
    per_class = pool_per_class(features.shape[1])
    pool = np.sort(np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class]
                                   for c in range(10)]))
    # The pool's features are stored as float16 and searched as such: the neighbours are exact
    # for what is stored, and float16 moves a distance by ~0.1%.
    atlas = Embedding(centre, projection, points, labels, pool,
                      features[pool].astype(np.float16).astype(np.float32), images[pool])
    atlas.save(Path(model_dir) / arch / EMBEDDING_FILE)
    load_embedding.forget(arch, model_dir)
    return atlas
