"""Confusion matrix: which digits the selected model mistakes for which, from
``model/<arch>/evaluation.json``. Click a cell (or pick it below) to see the test digits in it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages.common_artifacts import load_evaluation
from pages.common_colours import DIAGONAL_GREY, DIAGONAL_TEXT, ERROR_SCALE
from pages.common_errors import failure_shown
from pages.common_figures import digit_grid, projector_layout
from pages.common_frame import ensure_router, page_help, style
from pages.common_language import _, number, percent
from pages.common_models import open_selected

DIGITS = list(range(10))
CELL_TRUE, CELL_PREDICTED = "confusion_true", "confusion_predicted"


def introduction() -> None:
    st.title(_("Confusion matrix"))
    style("confusion.css")
    page_help("confusion")


def most_common_mistake(matrix: np.ndarray) -> tuple[int, int, int]:
    """The off-diagonal cell with the most digits: (true digit, predicted digit, count)."""
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    true_digit, predicted = np.unravel_index(off.argmax(), off.shape)
    return int(true_digit), int(predicted), int(off[true_digit, predicted])


def summary(arch: str, evaluation: dict, matrix: np.ndarray) -> None:
    """What the matrix shows, and four figures: accuracy, errors, loss, the most common mistake."""
    n = int(evaluation.get("n", matrix.sum()))
    errors = int(evaluation.get("errors", matrix.sum() - np.trace(matrix)))
    worst_true, worst_predicted, worst_count = most_common_mistake(matrix)
    st.markdown(_(
        "**{arch}** on the {n} MNIST test digits. Rows: the digit it really is; "
        "columns: what the model said. The grey diagonal is right; **every coloured cell is a "
        "mistake**, darker for more."
    ).format(arch=arch, n=number(n)))
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(_("Test accuracy"), percent(evaluation["accuracy"], 2))
    m2.metric(_("Errors (of {n})").format(n=number(n)), number(errors))
    m3.metric(_("Test loss"), number(evaluation["loss"], 4))
    m4.metric(
        _("Most common mistake"),
        f"{worst_true} → {worst_predicted}" if worst_count else _("none"),
        _("{count} digits").format(count=number(worst_count)) if worst_count else None,
        delta_color="off", delta_arrow="off",
    )


def matrix_figure(matrix: np.ndarray, normalised: bool) -> go.Figure:
    """The mistakes coloured by how many, the diagonal grey, and a clickable square on every cell."""
    support = matrix.sum(axis=1, keepdims=True).clip(min=1)
    shares = matrix / support
    values = shares if normalised else matrix

    def label(v: float, count: int) -> str:
        if count == 0:
            return ""
        return percent(v, 1) if normalised else number(count)

    text = [[label(values[t, p], matrix[t, p]) for p in DIGITS] for t in DIGITS]
    eye = np.eye(10, dtype=bool)
    errors_z = np.where(eye, np.nan, values.astype(float))
    diagonal_z = np.where(eye, 1.0, np.nan)
    off_text = [[("" if t == p else text[t][p]) for p in DIGITS] for t in DIGITS]
    diagonal_text = [[(text[t][p] if t == p else "") for p in DIGITS] for t in DIGITS]
    top = float(np.nanmax(errors_z)) or 1.0

    fig = go.Figure()
    fig.add_trace(go.Heatmap(
        x=DIGITS, y=DIGITS, z=errors_z, zmin=0, zmax=top, colorscale=ERROR_SCALE,
        text=off_text, texttemplate="%{text}", textfont=dict(size=20), hoverinfo="skip",
        xgap=2, ygap=2, showscale=False,
    ))
    fig.add_trace(go.Heatmap(
        x=DIGITS, y=DIGITS, z=diagonal_z, zmin=0, zmax=1, showscale=False, hoverinfo="skip",
        colorscale=[[0, DIAGONAL_GREY], [1, DIAGONAL_GREY]], text=diagonal_text,
        texttemplate="%{text}", textfont=dict(size=16, color=DIAGONAL_TEXT), xgap=2, ygap=2,
    ))
    # Heatmaps cannot be selected in Plotly, so a clickable (invisible) square sits on every
    # cell; the clicked one lights up with an outline.
    cells = [(t, p) for t in DIGITS for p in DIGITS]
    fig.add_trace(go.Scatter(
        x=[p for _, p in cells], y=[t for t, _ in cells], mode="markers", name="cells",
        marker=dict(symbol="square-open", size=44, color="#111827", opacity=0, line=dict(width=4)),
        selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=0)),
        customdata=[[int(matrix[t, p]), float(shares[t, p])] for t, p in cells],
        hovertemplate=_("true %{y}, predicted %{x}<br>%{customdata[0]} digits "
                        "(%{customdata[1]:.1%} of the %{y}s)") + "<extra></extra>",
        showlegend=False,
    ))
    projector_layout(fig, height=700, margin=dict(l=10, r=10, t=10, b=10),
                     plot_bgcolor="white", clickmode="event+select", dragmode=False)
    fig.update_xaxes(title=_("predicted digit"), tickmode="array", tickvals=DIGITS, side="top",
                     tickfont=dict(size=22), showgrid=False, zeroline=False, range=[-0.5, 9.5],
                     constrain="domain")
    fig.update_yaxes(title=_("true digit"), tickmode="array", tickvals=DIGITS, autorange="reversed",
                     tickfont=dict(size=22), showgrid=False, zeroline=False, scaleanchor="x",
                     constrain="domain")
    return fig


def per_digit_table(evaluation: dict) -> None:
    st.markdown("#### " + _("Per digit"))
    table = pd.DataFrame(
        {
            _("digit"): str(row["digit"]),
            _("precision"): percent(row["precision"], 1),
            _("recall"): percent(row["recall"], 1),
            "F1": percent(row["f1"], 1),
            _("test digits"): number(row["support"]),
        }
        for row in evaluation["per_class"]
    )
    st.table(table, hide_index=True)
    st.caption(_("**Precision**: when it says *d*, how often it is right. "
                 "**Recall**: of the real *d*s, how many it finds."))


def matrix_and_table(arch: str, evaluation: dict, matrix: np.ndarray):
    """The matrix, then the per-digit table; the chart's selection event."""
    normalised = st.toggle(
        _("Row-normalised: share of each true digit"), key="confusion_normalised",
        help=_("Each row divided by how many test digits of that kind there are, so rare and "
               "common digits compare fairly."),
    )
    # The table under the matrix, not beside it: beside it, its five columns were clipped on a
    # 1280 px projector and on every tablet (157-207 px wide there), in every language.
    with st.container(key="confusion-chart"):
        event = st.plotly_chart(
            matrix_figure(matrix, normalised), on_select="rerun", selection_mode="points",
            key=f"confusion_heatmap_{arch}", width="stretch", config={"displayModeBar": False},
        )
    with st.container(key="confusion-per-digit"):
        per_digit_table(evaluation)
    return event


def chosen_cell(event, matrix: np.ndarray) -> tuple[int, int]:
    """The cell to show: a click on the chart, else the two boxes below (keyboard friendly);
    a click sets the boxes, so the two always agree. It starts on the most common mistake."""
    points = (event.selection.points if event and event.selection else None) or []
    clicked = (int(points[0]["y"]), int(points[0]["x"])) if points else None
    if clicked is not None and clicked != st.session_state.get("confusion_last_click"):
        st.session_state[CELL_TRUE], st.session_state[CELL_PREDICTED] = clicked
    st.session_state["confusion_last_click"] = clicked
    worst_true, worst_predicted, _count = most_common_mistake(matrix)
    st.session_state.setdefault(CELL_TRUE, worst_true)
    st.session_state.setdefault(CELL_PREDICTED, worst_predicted)

    st.subheader(_("The digits in a cell"))
    b1, b2, _rest = st.columns([1, 1, 2])
    true_digit = b1.selectbox(_("True digit"), DIGITS, key=CELL_TRUE)
    predicted = b2.selectbox(_("Predicted digit"), DIGITS, key=CELL_PREDICTED)
    return true_digit, predicted


def cell_digits(evaluation: dict, matrix: np.ndarray, true_digit: int, predicted: int) -> None:
    """The test digits of one cell: some read right on the diagonal, else every such mistake."""
    count = int(matrix[true_digit, predicted])
    if true_digit == predicted:
        examples = evaluation.get("correct_examples", {}).get(str(true_digit), [])
        st.markdown("#### " + (
            _("{count} {digit}s read correctly: the first {shown}").format(
                count=number(count), digit=true_digit, shown=len(examples))
            if count else _("No {digit} was read correctly").format(digit=true_digit)
        ))
        digit_grid(examples, lambda d: f"**{percent(d['confidence'])}** #{d['index']}", columns=8)
    else:
        examples = [m for m in evaluation.get("misclassified", [])
                    if m["true"] == true_digit and m["predicted"] == predicted]
        examples.sort(key=lambda m: -m["confidence"])
        if not examples:
            st.markdown("#### " + _("No {digit} was taken for a {predicted}.").format(
                digit=true_digit, predicted=predicted))
        else:
            st.markdown("#### " + _(
                "{count} × a {digit} the model read as {predicted}, most confident "
                "first (with how sure it was, and the test-set number)"
            ).format(count=len(examples), digit=true_digit, predicted=predicted))
            digit_grid(examples, lambda d: f"**{percent(d['confidence'])}** #{d['index']}", columns=8)


ensure_router()
introduction()
arch, evaluation = open_selected(load_evaluation, _("The confusion matrix of {arch}"))
with failure_shown(_("The confusion matrix of {arch}").format(arch=arch)):
    matrix = np.asarray(evaluation["confusion_matrix"], dtype=int)
    summary(arch, evaluation, matrix)
    event = matrix_and_table(arch, evaluation, matrix)
    cell_digits(evaluation, matrix, *chosen_cell(event, matrix))
