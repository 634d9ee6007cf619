"""The pen-handwriting core (model/handwriting): the canvas renderer, the named styles, MNIST
redrawn with a pen, the writers kept for the benchmark, and the threshold set on drawn digits.
The renderer is compared with the real canvas in Chromium in tests/test_draw_browser.py."""
from __future__ import annotations

import numpy as np
import pytest

from model.data.preprocess import canvas_to_mnist
from model.explaining.novelty import DRAWN_PER_DIGIT_QUANTILE, DRAWN_QUANTILE, drawn_threshold
from model.handwriting.canvas import CANVAS_SIDE, PEN_WIDTHS, draw_like_a_student, place, render
from model.handwriting.redraw import centre_lines, warp
from model.handwriting.sources import Sample
from model.handwriting.styles import STYLES, Hand, styles_of
from model.handwriting.trainset import is_benchmark_writer, split_writers

# The styles the issue names: a network for the canvas is measured on each.
NAMED = ["1-continental-flag", "1-continental-flag-foot", "7-crossed", "7-curved-stem", "4-open", "4-closed",
         "0-slashed", "0-dotted", "9-straight", "9-curved", "9-hooked", "2-loop", "2-plain"]


def test_render_paints_a_round_pen_of_the_given_width():
    line = [np.array([[100, 200], [300, 200]], np.float32)]
    pixels = render(line, pen=30)
    assert pixels.shape == (CANVAS_SIDE, CANVAS_SIDE, 4) and pixels.dtype == np.uint8
    ink = pixels[..., 0] > 127
    rows = np.nonzero(ink[:, 200])[0]
    assert 29 <= len(rows) <= 31  # as thick as the pen
    # Round caps: the ink reaches half a pen beyond each end on the line, less off it.
    assert ink[200, 86] and not ink[200, 80] and ink[200, 314] and not ink[200, 320]
    assert not ink[187, 87]
    assert (pixels[..., 3] == 255).all() and not render([], pen=30)[..., 0].any()


def test_a_tap_is_a_dot():
    ink = render([np.array([[50, 60]], np.float32)], pen=20)[..., 0] > 127
    assert ink[60, 50] and 250 <= ink.sum() <= 380  # about pi * 10^2


def test_place_keeps_the_digit_and_the_pen_inside_the_canvas():
    rng = np.random.default_rng(0)
    strokes = [np.array([[0, 0], [10, 40]], np.float32), np.array([[5, 20], [20, 20]], np.float32)]
    for _ in range(200):
        placed, where = place(strokes, rng)
        points = np.concatenate(placed)
        assert PEN_WIDTHS[0] <= where.pen <= PEN_WIDTHS[1]
        assert points.min() >= where.pen / 2 - 1e-3 and points.max() <= CANVAS_SIDE - where.pen / 2 + 1e-3
        # The aspect is kept: 40 tall, 20 wide.
        extent = points.max(axis=0) - points.min(axis=0)
        assert extent[1] / extent[0] == pytest.approx(2.0, rel=1e-4)


def test_every_named_style_exists_and_draws_the_same_for_the_same_seed():
    assert set(NAMED) <= set(STYLES)
    assert {s.digit for s in STYLES.values()} == set(range(10))
    for name, style in STYLES.items():
        first = style.draw(np.random.default_rng(7))
        again = style.draw(np.random.default_rng(7))
        other = style.draw(np.random.default_rng(8))
        assert all(np.array_equal(a, b) for a, b in zip(first, again)), name
        assert not all(a.shape == b.shape and np.allclose(a, b) for a, b in zip(first, other)), name
        assert style in styles_of(style.digit)


def test_styles_draw_digits_the_app_can_read():
    # Through the canvas and the app's preprocessing, every style gives a digit image.
    rng = np.random.default_rng(3)
    for style in STYLES.values():
        pixels, _ = draw_like_a_student(style.draw(rng, Hand.random(rng)), rng)
        image = canvas_to_mnist(pixels)
        assert image is not None and image.shape == (28, 28) and image.max() > 0.5, style.name


def test_mnist_redrawn_with_a_pen_is_still_read_as_its_digit(mnist):
    # The shipped cnn reads MNIST's own test digits at 99.6%; redrawn with an even, round pen
    # and warped a little, they must keep their shape: measured 98.2% on the first 600.
    from model.serving.inference import load_classifier

    rng = np.random.default_rng(0)
    images, labels = mnist.test.images[:300], mnist.test.labels[:300]
    drawn = []
    for image in images:
        lines = centre_lines(image / 255.0)
        assert lines and all(s.shape == (2, 2) for s in lines)
        drawn.append(canvas_to_mnist(draw_like_a_student(warp(lines, rng), rng)[0]))
    read = load_classifier("cnn").predict_proba(np.stack(drawn)).argmax(axis=1)
    assert (read == labels).mean() >= 0.95


def test_centre_lines_of_an_empty_image_are_none():
    assert centre_lines(np.zeros((28, 28), np.float32)) == []


def _sample(label: int, writer: str, source: str, offset: float) -> Sample:
    return Sample(label=label, writer=writer, source=source,
                  strokes=[np.array([[offset, 0], [offset, 10]], np.float32)])


def test_benchmark_writers_never_train_and_their_ink_stays_out_of_training():
    samples = [_sample(d, f"unipen_1a:site/w{w}", "unipen_1a", w * 10 + d) for w in range(60) for d in range(3)]
    # The same ink under a second writer id, as UNIPEN has it: it must not reach training.
    bench_writer = next(s.writer for s in samples if is_benchmark_writer(s.source, s.writer))
    train_writer = next(s.writer for s in samples if not is_benchmark_writer(s.source, s.writer))
    copied = next(s for s in samples if s.writer == bench_writer)
    samples.append(Sample(label=copied.label, writer=train_writer, source="unipen_1a", strokes=copied.strokes))
    training, benchmark = split_writers(samples)
    assert {s.writer for s in training}.isdisjoint({s.writer for s in benchmark})
    assert 15 <= len({s.writer for s in benchmark}) <= 45  # about half of 60
    assert not any(s.strokes is copied.strokes for s in training)
    # UCI's pendigits file is that set's own test half: all of it is benchmark.
    uci = [_sample(1, f"uci_pendigits:tes-{w:02d}", "uci_pendigits", w) for w in range(14)]
    training, benchmark = split_writers(uci)
    assert training == [] and len(benchmark) == len(uci)


def test_the_drawn_threshold_flags_few_digits_in_all_and_of_each_digit():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(10), 1000)
    scores = rng.normal(0, 1, len(labels)) + (labels == 9) * 2.0  # one digit sits far out
    threshold = drawn_threshold(scores, labels)
    flagged = scores > threshold
    assert flagged.mean() <= 1 - DRAWN_QUANTILE + 1e-9
    for d in range(10):
        assert flagged[labels == d].mean() <= 1 - DRAWN_PER_DIGIT_QUANTILE + 1e-3
    # ...and it is the lowest such threshold: the far-out digit's own quantile sets it.
    assert threshold == pytest.approx(np.quantile(scores[labels == 9], DRAWN_PER_DIGIT_QUANTILE))


def test_the_pen_benchmark_measures_a_model_end_to_end(mnist):
    # bench/penbench.py on a few inputs: MNIST test digits stand in for the pen sources here.
    import sys

    from tests.browser import REPO
    from tests.outliers import random_scribbles

    sys.path.insert(0, str(REPO / "bench"))
    import penbench

    real = {"mnist": (mnist.test.images[:200].astype(np.float32) / 255, mnist.test.labels[:200].astype(np.int64))}
    styled = penbench.styled_digits(3)
    others = {"scribbles": random_scribbles(30, np.random.default_rng(0))}
    report = penbench.measure("cnn_pen", real, styled, others)
    assert report["real_all"]["n"] == 200 and report["real_all"]["accuracy"] >= 0.97
    assert len(report["real_all"]["accuracy_per_digit"]) == 10 and set(report["styles"]) == set(STYLES)
    assert 0 <= report["not_digits"]["scribbles"] <= 1
    summary = penbench.card_summary(report)
    assert summary["accuracy"] == report["real_all"]["accuracy"] and summary["digits"] == 200
    assert [met for _, met in penbench.verdicts(report)][0] == (report["real_all"]["accuracy"] >= 0.99)


def test_the_shipped_blend_is_the_mix_its_validation_chose_of_its_two_networks(mnist):
    import json

    import keras

    from model import MODEL_DIR
    from model.handwriting.blend import blend

    base, pen = [np.full(3, 2.0, np.float32)], [np.full(3, 4.0, np.float32)]
    assert blend(base, pen, 0.0)[0].tolist() == [2, 2, 2] and blend(base, pen, 1.0)[0].tolist() == [4, 4, 4]
    assert blend(base, pen, 0.25)[0].tolist() == [2.5, 2.5, 2.5]

    card = json.loads((MODEL_DIR / "cnn_blend" / "card.json").read_text())
    rows, mix = card["blend"]["mixes"], card["blend"]["mix"]
    # Chosen on validation digits alone: the most right, the nearer the base on a tie.
    assert mix == max(rows, key=lambda row: (row["val_accuracy"], -row["mix"]))["mix"]
    assert card["test_accuracy"] >= 0.995  # the floor for a default

    load = lambda arch: keras.models.load_model(MODEL_DIR / arch / "model.keras", compile=False)  # noqa: E731
    expected = blend(load("cnn").get_weights(), load("cnn_pen").get_weights(), mix)
    shipped = load("cnn_blend")
    for got, want in zip(shipped.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    # The card's MNIST figure is what the shipped weights read on the test digits.
    x = mnist.test.images.astype(np.float32)[..., None] / 255
    right = shipped.predict(x, batch_size=2000, verbose=0).argmax(axis=1) == mnist.test.labels
    assert int(np.sum(~right)) == card["test_errors"]
