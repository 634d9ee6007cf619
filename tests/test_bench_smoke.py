"""Small runs of the benchmarks, as tests: they work, end to end, without errors.

No timing is asserted here (the machine may be busy); the targets are measured by the bench
scripts themselves (``bench/*.py``, see their docstrings).
"""
from __future__ import annotations

import pytest

from tests.browser import browser_available

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,  # whole benchmark runs, with their own servers and browsers
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
]


def test_load_three_sessions_without_errors():
    import os

    from bench import load

    cpus = os.sched_getaffinity(0)
    split = len(cpus) >= 2  # the class set-up: server and browsers on separate CPUs
    result = load.run_load(n=3, digits=2, ramp=0.1, log=lambda *a: None, think=0.2, split_cpus=split)
    print(load.report(result))
    assert os.sched_getaffinity(0) == cpus  # this process got its CPUs back
    assert result["error_messages"] == []
    assert result["errors"] == 0
    assert result["drawings_done"] == 6
    assert 0.0 <= result["correct_share"] <= 1.0
    # The digits are drawn clearly: most must be read right (the figure is reported above).
    assert result["correct_share"] >= 0.5
    assert result["rss_mb"]["before"] > 0 and result["rss_mb"]["after_open"] > 0
    assert result["p50_ms"] > 0
    assert result["server_cpu_s"] > 0 and result["server_cpu_ms_per_drawing"] > 0


def test_load_with_light_clients_reads_every_replayed_drawing():
    from bench import load

    # One Chromium page and two light clients replaying a recorded browser's messages.
    result = load.run_load(n=3, digits=2, ramp=0.1, log=lambda *a: None, browsers=1)
    print(load.report(result))
    assert result["error_messages"] == []
    assert result["drawings_done"] == 6
    assert result["browser_drawings"] == 2 and result["light_drawings"] == 4
    # The light clients send the very pixels the recording browser drew, and the recording
    # checked those were read right: the server, running the page for each light client's
    # own session, must read every one of them right again.
    assert result["light_correct"] == 4
    assert result["light_p50_ms"] > 0 and result["p50_ms"] > 0


def test_one_cold_start_reaches_a_prediction():
    from playwright.sync_api import sync_playwright

    from bench import cold_start
    from tests.browser import launch_chromium

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            marks = cold_start.measure_once(browser, timeout=120)
        finally:
            browser.close()
    print(marks)
    assert marks["value"] in {str(d) for d in range(10)}
    assert marks["correct"], f"drew a {cold_start.DIGIT}, the page says {marks['value']}"
    assert 0 < marks["health"] <= marks["page"] <= marks["drawn"] <= marks["prediction"]


def test_latency_bench_draws_on_the_page_s_own_canvas():
    """(p) claims the Draw page's canvas and default pen: read them from the page's source (it
    cannot be imported outside ``streamlit run``)."""
    import ast
    from pathlib import Path

    from bench import latency

    source = Path(__file__).resolve().parent.parent / "pages" / "draw.py"
    constants = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(source.read_text()).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in ("CANVAS_SIDE", "DEFAULT_PEN")
    }
    assert constants == {"CANVAS_SIDE": latency.PAGE_CANVAS, "DEFAULT_PEN": latency.PAGE_PEN}
    assert latency.page_drawing().shape == (latency.PAGE_CANVAS, latency.PAGE_CANVAS, 4)


def test_latency_bench_runs():
    from bench import latency

    measured = latency.measure(n=20, baselines=False)
    print(latency.report(measured))
    verdicts = latency.verdicts(measured)
    assert measured["predicted"] == measured["label"]
    assert verdicts["pipeline_ms"] > 0
