"""MNIST's digits drawn again with the canvas's pen: the writers' shapes, a student's strokes.

    strokes = centre_lines(image)                    # (28, 28) MNIST digit -> pen paths
    pixels, where = draw_like_a_student(warp(strokes, rng), rng)

An MNIST digit was written with a ballpoint on paper, scanned and blurred: its strokes swell and
thin. A student's finger on glass leaves one even, round-ended line of whatever pen width the
slider says. To teach a network the second without losing the 60,000 writers' shapes, each digit
is thinned to its centre line (scikit-image's skeletonize on a 4x enlargement, so curves stay
smooth) and drawn again as pen strokes: every pair of touching centre-line pixels becomes a
short segment, so the canvas renderer paints it with its round, anti-aliased pen.
"""
from __future__ import annotations

import cv2
import numpy as np
from skimage.morphology import skeletonize

UPSCALE = 4
INK = 0.45  # of the digit's brightest pixel: MNIST's anti-aliased rim is not stroke
# Each centre-line pixel joins its neighbours to the right and below (the other four directions
# are someone else's right or below), so every touching pair is one segment, drawn once.
_NEIGHBOURS = ((0, 1), (1, 0), (1, 1), (1, -1))


def centre_lines(image: np.ndarray) -> list[np.ndarray]:
    """The digit's centre line as 2-point segments, in the 28x28 image's pixels (x right, y down)."""
    image = np.asarray(image, np.float32)
    big = cv2.resize(image, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
    mask = big > INK * float(big.max() or 1)
    skeleton = skeletonize(mask)
    if not skeleton.any():
        return []
    padded = np.pad(skeleton, 1)
    h, w = skeleton.shape
    segments, joined = [], np.zeros_like(skeleton)
    for dr, dc in _NEIGHBOURS:
        both = skeleton & padded[1 + dr:1 + dr + h, 1 + dc:1 + dc + w]
        rows, cols = np.nonzero(both)
        segments.append(np.stack([np.stack([cols, rows], 1), np.stack([cols + dc, rows + dr], 1)], 1))
        joined |= both
        joined[rows + dr, cols + dc] = True
    rows, cols = np.nonzero(skeleton & ~joined)  # lone dots
    segments.append(np.stack([np.stack([cols, rows], 1)] * 2, 1))
    return list(np.concatenate(segments).astype(np.float32) / UPSCALE)


def warp(strokes: list[np.ndarray], rng: np.random.Generator, elastic: float = 1.2,
         smoothness: float = 4.0) -> list[np.ndarray]:
    """A new hand for the same digit: a random affine change (rotation, shear, squeeze) and an
    elastic one (a smooth random displacement field, Simard et al. 2003), applied to the pen's
    path rather than to pixels, so the pen stays one width."""
    if not strokes:
        return strokes
    angle = rng.uniform(-0.2, 0.2)
    shear = rng.uniform(-0.3, 0.3)
    squeeze = rng.uniform(0.75, 1.15)
    c, s = np.cos(angle), np.sin(angle)
    affine = np.array([[c, -s], [s, c]]) @ np.array([[squeeze, shear], [0, 1]])
    # The displacement field: white noise on a coarse grid, smoothed, read at each point.
    grid = 8
    field = cv2.GaussianBlur(rng.normal(0, 1, (grid, grid, 2)).astype(np.float32), (0, 0), smoothness / 4)
    field *= elastic / (np.abs(field).max() + 1e-9)
    points = np.concatenate(strokes).astype(np.float64)
    cell = np.clip((points / 28.0 * (grid - 1)).round().astype(int), 0, grid - 1)
    moved = ((points - 14.0) @ affine.T + 14.0 + field[cell[:, 1], cell[:, 0]]).astype(np.float32)
    return np.split(moved, np.cumsum([len(s) for s in strokes])[:-1])
