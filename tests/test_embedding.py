"""The 2-D map: shipped for every LiteRT model, a new point is placed by the same formula as the
map's digits, and the neighbours shown are the true nearest in the full feature space."""
from __future__ import annotations

import numpy as np
import pytest

from model import MODEL_DIR
from model.explaining.embedding import MAP_DIGITS, NEIGHBOURS, load_embedding
from model.explaining.novelty import load_feature_model

LITERT_ARCHS = sorted(p.parent.name for p in MODEL_DIR.glob("*/model.tflite"))


@pytest.mark.parametrize("arch", LITERT_ARCHS)
def test_every_litert_model_ships_its_map(arch):
    atlas = load_embedding(arch)
    assert atlas.points.shape == (MAP_DIGITS, 2) and np.isfinite(atlas.points).all()
    assert set(np.unique(atlas.labels)) == set(range(10))
    assert len(atlas.pool) >= 100 and atlas.pool_images.shape == (len(atlas.pool), 28, 28)
    assert (MODEL_DIR / arch / "embedding.npz").stat().st_size < 600_000


@pytest.mark.parametrize("arch", ["cnn", "seed002_mlp"])
def test_a_digit_is_placed_where_the_map_has_it_and_is_its_own_nearest_neighbour(arch):
    atlas = load_embedding(arch)
    model = load_feature_model(arch)
    features = model.features(atlas.pool_images[:20].astype(np.float32) / 255)
    np.testing.assert_allclose(atlas.place(features), atlas.points[atlas.pool[:20]], atol=1e-2 * np.ptp(atlas.points))
    for i, f in enumerate(features):
        nearest, distance = atlas.neighbours(f)
        assert nearest[0] == i and distance[0] < 1e-2 * np.linalg.norm(f)


def test_neighbours_are_the_brute_force_nearest(mnist, rng):
    atlas = load_embedding("cnn")
    model = load_feature_model("cnn")
    queries = model.features(mnist.train.images[rng.choice(60_000, 30, replace=False)].astype(np.float32) / 255)
    for f in queries:
        nearest, distance = atlas.neighbours(f)
        brute = sorted(range(len(atlas.pool)), key=lambda j: float(np.linalg.norm(atlas.pool_features[j] - f)))
        assert list(nearest) == brute[:NEIGHBOURS]
        assert distance == pytest.approx([np.linalg.norm(atlas.pool_features[j] - f) for j in brute[:NEIGHBOURS]],
                                         rel=1e-4)
        assert np.all(np.diff(distance) >= 0)
