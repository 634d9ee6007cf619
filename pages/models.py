"""Models: every shipped model side by side with the published figures of the projects they
come from, a Download of each model to take home, the selected model's layers, and the seed-003
hyperparameter search. All from the ``card.json`` files (and ``model/search/results.json``);
the zips are ``model.serving.export``'s."""
from __future__ import annotations

import math
from functools import partial

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from model.serving.artifacts import MODEL_FILES, ArtifactError, damaged_files
from model.serving.export import shareable_card, take_home_zip, zip_file_name
from pages.common_artifacts import (
    cardless_archs,
    load_card,
    load_search_results,
    model_dir,
    search_results_path,
    shipped_archs,
    trained_here,
)
from pages.common_errors import SEARCH_COMMAND, failure_shown, show_failure, shown_path
from pages.common_figures import FONT_SIZE, PALETTE, model_color, projector_layout
from pages.common_frame import ensure_router, page_help
from pages.common_language import _, percent
from pages.common_language import number as written
from pages.common_models import friendly_name, load_each, model_description, open_selected


def number(value) -> float | None:
    """A card's figure, or None when it is missing or not a number."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def introduction() -> None:
    st.title(_("Models"))
    page_help("models")


def read_cards(archs: list[str]) -> dict[str, dict]:
    """The cards that can be read; each model without one gets its own message."""
    for name in cardless_archs():
        show_failure(ArtifactError(model_dir() / name / "card.json", "missing", name),
                     _("The model {arch}").format(arch=name))
    return load_each(archs, load_card, _("The card of {arch}"))


def model_rows(cards: dict[str, dict]) -> pd.DataFrame:
    """One row a model: its figures, ours beside the published ones."""
    rows = []
    for name, card in cards.items():
        accuracy = number(card.get("test_accuracy"))
        published = number(card.get("published_accuracy"))
        known = accuracy is not None and published is not None
        seconds = number(card.get("train_seconds"))
        pen = number((card.get("pen_benchmark") or {}).get("accuracy"))
        rows.append({
            "name": friendly_name(name),
            "test accuracy": accuracy * 100 if accuracy is not None else None,
            "pen accuracy": pen * 100 if pen is not None else None,
            "about": model_description(name),
            "model": name,
            "layers": card.get("summary", ""),
            "parameters": card.get("params"),
            "errors": card.get("test_errors"),
            "epochs": f"{card.get('best_epoch', '?')} / {card.get('epochs', '?')}",
            "training min": seconds / 60 if seconds is not None else None,
            "inference ms": number(card.get("inference_ms")),
            "published": published * 100 if published is not None else None,
            "difference": (accuracy - published) * 100 if known else None,
        })
    return pd.DataFrame(rows)


def model_table(table: pd.DataFrame) -> None:
    st.dataframe(
        table, hide_index=True, width="stretch", placeholder="",
        column_config={
            "name": st.column_config.TextColumn(_("model"), pinned=True),
            "about": st.column_config.TextColumn(_("what it is"), width="large"),
            "model": st.column_config.TextColumn(_("technical name"),
                help=_("The model's folder in model/, as the training commands name it")),
            "layers": st.column_config.TextColumn(_("layers"), width="medium"),
            "parameters": st.column_config.NumberColumn(_("parameters"), format="localized",
                help=_("How many numbers the model learned")),
            "test accuracy": st.column_config.NumberColumn(_("accuracy"), format="%.2f%%",
                help=_("Accuracy on the {n} MNIST test digits").format(n=written(10_000))),
            "pen accuracy": st.column_config.NumberColumn(_("pen handwriting"), format="%.2f%%",
                help=_("Accuracy on digits drawn with a pen by writers it never saw, as the canvas draws "
                       "them (bench/penbench.py); blank until measured")),
            "errors": st.column_config.NumberColumn(_("errors"), format="%d",
                help=_("Test digits misread, out of {n}").format(n=written(10_000))),
            "epochs": st.column_config.TextColumn(_("epochs"), help=_("The epoch whose weights were kept / "
                "epochs trained (an epoch is one pass over the training digits)")),
            "training min": st.column_config.NumberColumn(_("training (minutes)"), format="%.1f",
                help=_("Minutes of training on this 2-core CPU")),
            "inference ms": st.column_config.NumberColumn(_("ms per digit"), format="%.2f",
                help=_("Milliseconds to read one digit on this CPU; blank until measured")),
            "published": st.column_config.NumberColumn(_("published"), format="%.2f%%",
                help=_("Test accuracy the source project reported")),
            "difference": st.column_config.NumberColumn(_("difference"), format="%+.2f",
                help=_("Ours minus published, in percentage points")),
        },
    )


def accuracy_chart(table: pd.DataFrame, archs: list[str]) -> go.Figure:
    """Our test accuracy (bars) against the published one (a black line), per model."""
    chart = table.dropna(subset=["test accuracy"])
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=chart["name"], y=chart["test accuracy"], name=_("ours (test accuracy)"),
        marker_color=[model_color(m, archs) for m in chart["model"]],
        text=[percent(v / 100, 2) for v in chart["test accuracy"]], textposition="outside",
        hovertemplate="%{x}: %{y:.2f}%<extra>" + _("ours") + "</extra>",
    ))
    published = chart.dropna(subset=["published"])
    fig.add_trace(go.Scatter(
        x=published["name"], y=published["published"], name=_("published by the source project"),
        mode="markers",
        marker=dict(symbol="line-ew-open", size=56, color="#111827", line=dict(width=5, color="#111827")),
        hovertemplate="%{x}: " + _("published") + " %{y:.2f}%<extra></extra>",
    ))
    low = min([*chart["test accuracy"], *published["published"]])
    projector_layout(fig, height=420, title=_("Test accuracy: ours (bars) vs published (black line)"),
                     legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1, xanchor="right"))
    fig.update_yaxes(title=_("accuracy (%)"), range=[math.floor(low) - 1, 100.4], ticksuffix="%")
    return fig


def every_model(archs: list[str]) -> dict[str, dict]:
    """The table and the chart of every model; the cards read for them."""
    st.header(_("Every shipped model"))
    st.markdown(_(
        "All tested on the same {n} MNIST test digits. **Published** is the accuracy the project "
        "the network comes from reported; **difference** is ours minus theirs, in percentage points."
    ).format(n=written(10_000)))
    cards = read_cards(archs)
    with failure_shown(_("The model table")):
        table = model_rows(cards)
        if not table.empty:
            model_table(table)
            st.plotly_chart(accuracy_chart(table, archs), width="stretch", config={"displayModeBar": False})
    return cards


def take_home(cards: dict[str, dict]) -> None:
    """A Download for every model whose card could be read: its zip, to run at home."""
    st.header(_("Take a model home"))
    st.markdown(_(
        "Each model as a zip: the model, its card, and `predict.py`, a small program that reads a photo "
        "of a handwritten digit the way Digit Lab does and prints the ten probabilities. Its `README.md` "
        "says how to run it on any computer with Python."
    ))
    for arch in cards:
        with failure_shown(_("The download of {arch}").format(arch=arch)):
            folder = model_dir(arch)
            cells = st.columns([5, 2, 2], vertical_alignment="center")
            mark = " " + _("(trained here)") if trained_here(arch) else ""
            cells[0].markdown(f"**{friendly_name(arch)}**{mark}  \n`{arch}`")
            damaged = damaged_files(arch, folder)
            if damaged:
                cells[1].warning(_("Damaged: {files}").format(files=", ".join(damaged)), icon=":material/warning:")
                continue
            size = sum((folder / arch / name).stat().st_size for name in MODEL_FILES
                       if (folder / arch / name).is_file())
            cells[1].markdown(_("model files {size} MB").format(size=written(size / 2**20, 1)))
            # Zipped when pressed, on a thread of its own: the page never waits for it.
            cells[2].download_button(
                _("Download"), partial(take_home_zip, arch, folder, friendly_name(arch), model_description(arch)),
                file_name=zip_file_name(arch), mime="application/zip", icon=":material/download:",
                key=f"models_download_{arch}", on_click="ignore",
            )


def layer_table(arch: str, card: dict) -> None:
    layers = pd.DataFrame([
        {
            _("name"): layer.get("name"),
            _("type"): layer.get("type"),
            _("output shape"): " × ".join(str(d) for d in layer.get("output_shape") or []) or "",
            "parameters": layer.get("params"),
        }
        for layer in card.get("layers", [])
    ])
    st.markdown(model_description(arch) + " " + _(
        "Technical name `{arch}`: **{summary}** — {params} parameters in {layers} layers").format(
        arch=arch, summary=card.get("summary", ""), params=written(card.get("params", 0)), layers=len(layers)))
    st.dataframe(
        layers, hide_index=True, width="stretch", height="content",
        column_config={"parameters": st.column_config.NumberColumn(_("parameters"), format="localized")},
    )


def card_facts(card: dict) -> None:
    """How the model was trained, as the card records it (less the server's folders)."""
    card = shareable_card(card)
    facts = {
        _("from"): card.get("source"),
        _("framework"): card.get("framework"),
        _("optimizer"): card.get("optimizer"),
        _("batch size"): card.get("batch_size"),
        _("epochs (best)"): f"{card.get('epochs')} ({card.get('best_epoch')})",
        _("augmented training"): {True: _("yes"), False: _("no")}.get(card.get("augment"), "—"),
        _("training / validation digits"):
            f"{written(card.get('train_size', 0))} / {written(card.get('validation_size', 0))}",
        _("training time"): _("{minutes} min on {cpu}").format(
            minutes=written(card.get("train_seconds", 0) / 60, 1), cpu=card.get("cpu", "?")),
        _("seed"): card.get("seed"),
        _("trained"): card.get("date"),
        _("command"): f"`{card['command']}`" if card.get("command") else None,
    }
    st.markdown("\n".join(
        f"- **{key}:** {value if value not in (None, '') else '—'}" for key, value in facts.items()
    ))


def inside_model(arch: str, cards: dict[str, dict]) -> None:
    """The selected model's layers and how it was trained."""
    st.header(_("Inside {name}").format(name=friendly_name(arch)))
    with failure_shown(_("The card of {arch}").format(arch=arch)):
        if arch not in cards:
            load_card(arch)  # raises the error that names the file
        card = cards[arch]
        left, right = st.columns([3, 2], gap="large")
        with left:
            layer_table(arch, card)
        with right:
            card_facts(card)


def search_runs(results: dict) -> None:
    """Every run of the search: a chart by learning rate and a table."""
    search = pd.DataFrame(results["rows"]).sort_values("val_accuracy", ascending=False)
    settings = results.get("settings", {})
    epochs = settings.get("epochs")
    st.markdown(
        _("Seed 003's fully connected network (`{arch}`), trained **{runs}** times with different settings").format(
            arch=results.get("arch", "seed003_numpy"), runs=len(search))
        + (_(", {epochs} epochs each").format(epochs=epochs) if epochs else "")
        + (_(" on {count} training digits").format(count=written(settings["train_size"]))
           if settings.get("train_size") else "")
        + _("; each dot is one run, scored on the validation digits. Short runs rank settings by "
            "how fast they learn: a map to explore, not the final word.")
    )
    # model.training.search checked the rows: every one has all six keys. Colour: hidden units;
    # symbol: weight decay; runs with the same learning rate are nudged apart sideways.
    rates = sorted(search["learning_rate"].unique())
    log = rates[0] > 0 and rates[-1] / rates[0] >= 10
    hiddens = sorted(search["hidden"].unique())
    decays = sorted(search["weight_decay"].unique())
    symbols = ["circle", "diamond", "square", "triangle-up", "x", "star"]

    def nudged(rate, hidden):
        shift = (hiddens.index(hidden) - (len(hiddens) - 1) / 2) * 0.04
        return rate * 10**shift if log else rate + shift * ((rates[-1] - rates[0]) or 1)

    fig = go.Figure()
    for (hidden, decay), group in search.groupby(["hidden", "weight_decay"]):
        fig.add_trace(go.Scatter(
            x=nudged(group["learning_rate"], hidden), y=group["val_accuracy"], mode="markers",
            name=_("{hidden} hidden, weight decay {decay}").format(hidden=hidden, decay=f"{decay:g}"), legendgroup=str(hidden),
            marker=dict(size=18, color=PALETTE[hiddens.index(hidden) % len(PALETTE)], opacity=0.9,
                        symbol=symbols[decays.index(decay) % len(symbols)],
                        line=dict(width=1, color="white")),
            customdata=group[["learning_rate", "val_loss"]].to_numpy(),
            hovertemplate=_("learning rate") + " %{customdata[0]:g}<br>" + _("val accuracy") + " %{y:.2%}"
            "<br>" + _("val loss") + " %{customdata[1]:.4f}<extra>%{fullData.name}</extra>",
        ))
    best = results.get("best") or search.iloc[0].to_dict()
    best_x = nudged(best["learning_rate"], best["hidden"]) if best.get("hidden") in hiddens \
        else best["learning_rate"]
    fig.add_annotation(  # a log axis places annotations by the power of ten
        x=math.log10(best_x) if log else best_x, y=best["val_accuracy"],
        text=_("best: {accuracy}").format(accuracy=percent(best["val_accuracy"], 2)), showarrow=True, arrowhead=2, ax=60, ay=-36,
        font=dict(size=FONT_SIZE),
    )
    projector_layout(fig, height=480, title=_("Validation accuracy by learning rate"))
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, x=0,
                                  font=dict(size=FONT_SIZE - 3)))
    few = len(rates) <= 12
    fig.update_xaxes(title=_("learning rate"), type="log" if log else "linear",
                     tickvals=rates if few else None, ticktext=[f"{r:g}" for r in rates] if few else None)
    fig.update_yaxes(title=_("validation accuracy"), tickformat=".1%")
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False})
    st.dataframe(
        search, hide_index=True, width="stretch", height=min(440, 35 * (len(search) + 1) + 3),
        column_config={
            "learning_rate": st.column_config.NumberColumn(_("learning rate"), format="%g"),
            "hidden": st.column_config.NumberColumn(_("hidden units"), format="%d"),
            "weight_decay": st.column_config.NumberColumn(_("weight decay"), format="%g"),
            "val_accuracy": st.column_config.NumberColumn(_("val accuracy"), format="percent"),
            "val_loss": st.column_config.NumberColumn(_("val loss"), format="%.4f"),
            "seconds": st.column_config.NumberColumn(_("seconds"), format="%.1f"),
        },
    )


def the_search() -> None:
    st.header(_("Seed 003: the hyperparameter search"))
    with failure_shown(_("The hyperparameter search results")):
        results = load_search_results()
        if results is None:
            st.info(_("No search results yet: `{path}` does not exist. Run `{command}` to produce it.").format(
                path=shown_path(search_results_path()), command=SEARCH_COMMAND))
        else:
            search_runs(results)


ensure_router()
introduction()
arch, _nothing = open_selected()
cards = every_model(shipped_archs())
take_home(cards)
inside_model(arch, cards)
the_search()
