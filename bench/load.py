"""Load: many people drawing at once on one server.

    .venv/bin/python bench/load.py [--n 30] [--digits 10] [--url URL] [--settle 130]

Starts ``streamlit run app.py`` on a free port (or uses ``--url``; the server process is found
by the port it listens on), then opens ``--n`` browser sessions at once (asyncio Playwright:
one Chromium, one browser context per session, i.e. separate cookies and websockets, like
separate people). Each session opens the Draw page and ``--digits`` times clears the canvas,
draws a digit in one stroke and waits for the Prediction (sessions draw different digits).

Reported: errors (any drawing or page load that failed or timed out), the share of correct
predictions, mouse-up -> prediction painted p50/p95 (stamped in each page with
``performance.now()``, as in ``bench/e2e_latency.py``), and the RSS of the server's process
tree (psutil): before (after one warm-up session, so the model and caches are loaded), at the
peak, after the sessions' work (still open), after they closed and, with ``--settle S``,
after S seconds more (Streamlit keeps a disconnected session for
``server.disconnectedSessionTTL`` = 120 s, so the memory a session leaves behind can only be
judged after that).

Targets: 0 errors; p95 <= 1 s; memory not growing per session: what stays after the sessions
are gone (with --settle >= 120), per session, <= 0.5 MB.

The browsers run on the same machine as the server, so the figures include their CPU use.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402
from tests.drawing import (  # noqa: E402
    clear_canvas_async,
    draw_and_time_async,
    open_draw_page_async,
    percentile,
)

TARGET_P95_MS = 1000.0
TARGET_RETAINED_MB_PER_SESSION = 0.5
SESSION_TTL_S = 120
VIEWPORT = {"width": 1400, "height": 1100}
MB = 1024 * 1024


# --------------------------------------------------------------------------- the server


def server_process(base_url: str) -> psutil.Process:
    """The process listening on ``base_url``'s port."""
    port = urllib.parse.urlparse(base_url).port or 80
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    raise RuntimeError(f"no process found listening on port {port}")


def tree_rss(process: psutil.Process) -> int:
    """Resident memory (bytes) of a process and all its descendants."""
    total = 0
    for p in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


class RssSampler:
    """Samples a process tree's RSS in a thread; ``peak`` is the highest seen."""

    def __init__(self, process: psutil.Process, every: float = 0.5):
        self.process, self.every, self.peak = process, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, tree_rss(self.process))
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------- the sessions


@dataclass
class SessionResult:
    index: int
    drawings: list[dict] = field(default_factory=list)  # digit, value, painted_ms, dom_ms
    errors: list[str] = field(default_factory=list)
    load_ms: float = float("nan")


async def run_session(browser, base_url: str, index: int, digits: int, timeout: float,
                      start_delay: float) -> SessionResult:
    result = SessionResult(index)
    await asyncio.sleep(start_delay)
    context = await browser.new_context(viewport=VIEWPORT)
    try:
        page = await context.new_page()
        page.set_default_timeout(timeout)
        started = time.perf_counter()
        try:
            await open_draw_page_async(page, base_url, timeout=timeout)
        except Exception as e:  # noqa: BLE001 - every failure is counted, none stops the run
            result.errors.append(f"session {index}: page load: {type(e).__name__}: {str(e)[:200]}")
            return result
        result.load_ms = (time.perf_counter() - started) * 1000
        for k in range(digits):
            digit = (index + k) % 10
            try:
                await clear_canvas_async(page, timeout)
                timed = await draw_and_time_async(page, digit, timeout=timeout)
                result.drawings.append({"digit": digit, "value": timed.value,
                                        "painted_ms": timed.painted_ms, "dom_ms": timed.ms})
            except Exception as e:  # noqa: BLE001
                result.errors.append(f"session {index}, drawing {k} ({digit}): {type(e).__name__}: {str(e)[:200]}")
        return result
    finally:
        # Kept open until every session is done (the caller closes the contexts), so the
        # memory "after" is measured with all sessions still connected.
        result.context = context  # type: ignore[attr-defined]


async def run_sessions(base_url: str, n: int, digits: int, timeout: float, ramp: float,
                       on_all_done=None) -> list[SessionResult]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            results = await asyncio.gather(
                *(run_session(browser, base_url, i, digits, timeout, i * ramp) for i in range(n))
            )
            if on_all_done is not None:
                on_all_done()
            for r in results:
                with contextlib.suppress(Exception):
                    await r.context.close()
        finally:
            await browser.close()
    return list(results)


# --------------------------------------------------------------------------- the benchmark


def run_load(base_url: str | None = None, n: int = 30, digits: int = 10, timeout: float = 120_000,
             ramp: float = 0.2, settle: float = 0.0, warmup: bool = True, log=print) -> dict:
    """Run the load test against ``base_url`` (or a server started here); a dict of figures."""
    with contextlib.ExitStack() as stack:
        if base_url is None:
            base_url = stack.enter_context(streamlit_server())
        base_url = base_url.rstrip("/")
        process = server_process(base_url)
        rss = {"fresh": tree_rss(process)}
        if warmup:  # one session first, so the model, the page's modules and caches are loaded
            log("warm-up session ...")
            asyncio.run(run_sessions(base_url, 1, 1, timeout, 0.0))
        time.sleep(1.0)
        rss["before"] = tree_rss(process)
        log(f"{n} sessions x {digits} digits ...")
        started = time.perf_counter()
        with RssSampler(process) as sampler:
            results = asyncio.run(run_sessions(
                base_url, n, digits, timeout, ramp,
                on_all_done=lambda: rss.__setitem__("after_open", tree_rss(process)),
            ))
        elapsed = time.perf_counter() - started
        rss["peak"] = max(sampler.peak, rss.get("after_open", 0))
        time.sleep(1.0)
        rss["after_closed"] = tree_rss(process)
        if settle > 0:
            log(f"waiting {settle:.0f} s for the closed sessions to expire ...")
            time.sleep(settle)
            rss["after_settle"] = tree_rss(process)
    return summarise(results, rss, n, digits, elapsed, settle)


def summarise(results: list[SessionResult], rss: dict, n: int, digits: int, elapsed: float,
              settle: float) -> dict:
    drawings = [d for r in results for d in r.drawings]
    errors = [e for r in results for e in r.errors]
    painted = [d["painted_ms"] for d in drawings]
    correct = sum(str(d["digit"]) == d["value"] for d in drawings)
    expected = n * digits
    loads = [r.load_ms for r in results if r.load_ms == r.load_ms]
    out = {
        "sessions": n,
        "digits_per_session": digits,
        "drawings_expected": expected,
        "drawings_done": len(drawings),
        # Every failed page load or drawing is one error; drawings_done says how many got through.
        "errors": len(errors),
        "error_messages": errors,
        "correct": correct,
        "correct_share": correct / len(drawings) if drawings else 0.0,
        "p50_ms": percentile(painted, 50),
        "p95_ms": percentile(painted, 95),
        "max_ms": max(painted) if painted else float("nan"),
        "dom_p50_ms": percentile([d["dom_ms"] for d in drawings], 50),
        "page_load_p50_ms": percentile(loads, 50),
        "page_load_max_ms": max(loads) if loads else float("nan"),
        "elapsed_s": elapsed,
        "rss_mb": {k: v / MB for k, v in rss.items()},
        "settle_s": settle,
    }
    before = rss["before"]
    out["growth_open_mb_per_session"] = (rss.get("after_open", rss["after_closed"]) - before) / MB / n
    out["growth_closed_mb_per_session"] = (rss["after_closed"] - before) / MB / n
    if "after_settle" in rss:
        out["retained_mb_per_session"] = (rss["after_settle"] - before) / MB / n
    return out


def report(r: dict) -> str:
    mem = r["rss_mb"]
    lines = [
        f"{r['sessions']} sessions x {r['digits_per_session']} digits: {r['drawings_done']}/"
        f"{r['drawings_expected']} drawings done in {r['elapsed_s']:.1f} s",
        f"errors: {r['errors']}",
        *[f"  {m}" for m in r["error_messages"][:10]],
        f"correct predictions: {r['correct']}/{r['drawings_done']} = {r['correct_share']:.1%}",
        f"mouseup -> prediction painted: p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms, "
        f"max {r['max_ms']:.0f} ms (in the DOM: p50 {r['dom_p50_ms']:.0f} ms)",
        f"page load (open -> canvas ready): p50 {r['page_load_p50_ms']:.0f} ms, max {r['page_load_max_ms']:.0f} ms",
        "server RSS (process tree): " + ", ".join(f"{k} {v:.1f} MB" for k, v in mem.items()),
        f"growth per session: {r['growth_open_mb_per_session']:.2f} MB while open, "
        f"{r['growth_closed_mb_per_session']:.2f} MB just after closing"
        + (f", {r['retained_mb_per_session']:.2f} MB retained after {r['settle_s']:.0f} s"
           if "retained_mb_per_session" in r else ""),
        f"target 0 errors: {'PASS' if r['errors'] == 0 else 'FAIL'} ({r['errors']})",
        f"target p95 <= {TARGET_P95_MS:.0f} ms: {'PASS' if r['p95_ms'] <= TARGET_P95_MS else 'FAIL'} "
        f"({r['p95_ms']:.0f} ms, {TARGET_P95_MS - r['p95_ms']:+.0f} ms to spare)",
    ]
    if "retained_mb_per_session" in r:
        ok = r["retained_mb_per_session"] <= TARGET_RETAINED_MB_PER_SESSION
        lines.append(f"target memory not growing per session (retained <= {TARGET_RETAINED_MB_PER_SESSION} MB "
                     f"per session after {r['settle_s']:.0f} s): {'PASS' if ok else 'FAIL'} "
                     f"({r['retained_mb_per_session']:.2f} MB)")
    else:
        lines.append(f"target memory not growing per session: not judged (run with --settle >= {SESSION_TTL_S + 10}"
                     " so closed sessions expire first)")
    return "\n".join(lines)


def passed(r: dict) -> bool:
    return (r["errors"] == 0 and r["p95_ms"] <= TARGET_P95_MS
            and r.get("retained_mb_per_session", 0) <= TARGET_RETAINED_MB_PER_SESSION)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="concurrent sessions (default 30)")
    parser.add_argument("--digits", type=int, default=10, help="digits each session draws (default 10)")
    parser.add_argument("--url", default=None, help="a running app's base URL (default: start one)")
    parser.add_argument("--ramp", type=float, default=0.2, help="seconds between session starts (default 0.2)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds any one wait may take (default 120)")
    parser.add_argument("--settle", type=float, default=0, help="seconds to wait after closing before the "
                        f"last memory reading (>= {SESSION_TTL_S + 10} to judge retained memory)")
    args = parser.parse_args(argv)
    r = run_load(args.url, args.n, args.digits, args.timeout * 1000, args.ramp, args.settle)
    print(report(r))
    return 0 if passed(r) else 1


if __name__ == "__main__":
    sys.exit(main())
