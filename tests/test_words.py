"""What the app says, checked without a browser: no emoji anywhere in the UI (they render as
empty boxes on machines without an emoji font, a projector's laptop included), a distinct
title for every page, and a "What am I looking at?" text for each."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UI_FILES = [REPO / "app.py", *sorted((REPO / "pages").glob("*.py"))]
HELP = REPO / "assets" / "help"

# Emoji code points (Unicode's Extended_Pictographic ranges, and the emoji presentation
# selector and joiner). Arrows such as U+2192 are not emoji and stay allowed.
EMOJI = re.compile(
    "[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2300-\u23FF\u2194-\u2199\u21A9\u21AA"
    "\u3030\u303D\u3297\u3299\uFE0F\u200D\u00A9\u00AE\u203C\u2049\u2122\u2139]"
)


def test_the_emoji_pattern_finds_emoji_and_spares_text():
    for emoji in ["\u270f\ufe0f", "\U0001F4C8", "\U0001F9EE", "\U0001F50D", "\U0001F3D7", "\u2605", "\u2B50"]:
        assert EMOJI.search(emoji), repr(emoji)
    for text in ["Draw a digit, 0 to 9", "7 \u2192 1", "x0.5 \u00b7 28\u00d728", "Loading the model\u2026"]:
        assert not EMOJI.search(text), text


@pytest.mark.parametrize("path", UI_FILES + sorted(HELP.glob("*.md")), ids=lambda p: p.name)
def test_no_emoji_in_the_ui(path):
    text = path.read_text(encoding="utf-8")
    found = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if EMOJI.search(line)]
    assert not found, f"emoji in {path.name}: {found}"


def page_calls() -> list[ast.Call]:
    tree = ast.parse((REPO / "app.py").read_text())
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "attr", None) == "Page"]


def test_every_page_has_a_distinct_title_and_a_material_icon():
    titles = []
    for call in page_calls():
        keywords = {k.arg: k.value for k in call.keywords}
        assert "title" in keywords, ast.unparse(call)
        title = keywords["title"]
        if isinstance(title, ast.Call) and getattr(title.func, "id", None) == "_":  # translated
            title = title.args[0]
        titles.append(ast.literal_eval(title))
        icon = ast.literal_eval(keywords["icon"])
        assert re.fullmatch(r":material/[a-z0-9_]+:", icon), icon
    assert len(titles) >= 5 and len(set(titles)) == len(titles), titles
    # No page_title in set_page_config: it would replace every page's title in the browser tab.
    config = [node for node in ast.walk(ast.parse((REPO / "app.py").read_text())) if isinstance(node, ast.Call)
              and getattr(node.func, "attr", None) == "set_page_config"]
    assert all("page_title" not in {k.arg for k in call.keywords} for call in config)


def test_every_page_explains_itself():
    for call in page_calls():
        page = REPO / ast.literal_eval(call.args[0])
        source = page.read_text()
        match = re.search(r'page_help\("([a-z_]+)"', source)
        if match is None:  # a page may write its own box
            assert '"What am I looking at?"' in source, f"{page.name} has no 'What am I looking at?' box"
            continue
        text = (HELP / f"{match.group(1)}.md").read_text()
        assert 200 < len(text) < 2000, f"{match.group(1)}.md: keep it short and not empty"


def test_the_help_texts_cover_the_words_students_meet():
    text = " ".join(p.read_text().lower() for p in HELP.glob("*.md"))
    for word in ["cnn", "28x28", "confidence", "accuracy", "loss", "epoch", "f1", "validation"]:
        assert word in text, word
