"""Drawing digits on the Draw page's canvas like a person would, and reading what the app says.

    from tests.drawing import draw_digit, read_prediction, clear_canvas

    draw_digit(page, 3)                        # centred, 60% of the canvas
    assert read_prediction(page) == "3"
    clear_canvas(page)                         # back to the empty state
    draw_digit(page, 7, scale=0.4, offset=(0.6, 0.0))   # small, in the top-right corner

The stroke paths are written by hand, in a unit square (x to the right, y down), the way people
write digits: a 1 with a small flag, a 4 with an open top, a 7 with a bar, an 8 in one stroke.
Each stroke is a list of points; :func:`smooth` turns the corners into curves (Catmull-Rom)
and :func:`draw_strokes` plays them with real mouse events, several moves per segment, so the
canvas (Fabric.js free drawing) sees what it sees from a hand.

Timing (for the benchmarks): :func:`install_timing` puts a recorder in the page that stamps,
with the page's own clock (``performance.now()``), every ``mouseup`` and every change of the
Prediction metric's text (a ``MutationObserver`` on the document; the stamp is taken when the
DOM changes, and again at the next animation frame, i.e. when the browser paints it).
:func:`draw_and_time` draws a digit and returns the value and the milliseconds from the pen
lifting to the new value, so no Python or Playwright round trip is inside the measurement.
"""
from __future__ import annotations

import time
from pathlib import Path
from dataclasses import dataclass

from model.handwriting.styles import Hand, smooth  # noqa: F401 - smooth is imported from here too

Point = tuple[float, float]
Stroke = list[Point]

# --------------------------------------------------------------------------- the digits
# Written by hand in a unit square; (0, 0) is the top-left corner. Handwriting does not fill
# its box evenly: a 1 is narrow, so it sits in the middle of the square.
DIGITS: dict[int, list[Stroke]] = {
    # An oval, begun at the top a little right of centre and drawn anticlockwise, closing
    # with a small overlap, as most people write it.
    0: [[(0.55, 0.04), (0.35, 0.08), (0.2, 0.25), (0.14, 0.5), (0.2, 0.76), (0.38, 0.95),
         (0.6, 0.95), (0.78, 0.78), (0.85, 0.5), (0.8, 0.24), (0.66, 0.07), (0.5, 0.05)]],
    # A short flag up to the top, then straight down.
    1: [[(0.36, 0.2), (0.5, 0.08), (0.56, 0.02), (0.55, 0.5), (0.54, 0.98)]],
    # A hook over the top, a long diagonal down to the left, a flat base.
    2: [[(0.16, 0.24), (0.26, 0.09), (0.46, 0.02), (0.66, 0.06), (0.78, 0.2), (0.76, 0.38),
         (0.62, 0.56), (0.4, 0.76), (0.14, 0.96), (0.5, 0.95), (0.88, 0.95)]],
    # Two bumps on the right, the middle drawn in towards the centre.
    3: [[(0.16, 0.14), (0.34, 0.03), (0.58, 0.03), (0.75, 0.14), (0.74, 0.32), (0.56, 0.45),
         (0.38, 0.48), (0.6, 0.52), (0.8, 0.66), (0.82, 0.84), (0.66, 0.97), (0.42, 0.98),
         (0.18, 0.88)]],
    # Open top: down and across in one stroke, then the long upright, lifting the pen between.
    4: [[(0.26, 0.02), (0.18, 0.32), (0.12, 0.6), (0.5, 0.6), (0.9, 0.58)],
        [(0.7, 0.12), (0.69, 0.55), (0.68, 0.98)]],
    # Down, round the belly, then the flag on top as a second stroke.
    5: [[(0.26, 0.04), (0.22, 0.26), (0.19, 0.46), (0.38, 0.39), (0.58, 0.4), (0.76, 0.52),
         (0.8, 0.72), (0.7, 0.9), (0.5, 0.98), (0.28, 0.96), (0.14, 0.86)],
        [(0.25, 0.04), (0.55, 0.03), (0.84, 0.04)]],
    # A long curve down from the top right, closing in a loop at the bottom.
    6: [[(0.72, 0.03), (0.5, 0.16), (0.3, 0.38), (0.18, 0.64), (0.22, 0.86), (0.42, 0.98),
         (0.64, 0.93), (0.76, 0.76), (0.7, 0.58), (0.5, 0.52), (0.3, 0.6), (0.2, 0.72)]],
    # The top bar and the slanted stem in one stroke; a short bar across the stem.
    7: [[(0.12, 0.06), (0.5, 0.05), (0.86, 0.04), (0.7, 0.35), (0.56, 0.66), (0.46, 0.98)],
        [(0.46, 0.5), (0.6, 0.5), (0.76, 0.49)]],
    # One stroke: an S down from the top right, then back up the other way to close it.
    8: [[(0.74, 0.14), (0.6, 0.03), (0.4, 0.03), (0.26, 0.14), (0.3, 0.33), (0.5, 0.48),
         (0.72, 0.62), (0.78, 0.82), (0.62, 0.97), (0.38, 0.97), (0.22, 0.82), (0.28, 0.62),
         (0.5, 0.48), (0.7, 0.33), (0.74, 0.14)]],
    # A loop drawn anticlockwise from its top right, then the stem straight down.
    9: [[(0.74, 0.16), (0.58, 0.04), (0.38, 0.05), (0.22, 0.18), (0.24, 0.38), (0.42, 0.48),
         (0.64, 0.42), (0.76, 0.2), (0.75, 0.5), (0.72, 0.98)]],
}

# The same digits, each in a single stroke (the 4 retraces its upright, the 5 starts with its
# flag, the 7 has no bar). The benchmarks draw these: with one stroke per digit, the first
# prediction after the pen lifts is the drawing's, so it can be timed without ambiguity.
ONE_STROKE: dict[int, list[Stroke]] = {
    **{d: s for d, s in DIGITS.items() if len(s) == 1},
    4: [[(0.26, 0.02), (0.18, 0.32), (0.12, 0.6), (0.5, 0.6), (0.9, 0.58), (0.7, 0.58),
         (0.7, 0.12), (0.69, 0.55), (0.68, 0.98)]],
    5: [[(0.82, 0.04), (0.55, 0.03), (0.26, 0.04), (0.22, 0.26), (0.19, 0.46), (0.38, 0.39),
         (0.58, 0.4), (0.76, 0.52), (0.8, 0.72), (0.7, 0.9), (0.5, 0.98), (0.28, 0.96),
         (0.14, 0.86)]],
    7: [[(0.12, 0.06), (0.5, 0.05), (0.86, 0.04), (0.7, 0.35), (0.56, 0.66), (0.46, 0.98)]],
}
ONE_STROKE = dict(sorted(ONE_STROKE.items()))

# A letter the pages must call no digit, drawn as people draw a K. Not an A: the A's not-a-digit
# score sits just above the shipped cnn's threshold, so the pen's point sampling in a browser
# (which varies with timing by a pixel or two) put it under the threshold in about 1 run in 10.
# tests/test_novelty.py checks this one stays far above it under such jitter.
LETTER_K: list[Stroke] = [[(0.2, 0.02), (0.2, 0.98)], [(0.85, 0.05), (0.22, 0.55), (0.85, 0.95)]]

# The drawing area a person can see. Not simply the last canvas in the page: when a timed
# rerun of another fragment (the round watcher) reaches the server while the Draw page's run is
# still going, Streamlit reports that run as ended early and its browser side skips the clean-up
# of elements the run replaced (streamlit/streamlit#16708). After a Clear, the old canvas then
# stays in the page, 0x0 and unseen, until the next stroke's run removes it (1 Clear in about
# 250 here; the student sees one fresh, empty canvas, and drawing on it works).
CANVAS = '[data-testid="stBidiComponentIsolated"] canvas.upper-canvas:visible'
APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
EMPTY_HINT = "Draw a digit, 0 to 9"

# The Prediction metric's value, or null when the page shows no prediction.
PREDICTION_JS = """() => {
  for (const metric of document.querySelectorAll('[data-testid="stMetric"]')) {
    const label = metric.querySelector('[data-testid="stMetricLabel"]');
    if (label && label.textContent.trim() === 'Prediction') {
      const value = metric.querySelector('[data-testid="stMetricValue"]');
      return value ? value.textContent.trim() : null;
    }
  }
  return null;
}"""


# --------------------------------------------------------------------------- geometry


def place(strokes: list[Stroke], scale: float = 0.6, offset: Point | None = None) -> list[Stroke]:
    """Strokes from the unit square to canvas fractions: a box ``scale`` of the canvas's side,
    its top-left corner at ``offset`` (fractions of the canvas; ``None`` centres it)."""
    if offset is None:
        offset = ((1 - scale) / 2, (1 - scale) / 2)
    ox, oy = offset
    return [[(ox + x * scale, oy + y * scale) for x, y in stroke] for stroke in strokes]


def digit_strokes(digit: int, scale: float = 0.6, offset: Point | None = None, curve: int = 4,
                  one_stroke: bool = False) -> list[Stroke]:
    """Digit ``digit`` smoothed and placed, in fractions of the canvas."""
    table = ONE_STROKE if one_stroke else DIGITS
    return place([smooth(s, curve) for s in table[digit]], scale, offset)


# --------------------------------------------------------------------------- the page


def canvas_box(page, timeout: float = 30_000) -> dict:
    """The drawing canvas's bounding box in page pixels (scrolled into view)."""
    canvas = page.locator(CANVAS).last
    canvas.wait_for(state="visible", timeout=timeout)
    canvas.scroll_into_view_if_needed(timeout=timeout)
    box = canvas.bounding_box()
    if box is None:
        raise RuntimeError("the drawing canvas has no bounding box (not displayed)")
    return box


def _to_page(box: dict, p: Point) -> Point:
    """Canvas fractions -> page pixels, kept half a pixel inside the canvas's edges."""
    inset = 0.5
    x = min(max(p[0] * box["width"], inset), box["width"] - inset)
    y = min(max(p[1] * box["height"], inset), box["height"] - inset)
    return box["x"] + x, box["y"] + y


def draw_strokes(page, strokes: list[Stroke], steps: int = 3, box: dict | None = None) -> None:
    """Play strokes given in canvas fractions with the mouse: down, moves, up per stroke.

    ``steps`` is how many mouse moves Playwright makes per segment between two points."""
    box = box or canvas_box(page)
    for stroke in strokes:
        points = [_to_page(box, p) for p in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=steps)
        page.mouse.up()


def touch_strokes(page, cdp, strokes: list[Stroke], box: dict | None = None, steps: int = 3) -> None:
    """Play strokes given in canvas fractions with a finger: CDP ``Input.dispatchTouchEvent``
    (touchStart, touchMoves, touchEnd per stroke), as a phone or tablet sends them. ``cdp`` is
    the page's CDP session (``page.context.new_cdp_session(page)``); the page needs a context
    made with ``has_touch=True``."""
    box = box or canvas_box(page)
    for stroke in strokes:
        points = [_to_page(box, p) for p in stroke]
        path = [points[0]] + [
            (a[0] + (b[0] - a[0]) * k / steps, a[1] + (b[1] - a[1]) * k / steps)
            for a, b in zip(points, points[1:]) for k in range(1, steps + 1)
        ]
        for kind, (x, y) in [("touchStart", path[0]), *(("touchMove", p) for p in path[1:])]:
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y, "id": 1}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def draw_digit(page, digit: int, scale: float = 0.6, offset: Point | None = None, steps: int = 3,
               box: dict | None = None, one_stroke: bool = False) -> None:
    """Draw ``digit`` (0-9) on the canvas in a box ``scale`` of the canvas's side at ``offset``
    (fractions of the canvas; ``None`` centres it). ``one_stroke`` draws the single-stroke form."""
    draw_strokes(page, digit_strokes(digit, scale, offset, one_stroke=one_stroke), steps=steps, box=box)


def current_prediction(page) -> str | None:
    """The Prediction metric's value now, or ``None`` when none is shown."""
    return page.evaluate(PREDICTION_JS)


def read_prediction(page, previous: str | None = None, timeout: float = 30_000,
                    settle: float = 0.8) -> str:
    """Wait until the Prediction metric shows a value other than ``previous`` and return it.

    With ``previous=None`` any value will do: call it after a Clear (or on a fresh page), or
    pass the value shown before drawing. A digit of several strokes is predicted after each
    stroke, so with ``settle`` (seconds) the value is returned only once the app has been idle
    and the value unchanged for that long: the last stroke's prediction, not an earlier one's.
    ``settle=0`` returns the first new value at once."""
    deadline = time.monotonic() + timeout / 1000
    handle = page.wait_for_function(
        f"(previous) => {{ const v = ({PREDICTION_JS})(); return v !== null && v !== previous ? v : null; }}",
        arg=previous,
        timeout=timeout,
        polling="raf",
    )
    value = handle.json_value()
    while settle > 0:
        wait_idle(page, max(1.0, (deadline - time.monotonic()) * 1000))
        page.wait_for_timeout(settle * 1000)
        now = current_prediction(page)
        if now is not None and now == value and page.locator(APP_IDLE).count() == 1:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"the prediction did not settle within {timeout:.0f} ms (last {now!r})")
        value = now if now is not None else value
    return value


def wait_idle(page, timeout: float = 30_000) -> None:
    """Wait until the app has finished its script run (a fragment run included)."""
    page.wait_for_selector(APP_IDLE, timeout=timeout)


def clear_canvas(page, timeout: float = 30_000) -> None:
    """Press Clear and wait for the empty state a person sees: a fresh canvas, no Prediction, the hint.

    Clear mounts a new canvas. On a canvas that is already empty nothing else on the page
    changes, so the old canvas is marked first and the wait is for one without the mark:
    drawing before the swap would draw on a canvas about to vanish."""
    page.evaluate(_MARK_CANVASES_JS)
    page.get_by_role("button", name="Clear").click(timeout=timeout)
    try:
        page.wait_for_function(_FRESH_CANVAS_JS, timeout=timeout, polling="raf")
    except Exception as e:  # what the page showed instead, for the record
        seen = page.evaluate(_CLEAR_STATE_JS)
        Path("test-results").mkdir(exist_ok=True)
        stamp = int(time.time())
        page.screenshot(path=f"test-results/clear-failed-{stamp}.png")
        from tests.browser import WEBSOCKET_LOGS

        if page in WEBSOCKET_LOGS:
            WEBSOCKET_LOGS[page].save(Path(f"test-results/clear-failed-{stamp}.websocket.jsonl"))
        raise AssertionError(f"Clear gave no fresh canvas within {timeout:.0f} ms: {seen}") from e
    page.wait_for_function(f"() => ({PREDICTION_JS})() === null", timeout=timeout, polling="raf")
    page.get_by_text(EMPTY_HINT).wait_for(state="visible", timeout=timeout)
    wait_idle(page, timeout)
    page.locator(CANVAS).last.wait_for(state="visible", timeout=timeout)


_CANVASES_JS = """() => [...document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')]
    .map(host => host.shadowRoot && host.shadowRoot.querySelector('canvas.upper-canvas'))
    .filter(Boolean)"""
_MARK_CANVASES_JS = f"() => ({_CANVASES_JS})().forEach(c => {{ c.dataset.digitlabCleared = '1'; }})"
_CLEAR_STATE_JS = f"""() => ({{
  canvases: ({_CANVASES_JS})().map(c => {{
    const r = c.getBoundingClientRect();
    const host = c.getRootNode().host;
    const stale = host && host.closest('[data-stale="true"]');
    return [c.dataset.digitlabCleared ? 'old' : 'new', Math.round(r.x), Math.round(r.y), Math.round(r.width),
            Math.round(r.height), getComputedStyle(c).visibility, stale ? 'stale' : ''];
  }}),
  running: document.querySelector('[data-testid="stApp"]').dataset.testScriptState,
  prediction: ({PREDICTION_JS})(),
  hint: document.body.innerText.includes({EMPTY_HINT!r}),
}})"""
_FRESH_CANVAS_JS = f"""() => {{
  const seen = ({_CANVASES_JS})().filter(c => {{
    const r = c.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  }});
  return seen.length > 0 && seen.every(c => !c.dataset.digitlabCleared);
}}"""


def open_draw_page(page, base_url: str, timeout: float = 60_000) -> None:
    """Open the Draw page ("/") and wait until its canvas is ready to draw on."""
    page.goto(base_url.rstrip("/") + "/", timeout=timeout)
    wait_idle(page, timeout)
    page.locator(CANVAS).last.wait_for(state="visible", timeout=timeout)
    page.get_by_text(EMPTY_HINT).wait_for(state="visible", timeout=timeout)


# --------------------------------------------------------------------------- timing

TIMING_JS = """() => {
  if (window.__digitlab) return true;
  const read = (%s);
  const state = { ups: [], changes: [], value: read() };
  window.addEventListener('mouseup', () => state.ups.push(performance.now()), true);
  new MutationObserver(() => {
    const value = read();
    if (value === state.value) return;
    state.value = value;
    const change = { t: performance.now(), painted: null, value };
    state.changes.push(change);
    requestAnimationFrame(() => { change.painted = performance.now(); });
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
  window.__digitlab = state;
  return true;
}""" % PREDICTION_JS


@dataclass
class Timed:
    value: str  # the prediction shown
    ms: float  # from the last mouseup to the value in the DOM (the page's clock)
    painted_ms: float  # ... to the next animation frame after it (when it is on screen)
    wall_ms: float  # from mouse.up() returning in Python to the value seen from Python


# The first change to a shown value after the last mouseup, with that mouseup's time.
_TIMED_CHANGE_JS = """(seen) => {
  const s = window.__digitlab;
  const up = s.ups[s.ups.length - 1];
  for (let i = seen; i < s.changes.length; i++) {
    const c = s.changes[i];
    if (c.value !== null && c.t >= up && c.painted !== null) return { ...c, up };
  }
  return null;
}"""


def install_timing(page) -> None:
    """Start the in-page recorder (once per page load; call again after a navigation)."""
    page.evaluate(TIMING_JS)


def _timed(change: dict, wall_ms: float) -> Timed:
    return Timed(change["value"], change["t"] - change["up"], change["painted"] - change["up"], wall_ms)


def draw_and_time(page, digit: int, scale: float = 0.6, offset: Point | None = None,
                  timeout: float = 30_000, steps: int = 3) -> Timed:
    """Draw ``digit`` in one stroke on an EMPTY canvas (Clear first) and time from the pen
    lifting to the Prediction shown, both stamps taken in the page (:func:`install_timing`).

    One stroke, on an empty canvas, has exactly one prediction: the first value that appears
    after the mouseup is the drawing's."""
    install_timing(page)
    seen = page.evaluate("() => window.__digitlab.changes.length")
    draw_digit(page, digit, scale, offset, steps=steps, one_stroke=True)
    start = time.perf_counter()
    handle = page.wait_for_function(_TIMED_CHANGE_JS, arg=seen, timeout=timeout, polling="raf")
    wall = (time.perf_counter() - start) * 1000
    return _timed(handle.json_value(), wall)


# --------------------------------------------------------------------------- asyncio Playwright
# The same operations for ``playwright.async_api`` pages (the load benchmark runs many at once).


async def canvas_box_async(page, timeout: float = 30_000) -> dict:
    canvas = page.locator(CANVAS).last
    await canvas.wait_for(state="visible", timeout=timeout)
    await canvas.scroll_into_view_if_needed(timeout=timeout)
    box = await canvas.bounding_box()
    if box is None:
        raise RuntimeError("the drawing canvas has no bounding box (not displayed)")
    return box


async def draw_strokes_async(page, strokes: list[Stroke], steps: int = 3, box: dict | None = None) -> None:
    box = box or await canvas_box_async(page)
    for stroke in strokes:
        points = [_to_page(box, p) for p in stroke]
        await page.mouse.move(*points[0])
        await page.mouse.down()
        for point in points[1:]:
            await page.mouse.move(*point, steps=steps)
        await page.mouse.up()


async def open_draw_page_async(page, base_url: str, timeout: float = 60_000) -> None:
    await page.goto(base_url.rstrip("/") + "/", timeout=timeout)
    await page.wait_for_selector(APP_IDLE, timeout=timeout)
    await page.locator(CANVAS).last.wait_for(state="visible", timeout=timeout)
    await page.get_by_text(EMPTY_HINT).wait_for(state="visible", timeout=timeout)
    await page.evaluate(TIMING_JS)


async def clear_canvas_async(page, timeout: float = 30_000) -> None:
    """:func:`clear_canvas` for an asyncio page."""
    await page.evaluate(_MARK_CANVASES_JS)
    await page.get_by_role("button", name="Clear").click(timeout=timeout)
    await page.wait_for_function(_FRESH_CANVAS_JS, timeout=timeout, polling="raf")
    await page.wait_for_function(f"() => ({PREDICTION_JS})() === null", timeout=timeout, polling="raf")
    await page.get_by_text(EMPTY_HINT).wait_for(state="visible", timeout=timeout)
    await page.wait_for_selector(APP_IDLE, timeout=timeout)
    await page.locator(CANVAS).last.wait_for(state="visible", timeout=timeout)


async def draw_and_time_async(page, digit: int, scale: float = 0.6, offset: Point | None = None,
                              timeout: float = 30_000, steps: int = 3) -> Timed:
    """:func:`draw_and_time` for an asyncio page."""
    await page.evaluate(TIMING_JS)
    seen = await page.evaluate("() => window.__digitlab.changes.length")
    await draw_strokes_async(page, digit_strokes(digit, scale, offset, one_stroke=True), steps=steps)
    start = time.perf_counter()
    handle = await page.wait_for_function(_TIMED_CHANGE_JS, arg=seen, timeout=timeout, polling="raf")
    wall = (time.perf_counter() - start) * 1000
    return _timed(await handle.json_value(), wall)


# --------------------------------------------------------------------------- statistics


def percentile(values, q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation, as numpy's default does."""
    data = sorted(values)
    if not data:
        return float("nan")
    k = (len(data) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


class Stopwatch:
    """``with Stopwatch() as sw: ...; sw.ms`` - wall-clock milliseconds of a block."""

    def __enter__(self) -> "Stopwatch":
        self.start = time.perf_counter()
        self.ms = float("nan")
        return self

    def __exit__(self, *exc) -> None:
        self.ms = (time.perf_counter() - self.start) * 1000


# --------------------------------------------------------------------------- offline rendering


def render(strokes_or_digit, size: int = 400, width: int = 22, scale: float = 0.6,
           offset: Point | None = None):
    """The drawing as the canvas would return it: (size, size, 4) uint8, white on black.

    For checking the stroke paths without a browser (round pen, like Fabric's free drawing)."""
    import numpy as np
    from PIL import Image, ImageDraw

    strokes = (digit_strokes(strokes_or_digit, scale, offset) if isinstance(strokes_or_digit, int)
               else strokes_or_digit)
    image = Image.new("RGBA", (size, size), (0, 0, 0, 255))
    pen = ImageDraw.Draw(image)
    r = width / 2
    for stroke in strokes:
        points = [(x * size, y * size) for x, y in stroke]
        pen.line(points, fill=(255, 255, 255, 255), width=width, joint="curve")
        for x, y in (points[0], points[-1]):
            pen.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, 255))
    return np.asarray(image)


# --------------------------------------------------------------------------- a class's own styles
# Digits as many people outside 1990s America write them, and MNIST hardly has, a few ways
# each (a writer keeps to one way per digit): the continental 1, a long flag up to the top and
# no base (the shipped cnn reads most of them as 7: bench/finetune_class.py), a 1 with a flag
# and a base, a 7 with a bar across its stem (and a hooked top), a 4 closed at the top, a 2
# with a loop at its foot, a 9 with a curved tail. The other digits are written as in DIGITS.
STYLED: dict[int, list[list[Stroke]]] = {
    1: [[[(0.12, 0.3), (0.35, 0.12), (0.6, 0.02), (0.56, 0.5), (0.5, 0.96)]],
        [[(0.18, 0.36), (0.38, 0.16), (0.58, 0.02), (0.56, 0.5), (0.54, 0.97)]],
        [[(0.22, 0.3), (0.4, 0.16), (0.56, 0.02), (0.56, 0.5), (0.56, 0.96)],
         [(0.26, 0.97), (0.56, 0.97), (0.86, 0.97)]]],
    2: [[[(0.18, 0.22), (0.3, 0.07), (0.5, 0.02), (0.7, 0.08), (0.78, 0.24), (0.7, 0.44),
          (0.5, 0.64), (0.3, 0.84), (0.22, 0.96), (0.34, 0.82), (0.44, 0.9), (0.36, 0.97),
          (0.6, 0.96), (0.88, 0.95)]]],
    4: [[[(0.62, 0.02), (0.38, 0.3), (0.12, 0.62), (0.5, 0.62), (0.9, 0.6)],
         [(0.62, 0.02), (0.64, 0.5), (0.66, 0.98)]],
        [[(0.6, 0.02), (0.15, 0.6), (0.85, 0.6)], [(0.6, 0.02), (0.6, 0.98)]]],
    7: [[[(0.12, 0.06), (0.5, 0.05), (0.86, 0.04), (0.7, 0.35), (0.56, 0.66), (0.46, 0.98)],
         [(0.4, 0.5), (0.62, 0.5), (0.84, 0.49)]],
        [[(0.12, 0.16), (0.14, 0.05), (0.5, 0.05), (0.88, 0.04), (0.7, 0.35), (0.55, 0.66),
          (0.44, 0.98)],
         [(0.3, 0.52), (0.62, 0.52), (0.9, 0.5)]]],
    9: [[[(0.74, 0.16), (0.58, 0.04), (0.38, 0.05), (0.22, 0.18), (0.24, 0.38), (0.42, 0.48),
          (0.64, 0.42), (0.76, 0.2), (0.74, 0.6), (0.62, 0.88), (0.42, 0.98), (0.24, 0.9)]]],
}
CLASS_STYLES: dict[int, list[list[Stroke]]] = {**{d: [s] for d, s in DIGITS.items()}, **STYLED}


@dataclass
class Writer:
    """One synthetic writer's hand: how they slant, how wide they write, their pen, and how
    unsteady their strokes are. Each drawing is also placed and sized afresh."""

    slant: float  # x shift per unit of height (shear); positive leans right
    width: float  # horizontal squeeze of the unit square
    pen: int  # px on the Draw page's 400 px canvas
    wobble: float  # standard deviation of each control point's jitter, in the unit square
    rotation: float  # radians


def random_writer(rng) -> Writer:
    return Writer(slant=float(rng.uniform(-0.25, 0.3)), width=float(rng.uniform(0.7, 1.1)),
                  pen=int(rng.integers(12, 38)), wobble=float(rng.uniform(0.008, 0.03)),
                  rotation=float(rng.uniform(-0.12, 0.12)))


def written(strokes: list[Stroke], writer: Writer, rng) -> list[Stroke]:
    """Strokes in the unit square as ``writer`` would write them, with fresh jitter."""
    return Hand(writer.slant, writer.width, writer.rotation, writer.wobble).apply(strokes, rng)


def class_drawings(writers: int, per_digit: int, seed: int = 0,
                   styles: dict[int, list[list[Stroke]]] = CLASS_STYLES, digits=range(10)):
    """A synthetic class: ``writers`` writers each drawing every digit ``per_digit`` times, in
    one of its ``styles`` (a writer's own, kept for all their drawings of it), rendered as the
    canvas returns them and read by the app's own preprocessing.

    Returns ``(images (N, 28, 28) float32, labels (N,) int64, sessions (N,) str)``: the arrays
    of a class-data file (model/classroom/classdata.py)."""
    import numpy as np

    from model.data.preprocess import canvas_to_mnist

    rng = np.random.default_rng(seed)
    images, labels, sessions = [], [], []
    for w in range(writers):
        hand = random_writer(rng)
        session = f"writer-{seed}-{w:03d}"
        for digit in digits:
            style = styles[digit][int(rng.integers(len(styles[digit])))]
            for _ in range(per_digit):
                scale = float(rng.uniform(0.45, 0.8))
                offset = tuple(float(v) for v in rng.uniform(0.05, 0.95 - scale, 2))
                strokes = place([smooth(s, 4) for s in written(style, hand, rng)], scale, offset)
                image = canvas_to_mnist(render(strokes, width=hand.pen))
                if image is None:
                    continue
                images.append(image)
                labels.append(digit)
                sessions.append(session)
    return np.stack(images).astype(np.float32), np.array(labels, np.int64), np.array(sessions)
