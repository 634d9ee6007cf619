"""The Inside page in a real browser: draw a digit on the Draw page, follow its link to Inside,
and see the pipeline, the feature maps and both saliency maps for that digit; switch a
pipeline step off and see the probabilities change. On a desktop screen with the mouse and on
a phone-size screen (390x664) with touch. Click a filter in the first block's grid to see it up
close; on the phone, a swipe over that grid scrolls the page and a tap on a filter picks it.

Run: ``.venv/bin/python -m pytest -m browser tests/test_inside_browser.py``  (about a minute)
On failure a screenshot is saved to ``$DIGITLAB_SHOTS`` (default: the system's temp folder).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import box_when_still, browser_available, wait_for_page_scroll
from tests.drawing import canvas_box, digit_strokes, draw_digit, open_draw_page, read_prediction, wait_idle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
]

TIMEOUT = 90_000  # ms; generous: the first Inside view on a server loads TensorFlow
SHOTS = Path(os.environ.get("DIGITLAB_SHOTS") or tempfile.gettempdir())
# A small 3 low in the left corner: read right with the crop, not without it.
DIGIT, SCALE, OFFSET = 3, 0.3, (0.08, 0.6)
HEADERS = ["1. From your drawing to 28x28", "2. What each layer picks up", "3. Which pixels made it say that"]


@pytest.fixture(scope="module")
def base_url(app_url):
    return app_url


@contextlib.contextmanager
def screenshot_on_failure(page, name: str):
    try:
        yield
    except BaseException:
        path = SHOTS / f"inside-{name}.png"
        with contextlib.suppress(Exception):
            page.screenshot(path=str(path), full_page=True)
            print(f"screenshot: {path}")
        raise


def touch_digit(page, cdp, digit: int) -> None:
    """Draw with real touch events (CDP), one finger, stroke by stroke."""
    box = canvas_box(page)
    for stroke in digit_strokes(digit, SCALE, OFFSET):
        points = [{"x": box["x"] + x * box["width"], "y": box["y"] + y * box["height"], "id": 1} for x, y in stroke]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [points[0]]})
        for point in points[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        page.wait_for_timeout(150)


def metric_value(page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def pipeline_verdict(page) -> str:
    return page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="With every step on").first.inner_text()


def pipeline_chart_text(page) -> str:
    return page.locator('[data-testid="stPlotlyChart"]').first.inner_text()


def check_inside(page, predicted: str, tap: bool) -> None:
    link = page.get_by_role("link", name="Look inside the network")
    link.scroll_into_view_if_needed()
    link.tap() if tap else link.click()
    page.wait_for_url("**/inside", timeout=TIMEOUT)
    for header in HEADERS:
        page.get_by_role("heading", name=header).wait_for(timeout=TIMEOUT)
    wait_idle(page, TIMEOUT)
    assert metric_value(page, "Prediction") == predicted
    # The pipeline: five pictures, from the canvas to 28x28.
    for name in ["1. Canvas ink", "2. Crop", "3. Stroke width", "4. 20x20 box", "5. 28x28, centred"]:
        assert page.get_by_text(name).count() >= 1, name
    # The maps: a grid per conv block, the first layer's filters, one filter up close.
    assert page.get_by_text("Block 1 of").count() >= 1
    assert page.get_by_role("heading", name="The first layer's filters").count() == 1
    assert page.get_by_text("Where it answers most strongly").count() == 1
    # Saliency: both methods, for the answer and the runner-up, on 28x28 and on the canvas.
    for caption in ["Occlusion, 28x28", "Integrated gradients, 28x28", "Occlusion, on your canvas",
                    "Integrated gradients, on your canvas"]:
        assert page.get_by_text(caption, exact=True).count() == 2, caption
    assert page.get_by_role("heading", name=f"The model's answer: {predicted}").count() == 1
    for image in page.locator('[data-testid="stImage"] img').all():
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    # Switch the crop off: the answer is re-read, and the probabilities change.
    before_verdict, before_chart = pipeline_verdict(page), pipeline_chart_text(page)
    assert "Without" not in before_verdict
    switch = page.get_by_role("switch", name="Crop to the digit")
    assert switch.is_checked()
    switch.scroll_into_view_if_needed()
    label = page.locator('[data-testid="stCheckbox"]').filter(has_text="Crop to the digit")
    label.tap() if tap else label.click()
    page.get_by_text("No crop").first.wait_for(timeout=TIMEOUT)
    page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="Without crop to the digit").first.wait_for(timeout=TIMEOUT)
    wait_idle(page, TIMEOUT)
    assert not switch.is_checked()
    assert pipeline_chart_text(page) != before_chart
    assert page.locator('[data-testid="stException"]').count() == 0


def first_grid(page):
    """Block 1's grid of filters: the picture inside its chart, scrolled into view."""
    picture = page.locator(".st-key-inside-grid-1 .js-plotly-plot image").first
    picture.wait_for(timeout=TIMEOUT)
    picture.evaluate("p => p.scrollIntoView({block: 'center'})")
    return box_when_still(picture)


def click_a_filter(page, row: int, column: int) -> None:
    """Click near a corner of a tile of the first block's grid (8 tiles of 48 px to a row, 2 px
    apart): the filter it names on hover is then the one shown up close."""
    box = first_grid(page)
    step = box["width"] / (8 * 50 - 2) * 50
    x, y = box["x"] + (column + 0.1) * step, box["y"] + (row + 0.85) * step
    page.mouse.move(x, y)
    hover = page.locator(".st-key-inside-grid-1 .hoverlayer .hovertext")
    hover.wait_for(timeout=TIMEOUT)
    label = hover.text_content()  # an SVG text: no inner_text
    channel = label.split(":")[0].removeprefix("Filter ").strip()
    assert channel.isdigit(), label
    page.mouse.click(x, y)
    up_close = page.locator('[data-testid="stImage"]').filter(has_text=f"Filter {channel} of block 1:")
    up_close.wait_for(timeout=TIMEOUT)
    wait_idle(page, TIMEOUT)
    rank = page.locator('[data-testid="stSlider"]').filter(has_text="Filter, by activity")
    assert rank.locator('[data-testid="stSliderThumbValue"]').inner_text() == str(row * 8 + column + 1)


def tap_a_filter(page, cdp, row: int, column: int) -> None:
    """A finger's tap on a tile of the first block's grid picks that filter, as a click does."""
    box = first_grid(page)
    step = box["width"] / (8 * 50 - 2) * 50
    point = {"x": box["x"] + (column + 0.5) * step, "y": box["y"] + (row + 0.5) * step, "id": 1}
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    rank = page.locator('[data-testid="stSlider"]').filter(has_text="Filter, by activity")
    expect(rank.locator('[data-testid="stSliderThumbValue"]')).to_have_text(str(row * 8 + column + 1),
                                                                            timeout=TIMEOUT)
    wait_idle(page, TIMEOUT)
    page.locator('[data-testid="stImage"]').filter(has_text="of block 1:").first.wait_for(timeout=TIMEOUT)


def swipe_over_the_grid_scrolls(page, cdp) -> None:
    """A finger on a grid of filters scrolls the page (the grid does not keep the swipe)."""
    box = first_grid(page)
    scrolled = "() => (document.querySelector('[data-testid=stMain]') || {}).scrollTop + window.scrollY"
    before = page.evaluate(scrolled)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.8
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y, "id": 1}]})
    for k in range(1, 11):
        point = {"x": x, "y": y - 20 * k, "id": 1}
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        page.wait_for_timeout(16)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    try:
        wait_for_page_scroll(page, before + 50)
    except Exception:  # noqa: BLE001 - said plainly below
        pytest.fail(f"the grid kept the swipe: the page did not scroll ({before} -> {page.evaluate(scrolled)})")


def test_inside_with_the_mouse_on_a_projector_screen(browser, base_url):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(TIMEOUT)
    with screenshot_on_failure(page, "desktop"):
        open_draw_page(page, base_url, timeout=TIMEOUT)
        draw_digit(page, DIGIT, scale=SCALE, offset=OFFSET)
        predicted = read_prediction(page, timeout=TIMEOUT)
        check_inside(page, predicted, tap=False)
        click_a_filter(page, row=1, column=3)
    page.close()


def test_inside_with_touch_on_a_phone(browser, base_url):
    context = browser.new_context(viewport={"width": 390, "height": 664}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    with screenshot_on_failure(page, "phone"):
        open_draw_page(page, base_url, timeout=TIMEOUT)
        cdp = context.new_cdp_session(page)
        touch_digit(page, cdp, DIGIT)
        predicted = read_prediction(page, timeout=TIMEOUT)
        check_inside(page, predicted, tap=True)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 391
        swipe_over_the_grid_scrolls(page, cdp)
        tap_a_filter(page, cdp, row=2, column=5)
    context.close()
