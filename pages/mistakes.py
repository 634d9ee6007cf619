"""Misclassified: every test digit the selected model got wrong, from
``model/<arch>/evaluation.json``; filter, sort, and click one to see all ten probabilities."""
from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st

from pages.common_artifacts import load_evaluation
from pages.common_errors import failure_shown
from pages.common_figures import FONT_SIZE, digit_figure, digit_image, probabilities_in_language, projector_layout
from pages.common_frame import ensure_router, page_help
from pages.common_language import N_, _, number, percent
from pages.common_models import friendly_name, open_selected

PER_PAGE = 20
COLUMNS = 5
ANY = "any"
SORTS = {
    N_("Most confident first"): lambda m: -m["confidence"],
    N_("Least confident first"): lambda m: m["confidence"],
    N_("Test-set order"): lambda m: m["index"],
}


def caption(m: dict) -> str:
    return f"{m['true']} → {m['predicted']} ({percent(m['confidence'])})"


@st.dialog(_("A closer look"), width="large")
def closer_look(m: dict) -> None:
    """One mistake, big: the digit as the model saw it and its ten probabilities."""
    st.markdown("### " + _("Test digit #{index}: a **{true}**, read as **{predicted}**").format(
        index=m["index"], true=m["true"], predicted=m["predicted"]))
    left, right = st.columns([2, 3], gap="medium")
    with left:
        st.plotly_chart(digit_figure(m["pixels"], height=280), width="content",
                        config={"displayModeBar": False}, key="mistake_digit")
    with right:
        probs = m.get("probabilities")
        if probs:
            # A validated copy: probability_figure skips validation, and restyling needs it.
            figure = projector_layout(go.Figure(probabilities_in_language(probs)), height=300,
                                      title=_("The ten probabilities"))
            figure.update_traces(textfont_size=FONT_SIZE)
            st.plotly_chart(figure, width="stretch", config={"displayModeBar": False},
                            key="mistake_probabilities")
    if probs:
        right = probs[m["true"]]
        st.markdown(_("The model gave **{predicted}** {given}; the right answer, **{true}**, only {right}.").format(
            predicted=m["predicted"], given=percent(probs[m["predicted"]], 1), true=m["true"],
            right=_("under {share}").format(share=percent(0.001, 1)) if right < 0.001 else percent(right, 1)))


def introduction() -> None:
    st.title(_("Misclassified digits"))
    page_help("mistakes")


def overview(arch: str, evaluation: dict, mistakes: list[dict]) -> None:
    st.markdown(_(
        "**{name}** got **{wrong}** of the {n} test digits wrong. "
        "Each is captioned *true → predicted (how sure the model was)*; click a caption for a closer "
        "look. Would you have read them right?"
    ).format(name=friendly_name(arch), wrong=number(len(mistakes)), n=number(evaluation.get("n", 10000))))
    if not mistakes:
        st.success(_("No mistakes at all."))
        st.stop()


def filtered(mistakes: list[dict]) -> list[dict]:
    """The mistakes the filters let through, in the chosen order; the page stops at none."""
    f1, f2, f3 = st.columns([1, 1, 2])
    any_label, sort_labels = _("any"), {order: _(order) for order in SORTS}
    any_digit = {"format_func": lambda d: any_label if d == ANY else str(d)}
    true_filter = f1.selectbox(_("True digit"), [ANY, *range(10)], key="mistakes_true", **any_digit)
    predicted_filter = f2.selectbox(_("Predicted digit"), [ANY, *range(10)], key="mistakes_predicted", **any_digit)
    order = f3.radio(_("Sort"), list(SORTS), horizontal=True, key="mistakes_sort", format_func=sort_labels.get)
    shown = [
        m for m in mistakes
        if (true_filter == ANY or m["true"] == true_filter)
        and (predicted_filter == ANY or m["predicted"] == predicted_filter)
    ]
    shown.sort(key=SORTS[order])
    if not shown:
        st.info(_("No mistakes match these filters."))
        st.stop()
    return shown


def one_page(shown: list[dict]) -> list[dict]:
    """The ``PER_PAGE`` mistakes of the page chosen (a page picker when there are several)."""
    pages = math.ceil(len(shown) / PER_PAGE)
    p1, p2 = st.columns([1, 3])
    page = 1
    if pages > 1:
        page = p1.number_input(_("Page (of {pages})").format(pages=number(pages)), 1, pages, 1, key=f"mistakes_page_{pages}")
    start = (page - 1) * PER_PAGE
    on_page = shown[start : start + PER_PAGE]
    p2.markdown("<br>" + _("Showing **{first}–{last}** of **{count}** mistakes").format(
        first=number(start + 1), last=number(start + len(on_page)), count=number(len(shown))),
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
                         alt=_("A handwritten {true} the model read as {predicted}").format(true=m["true"], predicted=m["predicted"]))
                if st.button(caption(m), key=f"mistake_{m['index']}", width="stretch",
                             help=_("Test digit #{index}: see its ten probabilities").format(index=m["index"])):
                    chosen = m
    return chosen


ensure_router()
introduction()
arch, evaluation = open_selected(load_evaluation, _("The misclassified digits of {arch}"))
with failure_shown(_("The misclassified digits of {arch}").format(arch=arch)):
    mistakes = evaluation.get("misclassified", [])
    overview(arch, evaluation, mistakes)
    chosen = mistake_grid(one_page(filtered(mistakes)))
    if chosen is not None:
        closer_look(chosen)
