"""Training curves: how loss, accuracy, learning rate and time per epoch moved while a model
trained, read from ``model/<arch>/history.json``. Several models can be overlaid."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages.common_artifacts import load_card, load_history, shipped_archs
from pages.common_errors import failure_shown
from pages.common_figures import model_color, projector_layout
from pages.common_frame import ensure_router, page_help
from pages.common_language import _, number, percent
from pages.common_models import friendly_name, load_each, open_selected

# Legends go under the charts, clear of the titles and the x axis's label.
LEGEND_BELOW = dict(orientation="h", yanchor="top", y=-0.3, x=0)


def lighter(color: str, amount: float = 0.5) -> str:
    """``color`` (#rrggbb) mixed with white: the training curve, paler than its validation curve."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in (r, g, b))


def introduction() -> None:
    st.title(_("Training curves"))
    page_help("training")
    st.markdown(_(
        "Each **epoch** is one pass over the {train} training digits. Pale solid lines: the training "
        "digits; dark dashed: {validation} held-out **validation** digits the model never learns from. "
        "The star marks the **best epoch**, whose weights were kept."
    ).format(train=number(55_000), validation=number(5_000)))


def models_to_compare(arch: str, archs: list[str]) -> list[str]:
    # Keyed by the sidebar's model, so choosing another model there starts the comparison afresh.
    chosen = st.multiselect(
        _("Models to compare"), archs, default=[arch], key=f"training_compare_{arch}", format_func=friendly_name,
        help=_("Pick several models to overlay their curves."),
    )
    if not chosen:
        st.info(_("Pick at least one model above."))
        st.stop()
    return chosen


def headline(arch: str, history: dict) -> None:
    """The model's name and four figures of its run."""
    epochs = history["epochs"]
    best = history["best_epoch"]
    best_row = next((e for e in epochs if e["epoch"] == best), epochs[-1])
    members = history.get("members") or []
    st.subheader(friendly_name(arch))
    c1, c2, c3, c4 = st.columns(4)
    training_minutes = _("{minutes} min").format(minutes=number(sum(e.get("seconds") or 0 for e in epochs) / 60, 1))
    if members:
        # An ensemble: several networks, each trained on its own, whose probabilities are
        # averaged. Its curves are the members' mean; each member kept its own best epoch.
        member_best = [m["epochs"][m["best_epoch"] - 1]["val_accuracy"] for m in members]
        averaged = load_card(arch).get("validation_accuracy")
        c1.metric(_("Networks averaged"), number(len(members)))
        c2.metric(_("Validation accuracy, averaged"), percent(averaged, 2) if averaged is not None else "—")
        c3.metric(_("Best single network"), percent(max(member_best), 2))
        c4.metric(_("Training time"), training_minutes)
        st.info(_(
            "**{arch}** is {count} networks of the same design, each trained on its own "
            "(random seeds {seeds}), whose ten probabilities are "
            "averaged. They make different mistakes, so the average is right more often than any "
            "one of them. The thick curves are the members' mean, epoch by epoch; the thin lines on "
            "the accuracy chart, each member's validation accuracy. Each member kept the weights of its "
            "own best epoch ({best_epochs})."
        ).format(arch=arch, count=number(len(members)), seeds=", ".join(str(m["seed"]) for m in members),
                 best_epochs=", ".join(str(m["best_epoch"]) for m in members)))
    else:
        c1.metric(_("Best epoch"), _("{best} of {count}").format(best=best, count=len(epochs)))
        c2.metric(_("Validation accuracy at best"), percent(best_row["val_accuracy"], 2))
        c3.metric(_("Validation loss at best"), number(best_row["val_loss"], 4))
        c4.metric(_("Training time"), training_minutes)


def epoch_axis(fig: go.Figure, histories: dict[str, dict], margin: float = 0.4) -> None:
    """An x axis of whole epochs from the first to the longest run's last, ``margin`` of an
    epoch to spare on either side (bars are wider than markers)."""
    longest = max(len(h["epochs"]) for h in histories.values())
    fig.update_xaxes(title=_("epoch"), range=[1 - margin, longest + margin], dtick=1 if longest <= 20 else None)


def curves(histories: dict[str, dict], archs: list[str], train_key: str | None, val_key: str, title: str,
           y_title: str, **layout) -> go.Figure:
    """One chart: per model, the training curve (pale, solid) and the validation curve (dashed),
    with the best epoch starred on the validation curve."""
    several = len(histories) > 1
    epoch, training, validation, best_epoch = _("epoch"), _("training"), _("validation"), _("best epoch")
    fig = go.Figure()
    for name, hist in histories.items():
        color = model_color(name, archs)
        rows = hist["epochs"]
        x = [r["epoch"] for r in rows]
        # One model: the legend tells training from validation. Several: it names the
        # models (one entry per colour; solid and dashed are explained above).
        if train_key:
            fig.add_trace(go.Scatter(
                x=x, y=[r[train_key] for r in rows], name=name if several else training,
                mode="lines+markers", line=dict(color=lighter(color), width=4),
                marker=dict(size=8, color=lighter(color)),
                legendgroup=name, showlegend=not several,
                hovertemplate=f"{epoch} %{{x}}: %{{y:.4}}<extra>{name} {training}</extra>",
            ))
        fig.add_trace(go.Scatter(
            x=x, y=[r[val_key] for r in rows], name=name if several else validation,
            mode="lines+markers", line=dict(color=color, width=4, dash="dash"),
            marker=dict(size=8, color=color), legendgroup=name,
            hovertemplate=f"{epoch} %{{x}}: %{{y:.4}}<extra>{name} {validation}</extra>",
        ))
        best_rows = [r for r in rows if r["epoch"] == hist["best_epoch"]]
        if best_rows:
            fig.add_trace(go.Scatter(
                x=[hist["best_epoch"]], y=[best_rows[0][val_key]], name=best_epoch,
                mode="markers", legendgroup=name, showlegend=False,
                marker=dict(symbol="star", size=24, color=color, line=dict(color="white", width=2)),
                hovertemplate=f"{best_epoch} %{{x}}<br>{y_title} %{{y}}<extra>{name}</extra>",
            ))
    if not several:
        fig.add_vline(
            x=next(iter(histories.values()))["best_epoch"], line=dict(color="#888", dash="dot", width=2),
            annotation_text=best_epoch, annotation_font_size=16, annotation_position="top left",
        )
    projector_layout(fig, title=title, **layout)
    epoch_axis(fig, histories)
    fig.update_yaxes(title=y_title)
    fig.update_layout(legend=LEGEND_BELOW)
    return fig


def accuracy_chart(histories: dict[str, dict], archs: list[str]) -> go.Figure:
    """The accuracy curves; for one ensemble, each member's validation accuracy too."""
    fig = curves(histories, archs, "accuracy", "val_accuracy", _("Accuracy (higher is better)"), _("accuracy"))
    if len(histories) == 1:
        for name, hist in histories.items():
            for member in hist.get("members") or []:
                rows = member["epochs"]
                fig.add_trace(go.Scatter(
                    x=[r["epoch"] for r in rows], y=[r["val_accuracy"] for r in rows],
                    name=_("member, seed {seed}").format(seed=member["seed"]), mode="lines",
                    line=dict(color=model_color(name, archs), width=1.5), opacity=0.5,
                    hovertemplate=f"{_('epoch')} %{{x}}: %{{y:.4}}<extra>" + _("seed {seed}").format(seed=member["seed"]) + "</extra>",
                ))
    fig.update_yaxes(tickformat=".1%")
    return fig


def learning_rate_chart(histories: dict[str, dict], archs: list[str]) -> go.Figure:
    fig = go.Figure()
    rates = []
    for name, hist in histories.items():
        rows = hist["epochs"]
        rates += [r["learning_rate"] for r in rows if (r.get("learning_rate") or 0) > 0]
        fig.add_trace(go.Scatter(
            x=[r["epoch"] for r in rows], y=[r.get("learning_rate") for r in rows], name=name,
            mode="lines+markers", line=dict(color=model_color(name, archs), width=4), marker=dict(size=8),
        ))
    projector_layout(fig, title=_("Learning rate at the end of each epoch"), showlegend=len(histories) > 1,
                     legend=LEGEND_BELOW)
    # A schedule that shrinks the rate tenfold or more reads better on a log scale.
    log = bool(rates) and max(rates) / min(rates) >= 10
    fig.update_yaxes(title=_("learning rate"), type="log" if log else "linear", exponentformat="power",
                     dtick=1 if log else None)
    epoch_axis(fig, histories)
    return fig


def seconds_chart(histories: dict[str, dict], archs: list[str]) -> go.Figure:
    fig = go.Figure()
    for name, hist in histories.items():
        rows = hist["epochs"]
        fig.add_trace(go.Bar(
            x=[r["epoch"] for r in rows], y=[r.get("seconds") for r in rows], name=name,
            marker_color=model_color(name, archs),
            hovertemplate=_("epoch") + " %{x}: %{y:.1f} s<extra>" + name + "</extra>",
        ))
    projector_layout(fig, title=_("Seconds per epoch (2-core CPU)"), showlegend=len(histories) > 1,
                     barmode="group", legend=LEGEND_BELOW)
    fig.update_yaxes(title=_("seconds"))
    epoch_axis(fig, histories, margin=0.6)
    return fig


def charts(histories: dict[str, dict], archs: list[str]) -> None:
    """The four charts, two by two."""
    left, right = st.columns(2)
    with left:
        st.plotly_chart(curves(histories, archs, "loss", "val_loss", _("Loss (lower is better)"), _("loss")),
                        width="stretch")
    with right:
        st.plotly_chart(accuracy_chart(histories, archs), width="stretch")
    left, right = st.columns(2)
    with left:
        st.plotly_chart(learning_rate_chart(histories, archs), width="stretch")
    with right:
        st.plotly_chart(seconds_chart(histories, archs), width="stretch")
    st.caption(_(
        "Training loss and accuracy are averaged over each epoch while it trains, with dropout "
        "(and, for some models, augmentation) switched on; so the training curve can sit on the "
        "wrong side of the validation curve."
    ))


def epoch_table(histories: dict[str, dict]) -> None:
    with st.expander(_("The numbers, epoch by epoch")):
        table = pd.DataFrame(
            [{"model": name, **row} for name, hist in histories.items() for row in hist["epochs"]]
        )
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={
                "model": st.column_config.TextColumn(_("model")),
                "epoch": st.column_config.NumberColumn(_("epoch")),
                "accuracy": st.column_config.NumberColumn(_("accuracy"), format="percent"),
                "val_accuracy": st.column_config.NumberColumn(_("val accuracy"), format="percent"),
                "loss": st.column_config.NumberColumn(_("loss"), format="%.4f"),
                "val_loss": st.column_config.NumberColumn(_("val loss"), format="%.4f"),
                "learning_rate": st.column_config.NumberColumn(_("learning rate"), format="%.2e"),
                "seconds": st.column_config.NumberColumn(_("seconds"), format="%.1f"),
            },
        )


ensure_router()
introduction()
arch, _nothing = open_selected()
archs = shipped_archs()
histories = load_each(models_to_compare(arch, archs), load_history, _("The training history of {arch}"))
with failure_shown(_("The training curves")):
    focus = arch if arch in histories else next(iter(histories), None)
    if focus is not None:
        headline(focus, histories[focus])
    if not histories:
        st.stop()
    charts(histories, archs)
    epoch_table(histories)
