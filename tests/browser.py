"""Helpers for end-to-end tests in a real browser: a Streamlit server and a headless Chromium.

    from tests.browser import streamlit_server, launch_chromium, wait_for_app

    with streamlit_server() as base_url, sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(base_url + "/confusion")
        wait_for_app(page)

The server runs ``app.py`` from the repository with the same Python as the tests, in its own
process; ``env`` adds variables (e.g. ``DIGITLAB_MODEL_DIR`` to serve a copy of the artifacts).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import weakref
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("DIGITLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The app's root element says whether a script run is under way; "notRunning" = settled.
APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def browser_available() -> bool:
    """Whether a browser test can run here (for ``pytest.mark.skipif``)."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(
    app: str | Path = "app.py",
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    cpus: set[int] | None = None,
) -> Iterator[str]:
    """Run ``streamlit run app`` on a free port; yield its base URL (``http://127.0.0.1:PORT``).

    The server's output goes to a log file, quoted in the error if the server never comes up.
    ``cpus`` pins the server (every thread it will start) to those CPUs.
    """
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="streamlit-", suffix=".log", delete=False)
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited ({process.returncode}):\n{_tail(log.name)}")
            try:
                with urllib.request.urlopen(base_url + "/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start within {timeout:.0f} s:\n{_tail(log.name)}")
            time.sleep(0.25)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        os.unlink(log.name)


def _tail(path: str, lines: int = 40) -> str:
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


def launch_chromium(playwright, **kwargs):
    """The system's Chromium, headless, without the background traffic a test has no use for."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, **kwargs
    )


def wait_for_app(page, timeout: float = 30_000) -> None:
    """Wait until the app has run its script and settled (the first run included)."""
    page.wait_for_selector(APP_IDLE, timeout=timeout)


# A page's log, for helpers that record a failure (tests.drawing.clear_canvas).
WEBSOCKET_LOGS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class WebsocketLog:
    """Every message between one page and the app server, decoded, for a failing test's record:
    which widget values the page sent with each rerun request, and what the server said back
    (session status, script finished, how many elements). ``save(path)`` writes one JSON line
    per message. Attach before ``page.goto``: ``log = WebsocketLog(page)``."""

    def __init__(self, page):
        self.rows: list[dict] = []
        self._start = time.monotonic()
        page.on("websocket", self._attach)
        WEBSOCKET_LOGS[page] = self

    def _attach(self, ws) -> None:
        if "_stcore/stream" not in ws.url:
            return
        ws.on("framesent", lambda payload: self._add("sent", payload))
        ws.on("framereceived", lambda payload: self._add("received", payload))

    def _add(self, direction: str, payload) -> None:
        row = {"t": round(time.monotonic() - self._start, 3), "dir": direction}
        try:
            row.update(_describe(direction, payload))
        except Exception as e:  # noqa: BLE001 - a log must never fail the test it records
            row["undecoded"] = f"{type(e).__name__}: {e}"
        self.rows.append(row)

    def save(self, path: Path) -> None:
        import json

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in self.rows))


def _describe(direction: str, payload) -> dict:
    if isinstance(payload, str):
        return {"text": payload[:200]}
    if direction == "sent":
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg.FromString(payload)
        kind = msg.WhichOneof("type")
        out = {"type": kind}
        if kind == "rerun_script":
            state = msg.rerun_script
            out["fragment"] = state.fragment_id or None
            out["widgets"] = {
                w.id.rsplit("-", 1)[-1][:40]: str(getattr(w, w.WhichOneof("value") or "id"))[:60]
                for w in state.widget_states.widgets
            }
        return out
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    msg = ForwardMsg.FromString(payload)
    kind = msg.WhichOneof("type")
    out = {"type": kind}
    if kind == "session_status_changed":
        out["running"] = msg.session_status_changed.script_is_running
    elif kind == "script_finished":
        out["status"] = msg.script_finished
    elif kind == "new_session":
        out["page"] = msg.new_session.page_script_hash[:8]
    elif kind == "delta":
        out["path"] = list(msg.metadata.delta_path)
        element = msg.delta.new_element
        if msg.delta.WhichOneof("type") == "new_element" and element.WhichOneof("type"):
            out["element"] = element.WhichOneof("type")
            out["id"] = getattr(getattr(element, out["element"]), "id", "")[-24:]
    run = msg.metadata.run
    if run.script_run_id:
        out["run"] = run.script_run_id[:6]
        out["fragments"] = [f[:6] for f in run.fragment_ids]
    return out


# Resolves once the element's box has kept its place and size for ``frames`` animation frames
# (a scroll, a sliding sidebar or a reflow has finished), or rejects after ``timeout`` ms.
_STILL_JS = """(element, [frames, timeout]) => new Promise((resolve, reject) => {
  let last = null, same = 0;
  const start = performance.now();
  const look = () => {
    const r = element.getBoundingClientRect();
    const now = [r.x, r.y, r.width, r.height].join();
    same = now === last ? same + 1 : 0;
    last = now;
    if (same >= frames) return resolve(true);
    if (performance.now() - start > timeout) return reject(new Error('still moving: ' + now));
    requestAnimationFrame(look);
  };
  look();
})"""


def box_when_still(locator, frames: int = 3, timeout: float = 30_000) -> dict:
    """The element's bounding box once it has stopped moving (instead of a fixed wait after a
    scroll or a layout change)."""
    locator.evaluate(_STILL_JS, [frames, timeout])
    return locator.bounding_box()


def wait_for_page_scroll(page, beyond: float, timeout: float = 5_000) -> None:
    """Wait until the app's main area (Streamlit scrolls it, not the window) is scrolled beyond
    ``beyond`` px; a TimeoutError if it never is."""
    page.wait_for_function(
        "(beyond) => (document.querySelector('[data-testid=stMain]') || {}).scrollTop + window.scrollY > beyond",
        arg=beyond, timeout=timeout, polling="raf")
