"""The Draw page on the screens of a class, in a real Chromium: two phones (one also held
sideways) and a tablet both ways round with real touch (CDP ``Input.dispatchTouchEvent``), a 720p projector and a 1080p
desktop with the mouse; then big-screen mode (``?present=1``) on the projector. The taller phone,
the sideways tablet and the desktop run with the slow tests (``FURTHER_PROFILES``); every page's
browser title is checked on the accessibility tour (tests/test_accessibility_browser.py). One
server and one browser for the module; a failing profile leaves a screenshot in ``test-results/``.

Run: ``.venv/bin/python -m pytest -m browser tests/test_devices_browser.py``  (about 2 minutes)
"""
from __future__ import annotations

import contextlib

import numpy as np
import pytest

from model import MODEL_DIR
from model.classroom.join import join_address
from model.serving.artifacts import shipped_archs
from tests.browser import (
    REPO,
    WebsocketLog,
    box_when_still,
    browser_available,
    wait_for_app,
    wait_for_page_scroll,
)
from tests.drawing import (
    CANVAS,
    canvas_box,
    clear_canvas,
    digit_strokes,
    draw_strokes,
    open_draw_page,
    read_prediction,
    touch_strokes,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
    pytest.mark.skipif(not shipped_archs(MODEL_DIR), reason="no trained model in model/ yet"),
]

TIMEOUT = 60_000  # ms; generous: the machine is shared
RESULTS = REPO / "test-results"
PROFILES = {
    "phone-390x664": dict(viewport={"width": 390, "height": 664}, device_scale_factor=3, is_mobile=True, has_touch=True),
    "phone-412x839": dict(viewport={"width": 412, "height": 839}, device_scale_factor=2, is_mobile=True, has_touch=True),
    "phone-844x390": dict(viewport={"width": 844, "height": 390}, device_scale_factor=3, is_mobile=True, has_touch=True),
    "tablet-810x1080": dict(viewport={"width": 810, "height": 1080}, device_scale_factor=2, has_touch=True),
    "tablet-1080x810": dict(viewport={"width": 1080, "height": 810}, device_scale_factor=2, has_touch=True),
    "projector-1280x720": dict(viewport={"width": 1280, "height": 720}),
    "desktop-1920x1080": dict(viewport={"width": 1920, "height": 1080}),
}
# A digit per profile, so between them the profiles draw several shapes.
DIGITS = dict(zip(PROFILES, [7, 3, 6, 2, 4, 5, 0]))

# Whether the point (x, y) of the viewport lands on the drawing canvas: the canvas lives in
# its component's shadow root, which the document's elementFromPoint does not enter.
HITS_CANVAS_JS = """([x, y]) => {
  const outer = document.elementFromPoint(x, y);
  const host = outer && outer.closest('[data-testid="stBidiComponentIsolated"]');
  const inner = host && host.shadowRoot ? host.shadowRoot.elementFromPoint(x, y) : outer;
  return !!inner && inner.matches('canvas.upper-canvas');
}"""
# The share of the canvas's own pixels (what the app receives) lit in each edge band.
LIT_BANDS_JS = """(upper) => {
  const lower = upper.parentElement.querySelector('canvas.lower-canvas');
  const w = lower.width, h = lower.height, d = lower.getContext('2d').getImageData(0, 0, w, h).data;
  const band = Math.round(w * 0.06);
  const lit = { left: 0, right: 0, top: 0, bottom: 0, total: 0, minX: w, maxX: 0, minY: h, maxY: 0 };
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    if (d[(y * w + x) * 4] < 128) continue;
    lit.total++;
    lit.minX = Math.min(lit.minX, x); lit.maxX = Math.max(lit.maxX, x);
    lit.minY = Math.min(lit.minY, y); lit.maxY = Math.max(lit.maxY, y);
  }
  return { ...lit, w, h };
}"""


def painted(page, timeout: float = 5_000) -> dict | None:
    """The canvas's lit pixels once the finished stroke is on it, or None if it never is.

    When the pen lifts, Fabric clears the stroke from its upper canvas at once and paints the
    finished path on the lower one at the next animation frame: read in between (2 times in 30
    here, straight after a touchEnd), the lower canvas is still empty though the student sees
    the stroke a frame later."""
    try:
        handle = page.locator(CANVAS).last.evaluate_handle(
            f"(upper) => new Promise(resolve => {{ const start = performance.now(); const look = () => {{"
            f" const lit = ({LIT_BANDS_JS})(upper);"
            f" if (lit.total > 0) resolve(lit); else if (performance.now() - start > {timeout}) resolve(null);"
            f" else requestAnimationFrame(look); }}; look(); }})")
        return handle.json_value()
    except Exception:  # noqa: BLE001 - the caller's assertion says what was not drawn
        return None


@pytest.fixture(scope="module")
def base_url(app_url):
    return app_url


@contextlib.contextmanager
def device(browser, name: str, options: dict):
    """A page in a fresh browser context with the profile's screen; a screenshot on failure."""
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    messages = WebsocketLog(page)
    try:
        yield page
    except BaseException:
        RESULTS.mkdir(exist_ok=True)
        with contextlib.suppress(Exception):
            page.screenshot(path=str(RESULTS / f"devices-{name}.png"))
        messages.save(RESULTS / f"devices-{name}.websocket.jsonl")
        raise
    finally:
        context.close()


def prediction_value(page):
    return page.locator('[data-testid="stMetric"]').filter(has_text="Prediction").locator('[data-testid="stMetricValue"]')


def draw(page, strokes, box: dict) -> None:
    """With a finger on a touch screen, else with the mouse."""
    if page.evaluate("() => navigator.maxTouchPoints > 0"):
        touch_strokes(page, page.context.new_cdp_session(page), strokes, box=box)
    else:
        draw_strokes(page, strokes, box=box)


def centred_canvas_box(page) -> dict:
    """The canvas scrolled to the middle of the screen (clear of the app's header), as a
    student holds it while drawing."""
    settled_canvas_box(page)
    page.locator(CANVAS).last.evaluate("c => c.scrollIntoView({block: 'center'})")
    return box_when_still(page.locator(CANVAS).last)


# True once the sidebar is folded out of sight (or open and still) and the canvas has kept one
# width for 10 animation frames: the sidebar slides shut, and the columns reflow while it does.
SETTLED_JS = """() => {
  const sidebar = document.querySelector('[data-testid="stSidebar"]');
  if (sidebar && sidebar.dataset.collapsed === "true" && sidebar.getBoundingClientRect().right > 1) return false;
  const host = document.querySelector('.st-key-draw-canvas [data-testid="stBidiComponentIsolated"]');
  const canvas = host && host.shadowRoot && host.shadowRoot.querySelector('canvas.upper-canvas');
  if (!canvas) return false;
  const box = canvas.getBoundingClientRect();
  const place = box.left + "," + box.top + "," + box.width;
  const state = window.__digitlabSettle || (window.__digitlabSettle = { place: "", frames: 0 });
  state.frames = place === state.place ? state.frames + 1 : 0;
  state.place = place;
  return state.frames >= 10;
}"""


def settled_canvas_box(page) -> dict:
    """The canvas's box once the page's layout has stopped moving."""
    page.evaluate("() => { window.__digitlabSettle = null; }")
    page.wait_for_function(SETTLED_JS, polling="raf", timeout=TIMEOUT)
    return canvas_box(page)


def edge_points(box: dict, inset: float = 2.0) -> dict[str, tuple[float, float]]:
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    return {
        "left": (box["x"] + inset, cy),
        "right": (box["x"] + box["width"] - inset, cy),
        "top": (cx, box["y"] + inset),
        "bottom": (cx, box["y"] + box["height"] - inset),
    }


def in_viewport(page, box: dict | None) -> bool:
    size = page.viewport_size
    return (box is not None and box["x"] >= 0 and box["y"] >= 0
            and box["x"] + box["width"] <= size["width"] + 0.5 and box["y"] + box["height"] <= size["height"] + 0.5)


def page_scroll(page) -> float:
    """How far the app's main area is scrolled (Streamlit scrolls it, not the window)."""
    return page.evaluate("() => (document.querySelector('[data-testid=stMain]') || {}).scrollTop + window.scrollY")


def swipe_up(page, cdp, x: float, y: float, distance: float = 200) -> None:
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y, "id": 1}]})
    for k in range(1, 11):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y - distance * k / 10, "id": 1}]})
        page.wait_for_timeout(16)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def no_sideways_scroll(page) -> tuple[int, int]:
    return page.evaluate("() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")


# The smallest phone, a sideways phone, a tablet and the projector gate each change (make test);
# the other profiles run with the slow tests (make test-slow, CI).
FURTHER_PROFILES = ("phone-412x839", "tablet-1080x810", "desktop-1920x1080")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in FURTHER_PROFILES else n
                                  for n in PROFILES])
def test_draw_page_on_device(browser, base_url, name):
    options = PROFILES[name]
    with device(browser, name, options) as page:
        open_draw_page(page, base_url, timeout=90_000)
        if options.get("has_touch"):  # phones and tablets: the canvas gets the whole width
            page.wait_for_selector('[data-testid="stSidebar"][data-collapsed="true"]', state="attached")
        box = settled_canvas_box(page)
        # As wide as its column lets it be: never cut off, never under 260 px, at most 400.
        assert 259 <= box["width"] <= 401 and abs(box["width"] - box["height"]) < 1, box
        assert in_viewport(page, box), f"the canvas is not wholly on screen: {box}"
        for edge, point in edge_points(box).items():
            assert page.evaluate(HITS_CANVAS_JS, list(point)), f"the canvas's {edge} edge is covered or clipped"

        digit = DIGITS[name]
        scrolled = page_scroll(page)
        draw(page, digit_strokes(digit), box)
        shown = read_prediction(page, timeout=TIMEOUT)
        assert page_scroll(page) == scrolled, "drawing on the canvas scrolled the page"
        # The answer replacing the hint above the canvas must not move the canvas under the finger.
        moved = box_when_still(page.locator(CANVAS).last)
        assert abs(moved["y"] - box["y"]) <= 1, f"the canvas moved from y={box['y']} to y={moved['y']} after the stroke"
        assert shown == str(digit), f"drew a {digit}, the page says {shown}"
        value = prediction_value(page)
        assert in_viewport(page, value.bounding_box()), "the Prediction is off screen after the stroke"
        scroll_width, client_width = no_sideways_scroll(page)
        assert scroll_width <= client_width, f"the page scrolls sideways: {scroll_width} > {client_width}"


# Short strokes hugging each edge of the canvas, in canvas fractions.
EDGE_STROKES = {
    "left": [[(0.01, 0.3), (0.012, 0.5), (0.01, 0.7)]],
    "right": [[(0.99, 0.3), (0.988, 0.5), (0.99, 0.7)]],
    "top": [[(0.3, 0.01), (0.5, 0.012), (0.7, 0.01)]],
    "bottom": [[(0.3, 0.99), (0.5, 0.988), (0.7, 0.99)]],
}


def test_strokes_at_each_edge_of_a_small_canvas_land_at_that_edge(browser, base_url):
    # The smallest canvas (a 390 px phone shows it at ~354 px for its 400 pixels): a finger
    # along an edge must paint that edge of the picture the app receives, nowhere else.
    name = "phone-390x664"
    with device(browser, name + "-edges", PROFILES[name]) as page:
        open_draw_page(page, base_url, timeout=90_000)
        for edge, strokes in EDGE_STROKES.items():
            clear_canvas(page, TIMEOUT)
            box = centred_canvas_box(page)
            for point in edge_points(box).values():
                assert page.evaluate(HITS_CANVAS_JS, list(point))
            assert box["width"] < 400  # shown smaller than its pixels: the case under test
            scrolled = page_scroll(page)
            draw(page, strokes, box)
            lit = painted(page)
            assert lit is not None, (
                f"a stroke along the {edge} edge drew nothing: canvas at {box} (scroll {scrolled}) "
                f"when measured, at {page.locator(CANVAS).last.bounding_box()} (scroll {page_scroll(page)}) now")
            w, h = lit["w"], lit["h"]
            near = {"left": lit["minX"] / w, "right": 1 - (lit["maxX"] + 1) / w,
                    "top": lit["minY"] / h, "bottom": 1 - (lit["maxY"] + 1) / h}
            assert near[edge] <= 0.01, f"{edge} stroke: lit pixels start {near[edge]:.1%} from that edge"
            # ...and only there: the stroke's far side stays within pen's reach of the edge.
            far = {"left": lit["maxX"] / w, "right": 1 - lit["minX"] / w,
                   "top": lit["maxY"] / h, "bottom": 1 - lit["minY"] / h}
            assert far[edge] <= 0.06, f"{edge} stroke reaches {far[edge]:.1%} into the canvas"


@pytest.mark.parametrize("path", ["training", pytest.param("confusion", marks=pytest.mark.slow)])
def test_a_swipe_over_a_chart_scrolls_the_page(browser, base_url, path):
    # Plotly's drag-to-zoom, if left on, catches the finger: a swipe over a chart moves nothing.
    name = "phone-412x839"
    with device(browser, f"{name}-swipe-{path}", PROFILES[name]) as page:
        page.goto(f"{base_url}/{path}")
        wait_for_app(page, timeout=90_000)
        chart = page.locator(".js-plotly-plot").first
        chart.wait_for()
        chart.evaluate("c => c.scrollIntoView({block: 'center'})")
        box = box_when_still(chart)
        before = page_scroll(page)
        swipe_up(page, page.context.new_cdp_session(page), box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.75)
        try:
            wait_for_page_scroll(page, before + 50)
        except Exception:  # noqa: BLE001 - said plainly below
            pytest.fail(f"the chart kept the swipe: the page did not scroll ({before} -> {page_scroll(page)})")


# Each visible table toolbar against the element above it: [toolbar top, that element's bottom].
TOOLBARS_JS = """() => [...document.querySelectorAll('[data-testid="stElementToolbar"]')]
  .filter(t => getComputedStyle(t).opacity !== '0')
  .map(t => {
    const above = t.closest('.stElementContainer').previousElementSibling;
    return [t.getBoundingClientRect().top, above ? above.getBoundingClientRect().bottom : -1e9];
  })"""


def test_a_tables_toolbar_on_a_phone_covers_no_text(browser, base_url):
    # Touch screens show a table's toolbar all the time, above the table.
    name = "phone-390x664"
    with device(browser, f"{name}-models-toolbar", PROFILES[name]) as page:
        page.goto(f"{base_url}/models")
        wait_for_app(page, timeout=90_000)
        page.locator('[data-testid="stDataFrame"]').first.wait_for()
        toolbars = page.evaluate(TOOLBARS_JS)
        assert toolbars, "no table toolbar is shown on a touch screen: nothing to check"
        assert all(top >= bottom - 0.5 for top, bottom in toolbars), toolbars


MAIN_BOX_JS = """() => {
  const r = document.querySelector('[data-testid=stMain]').getBoundingClientRect();
  const side = document.querySelector('[data-testid=stSidebar]').getBoundingClientRect();
  return { mainX: r.x, mainWidth: r.width, sidebarRight: side.right };
}"""
WHOLE_WIDTH_JS = f"() => {{ const b = ({MAIN_BOX_JS})(); return b.sidebarRight <= 1 && b.mainX <= 1 && b.mainWidth >= 800; }}"


def test_a_tablet_opening_a_diagnostics_page_gets_the_whole_width(browser, base_url):
    name = "tablet-810x1080"
    with device(browser, f"{name}-confusion", PROFILES[name]) as page:
        page.goto(f"{base_url}/confusion")
        wait_for_app(page, timeout=90_000)
        page.wait_for_selector('[data-testid="stSidebar"][data-collapsed="true"]', state="attached")
        # The sidebar slides shut and the main area widens over a few frames: wait for the end.
        try:
            page.wait_for_function(WHOLE_WIDTH_JS, polling="raf", timeout=TIMEOUT)
        except Exception:
            raise AssertionError(f"the main area never got the whole width: {page.evaluate(MAIN_BOX_JS)}") from None


def decode_qr(png: bytes) -> str:
    import cv2

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    # OpenCV's detector misses some codes a phone reads when the picture is cropped to the code's
    # own quiet zone (seen once in a clean-clone run): the same pixels, black and white, with a
    # white margin, at 1-3x, decode.
    binary = cv2.threshold(image, 128, 255, cv2.THRESH_BINARY)[1]
    for scale in (1, 2, 3):
        if text:
            break
        big = cv2.resize(binary, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        text, _, _ = cv2.QRCodeDetector().detectAndDecode(
            cv2.copyMakeBorder(big, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255))
    return text


def test_big_screen_mode_on_a_projector(browser, base_url):
    with device(browser, "present-1280x720", dict(viewport={"width": 1280, "height": 720})) as page:
        page.goto(base_url + "/?present=1", timeout=90_000)
        wait_for_app(page, timeout=90_000)
        page.locator(CANVAS).last.wait_for(state="visible")
        assert page.locator('[data-testid="stSidebar"]').is_hidden()
        box = settled_canvas_box(page)
        assert in_viewport(page, box), f"the canvas is not wholly on screen: {box}"
        assert box["width"] >= 400, "big-screen mode should give the canvas more room, not less"
        for edge, point in edge_points(box).items():
            assert page.evaluate(HITS_CANVAS_JS, list(point)), f"the canvas's {edge} edge is covered or clipped"

        draw(page, digit_strokes(8, scale=0.7), box)
        assert read_prediction(page, timeout=TIMEOUT) == "8"
        value = prediction_value(page)
        assert in_viewport(page, value.bounding_box()), "the Prediction is off screen"
        assert in_viewport(page, canvas_box(page)), "the canvas moved off screen after the stroke"
        font = value.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        assert font >= 120, f"the prediction is {font} px tall"
        assert no_sideways_scroll(page)[0] <= 1280

        from streamlit import net_util

        expected = join_address(base_url + "/", net_util.get_internal_ip())
        assert expected, "this machine has no network address: nothing to join"
        qr = page.get_by_role("img", name=f"QR code of {expected}")
        assert in_viewport(page, qr.bounding_box()), "the QR code is off screen"
        assert decode_qr(qr.screenshot()) == expected
        assert page.get_by_text(expected, exact=True).is_visible()

        # The switch leaves big-screen mode: the sidebar and the page title come back.
        page.get_by_text("Big-screen mode").click()
        page.get_by_role("heading", name="Draw a digit").wait_for()
        assert "present" not in page.url
