"""Inference: the fast runtimes agree with Keras, and broken model files fail clearly."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from model import MODEL_DIR
from model.serving.artifacts import load_card, shipped_archs
from model.serving.inference import ClassifierError, load_classifier

KERAS_ARCHS = [a for a in shipped_archs() if (MODEL_DIR / a / "model.keras").is_file()]


_ACCURACIES: dict[str, float] = {}


def measured_accuracy(arch: str, mnist) -> float:
    """The shipped model's accuracy on the 10,000 test digits, with the runtime the app uses;
    computed once per model (the slowest step of these tests) for the tests below."""
    if arch not in _ACCURACIES:
        predicted = load_classifier(arch).predict_proba(mnist.test.images / 255.0).argmax(axis=1)
        _ACCURACIES[arch] = float((predicted == mnist.test.labels).mean())
    return _ACCURACIES[arch]


def test_every_keras_model_is_shipped_with_its_export():
    assert "cnn" in KERAS_ARCHS
    for arch in KERAS_ARCHS:
        assert (MODEL_DIR / arch / "model.tflite").is_file(), arch


@pytest.mark.parametrize("arch", KERAS_ARCHS)
def test_litert_equals_keras_within_1e5(arch, mnist):
    fast = load_classifier(arch)
    keras_model = load_classifier(arch, runtime="keras")
    assert (fast.runtime, keras_model.runtime) == ("litert", "keras")
    digits = mnist.test.images[:256] / 255.0
    one_by_one = np.concatenate([fast.predict_proba(d) for d in digits[:32]])
    batched = fast.predict_proba(digits)
    reference = keras_model.predict_proba(digits)
    assert batched.shape == (256, 10)
    np.testing.assert_allclose(batched, reference, atol=1e-5)
    np.testing.assert_allclose(one_by_one, reference[:32], atol=1e-5)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-5)


def test_shipped_cnn_scores_what_it_recorded_and_at_least_99_60(mnist):
    accuracy = measured_accuracy("cnn", mnist)
    recorded = json.loads((MODEL_DIR / "cnn" / "evaluation.json").read_text())
    assert abs(accuracy - recorded["accuracy"]) <= 2e-4  # LiteRT may flip one borderline digit
    assert accuracy >= 0.9960, accuracy  # the shipped cnn's level: a retrained one must not fall below it


@pytest.mark.xfail(
    strict=True,
    reason="the target, not met yet: the shipped cnn scores 99.61%; every variant tried so far "
    "is listed in docs/research.md",
)
def test_shipped_cnn_scores_at_least_99_70_on_the_real_test_set(mnist):
    accuracy = measured_accuracy("cnn", mnist)
    assert accuracy >= 0.9970, accuracy


def default_first(archs: list[str]) -> list:
    """The default model's case gates each change (make test); scoring every other model's 10,000
    test digits runs with the slow tests (make test-slow, CI): their files change only when they
    are retrained."""
    return [a if a == "cnn" else pytest.param(a, marks=pytest.mark.slow) for a in archs]


@pytest.mark.parametrize("arch", default_first(shipped_archs()))
def test_every_shipped_model_scores_what_its_card_says(arch, mnist):
    accuracy = measured_accuracy(arch, mnist)
    assert accuracy == pytest.approx(load_card(arch)["test_accuracy"], abs=2e-4)


# Known shortfalls, each with its reason; strict, so that a retrained model
# that reaches its figure turns the mark into a failure and the mark gets removed.
# Empty while every shipped model reaches its published figure.
BELOW_PUBLISHED: dict[str, str] = {}


@pytest.mark.parametrize(
    "arch",
    [
        pytest.param(a, marks=[pytest.mark.slow] + ([pytest.mark.xfail(strict=True, reason=BELOW_PUBLISHED[a])]
                                                    if a in BELOW_PUBLISHED else []))
        for a in shipped_archs()
        if load_card(a).get("published_accuracy")
    ],
)
def test_every_seed_model_reaches_its_published_accuracy(arch, mnist):
    accuracy = measured_accuracy(arch, mnist)
    published = load_card(arch)["published_accuracy"]
    assert accuracy >= published, f"{arch}: {accuracy:.2%} is below its seed project's {published:.2%}"


def test_input_shapes_are_checked():
    cnn = load_classifier("cnn")
    assert cnn.predict_proba(np.zeros((28, 28))).shape == (1, 10)
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        cnn.predict_proba(np.zeros((3, 32, 32)))


def test_missing_and_corrupt_models_fail_with_the_fix(tmp_path):
    with pytest.raises(ClassifierError, match="card.json is missing.*python -m model.train --arch nope"):
        load_classifier("nope", tmp_path)
    folder = tmp_path / "cnn"
    shutil.copytree(MODEL_DIR / "cnn", folder)
    (folder / "model.tflite").write_bytes(b"\x00garbage" * 100)
    (folder / "model.keras").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ClassifierError, match=r"cnn/model.tflite is damaged.*cnn/model.keras is damaged.*--arch cnn"):
        load_classifier("cnn", tmp_path)
    (folder / "model.tflite").unlink()
    (folder / "model.keras").unlink()
    with pytest.raises(ClassifierError, match="has no model file"):
        load_classifier("cnn", tmp_path)
