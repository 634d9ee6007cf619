"""The not-a-digit score: its features are the classifier's own, its threshold was fixed on the
validation digits, and at that threshold it flags few digits and most letters and scribbles."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from model import MODEL_DIR
from model.data.mnist import split_validation
from model.explaining import novelty
from model.serving.artifacts import shipped_archs
from model.serving.inference import load_classifier
from tests.outliers import drawn_digits, installed_fonts, random_scribbles, rendered_letters

ARCH = "cnn"
LITERT_ARCHS = [a for a in shipped_archs() if (MODEL_DIR / a / "model.tflite").is_file()]


@pytest.mark.parametrize("arch", LITERT_ARCHS)
def test_features_are_the_ones_the_classifier_reads(arch, mnist):
    """Softmax of the last layer applied to the features = the shipped model's probabilities."""
    x = mnist.test.images[:200].astype(np.float32) / 255
    model = novelty.load_feature_model(arch)
    features = model.features(x)
    logits = model.logits(features)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probabilities, load_classifier(arch).predict_proba(x), atol=1e-5)
    assert features.shape == (200, model.weights.shape[1])


def test_output_patch_only_moves_an_existing_output():
    data = (MODEL_DIR / ARCH / "model.tflite").read_bytes()
    with pytest.raises(novelty.NoveltyError):
        novelty.with_output(data, 10_000, 3)
    features, output, _w, _b = novelty._litert_graph(MODEL_DIR / ARCH / "model.tflite")
    patched = novelty.with_output(data, output, features)
    assert len(patched) == len(data) and patched != data


def test_mahalanobis_is_the_distance_to_the_nearest_mean(rng):
    means = rng.normal(size=(10, 5))
    a = rng.normal(size=(5, 5))
    precision = a @ a.T + np.eye(5)
    x = rng.normal(size=(7, 5))
    brute = [min((f - m) @ precision @ (f - m) for m in means) for f in x]
    np.testing.assert_allclose(novelty.mahalanobis(x, means, precision), brute, rtol=1e-9)


def test_every_litert_model_ships_its_statistics_and_card_fields():
    for arch in LITERT_ARCHS:
        card = json.loads((MODEL_DIR / arch / "card.json").read_text())
        assert card["novelty_method"] == novelty.SHIPPED_METHOD and card["novelty_threshold"] > 0, arch
        assert (MODEL_DIR / arch / novelty.STATS_FILE).stat().st_size < 400_000, arch


# cnn and an MLP, whose wide layer is projected on a basis first.
@pytest.mark.parametrize("arch", ["cnn", "seed002_mlp"])
def test_card_threshold_is_the_validation_quantile(arch, mnist):
    card = json.loads((MODEL_DIR / arch / "card.json").read_text())
    _train, val = split_validation(mnist.train)
    scores = novelty.novelty_scores(arch, val.images.astype(np.float32) / 255)
    assert card["novelty_method"] == novelty.scorer(arch).stats.method
    assert card["novelty_threshold"] == pytest.approx(np.quantile(scores, card["novelty_validation_quantile"]),
                                                      rel=1e-3)


def test_explain_novelty_is_the_contract(mnist):
    from model.explaining.explain import novelty as explain_novelty

    digits = mnist.test.images[:5].astype(np.float32) / 255
    scores = explain_novelty(ARCH, digits)
    assert scores.shape == (5,) and np.isfinite(scores).all()
    np.testing.assert_allclose(scores, novelty.novelty_scores(ARCH, digits))


def test_flags_few_digits(mnist):
    threshold = json.loads((MODEL_DIR / ARCH / "card.json").read_text())["novelty_threshold"]
    test = novelty.novelty_scores(ARCH, mnist.test.images.astype(np.float32) / 255)
    drawn, _labels = drawn_digits(np.random.default_rng(20261129), per_digit=10)
    assert (test > threshold).mean() <= 0.02
    assert (novelty.novelty_scores(ARCH, drawn) > threshold).mean() <= 0.05


@pytest.mark.skipif(len(installed_fonts()) < 3, reason="needs three font families (DejaVu, Liberation, Pillow's)")
def test_flags_most_letters_and_scribbles(mnist):
    threshold = json.loads((MODEL_DIR / ARCH / "card.json").read_text())["novelty_threshold"]
    letters = rendered_letters(sizes=(40, 120))
    flagged = {font: float((novelty.novelty_scores(ARCH, x) > threshold).mean()) for font, x in letters.items()}
    everything = np.concatenate(list(letters.values()))
    share = float((novelty.novelty_scores(ARCH, everything) > threshold).mean())
    print(f"letters flagged: {share:.1%}", flagged)
    # The 80% target is for bench/novelty.py's full set (80.6%); on this smaller one 80.3% is
    # measured, and the margin allows a different CPU's rounding to move a few letters.
    assert share >= 0.75
    assert min(flagged.values()) >= 0.6
    scribbles = random_scribbles(200, np.random.default_rng(7))
    assert (novelty.novelty_scores(ARCH, scribbles) > threshold).mean() >= 0.8
    digits = novelty.novelty_scores(ARCH, mnist.test.images[:3000].astype(np.float32) / 255)
    assert novelty.auroc(digits, novelty.novelty_scores(ARCH, everything)) >= 0.95


@pytest.mark.slow
def test_the_derived_command_remakes_a_models_statistics_and_map(mnist_dir, tmp_path):
    arch = "seed002_mlp"  # the quickest LiteRT model to fit: the command is the same for all
    folder = tmp_path / arch
    folder.mkdir()
    for name in ("model.tflite", "card.json"):
        shutil.copy(MODEL_DIR / arch / name, folder / name)
    shipped = json.loads((MODEL_DIR / arch / "card.json").read_text())
    result = subprocess.run(
        [sys.executable, "-m", "model.explaining.derived", "--arch", arch, "--model-dir", str(tmp_path), "--data-dir", mnist_dir],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (folder / novelty.STATS_FILE).is_file() and (folder / "embedding.npz").is_file(), result.stdout
    card = json.loads((folder / "card.json").read_text())
    # Same model, same digits: the same threshold; and the rest of the card as it was.
    assert card["novelty_threshold"] == pytest.approx(shipped["novelty_threshold"], rel=1e-3)
    assert {k: v for k, v in card.items() if not k.startswith("novelty")} == {
        k: v for k, v in shipped.items() if not k.startswith("novelty")}
    assert "XNNPACK" not in result.stderr and result.stderr.strip() == "", result.stderr


def test_the_derived_command_names_a_model_it_does_not_have(tmp_path):
    result = subprocess.run([sys.executable, "-m", "model.explaining.derived", "--arch", "nosuch", "--model-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "no trained model named nosuch" in result.stderr


def test_the_browser_tests_letter_is_flagged_with_room_to_spare():
    """The K the browser tests draw (tests.drawing.LETTER_K) is called no digit however a browser
    samples the pen: 40 renderings with every point moved by about 3 px (s.d.) all score at least
    20% above the threshold."""
    from model.data.preprocess import canvas_to_mnist
    from model.explaining.explain import novelty as novelty_score
    from tests.drawing import LETTER_K, place, render, smooth

    threshold = load_classifier(ARCH).card["novelty_threshold"]
    strokes = place([smooth(s, 4) for s in LETTER_K], 0.6)
    rng = np.random.default_rng(0)
    images = []
    for _ in range(40):
        moved = [[(x + rng.normal(0, 0.008), y + rng.normal(0, 0.008)) for x, y in s] for s in strokes]
        images.append(canvas_to_mnist(render(moved)))
    scores = novelty_score(ARCH, np.stack(images))
    assert scores.min() > 1.2 * threshold, (scores.min(), threshold)
