"""The frame every page runs in: app.py's navigation (and the way back into it for a page opened
before any session ran it), the assets' stylesheets and help texts, and the sidebar folded on
touch tablets. A helper module, not a page."""
from __future__ import annotations

import functools
from pathlib import Path

import streamlit as st

from pages.common_language import _, language

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@functools.lru_cache(maxsize=32)
def asset_text(name: str) -> str:
    """A file of assets/ (CSS, JavaScript, help text), read once per server."""
    return (ASSETS / name).read_text(encoding="utf-8")


def style(name: str) -> None:
    """Apply a stylesheet of assets/ to the page."""
    st.html(f"<style>{asset_text(name)}</style>")


def help_text(page: str, lang: str) -> str:
    """assets/help/<page>.<lang>.md, else the English assets/help/<page>.md."""
    translated = ASSETS / "help" / f"{page}.{lang}.md"
    return asset_text(translated.relative_to(ASSETS).as_posix() if translated.is_file() else f"help/{page}.md")


def page_help(page: str, expanded: bool = False) -> None:
    """The page's "What am I looking at?" box, its text from assets/help/<page>[.<lang>].md."""
    with st.expander(_("What am I looking at?"), icon=":material/help:", expanded=expanded):
        st.markdown(help_text(page, language()))


# Declared once, when the module is first imported; mounted on every run.
_FOLD_SIDEBAR = st.components.v2.component("digitlab.fold_sidebar", js=asset_text("fold_sidebar.js"))


def fold_sidebar_on_tablets() -> None:
    """The sidebar starts folded on touch screens narrower than a laptop's (see the script)."""
    with st.sidebar, st.container(key="fold-sidebar"):
        _FOLD_SIDEBAR(key="fold-sidebar-script")


# Set by app.py in every run it frames, so a page knows it runs inside app.py's navigation.
FRAMED_KEY = "framed_by_app"


def mark_framed() -> None:
    st.session_state[FRAMED_KEY] = True


def ensure_router() -> None:
    """Call first thing on a page that app.py's st.navigation lists (not needed on the default
    page: app.py is it).

    A folder named ``pages/`` beside the main script is Streamlit's old-style multipage app
    until some session runs ``st.navigation``: "as soon as any session of your app executes the
    st.navigation command, your app will ignore the pages/ directory (across all sessions)"
    (Streamlit's st.navigation reference). So a fresh server's first visitor on ``/confusion``
    gets pages/confusion.py alone: no model picker, no wide layout, every file of pages/ listed.
    A page run that app.py did not frame calls st.navigation itself, which switches the server
    to page-and-navigation for good, and reruns: the rerun goes through app.py to the same URL.
    That call lists the folder's files as the old-style app did, so the URL being opened is
    among them and stays where it is.
    """
    if st.session_state.get(FRAMED_KEY):
        return
    folder = Path(__file__).parent
    scripts = sorted(f for f in folder.glob("*.py") if f.name != "__init__.py")
    st.navigation([st.Page(f, default=f.name == "draw.py") for f in scripts], position="hidden")
    st.rerun()
