"""Languages in a real browser: the browser's Accept-Language picks the language, the sidebar's
picker changes it and puts it in the address, and it stays through a move to another page and
into big-screen mode, whose join QR code carries it.

Run: ``.venv/bin/python -m pytest tests/test_languages_browser.py``
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from model import MODEL_DIR
from model.serving.artifacts import shipped_archs
from tests.accessibility import open_settled
from tests.browser import box_when_still, browser_available, wait_for_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
    pytest.mark.skipif(not shipped_archs(MODEL_DIR), reason="no trained model in model/ yet"),
]

TIMEOUT = 60_000
NAV = '[data-testid="stSidebarNav"]'
SIDEBAR = '[data-testid="stSidebar"]'


@pytest.fixture
def german_browser(browser):
    context = browser.new_context(locale="de-DE", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT)
    yield context
    context.close()


def test_the_browser_language_then_the_picker_then_every_page(app_url, german_browser):
    page = german_browser.new_page()
    open_settled(page, app_url + "/")
    page.get_by_role("heading", name="Ziffer zeichnen").wait_for()
    expect(page.locator(NAV)).to_contain_text("Konfusionsmatrix")
    assert "lang=" not in page.url  # the browser's choice, not the address's

    languages = page.locator(SIDEBAR).get_by_role("radiogroup", name="Sprache")
    expect(languages.get_by_role("radio", name="Deutsch")).to_be_checked()
    languages.get_by_text("Français").click()
    page.get_by_role("heading", name="Dessine un chiffre").wait_for()
    wait_for_app(page)
    assert re.search(r"[?&]lang=fr\b", page.url), page.url
    expect(page.locator(NAV)).to_contain_text("Matrice de confusion")

    # Another page through the navigation: still French, and the address says so again.
    page.locator(NAV).get_by_text("Dans le réseau").click()
    page.wait_for_url(re.compile(r"/inside"))
    wait_for_app(page)
    expect(page.locator(NAV)).to_contain_text("Courbes d’apprentissage")
    page.wait_for_url(re.compile(r"[?&]lang=fr\b"))


def test_big_screen_mode_keeps_the_language_and_its_join_link_carries_it(app_url, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(TIMEOUT)
    try:
        open_settled(page, app_url + "/?lang=es")
        page.get_by_role("heading", name="Dibuja un dígito").wait_for()
        page.locator(SIDEBAR).get_by_text("Modo pantalla grande").click()
        page.wait_for_url(re.compile(r"present=1"))
        wait_for_app(page)
        assert re.search(r"[?&]lang=es\b", page.url), page.url
        panel = page.locator(".st-key-join-panel")
        expect(panel).to_contain_text("Únete con tu móvil o tableta")
        # The address (and its QR code) where the server has one students can reach, else why not.
        expect(panel).to_contain_text(re.compile(r"lang=es|Este ordenador no tiene una dirección de red"))
        if "lang=es" in panel.inner_text():
            qr = panel.get_by_role("img", name=re.compile(r"^Código QR de .*[?&]lang=es\b"))
            expect(qr).to_be_visible()
    finally:
        page.close()


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}, {"width": 810, "height": 1080}],
                         ids=["phone", "tablet"])
def test_the_confusion_pages_table_fits_in_the_longest_language(app_url, browser, viewport):
    """German's headings are the longest: the per-digit table's five columns stay inside the
    page, none cut off by its column or the screen (it once sat in a column 157 px wide)."""
    context = browser.new_context(viewport=viewport, device_scale_factor=2, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT)
    try:
        page = context.new_page()
        open_settled(page, app_url + "/confusion?lang=de")
        table = page.locator('.st-key-confusion-per-digit [data-testid="stTable"]')
        table.scroll_into_view_if_needed()
        expect(table).to_contain_text("Trefferquote")
        inner, outer, right = table.evaluate(
            "e => [e.querySelector('table').scrollWidth, e.clientWidth, e.querySelector('table').getBoundingClientRect().right]")
        assert inner <= outer and right <= viewport["width"], (inner, outer, right)
        # What a person sees at the last heading's right end is that heading (once the page has
        # stopped moving: the chart above it can still be laying itself out).
        last = table.locator("th").last
        box = box_when_still(last, frames=10)
        seen = page.evaluate("""([x, y]) => { const e = document.elementFromPoint(x, y);
                                 return e && [e.tagName, (e.closest('th') || e).textContent.slice(0, 40)]; }""",
                             [box["x"] + box["width"] - 6, box["y"] + box["height"] / 2])
        assert seen == ["TH", "Testziffern"] or seen[1] == "Testziffern", seen
    finally:
        context.close()


# Every metric's label and every chart's title on a page: those whose text is wider than the
# room they have (a metric label ends in "…", a chart title runs past its chart's right edge).
CUT_OFF_JS = """() => {
  const cut = [];
  for (const label of document.querySelectorAll('[data-testid="stMetricLabel"]')) {
    // Streamlit ends a label too long for its column with an ellipsis (its markdown box clips it).
    if ([label, ...label.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1))
      cut.push('metric: ' + label.textContent);
  }
  for (const chart of document.querySelectorAll('.js-plotly-plot')) {
    const right = chart.querySelector('.main-svg').getBoundingClientRect().right;
    for (const title of chart.querySelectorAll('.gtitle'))
      if (title.getBoundingClientRect().right > right + 1) cut.push('chart: ' + title.textContent);
  }
  return cut;
}"""


@pytest.mark.parametrize("lang", ["de", pytest.param("fr", marks=pytest.mark.slow),
                                  pytest.param("es", marks=pytest.mark.slow),
                                  pytest.param("en", marks=pytest.mark.slow)])
def test_no_metric_or_chart_title_is_cut_off_on_a_projector(app_url, browser, lang):
    """A 1280 px projector (a narrow laptop too), where four metrics share a row: every label
    and chart title of the translated diagnostics pages is whole, in each language. (Caught in
    German, French and Spanish: "Validierungsgenauigkeit dort", "Réussite en validation à ce
    point", "Taux d’apprentissage à la fin de chaque époque", "Acierto en validación en ella".)"""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(TIMEOUT)
    try:
        cut = {}
        for path, charts in (("training", 4), ("confusion", 0), ("push", 0), ("models", 2)):
            open_settled(page, f"{app_url}/{path}?lang={lang}")
            if path != "models":
                page.locator('[data-testid="stMetricLabel"]').first.wait_for()
            if charts:
                page.locator(".js-plotly-plot .gtitle").nth(charts - 1).wait_for()
            cut[path] = page.evaluate(CUT_OFF_JS)
        assert not any(cut.values()), cut
    finally:
        page.close()
