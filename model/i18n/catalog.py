"""Message catalogs, the language a request asks for, and numbers formatted for it.

The catalogs are gettext .po files under ``locales/`` (``pybabel extract`` / ``init`` / ``update``,
README "Adding a language"). They are compiled in memory when first used (and again when a .po
file changes), so a teacher who edits a translation only reloads the page, and no compiled .mo
can go stale beside its .po or sit in git as a binary nobody reviews.
"""
from __future__ import annotations

import functools
import gettext
import io
import re
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent, get_decimal_symbol, get_group_symbol

ROOT = Path(__file__).resolve().parent.parent.parent
LOCALES = ROOT / "locales"
DOMAIN = "digitlab"
SOURCE = "en"  # the language the code is written in: no catalog
LANG_PARAM = "lang"
_CODE = re.compile(r"^[a-z]{2,3}$")


def shipped_languages() -> list[str]:
    """English and every language with a catalog, in a fixed order."""
    found = sorted(p.parent.parent.name for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po")
                   if _CODE.match(p.parent.parent.name))
    return [SOURCE] + [code for code in found if code != SOURCE]


def _code(tag: str | None) -> str | None:
    """``de``, ``de-CH``, ``de_AT`` -> ``de``; anything else (a hostile value too) -> None."""
    if not tag:
        return None
    code = str(tag).strip().replace("_", "-").split("-")[0].lower()
    return code if _CODE.match(code) else None


def _accepted(header: str) -> list[str]:
    """An Accept-Language header's languages, most wanted first ("fr-CH, fr;q=0.9, en;q=0.8")."""
    ranked = []
    for position, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        match = re.search(r"q=([0-9.]+)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                continue
        code = _code(tag)
        if code and quality > 0:
            ranked.append((-quality, position, code))
    return [code for _, _, code in sorted(ranked)]


def shipped_code(asked: str | None) -> str | None:
    """The shipped language ``asked`` names ("de", "de-AT"), else None."""
    code = _code(asked)
    return code if code in shipped_languages() else None


def choose_language(asked: str | None = None, accept_language: str | None = None) -> str:
    """The language to show: ``asked`` (``?lang=xx``) if shipped, else the first shipped one of
    the browser's Accept-Language, else English."""
    if shipped_code(asked):
        return shipped_code(asked)
    shipped = shipped_languages()
    for code in _accepted(accept_language or ""):
        if code in shipped:
            return code
    return SOURCE


def _po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.lru_cache(maxsize=16)
def _compiled(lang: str, mtime_ns: int) -> gettext.NullTranslations:
    with _po_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


RECHECK_S = 2.0  # how often a catalog's file is looked at for changes
_current: dict[str, tuple[float, gettext.NullTranslations]] = {}


def translations(lang: str) -> gettext.NullTranslations:
    """The catalog of ``lang`` (English: none, the messages as written). A page asks for it on
    every message, so the file is looked at for changes at most every RECHECK_S seconds."""
    if lang == SOURCE or not _CODE.match(lang):
        return gettext.NullTranslations()
    now = time.monotonic()
    checked = _current.get(lang)
    if checked is not None and now - checked[0] < RECHECK_S:
        return checked[1]
    path = _po_path(lang)
    found = _compiled(lang, path.stat().st_mtime_ns) if path.is_file() else gettext.NullTranslations()
    _current[lang] = (now, found)
    return found


def language_name(lang: str) -> str:
    """The language's own name for itself: "Deutsch", "français"."""
    try:
        name = Locale.parse(lang).get_display_name(lang) or lang
    except (UnknownLocaleError, ValueError):
        return lang
    return name[:1].upper() + name[1:]


def percent(value: float, lang: str, decimals: int = 0) -> str:
    """0.983 -> "98%" (en), "98 %" (de, fr), "98 %" (es), with ``decimals`` places."""
    pattern = Locale.parse(lang).percent_formats[None].pattern  # where the sign and space go
    if decimals:
        pattern = pattern.replace("0", "0." + "0" * decimals, 1)
    return format_percent(value, pattern, locale=lang)


def number(value: float, lang: str, decimals: int = 0) -> str:
    """10000 -> "10,000" (en), "10.000" (de, es), "10 000" (fr)."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, pattern, locale=lang)


def short_number(value: float, lang: str) -> str:
    """As few places as the value needs (up to 3): 12 -> "12", -1.5 -> "-1,5" (de), 0.35 -> "0,35"."""
    return format_decimal(value, locale=lang)


def chart_separators(lang: str) -> str:
    """Plotly's ``separators`` for ``lang``: its decimal sign, then its thousands sign (".," in
    English, ",." in German), so a chart's axes and hover texts write figures as the page does."""
    return get_decimal_symbol(lang) + get_group_symbol(lang)


def with_language(address: str, lang: str) -> str:
    """``address`` with ``?lang=`` set to ``lang`` (English: left as it is), for the join link."""
    if lang == SOURCE:
        return address
    parts = urlsplit(address)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != LANG_PARAM] + [(LANG_PARAM, lang)]
    return urlunsplit(parts._replace(query=urlencode(query), path=parts.path or "/"))
