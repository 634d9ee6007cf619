"""Load: many people drawing at once on one server.

    .venv/bin/python bench/load.py [--n 30] [--digits 10] [--url URL] [--settle 130]
        [--barrier] [--think 3] [--split-cpus] [--browsers 2] [--rounds 3 --session-ttl 5 --settle 15]

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

Targets: 0 errors; p95 <= 1 s; memory not growing per session: with ``--rounds R`` (R >= 2),
the RSS growth from the first round's end to the last's, per session, <= 0.5 MB (RSS seldom
shrinks, so only repeated rounds tell a leak from memory kept for reuse); with one round and
``--settle`` >= 120 s, what stays per session, <= 0.5 MB.

Light clients: ``--browsers B`` makes only B of the ``--n`` sessions Chromium pages; the others
replay, over their own websocket sessions, the messages a real browser sent while drawing the
same digits (recorded at the start; :mod:`bench.replay`). The server does the same work for
them, but they cost almost no CPU on this machine, so a class of 30 fits on one machine with
the browsers' rendering out of the server's way. The p95 target is then judged on the Chromium
sessions (prediction painted); the light clients' send -> received figures are printed too.

Options: ``--barrier`` starts drawing only once every page is open (otherwise the first
drawings race the other sessions' page loads); ``--think S`` makes each session pause S seconds
(0.5 S to 1.5 S, at random) after a prediction before its next digit, as a person looks at the
answer (with 0, the default, all sessions draw back to back: a stress test, not a class);
``--session-ttl 5 --settle 15`` makes rounds short on a server started here.

The browsers run on the same machine as the server, so the figures include their CPU use.
In a class each student's device renders its own page; ``--split-cpus`` comes closer to that
on a machine with few cores: the server (started here) is pinned to the first half of the
CPUs and the browsers to the other half, so they do not take the server's CPU.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import threading
import time
import urllib.parse
import urllib.request
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


def active_sessions(base_url: str) -> int | None:
    """The server's count of live sessions (Streamlit's /_stcore/metrics), None if unavailable."""
    try:
        with urllib.request.urlopen(base_url + "/_stcore/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("active_sessions"):
            return int(float(line.split()[-1]))
    return None


def tree_cpu_seconds(process: psutil.Process) -> float:
    """CPU time (user + system, s) used so far by a process and its live descendants."""
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.user + times.system
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
    kind: str = "browser"  # or "light": a bench.replay client
    drawings: list[dict] = field(default_factory=list)  # digit, value, painted_ms, dom_ms
    errors: list[str] = field(default_factory=list)
    load_ms: float = float("nan")


async def run_session(browser, base_url: str, index: int, digits: int, timeout: float,
                      start_delay: float, all_loaded: "asyncio.Barrier | None" = None,
                      think: float = 0.0) -> SessionResult:
    result = SessionResult(index)
    await asyncio.sleep(start_delay)
    context = await browser.new_context(viewport=VIEWPORT)
    result.context = context  # type: ignore[attr-defined]  # closed by the caller, at the end
    page = await context.new_page()
    page.set_default_timeout(timeout)
    started = time.perf_counter()
    try:
        await open_draw_page_async(page, base_url, timeout=timeout)
        result.load_ms = (time.perf_counter() - started) * 1000
    except Exception as e:  # noqa: BLE001 - every failure is counted, none stops the run
        result.errors.append(f"session {index}: page load: {type(e).__name__}: {str(e)[:200]}")
    if all_loaded is not None:  # draw only once every page is open: no page-load storm meanwhile
        await all_loaded.wait()
    if result.errors:
        return result
    pause = random.Random(index)
    for k in range(digits):
        digit = (index + k) % 10
        if think and k:
            await asyncio.sleep(think * pause.uniform(0.5, 1.5))
        try:
            await clear_canvas_async(page, timeout)
            timed = await draw_and_time_async(page, digit, timeout=timeout)
            result.drawings.append({"digit": digit, "value": timed.value,
                                    "painted_ms": timed.painted_ms, "dom_ms": timed.ms})
        except Exception as e:  # noqa: BLE001
            result.errors.append(f"session {index}, drawing {k} ({digit}): {type(e).__name__}: {str(e)[:200]}")
    return result


async def run_sessions(base_url: str, n: int, digits: int, timeout: float, ramp: float,
                       on_all_done=None, barrier: bool = False, think: float = 0.0,
                       browsers: int | None = None, recording=None) -> list[SessionResult]:
    """``n`` sessions at once: ``browsers`` of them (default all) Chromium pages, the rest light
    clients replaying ``recording``; ``on_all_done`` is called when all have drawn, before any
    closes."""
    from playwright.async_api import async_playwright

    from bench.replay import replay_session

    browsers = n if browsers is None else browsers
    all_loaded = asyncio.Barrier(n) if barrier else None
    light = [replay_session(base_url, recording, i, digits, timeout, i * ramp, all_loaded, think)
             for i in range(browsers, n)]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            results = await asyncio.gather(
                *(run_session(browser, base_url, i, digits, timeout, i * ramp, all_loaded, think)
                  for i in range(browsers)),
                *light,
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
             ramp: float = 0.2, settle: float = 0.0, warmup: bool = True, log=print,
             barrier: bool = False, rounds: int = 1, session_ttl: float | None = None,
             think: float = 0.0, split_cpus: bool = False, browsers: int | None = None) -> dict:
    """Run the load test against ``base_url`` (or a server started here); a dict of figures.

    ``rounds`` > 1 repeats the ``n`` sessions (after ``settle`` seconds each): memory that keeps
    growing round after round is a leak, memory the first round took and later rounds reuse
    is not. ``session_ttl`` sets the server's disconnectedSessionTTL (a server started here).
    ``split_cpus``: the server gets the first half of the CPUs, this process and the browsers
    it starts (which inherit it) the rest. ``browsers`` < ``n``: only that many sessions are
    Chromium pages, the others light clients (:mod:`bench.replay`) replaying what a browser sent
    while it drew ``digits`` digits, recorded here first."""
    server_cpus = browser_cpus = None
    if split_cpus:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit("--split-cpus needs at least 2 CPUs")
        half = len(cpus) // 2
        server_cpus, browser_cpus = set(cpus[:half]), set(cpus[half:])
        log(f"server on CPU {sorted(server_cpus)}, browsers on CPU {sorted(browser_cpus)}")
    with contextlib.ExitStack() as stack:
        if base_url is None:
            env = {"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(int(session_ttl))} if session_ttl else None
            base_url = stack.enter_context(streamlit_server(env=env, cpus=server_cpus))
        if browser_cpus:
            stack.callback(os.sched_setaffinity, 0, os.sched_getaffinity(0))
            os.sched_setaffinity(0, browser_cpus)
        base_url = base_url.rstrip("/")
        process = server_process(base_url)
        rss = {"fresh": tree_rss(process)}
        recording = None
        if browsers is not None and browsers < n:
            from bench.replay import record

            # Also the warm-up: the model, the page's modules and caches get loaded.
            log(f"recording a browser drawing {digits} digits, for {n - browsers} light clients ...")
            recording = record(base_url, [k % 10 for k in range(digits)], timeout)
        elif warmup:  # one session first, so the model, the page's modules and caches are loaded
            log("warm-up session ...")
            asyncio.run(run_sessions(base_url, 1, 1, timeout, 0.0))
        time.sleep(1.0)
        rss["before"] = tree_rss(process)
        results: list[SessionResult] = []
        elapsed = server_cpu = 0.0
        settled = []
        for round_ in range(1, rounds + 1):
            suffix = "" if round_ == 1 else f"_round{round_}"
            log(f"{n} sessions x {digits} digits" + (f" (round {round_} of {rounds})" if rounds > 1 else "")
                + (f", {browsers} of them in Chromium" if recording else "") + " ...")
            started = time.perf_counter()
            cpu_started = tree_cpu_seconds(process)
            with RssSampler(process) as sampler:
                results += asyncio.run(run_sessions(
                    base_url, n, digits, timeout, ramp, barrier=barrier, think=think,
                    browsers=browsers, recording=recording,
                    on_all_done=lambda: rss.__setitem__("after_open" + suffix, tree_rss(process)),
                ))
            elapsed += time.perf_counter() - started
            server_cpu += tree_cpu_seconds(process) - cpu_started
            rss["peak"] = max(rss.get("peak", 0), sampler.peak, rss["after_open" + suffix])
            time.sleep(1.0)
            rss["after_closed" + suffix] = tree_rss(process)
            if settle > 0:
                log(f"waiting {settle:.0f} s for the closed sessions to expire ...")
                time.sleep(settle)
                rss["after_settle" + suffix] = tree_rss(process)
                settled.append(rss["after_settle" + suffix])
            sessions_left = active_sessions(base_url)
    out = summarise(results, rss, n * rounds, digits, elapsed, settle, per_round=n)
    out["rounds"], out["barrier"], out["sessions_left"] = rounds, barrier, sessions_left
    out["think_s"], out["split_cpus"] = think, split_cpus
    out["browsers"] = n if recording is None else browsers
    # How busy the server itself was: tells a slow server from slow browsers on a shared machine.
    out["server_cpu_s"] = server_cpu
    out["server_cpu_share"] = server_cpu / elapsed if elapsed else float("nan")
    out["server_cpu_ms_per_drawing"] = 1000 * server_cpu / out["drawings_done"] if out["drawings_done"] else float("nan")
    if len(settled) >= 2:
        out["later_rounds_mb_per_session"] = (settled[-1] - settled[0]) / MB / (n * (rounds - 1))
    return out


def summarise(results: list[SessionResult], rss: dict, n: int, digits: int, elapsed: float,
              settle: float, per_round: int | None = None) -> dict:
    """Figures over all ``n`` sessions; memory per session over the first round's ``per_round``."""
    per_round = per_round or n
    drawings = [d for r in results for d in r.drawings]
    errors = [e for r in results for e in r.errors]
    # With light clients the two kinds are timed differently: the Chromium pages to the
    # prediction painted, the light clients to its arrival (no rendering). The target is judged
    # on the Chromium pages (what a person sees, on a server loaded by every session), on the
    # light clients only when there are no Chromium pages.
    light_drawings = [d for r in results if r.kind == "light" for d in r.drawings]
    light = [d["painted_ms"] for d in light_drawings]
    seen = [d["painted_ms"] for r in results if r.kind == "browser" for d in r.drawings]
    judged = seen or light
    correct = sum(str(d["digit"]) == d["value"] for d in drawings)
    loads = [r.load_ms for r in results if r.load_ms == r.load_ms]
    before = rss["before"]
    out = {
        "sessions": n,
        "digits_per_session": digits,
        "drawings_expected": n * digits,
        "drawings_done": len(drawings),
        # Every failed page load or drawing is one error; drawings_done says how many got through.
        "errors": len(errors),
        "error_messages": errors,
        "correct": correct,
        "correct_share": correct / len(drawings) if drawings else 0.0,
        "p50_ms": percentile(judged, 50),
        "p95_ms": percentile(judged, 95),
        "max_ms": max(judged) if judged else float("nan"),
        "dom_p50_ms": percentile([d["dom_ms"] for d in drawings], 50),
        "page_load_p50_ms": percentile(loads, 50),
        "page_load_max_ms": max(loads) if loads else float("nan"),
        "elapsed_s": elapsed,
        "rss_mb": {k: v / MB for k, v in rss.items()},
        "settle_s": settle,
        "growth_open_mb_per_session": (rss.get("after_open", rss["after_closed"]) - before) / MB / per_round,
        "growth_closed_mb_per_session": (rss["after_closed"] - before) / MB / per_round,
    }
    if "after_settle" in rss:
        out["retained_mb_per_session"] = (rss["after_settle"] - before) / MB / per_round
    if light:
        out["light_p50_ms"], out["light_p95_ms"] = percentile(light, 50), percentile(light, 95)
        out["browser_drawings"] = len(seen)
        out["light_drawings"] = len(light)
        out["light_correct"] = sum(str(d["digit"]) == d["value"] for d in light_drawings)
    return out


def report(r: dict) -> str:
    mem = r["rss_mb"]
    lines = [
        f"{r['sessions']} sessions x {r['digits_per_session']} digits"
        + (f" ({r['rounds']} rounds)" if r.get("rounds", 1) > 1 else "")
        + (", drawing only once all pages were open" if r.get("barrier") else "")
        + (f", {r['think_s']:g} s (0.5-1.5x) between digits" if r.get("think_s") else ", back to back")
        + (", server and browsers on separate CPUs" if r.get("split_cpus") else "")
        + f": {r['drawings_done']}/{r['drawings_expected']} drawings done in {r['elapsed_s']:.1f} s",
        f"errors: {r['errors']}",
        *[f"  {m}" for m in r["error_messages"][:10]],
        f"correct predictions: {r['correct']}/{r['drawings_done']} = {r['correct_share']:.1%}",
        *([f"light clients ({r['sessions'] - r['browsers']} of {r['sessions']} sessions), stroke sent -> "
           f"Prediction received: p50 {r['light_p50_ms']:.0f} ms, p95 {r['light_p95_ms']:.0f} ms"]
          if "light_p50_ms" in r else []),
        *([] if r.get("browser_drawings") == 0 else [
            ("Chromium sessions" + (f" ({r['browsers']}, {r['browser_drawings']} drawings)" if "light_p50_ms" in r
                                    else "") + ", "
             f"mouseup -> prediction painted: p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms, "
             f"max {r['max_ms']:.0f} ms"
             + ("" if "light_p50_ms" in r else f" (in the DOM: p50 {r['dom_p50_ms']:.0f} ms)"))]),
        f"page load (open -> canvas ready): p50 {r['page_load_p50_ms']:.0f} ms, max {r['page_load_max_ms']:.0f} ms",
        f"server CPU: {r['server_cpu_s']:.1f} s, {r['server_cpu_share']:.0%} of one core over the run, "
        f"{r['server_cpu_ms_per_drawing']:.0f} ms per drawing (page loads included)",
        "server RSS (process tree): " + ", ".join(f"{k} {v:.1f} MB" for k, v in mem.items()),
        f"sessions the server still holds at the end (/_stcore/metrics active_sessions): {r.get('sessions_left')}",
        f"growth per session (first round): {r['growth_open_mb_per_session']:.2f} MB while open, "
        f"{r['growth_closed_mb_per_session']:.2f} MB just after closing"
        + (f", {r['retained_mb_per_session']:.2f} MB still held {r['settle_s']:.0f} s after closing"
           if "retained_mb_per_session" in r else ""),
        f"target 0 errors: {'PASS' if r['errors'] == 0 else 'FAIL'} ({r['errors']})",
        f"target p95 <= {TARGET_P95_MS:.0f} ms: {'PASS' if r['p95_ms'] <= TARGET_P95_MS else 'FAIL'} "
        f"({r['p95_ms']:.0f} ms, {TARGET_P95_MS - r['p95_ms']:+.0f} ms to spare)",
    ]
    if "later_rounds_mb_per_session" in r:
        growth = r["later_rounds_mb_per_session"]
        lines.append(f"memory growth per session in rounds after the first: {growth:.2f} MB")
        lines.append(f"target memory not growing per session (<= {TARGET_RETAINED_MB_PER_SESSION} MB per session "
                     f"after round 1): {'PASS' if growth <= TARGET_RETAINED_MB_PER_SESSION else 'FAIL'}")
    elif "retained_mb_per_session" in r:
        ok = r["retained_mb_per_session"] <= TARGET_RETAINED_MB_PER_SESSION
        lines.append(f"target memory not growing per session (retained <= {TARGET_RETAINED_MB_PER_SESSION} MB "
                     f"per session after {r['settle_s']:.0f} s): {'PASS' if ok else 'FAIL'} "
                     f"({r['retained_mb_per_session']:.2f} MB; RSS rarely shrinks, --rounds 2+ tells a leak "
                     "from memory kept for reuse)")
    else:
        lines.append(f"target memory not growing per session: not judged (run with --settle >= {SESSION_TTL_S + 10}"
                     " so closed sessions expire first, and --rounds 2+)")
    return "\n".join(lines)


def passed(r: dict) -> bool:
    memory = r.get("later_rounds_mb_per_session", r.get("retained_mb_per_session", 0))
    return r["errors"] == 0 and r["p95_ms"] <= TARGET_P95_MS and memory <= TARGET_RETAINED_MB_PER_SESSION


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="concurrent sessions (default 30)")
    parser.add_argument("--digits", type=int, default=10, help="digits each session draws (default 10)")
    parser.add_argument("--url", default=None, help="a running app's base URL (default: start one)")
    parser.add_argument("--ramp", type=float, default=0.2, help="seconds between session starts (default 0.2)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds any one wait may take (default 120)")
    parser.add_argument("--settle", type=float, default=0, help="seconds to wait after closing before the "
                        f"last memory reading (>= {SESSION_TTL_S + 10} to judge retained memory)")
    parser.add_argument("--barrier", action="store_true", help="start drawing only once every session's "
                        "page is open (drawing under load without the page-load storm)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the sessions; memory growth after the "
                        "first round is the leak test (default 1)")
    parser.add_argument("--session-ttl", type=float, default=None, help="the started server's "
                        "disconnectedSessionTTL in s (default Streamlit's 120); then --settle can be shorter")
    parser.add_argument("--think", type=float, default=0.0, help="seconds a session pauses after a "
                        "prediction, 0.5-1.5x at random (default 0: back to back)")
    parser.add_argument("--split-cpus", action="store_true", help="pin the server started here to half "
                        "the CPUs and the browsers to the other half")
    parser.add_argument("--browsers", type=int, default=None, help="how many of the --n sessions are "
                        "Chromium pages (default: all); the rest are light clients replaying a browser's "
                        "recorded messages (bench/replay.py)")
    args = parser.parse_args(argv)
    if args.browsers is not None and not 0 <= args.browsers <= args.n:
        parser.error("--browsers must be between 0 and --n")
    if args.split_cpus and args.url:
        parser.error("--split-cpus pins a server started here; it cannot be used with --url")
    r = run_load(args.url, args.n, args.digits, args.timeout * 1000, args.ramp, args.settle,
                 barrier=args.barrier, rounds=args.rounds, session_ttl=args.session_ttl,
                 think=args.think, split_cpus=args.split_cpus, browsers=args.browsers)
    print(report(r))
    return 0 if passed(r) else 1


if __name__ == "__main__":
    sys.exit(main())
