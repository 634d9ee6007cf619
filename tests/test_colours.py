"""The colours the charts rely on, seen through the three common colour-vision deficiencies.

Each deficiency is simulated at full severity (Machado, Oliveira and Fernandes 2009, as
colorspacious implements it: deuteranopia, protanopia, tritanopia) on the very constants the pages
draw with (pages/common_colours.py, through the modules that use them), and the distance between
colours is measured in CAM02-UCS (Luo et al. 2006), where 1 is about a just-noticeable difference.
A two-way distinction the reader must make at a glance (winner against the rest, for against
against, right against wrong) must stay at least TWO_WAY apart; categories that also carry a label
(models, digits) at least LABELLED; a "darker = more" scale must keep getting darker.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from colorspacious import cspace_convert

from pages import common_colours as colours

# Measured (CAM02-UCS, the worst of the three deficiencies), against these floors:
#   winning bar / other bars 39.2, for / against at full strength 57.7 and at half 41.2,
#   right diagonal / fewest mistakes 28.1; model palette 11.0, digit colours 10.3.
# Before: bars 30.5, for / against 41.7 and 26.7 at half strength, right / fewest mistakes 12.3,
# and the D3 digit colours put an orange and a green 1.6 apart for a protanope.
TWO_WAY = 20.0
LABELLED = 10.0
DEFICIENCIES = ["deuteranomaly", "protanomaly", "tritanomaly"]  # at severity 100: the -opias
SEEN_BY = ["normal"] + DEFICIENCIES


def rgb1(colour) -> np.ndarray:
    """A "#rrggbb" string or an (r, g, b) in 0-255 as sRGB in [0, 1]."""
    if isinstance(colour, str):
        colour = [int(colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4)]
    return np.asarray(colour, float) / 255.0


def seen(colour, eye: str) -> np.ndarray:
    """The colour as that eye sees it, in CAM02-UCS (J', a', b')."""
    rgb = rgb1(colour)
    if eye != "normal":
        rgb = np.clip(cspace_convert(rgb, {"name": "sRGB1+CVD", "cvd_type": eye, "severity": 100}, "sRGB1"), 0, 1)
    return cspace_convert(rgb, "sRGB1", "CAM02-UCS")


def distance(a, b, eye: str) -> float:
    return float(np.linalg.norm(seen(a, eye) - seen(b, eye)))


def test_the_simulation_itself_merges_red_and_green():
    """The check can fail: a protanope's red and green (D3's pair) come out nearly the same."""
    assert distance("#ff7f0e", "#2ca02c", "protanomaly") < 5
    assert distance("#ff7f0e", "#2ca02c", "normal") > 30


@pytest.mark.parametrize("eye", SEEN_BY)
def test_the_winning_bar_stands_out(eye):
    from pages.common_figures import probability_figure

    colours_drawn = probability_figure(np.eye(10)[3]).data[0].marker.color
    winner, other = colours_drawn[3], colours_drawn[0]
    assert distance(winner, other, eye) >= TWO_WAY
    # The nine others are still bars on the white page, not gaps.
    assert distance(other, "#ffffff", eye) >= LABELLED


@pytest.mark.parametrize("eye", SEEN_BY)
@pytest.mark.parametrize("strength", [1.0, 0.5])
def test_evidence_for_and_against_stay_apart(eye, strength):
    """The Inside page's diverging map, as it draws it (over black), at full and half strength."""
    # pages/inside.py's diverging(): the colour scaled by the strength, over black.
    towards = tuple(np.asarray(colours.FOR_RGB) * strength)
    away = tuple(np.asarray(colours.AGAINST_RGB) * strength)
    assert distance(towards, away, eye) >= TWO_WAY
    assert distance(towards, (0, 0, 0), eye) >= TWO_WAY and distance(away, (0, 0, 0), eye) >= TWO_WAY


@pytest.mark.parametrize("eye", SEEN_BY)
def test_the_confusion_matrix_tells_right_from_wrong_and_few_from_many(eye):
    stops = [c for _, c in colours.ERROR_SCALE]
    # Right (the diagonal) against the palest mistake the scale draws.
    assert distance(colours.DIAGONAL_GREY, stops[1], eye) >= TWO_WAY
    # Darker for more: lightness (J') falls at every stop, by a visible step.
    lightness = [seen(c, eye)[0] for c in stops]
    assert all(a - b >= LABELLED for a, b in zip(lightness, lightness[1:])), lightness


@pytest.mark.parametrize("eye", SEEN_BY)
@pytest.mark.parametrize("name", ["MODEL_PALETTE", "DIGIT_COLOURS"])
def test_labelled_categories_stay_apart(eye, name):
    palette = getattr(colours, name)
    worst = min((distance(a, b, eye), a, b) for a, b in itertools.combinations(palette, 2))
    assert worst[0] >= LABELLED, worst


def test_the_pages_draw_with_these_colours():
    """What is measured here is what the pages use: no page keeps a colour of its own for these."""
    from pathlib import Path

    from pages import common_figures

    assert common_figures.PALETTE is colours.MODEL_PALETTE
    pages = Path(__file__).resolve().parent.parent / "pages"
    uses = {"inside.py": ["FOR_RGB", "AGAINST_RGB"], "confusion.py": ["DIAGONAL_GREY", "ERROR_SCALE"],
            "push.py": ["DIGIT_COLOURS"], "common_figures.py": ["WINNER_BAR", "OTHER_BAR"]}
    for page, names in uses.items():
        source = (pages / page).read_text(encoding="utf-8")
        assert all(f"import" in source and name in source for name in names), page
        assert "#ff4b4b" not in source.lower() and "#d62728" not in source.lower(), page
