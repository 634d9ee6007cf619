"""Live while drawing, in a real Chromium: the Draw page's browser runs the model itself while
the pen moves (assets/live_draw.js, static/live-<hash>/), its bars change during the stroke, and
after pen-up its reading agrees with the server's: the same top-1 as the Prediction the page
shows, and the ten probabilities within 1e-3 of the server's own preprocessing and model on the
same canvas pixels. With a finger (CDP touch events) on a phone and with the mouse on a laptop;
and the pen-up behaviour, said in small print, where WebAssembly is missing or the model is a
numpy one.

Run: ``.venv/bin/python -m pytest tests/test_live_browser.py``
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

from model.data.preprocess import canvas_to_mnist
from model.serving.artifacts import shipped_archs
from model.serving.inference import load_classifier
from pages.common_models import friendly_name
from tests.browser import browser_available
from tests.drawing import (
    _to_page,
    canvas_box,
    clear_canvas,
    current_prediction,
    digit_strokes,
    open_draw_page,
    read_prediction,
    wait_idle,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
]

TIMEOUT = 45_000
REPO = Path(__file__).resolve().parent.parent
DESKTOP = {"viewport": {"width": 1400, "height": 1000}}
PHONE = {"viewport": {"width": 393, "height": 851}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
PROBABILITY_TOLERANCE = 1e-3

# The live panel's root, inside its component's shadow root.
PANEL_JS = """() => [...document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')]
    .map(h => h.shadowRoot && h.shadowRoot.querySelector('.live-root')).find(Boolean) || null"""
LIVE_JS = f"""() => {{
  const root = ({PANEL_JS})();
  if (!root) return null;
  const live = root.querySelector('.live');
  const s = window.__digitlabLive;
  return {{ state: root.dataset.state, phase: root.dataset.phase, note: root.querySelector('.note').textContent,
           top1: live.dataset.top1 || null, probabilities: live.dataset.probabilities || null,
           final: s && s.final, awaiting: s && s.awaitingServer }};
}}"""
# Every pixel of the drawing canvas, as the page sends it when the pen lifts.
CANVAS_RGBA_JS = """() => {
  const host = [...document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')]
    .find(h => h.shadowRoot && h.shadowRoot.querySelector('canvas.upper-canvas'));
  const lower = host.shadowRoot.querySelector('canvas.upper-canvas').parentElement.querySelector('canvas.lower-canvas');
  const d = lower.getContext('2d').getImageData(0, 0, lower.width, lower.height).data;
  let s = '';
  for (let i = 0; i < d.length; i += 8192) s += String.fromCharCode.apply(null, d.subarray(i, i + 8192));
  return { w: lower.width, h: lower.height, b64: btoa(s) };
}"""


@pytest.fixture(scope="module")
def cnn():
    return load_classifier("cnn")


def live(page) -> dict | None:
    return page.evaluate(LIVE_JS)


def wait_live_ready(page) -> None:
    """The runtime and the model are loaded: the small print says so."""
    page.wait_for_function(f"() => {{ const r = ({PANEL_JS})(); return r && r.dataset.state === 'ready'; }}",
                           timeout=TIMEOUT, polling="raf")


def wait_new_reading(page, previous: str | None) -> dict:
    """The panel shows a reading other than ``previous`` while the pen is still down."""
    page.wait_for_function(
        f"(prev) => {{ const r = ({PANEL_JS})(); if (!r) return false; const l = r.querySelector('.live');"
        " return r.dataset.phase === 'drawing' && l.dataset.probabilities && l.dataset.probabilities !== prev; }",
        arg=previous, timeout=TIMEOUT, polling="raf")
    return live(page)


def canvas_rgba(page) -> np.ndarray:
    import base64

    got = page.evaluate(CANVAS_RGBA_JS)
    return np.frombuffer(base64.b64decode(got["b64"]), np.uint8).reshape(got["h"], got["w"], 4)


class Pen:
    """Down, moves and up, by mouse or by finger (CDP touch events, as a phone sends them)."""

    def __init__(self, page, touch: bool):
        self.page, self.touch = page, touch
        self.cdp = page.context.new_cdp_session(page) if touch else None

    def _touch(self, kind: str, point=None) -> None:
        points = [] if point is None else [{"x": point[0], "y": point[1], "id": 1}]
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    def down(self, point) -> None:
        if self.touch:
            self._touch("touchStart", point)
        else:
            self.page.mouse.move(*point)
            self.page.mouse.down()

    def move(self, points) -> None:
        for point in points:
            if self.touch:
                self._touch("touchMove", point)
                self.page.wait_for_timeout(16)  # pacing: a finger's moves come a frame apart
            else:
                self.page.mouse.move(*point, steps=2)

    def up(self) -> None:
        if self.touch:
            self._touch("touchEnd")
        else:
            self.page.mouse.up()


def draw_live(page, digit: int, touch: bool) -> list[dict]:
    """Draw ``digit`` in one stroke, in four parts, and return the readings the live panel showed
    after each part while the pen was still down."""
    box = canvas_box(page)
    points = [_to_page(box, p) for p in digit_strokes(digit, one_stroke=True)[0]]
    pen = Pen(page, touch)
    pen.down(points[0])
    readings, previous = [], None
    parts = np.array_split(np.arange(1, len(points)), 4)
    for part in parts:
        pen.move([points[i] for i in part])
        reading = wait_new_reading(page, previous)
        readings.append(reading)
        previous = reading["probabilities"]
    pen.up()
    return readings


def check_pen_up(page, cnn, digit: int) -> None:
    """After pen-up: the server's Prediction, the live reading's top-1 the same, and the live
    probabilities those the server's preprocessing and model give for the same pixels."""
    shown = read_prediction(page, timeout=TIMEOUT, settle=0)
    try:
        page.wait_for_function("() => { const s = window.__digitlabLive; return s.final && !s.awaitingServer; }",
                               timeout=TIMEOUT, polling="raf")
    except Exception as error:
        raise AssertionError(f"no live reading after pen-up, or no server answer seen: {live(page)} "
                             f"{page.evaluate('() => window.__digitlabLive.log.slice(-3)')}") from error
    wait_idle(page, TIMEOUT)
    state = live(page)
    final = np.array(state["final"], np.float32)
    assert str(int(final.argmax())) == shown, f"live says {final.argmax()}, the server {shown}"
    assert shown == str(digit), f"drew a {digit}, the page says {shown}"
    assert state["phase"] == "server"
    image = canvas_to_mnist(canvas_rgba(page))
    server = cnn.predict_proba(image[None])[0]
    gap = float(np.abs(server - final).max())
    assert gap <= PROBABILITY_TOLERANCE, f"live and server probabilities differ by {gap:.2e}"


@pytest.mark.parametrize("profile, touch", [(DESKTOP, False), (PHONE, True)], ids=["desktop-mouse", "phone-touch"])
def test_live_bars_move_with_the_pen_and_agree_with_the_server(browser, app_url, cnn, profile, touch):
    context = browser.new_context(**profile)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    try:
        open_draw_page(page, app_url, timeout=90_000)
        wait_live_ready(page)
        assert "your browser reads the drawing" in live(page)["note"]
        for digit in (3, 7):
            if current_prediction(page) is not None:
                clear_canvas(page, TIMEOUT)
            readings = draw_live(page, digit, touch)
            assert len({r["probabilities"] for r in readings}) == len(readings), "the bars did not change"
            assert all(r["phase"] == "drawing" for r in readings)
            if not touch:  # a laptop's live panel stands in for the server's answer meanwhile
                assert page.locator(".st-key-draw-verdict").is_hidden()
            check_pen_up(page, cnn, digit)
    except Exception:
        (REPO / "test-results").mkdir(exist_ok=True)
        page.screenshot(path=str(REPO / "test-results" / f"live-{'phone' if touch else 'desktop'}.png"), full_page=True)
        raise
    finally:
        context.close()


def test_the_live_panel_speaks_the_pages_language(browser, app_url):
    """In German, the live panel's words (its small print, its headings, the bars' label for a
    screen reader) are the catalog's, and its percentages are written the German way."""
    from model.i18n import catalog

    german = catalog.translations("de").gettext
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    try:
        page.goto(app_url.rstrip("/") + "/?lang=de", timeout=90_000)
        wait_idle(page, 90_000)
        wait_live_ready(page)
        assert live(page)["note"] == german("Live while you draw: your browser reads the drawing as the pen "
                                            "moves. When you lift the pen, the server's answer replaces it.")
        draw_live(page, 3, touch=False)
        words = page.evaluate(f"""() => {{ const l = ({PANEL_JS})().querySelector('.live');
            return {{ name: l.querySelector('.name.prediction').textContent,
                     confidence: l.querySelector('.confidence').textContent,
                     bars: l.querySelector('.bars').getAttribute('aria-label'),
                     pct: [...l.querySelectorAll('.pct')].map(p => p.textContent) }}; }}""")
        assert words["name"] == german("Prediction (live)") != "Prediction (live)"
        assert words["bars"] == german("The ten probabilities, live")
        assert re.fullmatch(r"\d{1,3},\d\xa0%", words["confidence"]), words["confidence"]
        assert all(re.fullmatch(r"\d{1,3}\xa0%", p) for p in words["pct"]), words["pct"]
    except Exception:
        (REPO / "test-results").mkdir(exist_ok=True)
        page.screenshot(path=str(REPO / "test-results" / "live-german.png"), full_page=True)
        raise
    finally:
        context.close()


def test_without_webassembly_the_page_answers_on_pen_up_and_says_so(browser, app_url):
    context = browser.new_context(**DESKTOP)
    context.add_init_script("delete globalThis.WebAssembly;")
    page = context.new_page()
    try:
        open_draw_page(page, app_url, timeout=90_000)
        page.wait_for_function(f"() => {{ const r = ({PANEL_JS})(); return r && r.dataset.state === 'off'; }}",
                               timeout=TIMEOUT, polling="raf")
        assert "Live while you draw is off" in live(page)["note"]
        assert "when you lift the pen" in live(page)["note"]
        box = canvas_box(page)
        pen = Pen(page, touch=False)
        points = [_to_page(box, p) for p in digit_strokes(3, one_stroke=True)[0]]
        pen.down(points[0])
        pen.move(points[1:])
        pen.up()
        assert read_prediction(page, timeout=TIMEOUT, settle=0) == "3"
        assert live(page)["top1"] is None
    finally:
        context.close()


def numpy_arch() -> str | None:
    for arch in shipped_archs():
        folder = REPO / "model" / arch
        if (folder / "weights.npz").is_file() and not (folder / "model.tflite").is_file():
            return arch
    return None


def test_a_numpy_model_answers_on_pen_up_and_says_so(browser, app_url):
    arch = numpy_arch()
    if arch is None:
        pytest.skip("no numpy model is shipped")
    page = browser.new_page(**DESKTOP)
    try:
        open_draw_page(page, app_url, timeout=90_000)
        picker = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Model")
        picker.click()
        page.get_by_role("option", name=re.compile(rf"^{re.escape(friendly_name(arch))} —")).click()
        expect(picker).to_have_value(re.compile("^" + re.escape(friendly_name(arch))))
        page.wait_for_function(f"() => {{ const r = ({PANEL_JS})(); return r && r.dataset.state === 'off'; }}",
                               timeout=TIMEOUT, polling="raf")
        wait_idle(page, TIMEOUT)
        assert "NumPy" in live(page)["note"] and "when you lift the pen" in live(page)["note"]
    finally:
        page.close()
