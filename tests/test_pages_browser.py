"""The diagnostics pages in a real browser: every page opens without an exception, and clicking
a confusion-matrix cell shows the test digits in it.

Run: ``.venv/bin/python -m pytest -m browser tests/test_pages_browser.py``  (about 30 seconds)
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from model import MODEL_DIR
from model.serving.artifacts import load_evaluation, shipped_archs
from tests.browser import browser_available, streamlit_server, wait_for_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
    pytest.mark.skipif(not shipped_archs(MODEL_DIR), reason="no trained model in model/ yet"),
]

TIMEOUT = 45_000  # ms; generous: the machine is shared with training runs
PAGES = [
    ("/", None),  # the Draw page (its own tests are in test_draw_browser.py)
    ("/training", "Training curves"),
    ("/confusion", "Confusion matrix"),
    ("/mistakes", "Misclassified digits"),
    ("/models", "Models"),
    ("/push", "Push it"),
]
EXCEPTION = '[data-testid="stException"]'
PICKER = '[data-testid="stSidebar"] [data-testid="stSelectbox"]'  # the model picker
ERROR = '[data-testid="stAlertContentError"]'
IMAGE = '[data-testid="stImage"]'


@pytest.fixture(scope="module")
def server(app_url):
    return app_url


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(TIMEOUT)
    yield page
    page.close()


def open_page(page, url: str, title: str | None) -> None:
    page.goto(url)
    wait_for_app(page, timeout=TIMEOUT)
    if title:
        page.get_by_role("heading", name=title, exact=True).wait_for()
    # The sidebar can still be drawing when the script reports idle (seen: up to 250 ms after),
    # and on a fresh server the rerun through app.py comes after the first run's idle.
    page.locator(PICKER).first.wait_for(timeout=TIMEOUT)
    wait_for_app(page, timeout=TIMEOUT)


def test_every_page_opens(server, page):
    for path, title in PAGES:
        open_page(page, server + path, title)
        assert page.locator(EXCEPTION).count() == 0, (path, page.locator(EXCEPTION).all_inner_texts())
        if title:  # the shipped artifacts are whole: no error message either
            assert page.locator(ERROR).count() == 0, (path, page.locator(ERROR).all_inner_texts())
        # The sidebar's model picker is on every page.
        assert page.locator(PICKER).count() == 1, path


def test_clicking_a_confusion_cell_shows_its_digits(server, page):
    arch = shipped_archs(MODEL_DIR)[0]  # the sidebar's default
    matrix = load_evaluation(arch)["confusion_matrix"]
    # The page opens on the most common mistake; click the least common one instead.
    count, true, predicted = min(
        (matrix[t][p], t, p) for t in range(10) for p in range(10) if t != p and matrix[t][p]
    )
    open_page(page, server + "/confusion", "Confusion matrix")
    chart = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first
    chart.wait_for()
    # Where the cell's centre is on screen, from Plotly's own axes.
    x, y = chart.evaluate(
        """(plot, [column, row]) => {
            const box = plot.getBoundingClientRect(), layout = plot._fullLayout;
            return [box.left + layout.xaxis._offset + layout.xaxis.d2p(column),
                    box.top + layout.yaxis._offset + layout.yaxis.d2p(row)];
        }""",
        [predicted, true],
    )
    page.mouse.move(x, y)
    # Plotly picks the point under the pointer on hover and clicks that one: wait for its label.
    chart.locator(".hoverlayer .hovertext").first.wait_for(state="visible")
    page.mouse.click(x, y)

    heading = f"a {true} the model read as {predicted}"
    page.get_by_role("heading").filter(has_text=heading).wait_for()
    wait_for_app(page, timeout=TIMEOUT)
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length === n", arg=[IMAGE, count]
    )
    assert page.locator(IMAGE).count() == count
    assert page.locator(EXCEPTION).count() == 0
    # The keyboard boxes follow the click.
    expect(page.get_by_role("combobox", name="True digit")).to_have_value(str(true))
    expect(page.get_by_role("combobox", name="Predicted digit")).to_have_value(str(predicted))


def test_a_direct_link_on_a_fresh_server_goes_through_the_router(browser):
    """Streamlit takes the folder pages/ beside app.py for an old-style multipage app until
    st.navigation has run once in the server, so a fresh server's first visitor on /confusion
    would get pages/confusion.py alone (no model picker, the helper modules listed as pages).
    pages.common_frame.ensure_router() sends such a run through app.py."""
    with streamlit_server() as base_url:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        try:
            open_page(page, base_url + "/confusion", "Confusion matrix")
            assert page.locator(PICKER).count() == 1
            nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
            assert "Confusion matrix" in nav and "common" not in nav
            assert page.locator(EXCEPTION).count() == 0
        finally:
            page.close()
