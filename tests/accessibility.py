"""The axe-core audit in a real browser: the pinned axe-core (npm, package-lock.json) that the
repository carries in assets/vendor/axe-core/, injected from that file (never a CDN), run on the
page as it stands. Shared by tests/test_accessibility_browser.py and bench/accessibility.py.

    from tests.accessibility import PAGES, PROFILES, audit, open_settled
"""
from __future__ import annotations

from pathlib import Path

from tests.browser import wait_for_app

AXE = Path(__file__).resolve().parent.parent / "assets" / "vendor" / "axe-core" / "axe.min.js"
# Every page of app.py's navigation: its path and a heading that shows once it has drawn.
PAGES = [
    ("/", None),
    ("/training", "Training curves"),
    ("/confusion", "Confusion matrix"),
    ("/mistakes", "Misclassified digits"),
    ("/models", "Models"),
    ("/inside", "Inside the network"),
    ("/push", "Push it"),
    ("/train", None),
    ("/class", None),
]
PROFILES = {
    "desktop": dict(viewport={"width": 1600, "height": 1000}),
    "phone": dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True),
}
SEVERE = ("serious", "critical")
PICKER = '[data-testid="stSidebar"] [data-testid="stSelectbox"]'

_RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5), count: v.nodes.length}));
}"""


def open_settled(page, url: str, timeout: float = 60_000) -> None:
    """Open ``url`` and wait until the app has drawn it: idle, the sidebar's picker there (the
    sidebar can still be drawing at the first idle), idle again."""
    page.goto(url)
    wait_for_app(page, timeout=timeout)
    page.locator(PICKER).first.wait_for(state="attached", timeout=timeout)
    wait_for_app(page, timeout=timeout)


def audit(page) -> list[dict]:
    """axe-core's violations on the page as it stands: id, impact, help, up to five targets,
    and how many elements each."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(_RUN_AXE)


def severe(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in SEVERE]
