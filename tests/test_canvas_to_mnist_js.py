"""The Draw page's JavaScript preprocessing (assets/canvas_to_mnist.js, run live in the browser
while the pen moves) against the server's own (model/data/preprocess.py, what the pen-up answer
uses), on the same canvas pixels: every pixel of the 28x28 image within 2/255, the same top-1
and the ten probabilities within 1e-3 from the shipped cnn, on every drawing.

The drawings are what students make: MNIST test digits redrawn with the canvas's pen
(model/handwriting/redraw.py, a random size, place and pen width), the Draw page's sample set
drawn the same way, and the named styles of the pen benchmark; some on a 2x (high-density)
canvas, on light paper, on a transparent background or in colour, which the Python reads too.
Node runs the module as the browser does (tests/js/canvas_to_mnist_cli.mjs). ``make test`` runs
a few hundred; the slow run, 2,400.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from model.data.preprocess import canvas_to_mnist
from model.handwriting.canvas import draw_like_a_student
from model.handwriting.redraw import centre_lines, warp
from model.handwriting.styles import STYLES, Hand
from model.serving.inference import load_classifier

REPO = Path(__file__).resolve().parent.parent
CLI = REPO / "tests" / "js" / "canvas_to_mnist_cli.mjs"
SAMPLES = REPO / "assets" / "sample_digits.npz"
PIXEL_TOLERANCE = 2 / 255
PROBABILITY_TOLERANCE = 1e-3


def node() -> str:
    found = shutil.which("node")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Node.js (node) for the JavaScript preprocessing tests")
        pytest.skip("needs Node.js (node) on PATH")
    return found


@pytest.fixture(scope="module")
def cnn():
    return load_classifier("cnn")


def _variant(pixels: np.ndarray, kind: int) -> np.ndarray:
    """The same drawing as other canvases or pens would give it (white ink on black otherwise)."""
    ink = pixels[..., 0]
    if kind == 1:  # a 2x canvas: a phone's devicePixelRatio
        return np.ascontiguousarray(pixels.repeat(2, axis=0).repeat(2, axis=1))
    if kind == 2:  # dark ink on light paper
        out = pixels.copy()
        out[..., :3] = 255 - out[..., :3]
        return out
    if kind == 3:  # a transparent background: only the paint has alpha
        out = np.zeros_like(pixels)
        out[..., :3] = 255
        out[..., 3] = ink
        return out
    if kind == 4:  # a coloured pen on a dark grey canvas
        out = pixels.copy()
        grey = 40
        out[..., 0] = np.maximum(ink, grey)
        out[..., 1] = grey + ((ink.astype(np.int32) * 60) // 255)
        out[..., 2] = grey
        return out
    return pixels


def drawings(count: int, seed: int = 28) -> list[np.ndarray]:
    """``count`` canvases: 5% the sample set's digits, 10% the pen benchmark's styles, the rest
    MNIST test digits; one in five is a variant (:func:`_variant`)."""
    from tests.conftest import require_mnist

    rng = np.random.default_rng(seed)
    test_images = require_mnist().test.images
    samples = np.load(SAMPLES)["images"]
    styles = list(STYLES.values())
    out = []
    while len(out) < count:
        kind = len(out) % 20
        if kind == 0:
            strokes = warp(centre_lines(samples[int(rng.integers(len(samples)))] / 255.0), rng)
        elif kind in (1, 2):
            strokes = styles[int(rng.integers(len(styles)))].draw(rng, Hand.random(rng))
        else:
            strokes = warp(centre_lines(test_images[int(rng.integers(len(test_images)))] / 255.0), rng)
        if not strokes:
            continue
        pixels, _ = draw_like_a_student(strokes, rng)
        variant = int(rng.integers(1, 5)) if rng.random() < 0.2 else 0
        out.append(_variant(pixels, variant))
    return out


def run_js(canvases: list[np.ndarray]) -> tuple[list[np.ndarray | None], float]:
    frames = []
    for pixels in canvases:
        packed = zlib.compress(np.ascontiguousarray(pixels, np.uint8).tobytes(), 1)
        frames.append(struct.pack("<III", pixels.shape[1], pixels.shape[0], len(packed)) + packed)
    done = subprocess.run([node(), str(CLI)], input=b"".join(frames), capture_output=True, timeout=900,
                          cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    out, at = [], 0
    for _ in canvases:
        flag = done.stdout[at]
        at += 1
        if flag:
            out.append(np.frombuffer(done.stdout, "<f4", 784, at).reshape(28, 28))
            at += 784 * 4
        else:
            out.append(None)
    assert at == len(done.stdout)
    return out, json.loads(done.stderr.decode().strip().splitlines()[-1])["ms"]


def compare(canvases: list[np.ndarray], cnn) -> dict:
    expected = [canvas_to_mnist(c) for c in canvases]
    got, js_ms = run_js(canvases)
    blank = [i for i, (e, g) in enumerate(zip(expected, got)) if (e is None) != (g is None)]
    assert not blank, f"blank in one and not the other: drawings {blank[:10]}"
    pairs = [(i, e, g) for i, (e, g) in enumerate(zip(expected, got)) if e is not None]
    worst = max(float(np.abs(e - g).max()) for _, e, g in pairs)
    off = [i for i, e, g in pairs if np.abs(e - g).max() > PIXEL_TOLERANCE]
    assert not off, f"{len(off)} drawings differ by more than 2/255 at some pixel (worst {worst:.4f}): {off[:10]}"
    python_p = cnn.predict_proba(np.stack([e for _, e, _ in pairs]))
    js_p = cnn.predict_proba(np.stack([g for _, _, g in pairs]))
    top1 = np.flatnonzero(python_p.argmax(1) != js_p.argmax(1))
    assert top1.size == 0, f"top-1 differs on drawings {[pairs[k][0] for k in top1[:10]]}"
    gap = float(np.abs(python_p - js_p).max())
    assert gap <= PROBABILITY_TOLERANCE, f"probabilities differ by {gap:.2e}"
    return {"drawings": len(canvases), "read": len(pairs), "worst_pixel": worst, "worst_probability": gap,
            "js_ms_per_drawing": js_ms / len(canvases)}


def test_js_preprocessing_equals_python_on_a_few_hundred_drawings(cnn):
    result = compare(drawings(300), cnn)
    assert result["read"] >= 290
    print(result)


@pytest.mark.slow
def test_js_preprocessing_equals_python_on_2400_drawings(cnn):
    canvases = drawings(2400, seed=2026)
    result = compare(canvases, cnn)
    assert result["read"] >= 2300
    print(result)


def test_js_rounds_halves_to_even_as_python_does():
    script = ("import { roundHalfEven } from './assets/canvas_to_mnist.js';"
              "console.log(JSON.stringify([0.5, 1.5, 2.5, -0.5, -1.5, 16.5, 2.4999, 2.5001].map(roundHalfEven)));")
    done = subprocess.run([node(), "--input-type=module", "-e", script], capture_output=True, text=True,
                          cwd=REPO, timeout=60, check=True)
    values = [0.5, 1.5, 2.5, -0.5, -1.5, 16.5, 2.4999, 2.5001]
    assert json.loads(done.stdout) == [round(v) for v in values]


def test_js_reads_a_blank_canvas_as_blank():
    blank = np.zeros((400, 400, 4), np.uint8)
    blank[..., 3] = 255
    got, _ = run_js([blank, np.zeros((50, 60, 4), np.uint8)])
    assert got == [None, None]
    assert canvas_to_mnist(blank) is None
