"""The Push it transformations and sweeps (model/explaining/robustness.py) on real digits."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from model.explaining.robustness import SLIDERS, SWEEP_POINTS, Flip, Push, eraser_mask, flips_from, sweep, transform
from model.serving.inference import load_classifier


@pytest.fixture(scope="module")
def digit(mnist):
    return mnist.test.images[0].astype(np.float32) / 255  # a 7


def test_neutral_push_changes_nothing(digit):
    np.testing.assert_array_equal(transform(digit, Push()), digit)


def test_shift_moves_the_centre_of_mass(digit):
    moved = transform(digit, Push(dx=4, dy=-3))
    (r0, c0), (r1, c1) = ndimage.center_of_mass(digit), ndimage.center_of_mass(moved)
    assert c1 - c0 == pytest.approx(4, abs=0.3) and r1 - r0 == pytest.approx(-3, abs=0.3)


def test_rotation_by_180_degrees_is_a_point_flip(digit):
    np.testing.assert_allclose(transform(digit, Push(rotation=180)), digit[::-1, ::-1], atol=1e-4)


def test_scale_and_thickness_change_the_ink(digit):
    ink = digit.sum()
    assert transform(digit, Push(scale=0.5)).sum() < 0.4 * ink
    assert transform(digit, Push(thickness=1)).sum() > 1.3 * ink > ink > 1.3 * transform(digit, Push(thickness=-1)).sum()
    half = transform(digit, Push(thickness=0.5))
    np.testing.assert_allclose(half, (digit + transform(digit, Push(thickness=1))) / 2, atol=1e-6)


def test_noise_is_the_same_at_every_rerun_and_stays_in_range(digit):
    a, b = transform(digit, Push(noise=0.4)), transform(digit, Push(noise=0.4))
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1 and np.abs(a - digit).mean() > 0.05


def test_eraser_mask_from_red_strokes_on_the_canvas(digit):
    canvas = np.zeros((224, 224, 4), np.uint8)
    canvas[..., 3] = 255
    canvas[:, :112] = (90, 90, 90, 255)  # a grey background image does not count
    canvas[80:120, 40:200] = (255, 0, 0, 255)  # rows 10-14, columns 5-24 of the 28x28 image
    mask = eraser_mask(canvas)
    assert mask[10:15, 5:25].all() and mask.sum() == 5 * 20
    assert eraser_mask(np.zeros((224, 224, 4), np.uint8)) is None and eraser_mask(None) is None
    rubbed = transform(digit, Push(), mask)
    assert rubbed[mask].sum() == 0 and np.array_equal(rubbed[~mask], digit[~mask])


def test_flips_are_the_first_change_each_side_of_neutral():
    values = np.arange(-3, 4, dtype=float)
    answers = np.array([4, 4, 3, 3, 3, 3, 7])
    assert flips_from(values, answers, 0.0) == [Flip(-2.0, 3, 4), Flip(3.0, 3, 7)]
    assert flips_from(values, np.full(7, 3), 0.0) == []


@pytest.mark.parametrize("name", list(SLIDERS))
def test_a_sweep_is_one_batch_equal_to_the_single_predictions(name, digit):
    classifier = load_classifier("cnn")
    calls = []

    def counted(batch):
        calls.append(len(batch))
        return classifier.predict_proba(batch)

    push = Push(rotation=10) if name != "rotation" else Push(dx=1)
    curve = sweep(counted, digit, push, name)
    assert calls == [SWEEP_POINTS] and curve.probabilities.shape == (SWEEP_POINTS, 10)
    assert curve.values[0] == SLIDERS[name].low and curve.values[-1] == SLIDERS[name].high
    for k in (0, SWEEP_POINTS // 2, SWEEP_POINTS - 1):
        single = classifier.predict_proba(transform(digit, replace(push, **{name: float(curve.values[k])}))[None])
        np.testing.assert_allclose(curve.probabilities[k], single[0], atol=1e-5)
    for flip in curve.flips:
        assert flip.before != flip.after


def test_turning_a_seven_upside_down_changes_the_answer(digit):
    curve = sweep(load_classifier("cnn").predict_proba, digit, Push(), "rotation")
    assert curve.answers[SWEEP_POINTS // 2] == 7
    assert curve.flips and all(abs(f.value) >= 15 for f in curve.flips)
