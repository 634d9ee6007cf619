"""The Push it page and the not-a-digit verdict in a real browser, on a desktop and a phone.

Each slider of Push it, moved with the keyboard to the end of its range, changes the ten
probabilities the page draws (read from the chart's own data) and the picture of what the
model reads; a letter A drawn on the Draw page gets "This doesn't look much like any digit I
know" beside its probabilities.

Run: ``.venv/bin/python -m pytest tests/test_push_browser.py``  (about a minute)
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from playwright.sync_api import expect

from model.explaining.robustness import SLIDERS
from tests.browser import WebsocketLog, box_when_still, browser_available
from tests.drawing import (LETTER_K, canvas_box, clear_canvas, draw_digit, draw_strokes, open_draw_page, place,
                           read_prediction, smooth, wait_idle)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
]

TIMEOUT = 60_000  # ms; generous: the machine is shared
DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 664}
VERDICT = "This doesn't look much like any digit I know"
# The bars' heights straight from the Plotly chart of the ten probabilities.
PROBABILITIES_JS = """() => {
  for (const plot of document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')) {
    const bar = (plot.data || []).find(t => t.type === 'bar');
    if (bar) return Array.from(bar.y);
  }
  return null;
}"""
PUSHED_IMAGE = '[data-testid="stImage"] img'


@pytest.fixture(scope="module")
def base_url(app_url):
    return app_url


@contextlib.contextmanager
def new_page(browser, viewport, request, **options):
    context = browser.new_context(viewport=viewport, **options)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    messages = WebsocketLog(page)
    try:
        yield page
    except BaseException:
        with contextlib.suppress(Exception):
            shot(page, f"failed-{request.node.name}")
        messages.save(Path("test-results") / f"failed-{request.node.name}.websocket.jsonl")
        raise
    finally:
        context.close()


def probabilities(page) -> list[float]:
    page.wait_for_function(PROBABILITIES_JS, timeout=TIMEOUT)
    return page.evaluate(PROBABILITIES_JS)


def open_push_page(page, base_url: str) -> None:
    page.goto(base_url + "/push", timeout=TIMEOUT)
    wait_idle(page, TIMEOUT)
    page.get_by_role("slider").first.wait_for(state="visible", timeout=TIMEOUT)
    wait_idle(page, TIMEOUT)


def move_slider(page, label: str, key: str) -> list[float]:
    """Press ``key`` on the slider ``label``; the probabilities once the page shows new ones
    (an AssertionError saying what the page showed if they never change)."""
    before = probabilities(page)
    slider = page.get_by_role("slider", name=label)  # an <input type="range">
    start = slider.input_value()
    slider.scroll_into_view_if_needed()
    slider.focus()
    page.keyboard.press(key)
    expect(slider).not_to_have_value(start)
    moved = slider.input_value()
    try:
        return new_probabilities(page, before)
    except Exception as error:
        raise AssertionError(
            f"{label}: {key} took the slider from {start} to {moved}, and the probabilities stayed "
            f"{before} (now {probabilities(page)}; {error})") from None


def new_probabilities(page, before: list[float], timeout: float = TIMEOUT) -> list[float]:
    page.wait_for_function(f"(before) => {{ const now = ({PROBABILITIES_JS})(); "
                           "return now !== null && JSON.stringify(now) !== JSON.stringify(before); }",
                           arg=before, timeout=timeout)
    wait_idle(page, TIMEOUT)
    return probabilities(page)


def go_to(page, title: str) -> None:
    """Through the app's navigation, as a student would (a new URL would start a new session,
    without the drawing)."""
    expand = page.get_by_test_id("stExpandSidebarButton")
    if expand.count() and expand.first.is_visible():  # a phone: the sidebar starts closed
        expand.first.click()
    link = page.get_by_role("link", name=title)
    link.wait_for(state="visible", timeout=TIMEOUT)
    box_when_still(link)  # the sidebar has slid in
    link.click()
    wait_idle(page, TIMEOUT)
    if page.viewport_size["width"] < 600:  # on a phone the open sidebar covers the page
        page.get_by_test_id("stSidebarCollapseButton").locator("button").first.click()
    page.get_by_role("slider").first.wait_for(state="visible", timeout=TIMEOUT)
    wait_idle(page, TIMEOUT)


def shot(page, name: str) -> None:
    folder = Path("test-results")
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_every_slider_changes_the_probabilities(browser, base_url, request):
    with new_page(browser, DESKTOP, request) as page:
        open_push_page(page, base_url)
        assert page.get_by_text("What am I looking at?").is_visible()
        before, picture = probabilities(page), page.locator(PUSHED_IMAGE).first.get_attribute("src")
        assert len(before) == 10 and abs(sum(before) - 1) < 1e-3
        for name, slider in SLIDERS.items():
            after = move_slider(page, slider.label, "End" if name != "scale" else "Home")
            changed = max(abs(a - b) for a, b in zip(after, before))
            assert changed > 1e-6, f"moving {slider.label!r} left the probabilities as they were"
            now = page.locator(PUSHED_IMAGE).first.get_attribute("src")
            assert now != picture, f"moving {slider.label!r} left the picture as it was"
            before, picture = after, now
        # The sweep of the turn is drawn, its flip points named in words.
        assert page.get_by_role("heading", name="One slider, its whole range").is_visible()
        assert page.get_by_role("heading", name="Where it lands").is_visible()
        page.get_by_role("button", name="Reset the sliders").click()
        reset = new_probabilities(page, before)
        assert max(reset) > 0.9
        # The eraser: a stroke across the middle of the digit on the small canvas.
        draw_strokes(page, [[(0.1, 0.5), (0.5, 0.48), (0.9, 0.5)], [(0.5, 0.1), (0.5, 0.9)]], box=canvas_box(page))
        new_probabilities(page, reset)
        shot(page, "push-desktop-erased")


@pytest.mark.parametrize("viewport", [DESKTOP, pytest.param(PHONE, marks=pytest.mark.slow)], ids=["desktop", "phone"])
def test_a_drawn_letter_is_not_a_digit(browser, base_url, request, viewport):
    options = {"is_mobile": True, "has_touch": True} if viewport is PHONE else {}
    with new_page(browser, viewport, request, **options) as page:
        open_draw_page(page, base_url, timeout=TIMEOUT)
        if viewport is DESKTOP:  # a digit first: read, and no verdict
            draw_digit(page, 3)
            assert read_prediction(page, timeout=TIMEOUT) == "3"
            assert page.get_by_text(VERDICT).count() == 0
            clear_canvas(page, TIMEOUT)
        strokes = place([smooth(s, 4) for s in LETTER_K], 0.6)
        draw_strokes(page, strokes)
        read_prediction(page, timeout=TIMEOUT)
        page.get_by_text(VERDICT).wait_for(state="visible", timeout=TIMEOUT)
        # Beside the probabilities, not instead of them.
        assert probabilities(page) is not None
        shot(page, f"letter-k-{request.node.callspec.id}")
        if viewport is PHONE:
            # The drawing is what Push it pushes, and its sliders work on a phone too.
            go_to(page, "Push it")
            page.get_by_text("Pushing your drawing").wait_for(state="visible", timeout=TIMEOUT)
            before = probabilities(page)
            after = move_slider(page, SLIDERS["rotation"].label, "End")
            assert max(abs(a - b) for a, b in zip(after, before)) > 1e-6
            # The last slider, far down a phone's screen: its answer is still in view.
            after = move_slider(page, SLIDERS["noise"].label, "End")
            assert max(abs(a - b) for a, b in zip(after, before)) > 1e-6
            metric = page.locator('[data-testid="stMetric"]', has_text="Prediction").first
            top = metric.evaluate("e => { const r = e.getBoundingClientRect(); "
                                  "return e.contains(document.elementFromPoint(r.left + 4, r.top + r.height / 2)) ? r.top : -1; }")
            height = metric.bounding_box()["height"]
            assert 0 <= top and top + height <= PHONE["height"], f"Prediction at {top}: covered or off screen"
            shot(page, "push-phone")
