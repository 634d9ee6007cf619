"""A class round under load: ``--n`` students (light clients) on the Draw page, the wall on a
real Chromium page, one server on this machine.

    .venv/bin/python bench/rounds.py --n 60

What runs: a Chromium student draws a 7 once while its websocket messages are recorded (and
warms the server up). The wall is a Chromium page: the teacher's Our class page unlocked,
``?present=1``, a script in it stamping (``Date.now()``) each change of the "On the wall" count.
Each light client opens its own session with the recorded page load, then behaves as a browser
does: it reruns the round watcher fragment whenever the server's ``AutoRerun`` asks (once a
second), and once its page shows the round (the Send button arrives) it replays the recorded
stroke, waits for its Prediction, types its nickname and presses Send (the real widgets' ids, read
from its own session's messages) and waits for "Sent!". The teacher starts the round and
approves what arrives every ``--approve-every`` seconds through ``model.classroom.rounds`` (the
same calls the queue's buttons make).

Reported: errors (any client that did not get "Sent!", any warning or exception it was shown),
rows stored against clients, how long after the round started each client saw it, and send ->
on the wall (the drawing's rank in approval order against the wall's count) at p50/p95, with the
approval's own delay apart. Target: 0 errors, every row there, p95 send -> wall <= 2 s.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.drawing import percentile  # noqa: E402

STREAM = "/_stcore/stream"
CLASS_CODE = "BENCH"
PASSCODE = "bench-passcode"
TARGET_P95_S = 2.0
# What the round panel says when a Send did not go through.
ROUND_PROBLEMS = ("could not be sent", "Someone else", "Time is up", "paused", "Draw a digit first", "nickname")
WALL_JS = """() => {
  window.__wall = [];
  const read = () => {
    for (const m of document.querySelectorAll('[data-testid=stMetric]')) {
      if (m.innerText.includes('On the wall')) {
        const v = parseInt(m.querySelector('[data-testid=stMetricValue]').innerText, 10);
        const last = window.__wall.length ? window.__wall[window.__wall.length - 1][1] : -1;
        if (!Number.isNaN(v) && v !== last) window.__wall.push([Date.now(), v]);
      }
    }
  };
  new MutationObserver(read).observe(document.body, {subtree: true, childList: true, characterData: true});
  read();
}"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def record_student(playwright_browser, base_url: str) -> tuple[list[bytes], list[bytes]]:
    """A real student's page load and one stroke (a 7), as the rerun requests it sent."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    from tests.drawing import CANVAS, EMPTY_HINT, digit_strokes, draw_strokes, read_prediction, wait_idle

    sent: list = []
    page = playwright_browser.new_page(viewport={"width": 1400, "height": 1100})
    def watch(ws):
        if ws.url.endswith(STREAM):
            ws.on("framesent", lambda payload: sent.append(payload))

    page.on("websocket", watch)
    page.goto(f"{base_url}/?class={CLASS_CODE}", timeout=120_000)
    wait_idle(page, 120_000)
    page.locator(CANVAS).last.wait_for(state="visible", timeout=120_000)
    page.get_by_text(EMPTY_HINT).wait_for(timeout=120_000)
    mark = len(sent)
    draw_strokes(page, digit_strokes(7, one_stroke=True))
    if read_prediction(page, timeout=120_000, settle=0) != "7":
        raise RuntimeError("recording: the browser's 7 was not read as a 7")
    wait_idle(page, 60_000)
    page.close()

    def reruns(frames):
        out = []
        for frame in frames:
            if isinstance(frame, bytes) and BackMsg.FromString(frame).WhichOneof("type") == "rerun_script":
                out.append(frame)
        return out

    return reruns(sent[:mark]), reruns(sent[mark:])


class Student:
    """One light client: its own session on the Draw page, a browser's behaviour replayed."""

    def __init__(self, index: int, base_url: str, load: list[bytes], stroke: list[bytes], timeout: float):
        self.index, self.base_url, self.load, self.stroke, self.timeout = index, base_url, load, stroke, timeout
        self.nickname = f"Bench {index:02d}"
        self.errors: list[str] = []
        self.states = None  # the widget states the "browser" sends with each request
        self.timers: dict[str, float] = {}  # fragment id -> interval (AutoRerun)
        self.send_button: tuple[str, str] | None = None  # (widget id, fragment id)
        self.nickname_input: str | None = None
        self.predictions = 0
        self.sent_ok = asyncio.Event()
        self.round_seen_at: float | None = None
        self.sent_at: float | None = None
        self.ws = None

    async def send(self, frame: bytes) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        back = BackMsg.FromString(frame)
        self.states = back.rerun_script.widget_states
        await self.ws.send(frame)

    async def rerun(self, fragment_id: str = "", trigger: str | None = None, auto: bool = False) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        back = BackMsg.FromString(self.load[-1])
        rerun = back.rerun_script
        rerun.widget_states.CopyFrom(self.states)
        if self.nickname_input:
            kept = [w for w in rerun.widget_states.widgets if w.id != self.nickname_input]
            del rerun.widget_states.widgets[:]
            rerun.widget_states.widgets.extend(kept)
            rerun.widget_states.widgets.append(WidgetState(id=self.nickname_input, string_value=self.nickname))
        if trigger:
            rerun.widget_states.widgets.append(WidgetState(id=trigger, trigger_value=True))
        rerun.fragment_id = fragment_id
        rerun.is_auto_rerun = auto
        await self.ws.send(back.SerializeToString())

    async def listen(self) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        async for data in self.ws:
            msg = ForwardMsg.FromString(data)
            kind = msg.WhichOneof("type")
            if kind == "auto_rerun":
                self.timers[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                which = element.WhichOneof("type")
                if which == "button" and element.button.label == "Send to the wall":
                    if self.send_button is None:
                        self.round_seen_at = time.time()
                    self.send_button = (element.button.id, msg.delta.fragment_id)
                elif which == "text_input" and element.text_input.label.startswith("Your nickname"):
                    self.nickname_input = element.text_input.id
                elif which == "metric" and element.metric.label == "Prediction":
                    self.predictions += 1
                elif which == "alert":
                    body = element.alert.body
                    if body.startswith("Sent!"):
                        self.sent_ok.set()
                    elif any(problem in body for problem in ROUND_PROBLEMS):
                        self.errors.append(f"client {self.index}: shown {body[:120]!r}")
                elif which == "exception":
                    self.errors.append(f"client {self.index}: exception {element.exception.message[:120]!r}")

    async def tick(self) -> None:
        """The browser's fragment timers: a rerun of each auto-rerun fragment at its interval."""
        due: dict[str, float] = {}
        while True:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            for fragment_id, interval in list(self.timers.items()):
                if now >= due.setdefault(fragment_id, now + interval):
                    due[fragment_id] = now + interval
                    await self.rerun(fragment_id, auto=True)

    async def run(self, round_started: asyncio.Event) -> None:
        import websockets

        parts = urllib.parse.urlparse(self.base_url)
        try:
            async with websockets.connect(f"ws://{parts.netloc}{STREAM}", subprotocols=["streamlit"],
                                          max_size=None, open_timeout=self.timeout, ping_interval=None) as ws:
                self.ws = ws
                listener = asyncio.create_task(self.listen())
                for frame in self.load:
                    await self.send(frame)
                ticker = asyncio.create_task(self.tick())
                await round_started.wait()
                deadline = time.monotonic() + self.timeout
                while self.send_button is None:
                    if time.monotonic() > deadline:
                        raise TimeoutError("the round never showed")
                    await asyncio.sleep(0.05)
                seen = self.predictions
                for frame in self.stroke:
                    await self.send(frame)
                while self.predictions <= seen:
                    if time.monotonic() > deadline:
                        raise TimeoutError("no Prediction for the stroke")
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)  # the stroke's run has remembered the drawing
                self.sent_at = time.time()
                await self.rerun(self.send_button[1], trigger=self.send_button[0])
                await asyncio.wait_for(self.sent_ok.wait(), self.timeout)
                ticker.cancel()
                listener.cancel()
        except Exception as error:  # noqa: BLE001 - every failure is counted
            self.errors.append(f"client {self.index}: {type(error).__name__}: {str(error)[:200]}")


def approver(db: str, stop: threading.Event, every: float, approved_at: dict) -> None:
    """The teacher: approves whatever waits in the class's round every ``every`` seconds."""
    from model.classroom.rounds import Rounds
    from model.classroom.storage import Storage

    rounds = Rounds(Storage(db))
    while not stop.is_set():
        current = rounds.current(CLASS_CODE)
        if current is not None:
            waiting = rounds.pending(current.id)
            if waiting:
                rounds.approve([d.id for d in waiting])
                now = time.time()
                for d in waiting:
                    approved_at[d.id] = (now, d.nickname)
        stop.wait(every)
    rounds.storage.close()


async def run_students(students: list[Student], start_round) -> None:
    started = asyncio.Event()
    tasks = [asyncio.create_task(s.run(started)) for s in students]
    await asyncio.sleep(0)
    # Every client has loaded its page (or failed) before the round starts: wait for the timers.
    deadline = time.monotonic() + 120
    while any(not s.timers and not s.errors for s in students) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    start_round()
    started.set()
    await asyncio.gather(*tasks)


def run_bench(n: int, approve_every: float, timeout: float, url: str | None, db: str | None) -> dict:
    from playwright.sync_api import sync_playwright

    from model.classroom.rounds import Rounds
    from model.classroom.storage import Storage
    from tests.browser import launch_chromium, streamlit_server
    from tests.drawing import wait_idle

    folder = Path(tempfile.mkdtemp(prefix="digitlab-rounds-bench-"))
    db = db or f"sqlite:///{folder / 'class.sqlite3'}"
    env = {"DIGITLAB_DB": db, "DIGITLAB_DATA_DIR": str(folder / "data"), "DIGITLAB_TEACHER_CODE": PASSCODE}
    with (streamlit_server(env=env, timeout=120) if url is None else _given(url)) as base_url, \
            sync_playwright() as p:
        browser = launch_chromium(p)
        log("recording a student's page and stroke ...")
        load, stroke = record_student(browser, base_url)
        wall = browser.new_page(viewport={"width": 1280, "height": 720})
        wall.goto(f"{base_url}/class?present=1&class={CLASS_CODE}", timeout=120_000)
        wait_idle(wall, 120_000)
        wall.get_by_label("Teacher's passcode").fill(PASSCODE)
        wall.get_by_role("button", name="Unlock").click()
        wall.get_by_text("No round yet").wait_for(timeout=120_000)
        wall.evaluate(WALL_JS)

        rounds = Rounds(Storage(db))
        stop, approved_at = threading.Event(), {}
        teacher = threading.Thread(target=approver, args=(db, stop, approve_every, approved_at), daemon=True)
        teacher.start()
        students = [Student(k, base_url, load, stroke, timeout) for k in range(n)]
        started_at = {}

        def start_round():
            started_at["t"] = time.time()
            rounds.start(CLASS_CODE, "draw", digit=7, seconds=60)

        log(f"{n} light clients load the Draw page; then the round starts ...")
        holder: dict = {}

        def clients():
            holder["done"] = asyncio.run(run_students(students, start_round))

        worker = threading.Thread(target=clients)
        worker.start()
        while worker.is_alive():  # Playwright's page keeps its own loop: let it run meanwhile
            wall.wait_for_timeout(200)
        worker.join()
        # The wall catches up with the last approvals.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            shown = wall.evaluate("() => window.__wall")
            if shown and shown[-1][1] >= len(approved_at) and len(approved_at) >= sum(not s.errors for s in students):
                break
            wall.wait_for_timeout(200)
        stop.set()
        teacher.join()
        shown = wall.evaluate("() => window.__wall")
        current = rounds.latest(CLASS_CODE)
        stored = _count_rows(rounds, current.id)
        browser.close()

    sent = {s.nickname: s.sent_at for s in students if s.sent_at is not None}
    order = sorted(approved_at.items(), key=lambda kv: (kv[1][0], kv[0]))  # by approval, then id
    to_wall, approve_to_wall = [], []
    for rank, (_, (at, nickname)) in enumerate(order, start=1):
        on_wall = next((t / 1000 for t, count in shown if count >= rank), None)
        if on_wall is None or nickname not in sent:
            continue
        to_wall.append(on_wall - sent[nickname])
        approve_to_wall.append(on_wall - at)
    seen_after = [s.round_seen_at - started_at["t"] for s in students if s.round_seen_at]
    errors = [e for s in students for e in s.errors]
    return {
        "clients": n, "errors": len(errors), "error_examples": errors[:5], "rows": stored,
        "sent_ok": sum(s.sent_ok.is_set() for s in students), "on_wall": shown[-1][1] if shown else 0,
        "round_seen_p50_s": percentile(seen_after, 50) if seen_after else None,
        "round_seen_p95_s": percentile(seen_after, 95) if seen_after else None,
        "send_to_wall_p50_s": percentile(to_wall, 50) if to_wall else None,
        "send_to_wall_p95_s": percentile(to_wall, 95) if to_wall else None,
        "approve_to_wall_p95_s": percentile(approve_to_wall, 95) if approve_to_wall else None,
        "approve_every_s": approve_every,
    }


def _count_rows(rounds, round_id: int) -> int:
    import sqlalchemy as sa

    from model.classroom.storage import round_drawings_table as d

    with rounds.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(d).where(d.c.round_id == round_id)).scalar())


class _given:
    def __init__(self, url):
        self.url = url

    def __enter__(self):
        return self.url

    def __exit__(self, *exc):
        return False


def passed(r: dict) -> bool:
    return (r["errors"] == 0 and r["rows"] == r["clients"] == r["sent_ok"]
            and r["send_to_wall_p95_s"] is not None and r["send_to_wall_p95_s"] <= TARGET_P95_S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60, help="light clients (students)")
    parser.add_argument("--approve-every", type=float, default=0.25, help="seconds between the teacher's approvals")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds a client may wait for any step")
    parser.add_argument("--url", help="a running app (then --db must be its DIGITLAB_DB and the passcode "
                        f"{PASSCODE!r})")
    parser.add_argument("--db", help="the class database URL (default: a fresh SQLite file)")
    args = parser.parse_args(argv)
    result = run_bench(args.n, args.approve_every, args.timeout, args.url, args.db)
    print(json.dumps(result, indent=1))
    ok = passed(result)
    print(f"{'PASS' if ok else 'FAIL'}: {result['errors']} errors, {result['rows']} rows of {result['clients']} "
          f"clients, send -> wall p95 {result['send_to_wall_p95_s']} s (target <= {TARGET_P95_S} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
