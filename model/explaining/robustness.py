"""Pushing a digit until the network changes its mind: transformations and sweeps over them.

    push = Push(rotation=30, thickness=1)
    image = transform(digit, push)                       # (28, 28) -> (28, 28)
    curve = sweep(classifier.predict_proba, digit, push, "rotation")
    curve.values, curve.probabilities, curve.flips       # 61 angles, (61, 10), where it flips

Every transformation works on the 28x28 image the network reads, with OpenCV: one affine warp
for shift, rotation and scale about the image's centre, a grey dilation or erosion for the
stroke width, Gaussian noise from a fixed seed (the same noise at each rerun, so moving a slider
shows the slider's effect, not new noise), and an eraser mask. A sweep builds every image of
one slider's range and classifies them in one batched call.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from model.i18n import N_

SIDE = 28
CENTRE = (SIDE - 1) / 2
NOISE_SEED = 2026
SWEEP_POINTS = 61


@dataclass(frozen=True)
class Slider:
    label: str
    low: float
    high: float
    neutral: float
    step: float
    unit: str
    help: str


# The labels and help are English, marked for the catalog: the Push it page shows them translated.
SLIDERS: dict[str, Slider] = {
    "dx": Slider(N_("Shift right"), -10, 10, 0, 1, "px",
                 N_("Moves the digit sideways, in pixels of the 28x28 image.")),
    "dy": Slider(N_("Shift down"), -10, 10, 0, 1, "px", N_("Moves the digit up or down, in pixels.")),
    "rotation": Slider(N_("Turn"), -90, 90, 0, 3, "°",
                       N_("Turns the digit about the image's centre, anticlockwise.")),
    "scale": Slider(N_("Size"), 0.3, 1.7, 1.0, 0.05, "x", N_("Shrinks or grows the digit about the centre.")),
    "thickness": Slider(N_("Stroke width"), -1.5, 2.5, 0, 0.25, "px",
                        N_("Thins (below 0) or thickens the strokes, in pixels on each side.")),
    "noise": Slider(N_("Noise"), 0, 0.8, 0, 0.02, "", N_("Random speckles added to every pixel (their spread).")),
}


@dataclass(frozen=True)
class Push:
    dx: float = 0.0
    dy: float = 0.0
    rotation: float = 0.0
    scale: float = 1.0
    thickness: float = 0.0
    noise: float = 0.0


def _warp(image: np.ndarray, push: Push) -> np.ndarray:
    if push.dx == 0 and push.dy == 0 and push.rotation == 0 and push.scale == 1:
        return image
    matrix = cv2.getRotationMatrix2D((CENTRE, CENTRE), push.rotation, push.scale)
    matrix[:, 2] += (push.dx, push.dy)
    return cv2.warpAffine(image, matrix, (SIDE, SIDE), flags=cv2.INTER_LINEAR, borderValue=0)


_DISC = {r: cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)) for r in range(1, 4)}


def _morph(image: np.ndarray, radius: int) -> np.ndarray:
    if radius == 0:
        return image
    op = cv2.dilate if radius > 0 else cv2.erode
    return op(image, _DISC[abs(radius)])


def _stroke(image: np.ndarray, thickness: float) -> np.ndarray:
    """Grey dilation (thicker) or erosion (thinner) by a disc; a fractional width blends the
    two whole-pixel results around it."""
    if thickness == 0:
        return image
    low = int(np.floor(thickness))
    frac = thickness - low
    a = _morph(image, low)
    return a if frac == 0 else (1 - frac) * a + frac * _morph(image, low + 1)


def _noise(image: np.ndarray, spread: float) -> np.ndarray:
    if spread == 0:
        return image
    speckle = np.random.default_rng(NOISE_SEED).standard_normal(image.shape).astype(np.float32)
    return image + spread * speckle


def transform(image: np.ndarray, push: Push, erased: np.ndarray | None = None) -> np.ndarray:
    """``image`` (28, 28) in [0, 1] with the eraser's mask (True = rubbed out) applied first,
    then moved, turned and scaled, its strokes thickened or thinned, and noise added."""
    x = np.asarray(image, np.float32).reshape(SIDE, SIDE)
    if erased is not None:
        x = np.where(erased, 0.0, x).astype(np.float32)
    x = _warp(x, push)
    x = _stroke(x, push.thickness)
    x = _noise(x, push.noise)
    return np.clip(x, 0, 1).astype(np.float32)


@dataclass(frozen=True)
class Flip:
    value: float  # the first slider value, going out from the neutral one, with a new answer
    before: int
    after: int


@dataclass(frozen=True)
class Sweep:
    name: str
    values: np.ndarray  # (P,)
    probabilities: np.ndarray  # (P, 10)
    flips: list[Flip]  # at most one each side of the neutral value

    @property
    def answers(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)


def sweep_values(name: str, points: int = SWEEP_POINTS) -> np.ndarray:
    slider = SLIDERS[name]
    return np.linspace(slider.low, slider.high, points)


def flips_from(values: np.ndarray, answers: np.ndarray, neutral: float) -> list[Flip]:
    """Going out from the point nearest ``neutral`` in each direction, the first change of answer."""
    start = int(np.argmin(np.abs(values - neutral)))
    out = []
    for step in (-1, 1):
        i = start
        while 0 <= i + step < len(values):
            if answers[i + step] != answers[start]:
                out.append(Flip(float(values[i + step]), int(answers[start]), int(answers[i + step])))
                break
            i += step
    return out


def sweep(predict_proba, image: np.ndarray, push: Push, name: str, erased: np.ndarray | None = None,
          points: int = SWEEP_POINTS) -> Sweep:
    """Slider ``name`` across its whole range, the others held at ``push``: every image made,
    then one ``predict_proba`` call on the batch."""
    values = sweep_values(name, points)
    batch = np.stack([transform(image, replace(push, **{name: float(v)}), erased) for v in values])
    probabilities = predict_proba(batch)
    return Sweep(name, values, probabilities, flips_from(values, probabilities.argmax(axis=1),
                                                         SLIDERS[name].neutral))


def eraser_mask(rgba: np.ndarray | None) -> np.ndarray | None:
    """The 28x28 pixels rubbed out on an eraser canvas of any size: where its red eraser
    strokes cover at least a third of a pixel's area. ``None`` when nothing is rubbed out."""
    if rgba is None:
        return None
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] < 3 or rgba.shape[0] < SIDE or rgba.shape[1] < SIDE:
        return None
    red = (rgba[..., 0] > 180) & (rgba[..., 1] < 90) & (rgba[..., 2] < 90)
    if rgba.shape[2] == 4:
        red &= rgba[..., 3] > 100
    if not red.any():
        return None
    cover = cv2.resize(red.astype(np.float32), (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    mask = cover >= 1 / 3
    return mask if mask.any() else None
