"""Friendly errors: what went wrong, said on the page in plain words with the command that makes
a missing or damaged file again, and the cause on the server's stderr; a page never shows a
traceback. A helper module, not a page."""
from __future__ import annotations

import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from model.serving import artifacts
from pages.common_artifacts import is_search_error

SEARCH_COMMAND = "python -m model.training.search"


def shown_path(path: Path) -> str:
    """A path as short as it can be said: relative to the repository (or the working folder)
    when inside it, else just ``<folder>/<file>``; never the server's absolute path."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return artifacts.short_path(path)


def show_failure(error: BaseException, what: str) -> None:
    """A friendly message on the page, the cause on stderr; the rest of the app goes on."""
    if is_search_error(error):
        st.error(
            f"**{what} is unavailable:** `{shown_path(error.path)}` is {error.problem}.\n\n"
            f"Regenerate it with `{SEARCH_COMMAND}`."
        )
    elif isinstance(error, artifacts.ArtifactError):
        st.error(
            f"**{what} is unavailable:** `{shown_path(error.path)}` is {error.problem}.\n\n"
            f"Regenerate it with `{artifacts.train_command(error.arch)}`."
        )
    else:
        st.error(f"**{what} is unavailable:** {error}")
    print(f"[digit-lab] {what}: {type(error).__name__}: {error}", file=sys.stderr)
    traceback.print_exception(error, file=sys.stderr)


@contextmanager
def failure_shown(what: str):
    """Run a section of a page; whatever goes wrong in it becomes a message, not a traceback.

    ``st.stop()`` and reruns pass through (they are not ``Exception``s)."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - a page must never show a traceback
        show_failure(error, what)
