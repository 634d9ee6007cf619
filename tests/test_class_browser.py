"""The class features in a real browser: a student draws and answers "No, it was 4"; the
teacher opens the Class page with the passcode and finds the drawing in the class's confusion
matrix; the export imports into a fresh database with the same counts; a wrong passcode shows
nothing.

Run: ``.venv/bin/python -m pytest tests/test_class_browser.py``  (about a minute)
"""
from __future__ import annotations

import contextlib
import subprocess
import sys

import numpy as np
import pytest

from model.storage import Storage
from tests.browser import REPO, browser_available, streamlit_server
from tests.drawing import CANVAS, EMPTY_HINT, draw_digit, read_prediction, wait_idle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
]

TIMEOUT = 60_000  # ms; generous: the machine is shared
VIEWPORT = {"width": 1400, "height": 1100}
PASSCODE = "owl-and-pussycat-42"
CLASS_CODE = "7B"
DRAWN, ANSWERED = 9, 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    db = f"sqlite:///{folder / 'class.sqlite3'}"
    env = {"DIGITLAB_DB": db, "DIGITLAB_DATA_DIR": str(folder / "data"), "DIGITLAB_TEACHER_CODE": PASSCODE}
    with streamlit_server(env=env, timeout=120) as url:
        yield {"url": url, "db": db, "folder": folder}


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    try:
        yield page
    finally:
        # Kept for a look when a test fails (test-results/ is git-ignored).
        (REPO / "test-results").mkdir(exist_ok=True)
        with contextlib.suppress(Exception):
            page.screenshot(path=str(REPO / "test-results" / f"{request.node.name}.png"), full_page=True)
        context.close()


def open_class_page(page, url: str, passcode: str) -> None:
    page.goto(url + "/class", timeout=TIMEOUT)
    wait_idle(page, TIMEOUT)
    page.get_by_label("Teacher's passcode").fill(passcode)
    page.get_by_role("button", name="Unlock").click()
    wait_idle(page, TIMEOUT)


def class_confusion(page) -> list[list[int]]:
    """The class confusion matrix the page plotted (plotly keeps the figure's data on its div)."""
    plot = page.locator(".st-key-class_confusion .js-plotly-plot")
    plot.wait_for(state="attached", timeout=TIMEOUT)
    return page.evaluate("el => el.data[0].z", plot.element_handle())


def test_a_wrong_answer_is_counted_on_the_class_page_and_exports(server, page, tmp_path):
    page.goto(server["url"] + f"/?class={CLASS_CODE}", timeout=120_000)  # the teacher's link
    wait_idle(page, 120_000)
    page.locator(CANVAS).last.wait_for(state="visible", timeout=120_000)
    page.get_by_text(EMPTY_HINT).wait_for(state="visible", timeout=120_000)
    draw_digit(page, DRAWN)
    predicted = int(read_prediction(page, timeout=TIMEOUT))
    assert predicted != ANSWERED
    page.get_by_text("Right?").wait_for(state="visible")
    page.locator('[data-testid="stButtonGroup"]').get_by_text(str(ANSWERED), exact=True).click()
    page.get_by_text(f"Saved: it was a {ANSWERED}").wait_for(state="visible", timeout=TIMEOUT)

    open_class_page(page, server["url"], PASSCODE)
    page.get_by_text("Our class", exact=True).first.wait_for(state="visible")
    matrix = np.array(class_confusion(page))
    assert matrix.sum() == 1 and matrix[ANSWERED].sum() == 1
    drawings = page.locator('[data-testid="stMetric"]').filter(has_text="Drawings")
    assert drawings.locator('[data-testid="stMetricValue"]').inner_text() == "1"
    assert page.get_by_role("combobox").first.is_visible()
    assert CLASS_CODE in Storage(server["db"]).class_codes()

    with page.expect_download(timeout=TIMEOUT) as download:
        page.get_by_role("button", name="Export the drawings shown (.npz)").click()
    exported = tmp_path / "class.npz"
    download.value.save_as(exported)
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    done = subprocess.run([sys.executable, "-m", "model.classdata", "import", str(exported), "--db", fresh],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    source, copy = Storage(server["db"]).answers(), Storage(fresh).answers()
    assert len(copy) == len(source) == 1
    assert copy.labels.tolist() == source.labels.tolist() == [ANSWERED]
    assert copy.predicted.tolist() == source.predicted.tolist() == [predicted]
    np.testing.assert_array_equal(copy.images, source.images)

    # The page's own import: the same file once more makes the class's 4s two.
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(exported))
    wait_idle(page, TIMEOUT)
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("Imported 1 drawings.").wait_for(state="visible", timeout=TIMEOUT)
    wait_idle(page, TIMEOUT)
    assert np.array(class_confusion(page))[ANSWERED].sum() == 2


def test_a_wrong_passcode_shows_nothing(server, page):
    open_class_page(page, server["url"], "not-the-passcode")
    page.get_by_text("That passcode is not right.").wait_for(state="visible")
    assert page.locator(".js-plotly-plot").count() == 0
    assert page.locator('[data-testid="stMetric"]').count() == 0
    assert page.get_by_text("Export the drawings").count() == 0
