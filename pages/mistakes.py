"""Misclassified: every test digit the selected model got wrong, from
``model/<arch>/evaluation.json``; filter, sort, and click one to see all ten probabilities."""
from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st

from pages.common_artifacts import load_evaluation
from pages.common_errors import failure_shown
from pages.common_figures import FONT_SIZE, digit_figure, digit_image, probability_figure, projector_layout
from pages.common_frame import ensure_router, page_help
from pages.common_models import friendly_name, open_selected

PER_PAGE = 20
COLUMNS = 5
ANY = "any"
SORTS = {
    "Most confident first": lambda m: -m["confidence"],
    "Least confident first": lambda m: m["confidence"],
    "Test-set order": lambda m: m["index"],
}


def caption(m: dict) -> str:
    return f"{m['true']} → {m['predicted']} ({m['confidence']:.0%})"


@st.dialog("A closer look", width="large")
def closer_look(m: dict) -> None:
    """One mistake, big: the digit as the model saw it and its ten probabilities."""
    st.markdown(f"### Test digit #{m['index']}: a **{m['true']}**, read as **{m['predicted']}**")
    left, right = st.columns([2, 3], gap="medium")
    with left:
        st.plotly_chart(digit_figure(m["pixels"], height=280), width="content",
                        config={"displayModeBar": False}, key="mistake_digit")
    with right:
        probs = m.get("probabilities")
        if probs:
            # A validated copy: probability_figure skips validation, and restyling needs it.
            figure = projector_layout(go.Figure(probability_figure(probs)), height=300,
                                      title="The ten probabilities")
            figure.update_traces(textfont_size=FONT_SIZE)
            st.plotly_chart(figure, width="stretch", config={"displayModeBar": False},
                            key="mistake_probabilities")
    if probs:
        right = probs[m["true"]]
        st.markdown(f"The model gave **{m['predicted']}** {probs[m['predicted']]:.1%}; the right "
                    f"answer, **{m['true']}**, only {'under 0.1%' if right < 0.001 else f'{right:.1%}'}.")


def introduction() -> None:
    st.title("Misclassified digits")
    page_help("mistakes")


def overview(arch: str, evaluation: dict, mistakes: list[dict]) -> None:
    st.markdown(
        f"**{friendly_name(arch)}** got **{len(mistakes)}** of the {evaluation.get('n', 10000):,} test "
        "digits wrong. "
        "Each is captioned *true → predicted (how sure the model was)*; click a caption for a closer "
        "look. Would you have read them right?"
    )
    if not mistakes:
        st.success("No mistakes at all.")
        st.stop()


def filtered(mistakes: list[dict]) -> list[dict]:
    """The mistakes the filters let through, in the chosen order; the page stops at none."""
    f1, f2, f3 = st.columns([1, 1, 2])
    true_filter = f1.selectbox("True digit", [ANY, *range(10)], key="mistakes_true")
    predicted_filter = f2.selectbox("Predicted digit", [ANY, *range(10)], key="mistakes_predicted")
    order = f3.radio("Sort", list(SORTS), horizontal=True, key="mistakes_sort")
    shown = [
        m for m in mistakes
        if (true_filter == ANY or m["true"] == true_filter)
        and (predicted_filter == ANY or m["predicted"] == predicted_filter)
    ]
    shown.sort(key=SORTS[order])
    if not shown:
        st.info("No mistakes match these filters.")
        st.stop()
    return shown


def one_page(shown: list[dict]) -> list[dict]:
    """The ``PER_PAGE`` mistakes of the page chosen (a page picker when there are several)."""
    pages = math.ceil(len(shown) / PER_PAGE)
    p1, p2 = st.columns([1, 3])
    page = 1
    if pages > 1:
        page = p1.number_input(f"Page (of {pages})", 1, pages, 1, key=f"mistakes_page_{pages}")
    start = (page - 1) * PER_PAGE
    on_page = shown[start : start + PER_PAGE]
    p2.markdown(f"<br>Showing **{start + 1}–{start + len(on_page)}** of **{len(shown)}** mistakes",
                unsafe_allow_html=True)
    return on_page


def mistake_grid(on_page: list[dict]) -> dict | None:
    """The digits in rows of ``COLUMNS``; the one whose caption was clicked, if any."""
    # Each caption is a button: click it (or Tab to it and press Enter) for a closer look.
    chosen = None
    for row_start in range(0, len(on_page), COLUMNS):
        row = st.columns(COLUMNS, gap="medium")
        for cell, m in zip(row, on_page[row_start : row_start + COLUMNS]):
            with cell:
                st.image(digit_image(m["pixels"], scale=8), width="stretch",
                         alt=f"A handwritten {m['true']} the model read as {m['predicted']}")
                if st.button(caption(m), key=f"mistake_{m['index']}", width="stretch",
                             help=f"Test digit #{m['index']}: see its ten probabilities"):
                    chosen = m
    return chosen


ensure_router()
introduction()
arch, evaluation = open_selected(load_evaluation, "The misclassified digits of {arch}")
with failure_shown(f"The misclassified digits of {arch}"):
    mistakes = evaluation.get("misclassified", [])
    overview(arch, evaluation, mistakes)
    chosen = mistake_grid(one_page(filtered(mistakes)))
    if chosen is not None:
        closer_look(chosen)
