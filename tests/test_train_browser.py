"""The Train page in a real browser: train the MLP on 5,000 digits for 2 epochs while the
progress bar and curves move, then draw on it and open its training curves and confusion
matrix; Stop a second run and keep its best epoch; a second visitor sees the running job and
cannot start another, but can add a run to the queue and remove it again.

Run: ``.venv/bin/python -m pytest -m browser tests/test_train_browser.py``  (about 2 minutes)
"""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser import browser_available, streamlit_server, wait_for_app
from tests.drawing import CANVAS, draw_digit, read_prediction

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
]

TIMEOUT = 60_000  # ms; generous: the machine is shared
TRAINING = 240_000  # ms for a whole run, start-up and saving included
EXCEPTION = '[data-testid="stException"]'
PICKER = '[data-testid="stSidebar"] [data-testid="stSelectbox"]'
PROGRESS = '[data-testid="stProgress"] [role="progressbar"]'
CURVES = '[data-testid="stPlotlyChart"] .js-plotly-plot'
MODEL = "seed002-mlp-1"
SECOND = "seed002-mlp-2"  # the page's own next name
QUEUED = "seed002-mlp-3"  # and the one after, while SECOND trains


def heading_state(page) -> str:
    """The job's heading, e.g. "seed002-mlp-1: Training" ('' when there is none)."""
    texts = page.locator("h3").all_inner_texts()
    return next((t for t in texts if ": " in t), "")


def progress_value(page) -> float:
    bar = page.locator(PROGRESS)
    return float(bar.get_attribute("aria-valuenow") or 0) if bar.count() else -1.0


def curve_points(page) -> int:
    chart = page.locator(CURVES)
    return chart.first.evaluate("plot => (plot.data && plot.data[0] ? plot.data[0].x.length : 0)") if chart.count() else 0


def wait_for_state(page, words: tuple[str, ...], timeout: float = TRAINING) -> str:
    deadline = time.monotonic() + timeout / 1000
    while time.monotonic() < deadline:
        state = heading_state(page)
        if any(state.endswith(w) for w in words):
            return state
        page.wait_for_timeout(250)
    page.screenshot(path="test-results/train_browser_failure.png", full_page=True)
    raise AssertionError(f"the job never reached {words}; last heading {heading_state(page)!r}")


def open_train(page, url: str) -> None:
    page.goto(url + "/train")
    wait_for_app(page, timeout=TIMEOUT)
    page.get_by_role("heading", name="Train a network", exact=True).wait_for()
    page.locator(PICKER).first.wait_for()
    wait_for_app(page, timeout=TIMEOUT)


def choose(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option").filter(has_text=option).first.click()
    wait_for_app(page, timeout=TIMEOUT)


def smallest_batch(page) -> None:
    """Batch size 32: more, smaller steps, so a 5,000-digit demo runs long enough to watch."""
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Batch size").get_by_role("slider")
    slider.focus()
    slider.press("Home")
    wait_for_app(page, timeout=TIMEOUT)
    assert slider.get_attribute("aria-valuetext") == "32"


def name_box(page):
    return page.get_by_role("textbox", name="Name of the new model", exact=True)


def set_epochs(page, epochs: int) -> None:
    box = page.get_by_role("spinbutton", name="Epochs", exact=True)
    box.fill(str(epochs))
    box.press("Enter")
    wait_for_app(page, timeout=TIMEOUT)


@pytest.fixture
def server(tmp_path_factory, mnist_dir):
    # A fresh data folder each run: the test expects the first model trained there (seed002-mlp-1);
    # a repeat against the same folder would meet seed002-mlp-3.
    data = tmp_path_factory.mktemp("data")
    with streamlit_server(env={"DIGITLAB_DATA_DIR": str(data), "MNIST_DIR": mnist_dir}) as url:
        yield url


def new_page(browser):
    page = browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
    page.set_default_timeout(TIMEOUT)
    return page


@pytest.mark.slow
def test_train_watch_draw_stop(server, browser):
    teacher, student = new_page(browser), new_page(browser)
    try:
        open_train(teacher, server)
        choose(teacher, "Network", "seed002_mlp")
        expect(name_box(teacher)).to_have_value(MODEL)
        set_epochs(teacher, 2)
        smallest_batch(teacher)
        teacher.get_by_role("button", name="Start").click()

        # A 5,000-digit demo can finish between two looks on an idle machine: the bar and curves
        # are watched moving on the long second run below.
        wait_for_state(teacher, ("Finished",))
        assert teacher.locator(EXCEPTION).count() == 0

        # The new model: in the picker, and the Draw page predicts with it.
        picker = teacher.locator(PICKER)
        picker.click()
        teacher.get_by_role("option").filter(has_text=f"{MODEL} (trained here)").wait_for()
        teacher.keyboard.press("Escape")
        teacher.get_by_role("button", name="Draw with it").click()
        teacher.locator(CANVAS).last.wait_for(state="visible")
        wait_for_app(teacher, timeout=TIMEOUT)
        expect(picker.get_by_role("combobox")).to_have_value(re.compile(re.escape(f"{MODEL} (trained here)")))
        draw_digit(teacher, 7)
        assert read_prediction(teacher, timeout=TIMEOUT) in "0123456789"

        # Its training curves and confusion matrix.
        teacher.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Training curves", exact=True).click()
        wait_for_app(teacher, timeout=TIMEOUT)
        teacher.get_by_role("heading", name=MODEL, exact=True).wait_for()
        teacher.get_by_text("of 2", exact=False).first.wait_for()  # "Best epoch k of 2"
        teacher.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Confusion matrix", exact=True).click()
        wait_for_app(teacher, timeout=TIMEOUT)
        teacher.get_by_text(f"{MODEL} on the 10,000 MNIST test digits").wait_for()
        assert teacher.locator(EXCEPTION).count() == 0

        # A second, long run, stopped after its first epoch: it keeps the best epoch so far.
        teacher.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Train", exact=True).click()
        wait_for_app(teacher, timeout=TIMEOUT)
        set_epochs(teacher, 30)
        teacher.get_by_role("button", name="Start").click()
        wait_for_state(teacher, ("Training",))
        teacher.locator(PROGRESS).wait_for()

        # While it trains: a second visitor sees it and cannot start another, only queue one; the
        # bar and the curves move.
        open_train(student, server)
        student.get_by_text(f"{SECOND} is training now").wait_for()
        assert student.get_by_role("button", name="Start").count() == 0
        # Read with retries: a page under load can show the box a moment before its value.
        expect(name_box(student)).to_have_value(QUEUED, timeout=TIMEOUT)
        student.get_by_role("button", name="Add to queue").click()
        student.get_by_text(f"{QUEUED}").first.wait_for()
        student.get_by_text("added from this browser").wait_for()
        teacher.get_by_role("heading", name="Waiting to train").wait_for()  # the teacher's page follows
        assert teacher.get_by_text("added from this browser").count() == 0
        student.get_by_role("button", name="Remove").click()
        student.get_by_role("heading", name="Waiting to train").wait_for(state="detached")
        teacher.get_by_role("heading", name="Waiting to train").wait_for(state="detached")
        assert student.locator(EXCEPTION).count() == 0
        seen = [(progress_value(teacher), curve_points(teacher))]
        deadline = time.monotonic() + TRAINING / 1000

        def moved() -> bool:
            return len({b for b, _ in seen if b > 0}) >= 2 and len({n for _, n in seen if n > 0}) >= 2

        while not moved() and time.monotonic() < deadline and heading_state(teacher).endswith("Training"):
            teacher.wait_for_timeout(200)
            seen.append((progress_value(teacher), curve_points(teacher)))
        bars = [b for b, _ in seen if b >= 0]
        assert moved() and bars == sorted(bars), seen
        teacher.wait_for_function(
            "() => /Epoch ([2-9]|[1-9][0-9]) of 30/.test(document.body.innerText)", timeout=TRAINING)
        asked = time.monotonic()
        teacher.get_by_role("button", name="Stop").click()
        wait_for_state(teacher, ("Saving", "Stopped"), timeout=30_000)
        print(f"Stop: training ended {time.monotonic() - asked:.1f} s after the click, as the page saw it")
        wait_for_state(teacher, ("Stopped",))
        message = teacher.locator('[data-testid="stAlertContentSuccess"]').first.inner_text()
        assert "Stopped after" in message and "kept epoch" in message and SECOND in message
        student.get_by_role("heading", name=f"{SECOND}: Stopped").wait_for()  # the other session follows
        assert teacher.locator(EXCEPTION).count() == 0
    except Exception:
        teacher.screenshot(path="test-results/train_browser_failure.png", full_page=True)
        raise
    finally:
        teacher.context.close()
        student.context.close()
