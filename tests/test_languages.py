"""Languages: every message the catalog's files hold has a translation in every shipped language
(pybabel extract, run here on the code as it is), the language comes from ?lang=, else the
browser's Accept-Language, else English, numbers are written the language's way, and the Draw
page rendered in each language shows no English message where a translation exists.

Run: ``.venv/bin/python -m pytest tests/test_languages.py``
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from model import MODEL_DIR
from model.i18n import catalog
from model.serving.artifacts import shipped_archs

REPO = Path(__file__).resolve().parent.parent
PYBABEL = Path(sys.executable).with_name("pybabel")
TRANSLATED = ["de", "fr", "es"]


def extracted_messages() -> dict[str, object]:
    """The messages the code holds now, extracted as a teacher would (babel.cfg, keyword N_)."""
    with tempfile.TemporaryDirectory() as folder:
        pot = Path(folder) / "digitlab.pot"
        subprocess.run([str(PYBABEL), "extract", "-F", "babel.cfg", "-k", "N_", "-o", str(pot), "."],
                       cwd=REPO, check=True, capture_output=True)
        with pot.open("rb") as f:
            return {m.id: m for m in read_po(f) if m.id}


@pytest.fixture(scope="module")
def template() -> dict[str, object]:
    return extracted_messages()


def po(lang: str):
    with (catalog.LOCALES / lang / "LC_MESSAGES" / f"{catalog.DOMAIN}.po").open("rb") as f:
        return read_po(f, locale=lang)


def test_english_german_french_and_spanish_ship():
    assert catalog.shipped_languages() == ["en", "de", "es", "fr"]


def test_extraction_finds_the_pages_messages(template):
    # The check below can fail: the extraction does see the Draw page and the frame.
    assert {"Draw a digit", "Pen width", "Prediction {digit}, {percent} percent sure", "Digit Lab CNN"} <= set(template)
    assert len(template) > 60


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_has_a_translation(template, lang):
    translations = po(lang)
    missing = [m for m in template if not (translations.get(m) and translations.get(m).string)]
    fuzzy = [m.id for m in translations if m.id and m.fuzzy]
    assert not missing, f"{lang}: {len(missing)} messages without a translation, e.g. {missing[:5]}"
    assert not fuzzy, f"{lang}: fuzzy (unchecked) translations: {fuzzy[:5]}"
    # Every {placeholder} survives translation: .format() would raise or drop a value otherwise.
    import string

    for message in template:
        wanted = {f for _, f, _, _ in string.Formatter().parse(message) if f}
        got = {f for _, f, _, _ in string.Formatter().parse(translations.get(message).string) if f}
        assert wanted == got, (lang, message)


@pytest.mark.parametrize(("asked", "header", "chosen"), [
    ("de", "fr-FR,fr;q=0.9", "de"),                  # ?lang= wins
    (None, "fr-CH, fr;q=0.9, en;q=0.8", "fr"),        # else the browser's first shipped language
    (None, "it-IT,it;q=0.9,es;q=0.8,en;q=0.7", "es"),
    (None, "en;q=0.5, de;q=0.9", "de"),               # by quality, not by order
    ("xx", None, "en"),                               # neither: English
    ("../../etc", "*;q=1, ;;,q=x", "en"),             # hostile values: English, nothing read
    ("DE-at", None, "de"),
])
def test_the_language_comes_from_the_address_then_the_browser(asked, header, chosen):
    assert catalog.choose_language(asked, header) == chosen


def test_numbers_in_each_languages_format():
    assert [catalog.percent(0.9961, lang, 2) for lang in ("en", "de", "fr", "es")] == \
        ["99.61%", "99,61\xa0%", "99,61\xa0%", "99,61\xa0%"]
    assert [catalog.number(10000, lang) for lang in ("en", "de", "fr", "es")] == \
        ["10,000", "10.000", "10\u202f000", "10.000"]


def test_the_join_link_carries_the_language():
    assert catalog.with_language("http://10.0.0.5:8501", "de") == "http://10.0.0.5:8501/?lang=de"
    assert catalog.with_language("https://digits.example/?class=7B", "fr") == "https://digits.example/?class=7B&lang=fr"
    assert catalog.with_language("http://10.0.0.5:8501", "en") == "http://10.0.0.5:8501"


def test_a_translation_edited_on_disk_is_used_without_a_restart(tmp_path, monkeypatch):
    folder = tmp_path / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    source = (catalog.LOCALES / "de" / "LC_MESSAGES" / "digitlab.po").read_text(encoding="utf-8")
    (folder / "digitlab.po").write_text(source, encoding="utf-8")
    monkeypatch.setattr(catalog, "LOCALES", tmp_path)
    monkeypatch.setattr(catalog, "RECHECK_S", 0.0)
    monkeypatch.setattr(catalog, "_current", {})  # the real catalogs' cache stays as it was
    assert catalog.translations("de").gettext("Pen width") == "Stiftbreite"
    (folder / "digitlab.po").write_text(source.replace('"Stiftbreite"', '"Strichbreite"'), encoding="utf-8")
    import os

    os.utime(folder / "digitlab.po", ns=(1, 2_000_000_000_000_000_000))
    assert catalog.translations("de").gettext("Pen width") == "Strichbreite"


# --------------------------------------------------------------------------- the Draw page


def _strings(message) -> list[str]:
    """Every string field of a protobuf message, recursively: labels, values, help, options."""
    found = []
    for field, value in message.ListFields():
        values = list(value) if isinstance(value, (list, tuple)) or hasattr(value, "extend") else [value]
        for v in values:
            if isinstance(v, str):
                found.append(v)
            elif hasattr(v, "ListFields"):
                found.extend(_strings(v))
    return found


def shown_text(at: AppTest) -> list[str]:
    texts = []

    def walk(node):
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ListFields"):
            texts.extend(_strings(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return texts


def in_text(words: str, texts: list[str]) -> bool:
    """``words`` in a page's texts, or in a chart's JSON (which writes "é" as "\\u00e9")."""
    joined = " ".join(texts)
    return words in joined or json.dumps(words)[1:-1] in joined


def english_left(texts: list[str], lang: str, template) -> list[str]:
    """The English messages (with a translation that differs) found in the page's texts: a
    message of several words anywhere in a text, a one-word message as a whole text."""
    translations = po(lang)
    left = []
    for message in template:
        translated = translations.get(message)
        if not translated or translated.string == message:
            continue
        # The fixed words of a message with {placeholders}: its longest literal part.
        parts = [p for p, *_ in __import__("string").Formatter().parse(message) if p]
        literal = max(parts, key=len).strip(" .:,*()") if parts else ""
        if len(literal.split()) >= 3:
            if any(literal in t for t in texts):
                left.append(message)
        elif message in texts:
            left.append(message)
    return left


@pytest.fixture
def routed(monkeypatch):
    """As in tests/test_pages.py: every AppTest run is of a server already routed through app.py."""
    import streamlit.testing.v1.app_test as app_test
    from streamlit.runtime.pages_manager import PagesManager

    class RoutedPagesManager(PagesManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    monkeypatch.setattr(app_test, "PagesManager", RoutedPagesManager)


def page_in(lang: str, page: str, timeout: float = 60) -> AppTest:
    """``pages/<page>.py`` rendered once in ``lang``, as a browser asking ``?lang=`` gets it."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    at.query_params["lang"] = lang
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception
    return at


def assert_help_text(at: AppTest, page: str, lang: str) -> None:
    """The page's "What am I looking at?" box holds its help file in ``lang``."""
    label = catalog.translations(lang).gettext("What am I looking at?")
    help_box = next(e for e in at.expander if e.label == label)
    name = f"{page}.md" if lang == catalog.SOURCE else f"{page}.{lang}.md"
    assert help_box.markdown[0].value.strip() == \
        (REPO / "assets" / "help" / name).read_text(encoding="utf-8").strip()


@pytest.mark.skipif(not shipped_archs(MODEL_DIR), reason="no trained model in model/ yet")
@pytest.mark.parametrize("lang", ["en"] + TRANSLATED)
def test_the_draw_page_speaks_the_language(routed, template, lang):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception
    # A digit read (the keyboard's way): the prediction, its chart, the "Right?" question.
    at.selectbox(key="draw_sample").select_index(3).run()
    assert not at.exception
    texts = shown_text(at)
    translations = catalog.translations(lang)
    assert translations.gettext("Draw a digit") in [t.value for t in at.title]
    assert translations.gettext("Prediction") in [m.label for m in at.metric]
    caption = translations.gettext("Model **{name}** ({arch}) · right on {accuracy} of the {count} MNIST "
                                   "test digits · runs on {runtime}")
    assert any(t.startswith(caption.split("{")[0]) and caption.split("}")[-1] in t for t in texts)
    assert_help_text(at, "draw", lang)
    if lang == "en":
        # The check below can fail: on the English page it finds dozens of messages.
        assert len(english_left(texts, "de", template)) > 20
    else:
        assert english_left(texts, lang, template) == []
        # Figures the language's way: the confidence's decimal comma and its spaced % sign.
        confidence = next(m for m in at.metric if m.label == translations.gettext("Confidence")).value
        assert "," in confidence and confidence.endswith("\xa0%"), confidence


@pytest.mark.skipif(not shipped_archs(MODEL_DIR), reason="no trained model in model/ yet")
@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_inside_page_speaks_the_language(routed, template, lang):
    """The Inside page with a test digit (its first view): no English message left, help included."""
    at = page_in(lang, "inside", timeout=120)
    translations = catalog.translations(lang)
    assert translations.gettext("Inside the network") in [t.value for t in at.title]
    assert english_left(shown_text(at), lang, template) == []
    assert_help_text(at, "inside", lang)


@pytest.mark.skipif(not shipped_archs(MODEL_DIR), reason="no trained model in model/ yet")
@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_confusion_page_speaks_the_language(routed, template, lang):
    """The Confusion matrix page as it opens (on the most common mistake): no English message
    left, its help, its table's headings and its figures in the language's own format."""
    at = page_in(lang, "confusion")
    translations = catalog.translations(lang)
    assert translations.gettext("Confusion matrix") in [t.value for t in at.title]
    assert english_left(shown_text(at), lang, template) == []
    assert_help_text(at, "confusion", lang)
    accuracy = next(m for m in at.metric if m.label == translations.gettext("Test accuracy")).value
    assert "," in accuracy and accuracy.endswith("\xa0%"), accuracy
    headings = list(at.table[0].value.columns)
    assert headings[0] == translations.gettext("digit") != "digit", headings


@pytest.mark.skipif(not shipped_archs(MODEL_DIR), reason="no trained model in model/ yet")
@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_misclassified_page_speaks_the_language(routed, template, lang):
    """The Misclassified page with one mistake opened for a closer look: no English message
    left, its help, the captions' and the closer look's figures in the language's format."""
    at = page_in(lang, "mistakes")
    translations = catalog.translations(lang)
    assert translations.gettext("Misclassified digits") in [t.value for t in at.title]
    first = next(b for b in at.button if b.key and b.key.startswith("mistake_"))
    assert first.label.endswith("\xa0%)"), first.label  # "4 → 9 (98 %)": the language's percent
    first.click().run()
    assert not at.exception
    texts = shown_text(at)
    assert in_text(translations.gettext("The ten probabilities"), texts)
    assert english_left(texts, lang, template) == []
    assert_help_text(at, "mistakes", lang)


@pytest.mark.skipif(not shipped_archs(MODEL_DIR), reason="no trained model in model/ yet")
@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_training_page_speaks_the_language(routed, template, lang):
    """The Training curves page as it opens: no English message left (the charts' titles, axes
    and legends included), its help, its figures and its charts' numbers in the language's way."""
    at = page_in(lang, "training")
    translations = catalog.translations(lang)
    assert translations.gettext("Training curves") in [t.value for t in at.title]
    texts = shown_text(at)
    assert english_left(texts, lang, template) == []
    for chart_word in ("Loss (lower is better)", "Learning rate at the end of each epoch", "validation"):
        assert in_text(translations.gettext(chart_word), texts), chart_word
    assert '"separators":",' in " ".join(texts)  # 0,5 on the charts' axes, as in the text
    accuracy = next(m for m in at.metric if m.label == translations.gettext("Validation accuracy at best")).value
    assert "," in accuracy and accuracy.endswith("\xa0%"), accuracy
    assert_help_text(at, "training", lang)


@pytest.mark.skipif(not shipped_archs(MODEL_DIR), reason="no trained model in model/ yet")
@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_push_it_page_speaks_the_language(routed, template, lang):
    """The Push it page with a sample digit: no English message left (the sliders' names and
    help, written in model/, included), its help, its figures in the language's format."""
    from model.explaining.robustness import SLIDERS

    at = page_in(lang, "push", timeout=120)
    translations = catalog.translations(lang)
    assert translations.gettext("Push it") in [t.value for t in at.title]
    assert [s.label for s in at.slider] == [translations.gettext(s.label) for s in SLIDERS.values()]
    assert all(s.label != english.label for s, english in zip(at.slider, SLIDERS.values()))
    assert english_left(shown_text(at), lang, template) == []
    confidence = next(m for m in at.metric if m.label == translations.gettext("Confidence")).value
    assert "," in confidence and confidence.endswith("\xa0%"), confidence
    assert_help_text(at, "push", lang)


@pytest.mark.skipif(not shipped_archs(MODEL_DIR), reason="no trained model in model/ yet")
@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_models_page_speaks_the_language(routed, template, lang):
    """The Models page: no English message left (the table's headings and help, the chart, the
    downloads, the selected model's facts, the search), its help, figures the language's way."""
    at = page_in(lang, "models")
    translations = catalog.translations(lang)
    assert translations.gettext("Models") in [t.value for t in at.title]
    texts = shown_text(at)
    assert english_left(texts, lang, template) == []
    assert in_text(translations.gettext("Test accuracy: ours (bars) vs published (black line)"), texts)
    assert [b.label for b in at.get("download_button")][:1] == [translations.gettext("Download")]
    assert_help_text(at, "models", lang)


@pytest.mark.skipif(not shipped_archs(MODEL_DIR), reason="no trained model in model/ yet")
@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_train_page_speaks_the_language(routed, template, lang, tmp_path, monkeypatch):
    """The Train page with MNIST here and an empty data folder: no English message left (the
    settings, their help, the start button), its help text."""
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(tmp_path))
    at = page_in(lang, "train")
    translations = catalog.translations(lang)
    assert translations.gettext("Train a network") in [t.value for t in at.title]
    assert translations.gettext("Start") in [b.label for b in at.button]
    assert english_left(shown_text(at), lang, template) == []
    assert_help_text(at, "train", lang)

    # A fresh laptop without MNIST: the offer to get it, in the language too.
    from model.data.mnist_sources import MNIST_ENV

    monkeypatch.delenv(MNIST_ENV, raising=False)
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(tmp_path / "fresh"))
    at = page_in(lang, "train")
    assert any(b.label.startswith(translations.gettext("Get MNIST (about {size} MB)").split("(")[0])
               for b in at.button), [b.label for b in at.button]
    assert english_left(shown_text(at), lang, template) == []
