"""The Draw page in a real browser: digits drawn with the mouse are read right, Clear empties
the page, the sidebar's model picker switches the model, and the canvas's top-right corner
(where the component puts its toolbar; the page moves it above the canvas) draws like the rest.

Run: ``.venv/bin/python -m pytest -m browser tests/test_draw_browser.py``  (about a minute)
"""
from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from model.serving.artifacts import shipped_archs
from pages.common_models import friendly_name
from tests.browser import WebsocketLog, browser_available
from tests.drawing import (
    CANVAS,
    EMPTY_HINT,
    clear_canvas,
    current_prediction,
    draw_digit,
    draw_strokes,
    open_draw_page,
    read_prediction,
    wait_idle,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
]

TIMEOUT = 45_000  # ms; generous: the machine is shared with training runs
VIEWPORT = {"width": 1400, "height": 1100}
# Set to test a server that is already running (e.g. a patched copy of the app).
BASE_URL_ENV = "DIGITLAB_BASE_URL"


@pytest.fixture(scope="module")
def base_url(request):
    if os.environ.get(BASE_URL_ENV):
        return os.environ[BASE_URL_ENV].rstrip("/")
    return request.getfixturevalue("app_url")


@pytest.fixture(scope="module")
def page(browser, base_url):
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(TIMEOUT)
    WebsocketLog(page)  # saved by clear_canvas when a Clear fails
    open_draw_page(page, base_url, timeout=90_000)
    yield page
    page.close()


def prediction_metric(page):
    return page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")


def caption(page) -> str:
    return " ".join(page.locator('[data-testid="stCaptionContainer"]').all_inner_texts())


def test_empty_canvas_shows_hint_and_no_prediction(page):
    assert page.get_by_text(EMPTY_HINT).is_visible()
    assert prediction_metric(page).count() == 0
    assert current_prediction(page) is None


@pytest.mark.parametrize(
    "digit, scale, offset",
    [
        (0, 0.6, None),
        (1, 0.6, None),
        pytest.param(2, 0.5, (0.1, 0.1), marks=pytest.mark.slow),  # smaller, towards the top left
        pytest.param(3, 0.7, None, marks=pytest.mark.slow),
        (4, 0.6, None),
        (5, 0.4, (0.45, 0.5)),  # small, bottom right
        (7, 0.6, None),
        pytest.param(8, 0.8, None, marks=pytest.mark.slow),  # large
        (9, 0.6, None),
    ],
)
def test_drawn_digit_is_read(page, digit, scale, offset):
    clear_canvas(page, TIMEOUT)
    draw_digit(page, digit, scale=scale, offset=offset)
    shown = read_prediction(page, timeout=TIMEOUT)
    assert shown == str(digit), f"drew a {digit}, the page says {shown}"
    assert prediction_metric(page).locator('[data-testid="stMetricValue"]').inner_text().strip() == str(digit)
    confidence = page.locator('[data-testid="stMetric"]').filter(has_text="Confidence")
    assert re.fullmatch(r"\d+(\.\d)?%", confidence.locator('[data-testid="stMetricValue"]').inner_text().strip())


def test_clear_returns_the_empty_state(page):
    clear_canvas(page, TIMEOUT)
    draw_digit(page, 6)
    assert read_prediction(page, timeout=TIMEOUT) == "6"
    page.get_by_role("button", name="Clear").click()
    page.get_by_text(EMPTY_HINT).wait_for(state="visible", timeout=TIMEOUT)
    wait_idle(page, TIMEOUT)
    assert prediction_metric(page).count() == 0
    assert page.get_by_text(EMPTY_HINT).is_visible()
    # The canvas itself is empty again: a fresh one, with nothing drawn on it.
    painted = page.locator(CANVAS).last.evaluate(
        """upper => {
          const lower = upper.parentElement.querySelector('canvas.lower-canvas');
          const ctx = lower.getContext('2d');
          const d = ctx.getImageData(0, 0, lower.width, lower.height).data;
          let lit = 0;
          for (let i = 0; i < d.length; i += 4) if (d[i] > 128) lit++;
          return lit;
        }"""
    )
    assert painted == 0


# A 1 down the right edge, its stroke begun in the very corner of the canvas.
CORNER_ONE = [[(0.985, 0.01), (0.98, 0.2), (0.975, 0.45)]]


def toolbar_overlap(page) -> float | None:
    """How far (px) the canvas toolbar reaches down over the canvas; None if it has none."""
    return page.locator(CANVAS).last.evaluate(
        """upper => {
          const bar = upper.getRootNode().querySelector('.dc-toolbar');
          return bar ? bar.getBoundingClientRect().bottom - upper.getBoundingClientRect().top : null;
        }"""
    )


def test_top_right_corner_draws_on_a_fresh_page(browser, base_url):
    # The first thing a visitor does: a stroke from the corner, on a page just opened.
    fresh = browser.new_page(viewport=VIEWPORT)
    try:
        fresh.set_default_timeout(TIMEOUT)
        open_draw_page(fresh, base_url, timeout=90_000)
        overlap = toolbar_overlap(fresh)
        draw_strokes(fresh, CORNER_ONE)
        assert read_prediction(fresh, timeout=15_000) == "1", f"toolbar overlap {overlap} px"
    finally:
        fresh.close()


def test_top_right_corner_draws(page):
    clear_canvas(page, TIMEOUT)
    # The toolbar is moved above the canvas, not over its top-right corner (after a Clear too).
    overlap = toolbar_overlap(page)
    draw_strokes(page, CORNER_ONE)
    assert read_prediction(page, timeout=15_000) == "1", f"toolbar overlap {overlap} px"
    assert (toolbar_overlap(page) or 0) <= 1, "the canvas toolbar lies over the canvas"
    clear_canvas(page, TIMEOUT)
    # A 7 hugging the corner: its top bar along the top edge, its turn in the corner.
    draw_digit(page, 7, scale=0.45, offset=(0.56, 0.0))
    assert read_prediction(page, timeout=TIMEOUT) == "7"


def test_model_picker_switches_the_model(page):
    archs = shipped_archs()
    if len(archs) < 2:
        pytest.skip("only one model is shipped")
    # The picker and the caption name models by their friendly names; the caption adds the
    # technical name in brackets.
    current = next((a for a in archs if f"({a}) " in caption(page) + " "), archs[0])
    other = next(a for a in archs if a != current)
    picker = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Model")
    picker.click()
    page.get_by_role("option", name=re.compile(rf"^{re.escape(friendly_name(other))} —")).click()
    page.wait_for_function(
        "(arch) => [...document.querySelectorAll('[data-testid=\"stCaptionContainer\"]')]"
        ".some(c => c.textContent.includes('(' + arch + ') '))",
        arg=other,
        timeout=TIMEOUT,
    )
    wait_idle(page, TIMEOUT)
    assert f"({other}) " in caption(page)
    expect(picker).to_have_value(re.compile("^" + re.escape(friendly_name(other))))
    clear_canvas(page, TIMEOUT)
    draw_digit(page, 3)
    assert read_prediction(page, timeout=TIMEOUT) == "3"


# The red channel of the canvas's own pixels, what the app receives (white ink on black).
CANVAS_PIXELS_JS = """(upper) => {
  const lower = upper.parentElement.querySelector('canvas.lower-canvas');
  const d = lower.getContext('2d').getImageData(0, 0, lower.width, lower.height).data;
  const red = new Array(lower.width * lower.height);
  for (let i = 0; i < red.length; i++) red[i] = d[i * 4];
  return { w: lower.width, h: lower.height, red };
}"""


def test_the_offline_renderer_draws_what_the_canvas_draws(page):
    # The pen benchmark and the training drawings (model.handwriting.canvas) stand in for this
    # canvas: the same strokes must give the same picture, and the same 28x28 digit.
    import numpy as np

    from model.handwriting.canvas import DEFAULT_PEN, render
    from model.data.preprocess import canvas_to_mnist

    strokes = [[(0.2, 0.15), (0.75, 0.15), (0.45, 0.85)], [(0.3, 0.5), (0.65, 0.5)]]
    clear_canvas(page, TIMEOUT)
    draw_strokes(page, strokes, steps=8)
    read_prediction(page, timeout=TIMEOUT)
    pixels = page.locator(CANVAS).last.evaluate(CANVAS_PIXELS_JS)
    side = pixels["w"]
    assert (side, pixels["h"]) == (400, 400)
    browser_ink = np.array(pixels["red"], np.uint8).reshape(side, side)
    offline = render([as_mouse_moves(s, steps=8) * side for s in strokes], pen=DEFAULT_PEN)[..., 0]
    ink_a, ink_b = browser_ink > 127, offline > 127
    overlap = (ink_a & ink_b).sum() / (ink_a | ink_b).sum()
    # Measured 88.6%: the two anti-alias the stroke's rim differently, a pixel of a 22 px pen.
    assert overlap > 0.85, f"the offline stroke covers {overlap:.1%} of the same pixels as the canvas's"
    as_read = [canvas_to_mnist(np.dstack([im] * 3 + [np.full_like(im, 255)])) for im in (browser_ink, offline)]
    gap = np.abs(as_read[0] - as_read[1])
    # Measured: 0.0034 on average, 0.27 at the worst pixel (the anti-aliased rim, a pixel's shift).
    assert gap.mean() < 0.02 and gap.max() < 0.5, f"the 28x28 digits differ by {gap.mean():.3f} on average"


def as_mouse_moves(stroke, steps: int):
    """The points Playwright's mouse passes through along a stroke (``steps`` moves a segment)."""
    import numpy as np

    points = [stroke[0]]
    for a, b in zip(stroke, stroke[1:]):
        points += [(a[0] + (b[0] - a[0]) * k / steps, a[1] + (b[1] - a[1]) * k / steps) for k in range(1, steps + 1)]
    return np.array(points, np.float32)
