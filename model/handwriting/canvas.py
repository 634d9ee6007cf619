"""Strokes drawn the way the Draw page's canvas draws them, without a browser.

    pixels = render(strokes, pen=22)            # (400, 400, 4) uint8, white ink on black
    strokes = place(unit_strokes, rng)          # a digit at a random size and place
    image = canvas_to_mnist(pixels)             # then the app's own preprocessing

The canvas (Fabric.js free drawing in streamlit-drawable-canvas) paints each stroke as a white,
anti-aliased line with round caps and joins, ``pen`` px wide, on a black 400x400 square, and
sends those pixels to the server. Fabric smooths the pen's path through the midpoints between
the points it was given (``as_fabric_draws``); OpenCV's thick anti-aliased polylines have the
same round ends and joins, so a stroke rendered here and one drawn in Chromium differ by about a
pixel at the anti-aliased rim (tests/test_draw_browser.py compares the two).

Strokes are lists of (x, y) points; ``render`` takes them in canvas pixels, ``place`` takes them
in any units (a source's tablet coordinates, the unit square of a style) with y pointing down.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CANVAS_SIDE = 400  # px, as on the Draw page
PEN_WIDTHS = (8, 48)  # the Draw page's "Pen width" slider
DEFAULT_PEN = 22
# How big people draw on the canvas: the digit's taller side as a share of the canvas. A phone
# user fills most of it; a mouse user on a projector draws small.
HEIGHT_SHARE = (0.3, 0.9)
MARGIN = 0.02  # of the canvas, kept clear around a placed digit
_SUBPIXEL_BITS = 4  # cv2 draws with 1/16 px precision

Stroke = np.ndarray  # (n, 2) float32, x to the right, y down


def as_fabric_draws(points: np.ndarray, samples: int = 4) -> np.ndarray:
    """The path Fabric's pencil paints through ``points``: from each point's midpoint with the
    one before to its midpoint with the one after, a quadratic curve bent towards the point
    itself, so corners are rounded off the way the canvas rounds them (sampled ``samples`` times
    a curve), then a straight line to the last point."""
    points = np.asarray(points, np.float64)
    if len(points) < 3:
        return points
    controls = points[1:-1]
    starts = np.vstack([points[:1], (points[1:-2] + points[2:-1]) / 2])
    ends = (points[1:-1] + points[2:]) / 2
    t = (np.arange(1, samples + 1) / samples)[None, :, None]
    curves = (1 - t) ** 2 * starts[:, None] + 2 * (1 - t) * t * controls[:, None] + t ** 2 * ends[:, None]
    return np.vstack([points[:1], curves.reshape(-1, 2), points[-1:]])


def render(strokes: list[Stroke], pen: int = DEFAULT_PEN, side: int = CANVAS_SIDE) -> np.ndarray:
    """The canvas's pixels after drawing ``strokes`` (canvas pixels): (side, side, 4) RGBA uint8."""
    ink = np.zeros((side, side), np.uint8)
    scale = 1 << _SUBPIXEL_BITS
    strokes = [as_fabric_draws(s) for s in strokes]
    lengths = [len(s) for s in strokes]
    if not strokes:
        return _rgba(ink)
    points = np.round(np.concatenate(strokes).astype(np.float64) * scale).astype(np.int32)
    paths = [np.vstack([p, p]) if len(p) == 1 else p  # a tap is a dot
             for p in np.split(points, np.cumsum(lengths)[:-1])]
    cv2.polylines(ink, paths, False, 255, int(pen), cv2.LINE_AA, _SUBPIXEL_BITS)
    return _rgba(ink)


def _rgba(ink: np.ndarray) -> np.ndarray:
    pixels = np.empty((*ink.shape, 4), np.uint8)
    pixels[..., :3] = ink[..., None]
    pixels[..., 3] = 255
    return pixels


@dataclass(frozen=True)
class Placement:
    """Where a digit went on the canvas, and with which pen."""

    height: float  # px, the taller side of the digit's box (centre lines)
    left: float
    top: float
    pen: int


def random_pen(rng: np.random.Generator) -> int:
    """A pen width from the slider's range, most often near the default (people rarely move it)."""
    if rng.random() < 0.5:
        return DEFAULT_PEN
    return int(rng.integers(PEN_WIDTHS[0] // 2, PEN_WIDTHS[1] // 2 + 1) * 2)


def place(strokes: list[Stroke], rng: np.random.Generator, side: int = CANVAS_SIDE,
          pen: int | None = None, height_share: tuple[float, float] = HEIGHT_SHARE,
          ) -> tuple[list[Stroke], Placement]:
    """``strokes`` scaled (aspect kept) to a random size and moved to a random place on the
    canvas, the whole pen's width inside it; returns the strokes in canvas pixels and where."""
    lengths = np.cumsum([len(s) for s in strokes])[:-1]
    points = np.concatenate(strokes).astype(np.float64)
    low, high = points.min(axis=0), points.max(axis=0)
    extent = np.maximum(high - low, 1e-9)
    pen = random_pen(rng) if pen is None else pen
    room = side * (1 - 2 * MARGIN) - pen
    # The digit's longer side may not exceed the canvas: a wide 7 is bounded by its width.
    longest = float(rng.uniform(*height_share)) * side
    factor = min(longest / extent[1] if extent[1] > extent[0] else longest / extent[0],
                 room / extent[0], room / extent[1])
    size = extent * factor
    low_corner = side * MARGIN + pen / 2
    left = float(rng.uniform(low_corner, max(low_corner, low_corner + room - size[0])))
    top = float(rng.uniform(low_corner, max(low_corner, low_corner + room - size[1])))
    placed = np.split(((points - low) * factor + (left, top)).astype(np.float32), lengths)
    return placed, Placement(float(size[1]), left, top, pen)


def draw_like_a_student(strokes: list[Stroke], rng: np.random.Generator, pen: int | None = None,
                        side: int = CANVAS_SIDE) -> tuple[np.ndarray, Placement]:
    """``place`` then ``render``: the canvas's pixels for a digit a student drew somewhere."""
    placed, where = place(strokes, rng, side, pen)
    return render(placed, where.pen, side), where
