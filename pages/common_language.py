"""The language of this session's pages: chosen once per run by app.py from ``?lang=xx``, else
the browser's Accept-Language, else English (model/i18n); the sidebar's picker; ``_`` to
translate a message and ``percent``/``number`` to write a figure the language's way. A helper
module, not a page."""
from __future__ import annotations

import streamlit as st

from model.i18n import N_, catalog  # noqa: F401  (N_ for the pages: one marker everywhere)
from model.i18n.catalog import LANG_PARAM, SOURCE

LANG_KEY = "language"
ASKED_KEY = "language_asked"  # what ?lang= or the picker chose, for the whole session
PICKER_KEY = "language_picker"


def _header(name: str) -> str | None:
    try:
        return st.context.headers.get(name)
    except Exception:  # no request behind this run (a headless test): no header
        return None


def set_language() -> str:
    """Decide this run's language (app.py, first thing in every run). A language asked for in
    the address or the picker stays for the session: a move to another page, which drops the
    address's query, puts it back there."""
    asked = catalog.shipped_code(st.query_params.get(LANG_PARAM) or st.session_state.get(ASKED_KEY))
    lang = asked or catalog.choose_language(None, _header("Accept-Language"))
    if asked:
        st.session_state[ASKED_KEY] = asked
        if st.query_params.get(LANG_PARAM) != asked:
            st.query_params[LANG_PARAM] = asked
    st.session_state[LANG_KEY] = lang
    return lang


def language() -> str:
    lang = st.session_state.get(LANG_KEY)
    return lang if lang else set_language()


def _(message: str) -> str:
    """``message`` in this session's language (as written when it has no translation)."""
    return catalog.translations(language()).gettext(message)


def percent(value: float, decimals: int = 0) -> str:
    return catalog.percent(value, language(), decimals)


def number(value: float, decimals: int = 0) -> str:
    return catalog.number(value, language(), decimals)


def short_number(value: float) -> str:
    return catalog.short_number(value, language())


def _picked() -> None:
    lang = st.session_state[PICKER_KEY]
    # In the address, so a reload, a shared link and big-screen mode keep it.
    st.query_params[LANG_PARAM] = lang
    st.session_state[LANG_KEY] = st.session_state[ASKED_KEY] = lang


def language_picker() -> None:
    """The sidebar's language choice."""
    shipped = catalog.shipped_languages()
    st.session_state[PICKER_KEY] = language()
    # Radio buttons, not a drop-down: every language in sight, each in its own name, and the
    # sidebar's one drop-down stays the model picker.
    st.sidebar.radio(_("Language"), shipped, key=PICKER_KEY, on_change=_picked, horizontal=True,
                     format_func=catalog.language_name)


def join_link(address: str) -> str:
    """The join address, carrying this session's language unless it is English."""
    return catalog.with_language(address, language()) if language() != SOURCE else address
