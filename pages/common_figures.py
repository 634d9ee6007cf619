"""The pictures the pages draw: a digit (a chart, an enlarged pixel grid or a picture), the ten
probabilities with the winner highlighted, and the diagnostics pages' charts, sized for a
projector and coloured the same for a model wherever it is drawn. A helper module, not a page."""
from __future__ import annotations

import functools

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from model.data.mnist import unit_pixels
from model.i18n.catalog import chart_separators
from pages.common_colours import MODEL_PALETTE, OTHER_BAR, WINNER_BAR
from pages.common_language import _, language, percent


def _unit_range(pixels) -> np.ndarray:
    """Pixels as float32 in [0, 1], whether given as 0-255 (the artifacts) or already in [0, 1]."""
    image = np.asarray(pixels, dtype=np.float32)
    return unit_pixels(image) if image.max() > 1.0 else image


def digit_figure(pixels, height: int = 280, grid: bool = True) -> go.Figure:
    """A 28x28 digit as a heatmap with visible pixels (white ink on black, as the model sees it)."""
    image = _unit_range(pixels)
    fig = go.Figure(
        go.Heatmap(
            z=image[::-1],
            colorscale="gray",
            zmin=0,
            zmax=1,
            showscale=False,
            xgap=1 if grid else 0,
            ygap=1 if grid else 0,
            hovertemplate="x %{x}, y %{customdata}: %{z:.2f}<extra></extra>",
            customdata=np.tile(np.arange(27, -1, -1)[:, None], (1, 28)),
        )
    )
    fig.update_layout(
        height=height,
        width=height,
        margin=dict(l=0, r=0, t=0, b=0),
        plot_bgcolor="#262730",
        dragmode=False,  # a swipe over the picture scrolls the page on a touch screen
        xaxis=dict(visible=False, constrain="domain"),
        yaxis=dict(visible=False, scaleanchor="x"),
    )
    return fig


def pixel_grid(pixels, cell: int = 10, gap: float = 0.15) -> np.ndarray:
    """A 28x28 digit enlarged to ``cell`` px a pixel, with a thin grey line between pixels, as
    a uint8 greyscale image for ``st.image``: the Draw page's "what the model sees" view.
    Far lighter for the browser than a plotly heatmap, which it redraws on every stroke."""
    image = _unit_range(pixels)
    big = np.repeat(np.repeat(image, cell, axis=0), cell, axis=1)
    big[cell - 1 :: cell, :] = gap
    big[:, cell - 1 :: cell] = gap
    return np.round(big * 255).astype(np.uint8)


DIGIT_LABELS = [str(d) for d in range(10)]


@functools.lru_cache(maxsize=4)
def _probability_layout(height: int) -> dict:
    # Validated by plotly once per height, with Streamlit's plotly template filled in (the
    # page's theme recolours it), so probability_figure need not validate it on every stroke.
    return go.Figure(
        layout=dict(
            height=height,
            margin=dict(l=10, r=10, t=10, b=10),
            yaxis=dict(range=[0, 1.12], tickformat=".0%", title=None),
            xaxis=dict(title=None, tickfont=dict(size=22), tickmode="array", tickvals=DIGIT_LABELS),
            font=dict(size=16),
            showlegend=False,
        )
    ).to_dict()["layout"]


def probability_figure(probabilities, height: int = 320, labels: list[str] | None = None,
                       hover: str = "digit %{x}: %{y:.2%}") -> go.Figure:
    """All ten class probabilities, the winner highlighted; ``labels`` above the bars (default:
    whole percentages, none under half a percent), ``hover`` the pointer's text (a page in
    another language passes its own of both)."""
    p = np.asarray(probabilities, dtype=float)
    winner = int(p.argmax())
    bar = dict(
        type="bar",
        x=DIGIT_LABELS,
        y=p.tolist(),
        marker=dict(color=[WINNER_BAR if d == winner else OTHER_BAR for d in range(10)]),
        text=labels if labels is not None else [f"{v:.0%}" if v >= 0.005 else "" for v in p],
        textposition="outside",
        textfont=dict(size=16),
        hovertemplate=hover + "<extra></extra>",
    )
    # Built unvalidated: plotly's validation is most of what a stroke's page run costs the
    # server (bench/README.md), which a class of thirty shares. The layout was validated once;
    # a test checks that validating the whole figure changes nothing.
    return go.Figure(data=[bar], layout=_probability_layout(height), _validate=False)


def probabilities_in_language(probabilities, height: int = 320) -> go.Figure:
    """``probability_figure`` as a page shows it: the bars' labels and the pointer's text in this
    session's language ("98 %", "Ziffer 3")."""
    return probability_figure(probabilities, height=height,
                              labels=[percent(v) if v >= 0.005 else "" for v in probabilities],
                              hover=_("digit %{x}: %{y:.2%}"))


# --------------------------------------------------------------------------- diagnostics pages
# Projector-friendly defaults: big type, thick lines, a colour-blind-safe palette (common_colours).
PALETTE = MODEL_PALETTE
FONT_SIZE = 18


def projector_layout(fig: go.Figure, height: int = 420, **layout) -> go.Figure:
    """Large fonts and roomy margins, so a chart reads from the back of a classroom."""
    fig.update_layout(
        height=height,
        font=dict(size=FONT_SIZE),
        title_font=dict(size=FONT_SIZE + 4),
        legend=dict(font=dict(size=FONT_SIZE - 2)),
        hoverlabel=dict(font_size=FONT_SIZE),
        margin=dict(l=10, r=10, t=50, b=10),
        # No drag-to-zoom: on a touch screen a swipe over a chart scrolls the page instead of
        # being caught by the chart. Hover and click (the confusion matrix's cells) still work.
        dragmode=False,
        separators=chart_separators(language()),
    )
    fig.update_layout(**layout)
    fig.update_xaxes(title_font=dict(size=FONT_SIZE + 2), tickfont=dict(size=FONT_SIZE))
    fig.update_yaxes(title_font=dict(size=FONT_SIZE + 2), tickfont=dict(size=FONT_SIZE))
    return fig


def model_color(arch: str, archs: list[str]) -> str:
    """The same colour for a model wherever it is drawn."""
    return PALETTE[archs.index(arch) % len(PALETTE)] if arch in archs else PALETTE[0]


def digit_image(pixels, scale: int = 5) -> Image.Image:
    """A 28x28 digit as a crisp, enlarged picture (white ink on black, as the model sees it)."""
    image = np.asarray(pixels, dtype=np.float32)
    if image.max() <= 1.0:
        image = image * 255.0
    picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), mode="L")
    return picture.resize((28 * scale, 28 * scale), Image.NEAREST)


def digit_grid(digits: list[dict], caption, columns: int = 8) -> None:
    """Digits (dicts with ``pixels``) in rows of ``columns``, each with a markdown caption."""
    for start in range(0, len(digits), columns):
        row = st.columns(columns, gap="small")
        for cell, digit in zip(row, digits[start : start + columns]):
            with cell:
                alt = (_("A handwritten {digit} from the test set").format(digit=digit["true"]) if "true" in digit
                       else _("A test digit"))
                st.image(digit_image(digit["pixels"]), width="stretch", alt=alt)
                st.markdown(caption(digit))
