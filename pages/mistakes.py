"""Misclassified: every test digit the selected model got wrong, from
``model/<arch>/evaluation.json``; filter, sort, and pick one to see all ten probabilities."""
from __future__ import annotations

import math

import streamlit as st

from model.artifacts import ArtifactError
from pages.common import (
    ensure_router,
    FONT_SIZE,
    digit_figure,
    digit_image,
    failure_shown,
    load_evaluation,
    probability_figure,
    projector_layout,
    selected_arch,
    show_failure,
)

PER_PAGE = 20
COLUMNS = 5
ANY = "any"
SORTS = {
    "Most confident first": lambda m: -m["confidence"],
    "Least confident first": lambda m: m["confidence"],
    "Test-set order": lambda m: m["index"],
}
PICK = "mistakes_pick"  # the test-set index of the digit shown in detail


def caption(m: dict) -> str:
    return f"{m['true']} → {m['predicted']} ({m['confidence']:.0%})"


def pick(index: int) -> None:
    st.session_state[PICK] = index


ensure_router()
st.title("Misclassified digits")

arch = selected_arch()
if arch is None:
    st.info("No trained model yet. Train one: `python -m model.train --arch cnn --data-dir $MNIST_DIR`")
    st.stop()
try:
    evaluation = load_evaluation(arch)
except ArtifactError as error:
    show_failure(error, f"The misclassified digits of {arch}")
    st.stop()

with failure_shown(f"The misclassified digits of {arch}"):
    mistakes = evaluation.get("misclassified", [])
    st.markdown(
        f"**{arch}** got **{len(mistakes)}** of the {evaluation.get('n', 10000):,} test digits wrong. "
        "Each is captioned *true → predicted (how sure the model was)*. Would you have read them right?"
    )
    if not mistakes:
        st.success("No mistakes at all.")
        st.stop()

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

    pages = math.ceil(len(shown) / PER_PAGE)
    p1, p2 = st.columns([1, 3])
    page = 1
    if pages > 1:
        page = p1.number_input(f"Page (of {pages})", 1, pages, 1, key=f"mistakes_page_{pages}")
    start = (page - 1) * PER_PAGE
    on_page = shown[start : start + PER_PAGE]
    p2.markdown(f"<br>Showing **{start + 1}–{start + len(on_page)}** of **{len(shown)}** mistakes",
                unsafe_allow_html=True)

    # The digit in detail: the one last clicked if it is still among the filtered mistakes.
    by_index = {m["index"]: m for m in shown}
    if st.session_state.get(PICK) not in by_index:
        st.session_state[PICK] = on_page[0]["index"]

    grid, detail = st.columns([5, 3], gap="large")
    with grid:
        for row_start in range(0, len(on_page), COLUMNS):
            row = st.columns(COLUMNS, gap="small")
            for cell, m in zip(row, on_page[row_start : row_start + COLUMNS]):
                with cell:
                    st.image(digit_image(m["pixels"]), width="stretch")
                    st.button(
                        caption(m), key=f"mistake_{m['index']}", on_click=pick, args=(m["index"],),
                        type="primary" if m["index"] == st.session_state[PICK] else "secondary",
                        width="stretch",
                    )
    with detail:
        chosen = st.selectbox(
            "Look closer at", list(by_index), key=PICK,
            format_func=lambda i: f"#{i}: {caption(by_index[i])}",
            help="Or click a digit's caption.",
        )
        m = by_index[chosen]
        st.markdown(
            f"### Test digit #{m['index']}: a **{m['true']}**, read as **{m['predicted']}**"
        )
        st.plotly_chart(digit_figure(m["pixels"], height=300), width="content",
                        config={"displayModeBar": False}, key="mistake_digit")
        probs = m.get("probabilities")
        if probs:
            st.markdown(f"The model's ten probabilities: {m['predicted']} got "
                        f"**{probs[m['predicted']]:.1%}**, the right answer {m['true']} only "
                        f"**{probs[m['true']]:.1%}**.")
            figure = projector_layout(probability_figure(probs), height=340, title="The ten probabilities")
            figure.update_traces(textfont_size=FONT_SIZE)
            st.plotly_chart(figure, width="stretch",
                            config={"displayModeBar": False}, key="mistake_probabilities")
