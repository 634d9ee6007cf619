"""Digits the way people around the world write them, as named, seeded stroke generators.

    strokes = STYLES["1-continental-flag"].draw(rng)    # list of (n, 2) arrays, unit square, y down
    for name, style in STYLES.items(): ...              # style.digit, style.note

MNIST's writers (1990s US census staff and students) rarely wrote a continental 1 with its long
up-stroke, a crossed 7, a slashed zero or a 9 with a hooked tail, and a network trained on MNIST
alone reads those wrong (bench/README.md, "Pen handwriting"). Each style here is a few control
points per stroke with a little room to move: every draw picks fresh proportions, a slant, a
width, a small rotation and a wobble, and smooths the points into curves (Catmull-Rom), so one
style gives many different hands. The pen benchmark draws each style on the canvas; training
(``model.handwriting.trainset``) draws them too, with other seeds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

Points = list[tuple[float, float]]


def smooth(points: Points, per_segment: int = 4) -> Points:
    """A Catmull-Rom curve through ``points``: a hand draws curves, not polygons."""
    if len(points) < 3 or per_segment <= 1:
        return list(points)
    p = np.asarray([points[0], *points, points[-1]], np.float64)
    t = np.arange(per_segment)[:, None] / per_segment
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3))
    out.append(p[-2][None])
    return [tuple(q) for q in np.concatenate(out).tolist()]


@dataclass(frozen=True)
class Hand:
    """How one writer's strokes differ from the template: slant (x shift per unit of height),
    horizontal squeeze, rotation (radians) and the jitter of each control point."""

    slant: float
    width: float
    rotation: float
    wobble: float

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Hand":
        return cls(slant=float(rng.uniform(-0.25, 0.3)), width=float(rng.uniform(0.7, 1.1)),
                   rotation=float(rng.uniform(-0.12, 0.12)), wobble=float(rng.uniform(0.006, 0.025)))

    def apply(self, strokes: list[Points], rng: np.random.Generator) -> list[Points]:
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        out = []
        for stroke in strokes:
            points = []
            for x, y in stroke:
                x, y = x + rng.normal(0, self.wobble), y + rng.normal(0, self.wobble)
                x = 0.5 + (x - 0.5) * self.width + self.slant * (0.5 - y)
                points.append((0.5 + c * (x - 0.5) - s * (y - 0.5), 0.5 + s * (x - 0.5) + c * (y - 0.5)))
            out.append(points)
        return out


@dataclass(frozen=True)
class Style:
    """One way of writing one digit. ``template(rng)`` gives its control points with fresh
    proportions; ``draw(rng, hand)`` gives the finished strokes (a random hand if none)."""

    name: str
    digit: int
    note: str
    template: Callable[[np.random.Generator], list[Points]]

    def draw(self, rng: np.random.Generator, hand: Hand | None = None) -> list[np.ndarray]:
        hand = hand or Hand.random(rng)
        strokes = hand.apply(self.template(rng), rng)
        return [np.asarray(smooth(s, 5) if len(s) > 2 else s, np.float32) for s in strokes]


def _u(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


# --------------------------------------------------------------------------- the templates
# Unit square, (0, 0) top left. Each function is one style; the numbers are where a pen goes.

def _zero_oval(r):
    w = _u(r, 0.3, 0.4)
    return [[(0.55, 0.04), (0.5 - w * 0.5, 0.1), (0.5 - w, 0.5), (0.5 - w * 0.6, 0.88), (0.5, 0.97),
             (0.5 + w * 0.7, 0.86), (0.5 + w, 0.5), (0.5 + w * 0.7, 0.12), (0.5, 0.04), (0.42, 0.08)]]


def _zero_slashed(r):
    slash_low, slash_high = _u(r, 0.05, 0.2), _u(r, 0.8, 0.95)
    return _zero_oval(r) + [[(_u(r, 0.2, 0.35), slash_high), (_u(r, 0.65, 0.8), slash_low)]]


def _zero_dotted(r):
    x, y = _u(r, 0.45, 0.55), _u(r, 0.45, 0.55)
    return _zero_oval(r) + [[(x, y), (x + 0.01, y + 0.01)]]


def _one_stick(r):
    x = _u(r, 0.45, 0.55)
    return [[(x + _u(r, -0.03, 0.03), 0.02), (x, 0.98)]]


def _one_flag(r):
    # The flag begins low and rises to the top: as long as a third of the digit's height.
    return [[(_u(r, 0.1, 0.3), _u(r, 0.25, 0.42)), (_u(r, 0.38, 0.45), 0.14), (0.58, 0.02),
             (0.56, 0.5), (_u(r, 0.5, 0.56), 0.97)]]


def _one_flag_foot(r):
    left, right = _u(r, 0.2, 0.32), _u(r, 0.78, 0.9)
    return _one_flag(r) + [[(left, 0.97), (0.55, 0.975), (right, 0.97)]]


def _one_short_flag(r):
    return [[(_u(r, 0.3, 0.42), _u(r, 0.12, 0.2)), (0.55, 0.02), (0.55, 0.5), (0.55, 0.98)]]


def _two_plain(r):
    return [[(0.16, 0.24), (0.28, 0.08), (0.48, 0.02), (0.68, 0.07), (0.78, 0.22), (0.74, 0.4),
             (0.58, 0.58), (0.38, 0.78), (0.14, 0.96), (0.5, 0.955), (_u(r, 0.8, 0.92), 0.95)]]


def _two_loop(r):
    return [[(0.18, 0.22), (0.3, 0.07), (0.5, 0.02), (0.7, 0.08), (0.78, 0.24), (0.7, 0.44),
             (0.5, 0.64), (0.3, 0.84), (0.22, 0.96), (0.34, 0.82), (0.44, 0.9), (0.36, 0.97),
             (0.6, 0.96), (_u(r, 0.82, 0.92), 0.95)]]


def _two_curly(r):  # a round-bottomed 2, its base curving up at the end
    return [[(0.18, 0.2), (0.36, 0.04), (0.6, 0.04), (0.76, 0.2), (0.66, 0.46), (0.4, 0.72),
             (0.18, 0.94), (0.34, 0.9), (0.6, 0.93), (0.8, _u(r, 0.82, 0.9))]]


def _three(r):
    m = _u(r, 0.42, 0.52)
    return [[(0.16, 0.14), (0.34, 0.03), (0.58, 0.03), (0.75, 0.14), (0.74, m - 0.16), (0.56, m - 0.04),
             (0.38, m), (0.6, m + 0.04), (0.8, m + 0.18), (0.82, 0.84), (0.66, 0.97), (0.42, 0.98),
             (0.18, 0.88)]]


def _three_flat_top(r):
    return [[(0.18, 0.04), (0.8, 0.04), (0.45, 0.42), (0.66, 0.46), (0.82, 0.64), (0.8, 0.84),
             (0.62, 0.97), (0.38, 0.97), (0.18, 0.86)]]


def _four_open(r):
    cross = _u(r, 0.55, 0.68)
    return [[(0.3, 0.02), (0.2, 0.32), (0.12, cross), (0.5, cross), (0.9, cross - 0.02)],
            [(0.7, 0.1), (0.69, 0.55), (0.68, 0.98)]]


def _four_closed(r):
    cross = _u(r, 0.58, 0.7)
    return [[(0.62, 0.02), (0.38, 0.3), (0.12, cross), (0.5, cross), (0.9, cross - 0.02)],
            [(0.62, 0.02), (0.64, 0.5), (0.66, 0.98)]]


def _four_one_stroke_round(r):
    # Down, across, up to a round top, then the long upright: the open 4 MNIST hardly has.
    cross = _u(r, 0.52, 0.62)
    return [[(0.22, 0.04), (0.16, 0.3), (0.2, cross), (0.45, cross + 0.04), (0.66, cross),
             (0.74, 0.3), (0.7, 0.06), (0.66, 0.3), (0.66, 0.64), (0.67, 0.98)]]


def _five(r):
    return [[(0.26, 0.04), (0.22, 0.26), (0.19, 0.46), (0.38, 0.39), (0.58, 0.4), (0.76, 0.52),
             (0.8, 0.72), (0.7, 0.9), (0.5, 0.98), (0.28, 0.96), (0.14, 0.86)],
            [(0.25, 0.04), (0.55, 0.03), (_u(r, 0.76, 0.88), 0.04)]]


def _six(r):
    return [[(0.72, 0.03), (0.5, 0.16), (0.3, 0.38), (0.18, 0.64), (0.22, 0.86), (0.42, 0.98),
             (0.64, 0.93), (0.76, 0.76), (0.7, 0.58), (0.5, _u(r, 0.48, 0.56)), (0.3, 0.6), (0.2, 0.72)]]


def _seven_plain(r):
    return [[(0.12, 0.06), (0.5, 0.05), (0.86, 0.04), (0.7, 0.35), (0.56, 0.66), (_u(r, 0.4, 0.5), 0.98)]]


def _seven_crossed(r):
    y = _u(r, 0.46, 0.56)
    return _seven_plain(r) + [[(_u(r, 0.3, 0.42), y), (0.6, y), (_u(r, 0.78, 0.88), y - 0.01)]]


def _seven_curved(r):
    # The stem bows out and curls at its foot, like a hooked 7 or a Z without its base.
    return [[(0.12, 0.06), (0.5, 0.05), (0.86, 0.05), (0.72, 0.3), (0.56, 0.52), (0.46, 0.74),
             (0.44, 0.92), (_u(r, 0.5, 0.6), 0.98)]]


def _seven_hooked_top(r):
    return [[(0.12, _u(r, 0.16, 0.24)), (0.14, 0.05), (0.5, 0.05), (0.88, 0.04), (0.7, 0.35),
             (0.55, 0.66), (0.44, 0.98)]]


def _eight(r):
    m = _u(r, 0.44, 0.52)
    return [[(0.74, 0.14), (0.6, 0.03), (0.4, 0.03), (0.26, 0.14), (0.3, m - 0.15), (0.5, m),
             (0.72, m + 0.14), (0.78, 0.82), (0.62, 0.97), (0.38, 0.97), (0.22, 0.82), (0.28, m + 0.14),
             (0.5, m), (0.7, m - 0.15), (0.74, 0.14)]]


def _eight_two_loops(r):
    m = _u(r, 0.44, 0.52)
    return [[(0.5, m), (0.3, m - 0.12), (0.3, 0.1), (0.5, 0.02), (0.7, 0.1), (0.7, m - 0.12), (0.5, m),
             (0.28, m + 0.16), (0.3, 0.9), (0.5, 0.98), (0.72, 0.9), (0.72, m + 0.16), (0.5, m)]]


def _nine_loop(r):
    return [(0.74, 0.16), (0.58, 0.04), (0.38, 0.05), (0.22, 0.18), (0.24, 0.38), (0.42, 0.48),
            (0.64, 0.42), (0.76, 0.2)]


def _nine_straight(r):
    return [_nine_loop(r) + [(0.75, 0.5), (_u(r, 0.7, 0.76), 0.98)]]


def _nine_curved(r):
    return [_nine_loop(r) + [(0.74, 0.6), (0.62, 0.88), (0.42, 0.98), (_u(r, 0.2, 0.3), 0.9)]]


def _nine_hooked(r):
    return [_nine_loop(r) + [(0.76, 0.5), (0.74, 0.86), (0.66, 0.98), (_u(r, 0.52, 0.6), 0.94)]]


STYLES: dict[str, Style] = {s.name: s for s in [
    Style("0-oval", 0, "a plain oval", _zero_oval),
    Style("0-slashed", 0, "a zero with a slash, as programmers and Scandinavians write it", _zero_slashed),
    Style("0-dotted", 0, "a zero with a dot inside", _zero_dotted),
    Style("1-stick", 1, "a single upright", _one_stick),
    Style("1-short-flag", 1, "a short flag at the top", _one_short_flag),
    Style("1-continental-flag", 1, "a long up-stroke to the top, as in much of Europe", _one_flag),
    Style("1-continental-flag-foot", 1, "a long flag and a foot", _one_flag_foot),
    Style("2-plain", 2, "a hook, a diagonal, a flat base", _two_plain),
    Style("2-loop", 2, "a loop at the foot", _two_loop),
    Style("2-curly", 2, "a rounded base that curls up", _two_curly),
    Style("3-round", 3, "two round bumps", _three),
    Style("3-flat-top", 3, "a flat top, as in a Z", _three_flat_top),
    Style("4-open", 4, "open at the top, two strokes", _four_open),
    Style("4-closed", 4, "a closed triangle", _four_closed),
    Style("4-one-stroke-round", 4, "one stroke with a round top", _four_one_stroke_round),
    Style("5-flag", 5, "a belly and a flag", _five),
    Style("6-loop", 6, "a curve into a loop", _six),
    Style("7-plain", 7, "a bar and a straight stem", _seven_plain),
    Style("7-crossed", 7, "a bar across the stem, as in much of Europe", _seven_crossed),
    Style("7-curved-stem", 7, "a stem that bows and curls at its foot", _seven_curved),
    Style("7-hooked-top", 7, "a small hook down at the start of the bar", _seven_hooked_top),
    Style("8-one-stroke", 8, "an S and back", _eight),
    Style("8-two-loops", 8, "two loops on top of each other", _eight_two_loops),
    Style("9-straight", 9, "a loop and a straight stem", _nine_straight),
    Style("9-curved", 9, "a loop and a stem curving left", _nine_curved),
    Style("9-hooked", 9, "a loop and a stem with a hook at its foot", _nine_hooked),
]}


def styles_of(digit: int) -> list[Style]:
    return [s for s in STYLES.values() if s.digit == digit]
