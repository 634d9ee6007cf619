"""Light clients for the load benchmark: a real browser's messages, recorded once, replayed by
many lightweight websocket clients.

A headless Chromium page costs more CPU to render the Draw page than the server spends
answering it, so 30 of them on one machine measure the browsers, not the server. A class is 30
devices, each rendering only its own page. So one real browser draws the digits once while
every message it sends the server is recorded (:func:`record`), and each light client
(:func:`replay_session`) opens its own websocket session and sends the same messages: the
server sees 30 sessions doing exactly what a browser does (page load, Clear, a stroke with the
canvas's real pixels), runs the real page for each, and the client reads the Prediction out of
the server's reply (the ``Prediction`` metric in Streamlit's ``ForwardMsg`` protobufs).

The time measured is from sending a stroke to receiving its Prediction: the server's share of
what a person waits for. The browser's own share (drawing the reply) is measured by the real
browser sessions ``bench/load.py`` runs beside the light clients.
"""
from __future__ import annotations

import asyncio
import random
import time
import urllib.parse
from dataclasses import dataclass, field

STREAM_PATH = "/_stcore/stream"


@dataclass
class Step:
    kind: str  # "load", "clear" or "draw"
    digit: int | None  # the digit drawn ("draw" steps)
    frames: list[bytes] = field(default_factory=list)  # the BackMsg protobufs the browser sent


def _reruns(payloads: list) -> list[bytes]:
    """The ``rerun_script`` requests among a browser's websocket frames (heartbeats dropped)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    frames = []
    for payload in payloads:
        if isinstance(payload, str):
            continue
        msg = BackMsg()
        msg.ParseFromString(payload)
        if msg.WhichOneof("type") == "rerun_script":
            frames.append(bytes(payload))
    return frames


def record(base_url: str, digits: list[int], timeout: float = 60_000) -> list[Step]:
    """Open the Draw page in Chromium; for each digit press Clear and draw it in one stroke.
    Returns every step with the requests the browser sent for it."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch_chromium
    from tests.drawing import clear_canvas, draw_and_time, open_draw_page, wait_idle

    sent: list = []

    def watch(ws):
        if ws.url.endswith(STREAM_PATH):
            ws.on("framesent", lambda payload: sent.append(payload))

    steps: list[Step] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.on("websocket", watch)
            open_draw_page(page, base_url, timeout)
            steps.append(Step("load", None, _reruns(sent)))
            for digit in digits:
                mark = len(sent)
                clear_canvas(page, timeout)
                steps.append(Step("clear", None, _reruns(sent[mark:])))
                mark = len(sent)
                shown = draw_and_time(page, digit, timeout=timeout).value
                wait_idle(page, timeout)
                if shown != str(digit):
                    raise RuntimeError(f"recording: the browser's drawing of {digit} was read as {shown}")
                steps.append(Step("draw", digit, _reruns(sent[mark:])))
        finally:
            browser.close()
    for step in steps:
        if not step.frames:
            raise RuntimeError(f"recording: the browser sent no request for a {step.kind} step")
    return steps


class _Listener:
    """Reads a session's ForwardMsgs: counts finished script runs, notes each Prediction shown."""

    def __init__(self, ws):
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self.ws, self.ForwardMsg = ws, ForwardMsg
        status = ForwardMsg.ScriptFinishedStatus
        self.SUCCESS = {status.FINISHED_SUCCESSFULLY, status.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}
        self.finished: list[float] = []  # when each script run finished successfully
        self.predictions: list[tuple[float, str]] = []  # (perf_counter, value)
        self.changed = asyncio.Event()

    async def run(self):
        async for data in self.ws:
            msg = self.ForwardMsg()
            msg.ParseFromString(data)
            kind = msg.WhichOneof("type")
            if kind == "script_finished":
                if msg.script_finished in self.SUCCESS:
                    self.finished.append(time.perf_counter())
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                if element.WhichOneof("type") == "metric" and element.metric.label == "Prediction":
                    self.predictions.append((time.perf_counter(), element.metric.body))
            else:
                continue
            self.changed.set()

    async def wait(self, condition, timeout: float):
        async def until():
            while not condition():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), timeout)


async def replay_session(base_url: str, steps: list[Step], index: int, digits: int, timeout: float,
                         start_delay: float = 0.0, all_loaded: "asyncio.Barrier | None" = None,
                         think: float = 0.0):
    """One light client: load the page, then ``digits`` times Clear and draw, replaying the
    recording in its order (each widget is known to the server by an id that depends on the
    page's state: a new canvas after every Clear, so the steps only make sense in sequence).
    Returns a ``load.SessionResult``."""
    import websockets

    from bench.load import SessionResult

    draws = [i for i, s in enumerate(steps) if s.kind == "draw"]
    if digits > len(draws):
        raise ValueError(f"the recording has {len(draws)} drawings, {digits} asked for")
    result = SessionResult(index, kind="light")
    await asyncio.sleep(start_delay)
    parts = urllib.parse.urlparse(base_url)
    url = f"ws://{parts.netloc}{STREAM_PATH}"
    seconds = timeout / 1000
    started = time.perf_counter()
    try:
        async with websockets.connect(url, subprotocols=["streamlit"], max_size=None,
                                      open_timeout=seconds, ping_interval=None) as ws:
            listener = _Listener(ws)
            reader = asyncio.create_task(listener.run())
            try:
                await _send_and_finish(ws, listener, steps[0], seconds)
                result.load_ms = (time.perf_counter() - started) * 1000
            except Exception as e:  # noqa: BLE001 - every failure is counted, none stops the run
                result.errors.append(f"client {index}: page load: {type(e).__name__}: {str(e)[:200]}")
            if all_loaded is not None:
                await all_loaded.wait()
            pause = random.Random(index)
            for k in range(digits if not result.errors else 0):
                clear, draw = steps[draws[k] - 1], steps[draws[k]]  # recorded as Clear, then the stroke
                if think and k:
                    await asyncio.sleep(think * pause.uniform(0.5, 1.5))
                try:
                    await _send_and_finish(ws, listener, clear, seconds)
                    seen = len(listener.predictions)
                    sent = time.perf_counter()
                    await _send_and_finish(ws, listener, draw, seconds,
                                           lambda: len(listener.predictions) > seen)
                    at, value = listener.predictions[seen]
                    ms = (at - sent) * 1000
                    result.drawings.append({"digit": draw.digit, "value": value, "painted_ms": ms, "dom_ms": ms})
                except Exception as e:  # noqa: BLE001
                    result.errors.append(
                        f"client {index}, drawing {k} ({draw.digit}): {type(e).__name__}: {str(e)[:200]}")
            reader.cancel()
    except Exception as e:  # noqa: BLE001
        result.errors.append(f"client {index}: websocket: {type(e).__name__}: {str(e)[:200]}")
    return result


async def _send_and_finish(ws, listener: _Listener, step: Step, seconds: float, also=lambda: True) -> None:
    """Send a step's requests and wait for a run that finished after the last of them (runs
    that the later requests interrupted finish early and do not count)."""
    for frame in step.frames:
        await ws.send(frame)
    sent = time.perf_counter()
    await listener.wait(lambda: bool(listener.finished) and listener.finished[-1] > sent and also(), seconds)
