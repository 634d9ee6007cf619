"""Keyboard and screen reader, in a real browser: axe-core (pinned, from assets/vendor/) finds no
serious or critical violation on any page on a desktop and a phone; the Draw page's answer is
spoken through a live region, the canvas has a label, and a digit can be read with the keyboard
alone (the Pick a sample tab), with a visible focus outline on the way.

Run: ``.venv/bin/python -m pytest tests/test_accessibility_browser.py``
"""
from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest

from model import MODEL_DIR
from model.serving.artifacts import shipped_archs
from tests.accessibility import PAGES, PROFILES, audit, open_settled, severe
from tests.browser import browser_available, wait_for_app
from tests.drawing import digit_strokes, draw_strokes, open_draw_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
    pytest.mark.skipif(not shipped_archs(MODEL_DIR), reason="no trained model in model/ yet"),
]

TIMEOUT = 60_000
SPOKEN = re.compile(r"^Prediction (\d), (\d+) percent sure$")
SAMPLE_TAB = "Pick a sample"
SAMPLE_BOX = "A handwritten digit from MNIST's test set"
LIVE_TEXT_JS = "(id) => { const r = document.getElementById(id); return r ? r.textContent : null; }"


@pytest.fixture
def context(browser, request):
    context = browser.new_context(**PROFILES[request.param])
    context.set_default_timeout(TIMEOUT)
    yield context
    context.close()


@pytest.mark.parametrize("context", ["desktop", pytest.param("phone", marks=pytest.mark.slow)], indirect=True)
def test_axe_finds_nothing_serious_on_any_page_and_each_has_its_own_title(app_url, context):
    """One tour of every page: axe's audit, and the browser tab's title (a student with ten tabs
    open, or a screen reader's list of windows, tells the pages apart by it)."""
    found, titles = {}, {}
    page = context.new_page()
    for path, _ in PAGES:
        open_settled(page, app_url + path)
        if path == "/":  # the tour is every page the sidebar links to
            links = page.locator('[data-testid="stSidebarNavLink"]')
            linked = {urlsplit(urljoin(app_url + "/", links.nth(i).get_attribute("href") or "")).path
                      for i in range(links.count())}
            assert len(linked) >= 5 and linked <= {p for p, _ in PAGES}, linked
        page.wait_for_function("() => document.title && document.title !== 'Streamlit'")
        titles[path] = page.title()
        bad = severe(audit(page))
        if bad:
            found[path] = [(v["impact"], v["id"], v["help"], v["nodes"][:2]) for v in bad]
    assert not found, found
    assert len(set(titles.values())) == len(titles), titles


def _live_region(page, region: str):
    """The live region exists (role status, polite) before any answer, so it is announced."""
    live = page.locator(f"#digitlab-announce-{region}")
    live.wait_for(state="attached")
    assert live.get_attribute("role") == "status" and live.get_attribute("aria-live") == "polite"
    return live


def test_keyboard_alone_reads_a_sample_digit_and_the_answer_is_spoken(app_url, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    try:
        open_settled(page, app_url + "/")
        live = _live_region(page, "sample")
        assert live.text_content() == ""
        # Tab from the page's top to the tabs (one stop: the selected tab), then the arrow keys
        # along them, as the WAI-ARIA tabs pattern has it.
        focused = "() => [document.activeElement?.getAttribute('role'), document.activeElement?.textContent?.trim()]"
        for _ in range(60):
            page.keyboard.press("Tab")
            if page.evaluate(focused)[0] == "tab":
                break
        else:
            pytest.fail("Tab never reached the tabs")
        for _ in range(3):
            if page.evaluate(focused)[1] == SAMPLE_TAB:
                break
            page.keyboard.press("ArrowRight")
        assert page.evaluate(focused) == ["tab", SAMPLE_TAB]
        # The keyboard's focus is visible: a thick outline on the focused tab.
        outline = page.evaluate("() => { const s = getComputedStyle(document.activeElement);"
                                " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }")
        assert outline[0] != "none" and outline[1] >= 2, outline
        page.keyboard.press("Enter")
        box = page.get_by_role("combobox", name=SAMPLE_BOX)
        box.wait_for(state="visible")
        for _ in range(10):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement?.getAttribute('aria-label') || ''") == SAMPLE_BOX:
                break
        page.keyboard.type("a 3")
        page.keyboard.press("Enter")
        handle = page.wait_for_function(f"() => ({LIVE_TEXT_JS})('digitlab-announce-sample') || null")
        said = handle.json_value()
        match = SPOKEN.match(said)
        assert match and match.group(1) == "3", said
        wait_for_app(page)
        assert not severe(audit(page))  # with the answer, the chart and the 28x28 view shown
    finally:
        page.close()


def test_a_drawing_is_spoken_and_the_canvas_has_a_label(app_url, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    try:
        open_draw_page(page, app_url, timeout=TIMEOUT)
        live = _live_region(page, "draw")
        assert live.text_content() == ""
        label = page.wait_for_function("""() => {
            const host = document.querySelector('.st-key-draw-canvas [data-testid="stBidiComponentIsolated"]');
            const canvas = host && host.shadowRoot && host.shadowRoot.querySelector('canvas.upper-canvas');
            return canvas && canvas.getAttribute('role') === 'img' && canvas.getAttribute('aria-label');
        }""").json_value()
        assert "draw one digit" in label.lower() and SAMPLE_TAB in label
        draw_strokes(page, digit_strokes(1, one_stroke=True))
        said = page.wait_for_function(f"() => ({LIVE_TEXT_JS})('digitlab-announce-draw') || null").json_value()
        assert SPOKEN.match(said), said
    finally:
        page.close()


def test_the_push_page_speaks_its_answer(app_url, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    try:
        open_settled(page, app_url + "/push")
        live = _live_region(page, "push")
        said = page.wait_for_function(f"() => ({LIVE_TEXT_JS})('digitlab-announce-push') || null").json_value()
        assert SPOKEN.match(said), said
        shown = page.locator('[data-testid="stMetric"]', has_text="Prediction").locator('[data-testid="stMetricValue"]')
        assert SPOKEN.match(said).group(1) == shown.first.inner_text().strip()
        assert live.get_attribute("aria-live") == "polite"
    finally:
        page.close()
