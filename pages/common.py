"""View helpers shared by app.py and every page: the model picker, cached artifact readers,
friendly errors, and the two pictures every page draws (a digit, ten probabilities).

Streamlit runs only the pages app.py lists with st.navigation, so this module is never a page.
"""
from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from model import MODEL_DIR
from model.data import preprocess
from model.data.mnist import unit_pixels
from model.jobs.models import models_dir
from model.serving import artifacts, inference

try:  # the seed-003 search; plain JSON and numpy at import, like model.serving.artifacts
    from model.training import search as _search
except Exception as error:  # noqa: BLE001 - absent or broken, the other pages must still work
    _search = None
    print(f"[digit-lab] model.training.search unavailable: {type(error).__name__}: {error}", file=sys.stderr)

ASSETS = Path(__file__).resolve().parent.parent / "assets"
ACCENT = "#ff4b4b"
MUTED = "#8c9bb5"
ARCH_KEY = "arch"
CHOSEN_KEY = "arch_chosen"  # a model another page chose, for the picker to take on its next run
# Where every page reads the artifacts from. Unset: the repository's model/ folder. Tests (and
# anyone trying a set of artifacts out) point it at another folder of <arch>/ subfolders.
MODEL_DIR_ENV = "DIGITLAB_MODEL_DIR"
SEARCH_COMMAND = "python -m model.training.search --data-dir $MNIST_DIR"
NO_MODEL_YET = f"No trained model yet. Train one: `{artifacts.train_command()}`"
T = TypeVar("T")


def model_dir(arch: str | None = None) -> Path:
    """The folder holding ``<arch>/card.json`` etc.: ``$DIGITLAB_MODEL_DIR``, else ``model/``;
    for a model trained on the Train page, the folder of those (``model.jobs.models.models_dir()``)."""
    shipped = Path(os.environ.get(MODEL_DIR_ENV) or MODEL_DIR)
    # Decided from the folders' listings only: a name from a client never reaches a path here.
    if arch is not None and arch not in artifacts.shipped_archs(shipped) and arch in user_archs():
        return models_dir()
    return shipped


def file_stamp(path: Path) -> tuple[int, int] | None:
    """What a cached read is keyed on besides the path, so a retrained model shows at once."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def shipped_archs() -> list[str]:
    """Every model the pages can show: the shipped ones, then those trained here."""
    # Not cached: a glob over a handful of folders costs microseconds, and models appear
    # while the app runs (a training finishes, a teammate adds one).
    shipped = artifacts.shipped_archs(model_dir())
    return shipped + [arch for arch in user_archs() if arch not in shipped]


def user_archs() -> list[str]:
    """The models trained on the Train page."""
    return artifacts.shipped_archs(models_dir())


def trained_here(arch: str) -> bool:
    return model_dir(arch) == models_dir()


def cardless_archs() -> list[str]:
    """Folders of ``model_dir()`` with a model or its results but no ``card.json``: a model
    whose card went missing, which ``shipped_archs()`` cannot list."""
    folder = model_dir()
    if not folder.is_dir():
        return []
    telltales = (*artifacts.MODEL_FILES, "history.json", "evaluation.json")
    return sorted(
        sub.name
        for sub in folder.iterdir()
        if sub.is_dir()
        and not sub.name.startswith((".", "_"))
        and not (sub / "card.json").exists()
        and any((sub / name).exists() for name in telltales)
    )


# The readers are cached per server (every session reads the same files), keyed on the file's
# path, modification time and size: a retrained or repaired artifact is read afresh.
# Failures are not cached, so a fixed file shows up on the next rerun.
_READERS = {
    "card.json": artifacts.load_card,
    "history.json": artifacts.load_history,
    "evaluation.json": artifacts.load_evaluation,
}


@st.cache_data(show_spinner=False, max_entries=64)
def _read_artifact(name: str, arch: str, folder: str, stamp: tuple[int, int] | None) -> dict:
    return _READERS[name](arch, Path(folder))


def _load(name: str, arch: str) -> dict:
    # A name from a client is only used once it is one of the folders listed here.
    if not (is_known_arch(arch) or arch in cardless_archs()):
        raise artifacts.ArtifactError(Path("unknown", name), "not read: that is not a shipped model", "<model>")
    folder = model_dir(arch)
    return _read_artifact(name, arch, str(folder), file_stamp(folder / arch / name))


def load_card(arch: str) -> dict:
    return _load("card.json", arch)


def load_history(arch: str) -> dict:
    return _load("history.json", arch)


def load_evaluation(arch: str) -> dict:
    return _load("evaluation.json", arch)


def search_results_path() -> Path:
    return model_dir() / (_search.RESULTS_PATH if _search else Path("search", "results.json"))


@st.cache_data(show_spinner=False, max_entries=8)
def _read_search_results(folder: str, stamp: tuple[int, int] | None) -> dict:
    return _search.load_search_results(Path(folder))


def load_search_results() -> dict | None:
    """The seed-003 hyperparameter search (``model.training.search.load_search_results``: its ``rows``
    of learning_rate, hidden, weight_decay, val_accuracy, val_loss, seconds, its ``best`` row
    and ``settings``), or None while ``python -m model.training.search`` has not been run (or cannot be
    imported). A corrupt file raises ``model.training.search.SearchResultsError``."""
    path = search_results_path()
    if _search is None or not path.exists():
        return None
    return _read_search_results(str(model_dir()), file_stamp(path))


def is_search_error(error: BaseException) -> bool:
    return _search is not None and isinstance(error, _search.SearchResultsError)


def is_known_arch(arch: object) -> bool:
    """Whether a model name (from session state, a widget, a URL) is a shipped model; checked
    before the name is used to open anything."""
    return artifacts.is_arch_name(arch) and arch in shipped_archs()


@st.cache_data(show_spinner=False, max_entries=64)
def _usable(arch: str, folder: str, stamps: tuple) -> bool:
    return artifacts.is_usable(arch, Path(folder))


def _model_stamps(arch: str) -> tuple:
    folder = model_dir(arch) / arch
    return tuple(file_stamp(folder / name) for name in ("card.json", *artifacts.MODEL_FILES))


def is_usable(arch: str) -> bool:
    """Whether a shipped model has a model file that matches its card (checked once per
    version of its files)."""
    try:
        return _usable(arch, str(model_dir(arch)), _model_stamps(arch))
    except artifacts.ArtifactError:
        return False


# What students see instead of the folder names: a name and one line on what the network is.
# The folder name (the "technical name") stays one click away: the picker's help, the Models
# page's table. A model not listed here shows its folder name and its card's summary.
MODEL_NAMES = {
    "cnn": ("Digit Lab CNN", "Our own convolutional network: three layers of pattern finders, "
            "trained on shifted and tilted digits."),
    "seed004_cnn": ("Deep CNN", "Four layers of pattern finders with large windows, then a big plain layer."),
    "seed002_cnn": ("Compact CNN", "Three small layers of pattern finders; few weights, trained on "
                    "shifted digits."),
    "seed000_cnn": ("Small CNN", "One layer of 28 pattern finders, then a plain layer of 128 neurons."),
    "seed000_numpy": ("Small CNN, from scratch", "The Small CNN written in plain numpy, without a "
                      "deep-learning library."),
    "seed002_mlp": ("Plain network", "No pattern finders: every pixel wired to 512 neurons."),
    "seed003_fcn": ("Wide plain network", "No pattern finders: every pixel wired to 1,024 neurons."),
    "seed003_numpy": ("Wide plain network, from scratch", "The Wide plain network written in plain numpy."),
}


def friendly_name(arch: str) -> str:
    return MODEL_NAMES.get(arch, (arch, ""))[0]


def model_description(arch: str) -> str:
    """One line on what the model is, for students."""
    if arch in MODEL_NAMES:
        return MODEL_NAMES[arch][1]
    try:
        return str(load_card(arch).get("summary", ""))
    except artifacts.ArtifactError:
        return ""


def arch_label(arch: str) -> str:
    if not is_known_arch(arch):
        return "(not a shipped model)"
    try:
        card = load_card(arch)
    except artifacts.ArtifactError:
        return f"{friendly_name(arch)} (files damaged)"
    if not is_usable(arch):
        return f"{friendly_name(arch)} (damaged, cannot be used)"
    mark = " (trained here)" if trained_here(arch) else ""
    return f"{friendly_name(arch)}{mark} — {card.get('test_accuracy', 0):.2%}"


def default_arch(archs: list[str]) -> str | None:
    """The first model that can be used (else the first one, to say what is wrong with it)."""
    return next((a for a in archs if is_usable(a)), archs[0] if archs else None)


def fold_sidebar_on_tablets() -> None:
    """The sidebar starts folded on touch screens narrower than a laptop's (see the script)."""
    fold = st.components.v2.component("digitlab.fold_sidebar", js=asset_text("fold_sidebar.js"))
    with st.sidebar, st.container(key="fold-sidebar"):
        fold(key="fold-sidebar-script")


def model_picker() -> str | None:
    """The sidebar's model choice, shared by every page through session state."""
    archs = shipped_archs()
    if not archs:
        st.sidebar.error(NO_MODEL_YET)
        return None
    if st.session_state.get(CHOSEN_KEY) in archs:
        st.session_state[ARCH_KEY] = st.session_state.pop(CHOSEN_KEY)
    if st.session_state.get(ARCH_KEY) not in archs:
        st.session_state[ARCH_KEY] = default_arch(archs)
    current = st.session_state[ARCH_KEY]
    return st.sidebar.selectbox(
        "Model", archs, key=ARCH_KEY, format_func=arch_label,
        help=f"{model_description(current)} Technical name: `{current}`. The percentage is how many of "
        "10,000 test digits it reads right.",
    )


# --------------------------------------------------------------------------- assets and words


@functools.lru_cache(maxsize=32)
def asset_text(name: str) -> str:
    """A file of assets/ (CSS, JavaScript, help text), read once per server."""
    return (ASSETS / name).read_text(encoding="utf-8")


def style(name: str) -> None:
    """Apply a stylesheet of assets/ to the page."""
    st.html(f"<style>{asset_text(name)}</style>")


def page_help(page: str, expanded: bool = False) -> None:
    """The page's "What am I looking at?" box, its text from assets/help/<page>.md."""
    with st.expander("What am I looking at?", icon=":material/help:", expanded=expanded):
        st.markdown(asset_text(f"help/{page}.md"))


def choose_model(arch: str) -> None:
    """Make ``arch`` the picker's choice from the next run on (the picker has already been
    drawn in this one, so its value cannot change now)."""
    st.session_state[CHOSEN_KEY] = arch


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


# The student's current drawing, shared by the pages that look at it (Inside, Push it): a dict
# with "rgba" (the canvas pixels, uint8 HxWx4) and "image" (the 28x28 float32 the model read),
# or absent while nothing readable is drawn.
DRAWING_KEY = "drawing"


def remember_drawing(rgba, reading) -> None:
    if reading.image is None:
        st.session_state.pop(DRAWING_KEY, None)
    else:
        st.session_state[DRAWING_KEY] = {"rgba": rgba, "image": reading.image}


def current_drawing() -> dict | None:
    return st.session_state.get(DRAWING_KEY)


def drawing_canvas(**options):
    """``st_canvas(**options)``, or ``None`` with a message when the state the browser sent
    has a shape the component's own Python cannot read (it indexes into it unchecked). The
    canvas is on the page either way: the next stroke sends a good state."""
    from streamlit_drawable_canvas import st_canvas  # registers a component: only in a page run

    try:
        return st_canvas(**options)
    except (AttributeError, TypeError, KeyError):
        st.warning(preprocess.UNREADABLE_DRAWING, icon=":material/draw:")
        return None


def read_drawing(result, width: int, height: int) -> tuple[np.ndarray | None, preprocess.Reading]:
    """The canvas's pixels and what they show, from what its component sent (``st_canvas``'s
    result, or ``None``). The payload comes from the browser, so a forged one gets a message
    here and an empty reading, never a traceback; the canvas's own ``image_data`` would
    decode any PNG."""
    try:
        payload = None if result is None else result._image_data_url
        rgba = preprocess.canvas_payload_to_rgba(payload, width, height)
    except preprocess.ImageError as error:
        st.warning(str(error), icon=":material/draw:")
        rgba = None
    return rgba, preprocess.read_canvas(rgba)


def selected_arch() -> str | None:
    archs = shipped_archs()
    arch = st.session_state.get(ARCH_KEY)
    return arch if arch in archs else default_arch(archs)


def open_selected(
    load: Callable[[str], T] | None = None, what: str = "The model {arch}"
) -> tuple[str, T | None]:
    """The sidebar's model and ``load(arch)`` (None without ``load``), for a page that has
    nothing to show without them: when there is no model, or ``load`` fails, the page says why
    (``what`` names the missing part, ``{arch}`` filled in) and stops there."""
    arch = selected_arch()
    if arch is None:
        st.info(NO_MODEL_YET)
        st.stop()
    if load is None:
        return arch, None
    try:
        return arch, load(arch)
    except (artifacts.ArtifactError, inference.ClassifierError) as error:
        show_failure(error, what.format(arch=arch))
        st.stop()


def load_each(names: list[str], load: Callable[[str], T], what: str) -> dict[str, T]:
    """``load(name)`` for each name that loads; each that fails gets its own message (``what``
    names the part, ``{arch}`` filled in) and the page goes on with the rest."""
    loaded: dict[str, T] = {}
    for name in names:
        try:
            loaded[name] = load(name)
        except artifacts.ArtifactError as error:
            show_failure(error, what.format(arch=name))
    return loaded


@st.cache_resource(show_spinner="Loading the model…", max_entries=16)
def _classifier(arch: str, folder: str, stamps: tuple) -> inference.Classifier:
    # One classifier per version of a model's files per server, shared by every session.
    return inference.load_classifier(arch, Path(folder))


def serving_classifier(arch: str) -> inference.Classifier:
    """``arch``'s classifier; if it is damaged, the other format of the same model or else the
    next model that works, with a message naming the damaged one. Raises
    :class:`model.serving.inference.ClassifierError` only when no model works at all."""
    archs = shipped_archs()
    failures = []
    for candidate in [arch] + [a for a in archs if a != arch]:
        try:
            classifier = _classifier(candidate, str(model_dir(candidate)), _model_stamps(candidate))
        except inference.ClassifierError as error:
            failures.append(error)
            print(f"[digit-lab] model {candidate}: {error}", file=sys.stderr)
            continue
        for problem in classifier.problems:
            st.warning(
                f"**The model {candidate} is damaged:** {problem}. Digit Lab runs the same model "
                f"from its {inference.RUNTIMES[classifier.runtime][0]} file instead.",
                icon=":material/warning:",
            )
        if failures:
            st.warning(
                f"**The model {arch} is damaged and cannot be used.** Digit Lab is using "
                f"**{candidate}** instead. ({failures[0]})",
                icon=":material/warning:",
            )
        return classifier
    raise failures[0] if failures else inference.ClassifierError("No model is shipped.")


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


def probability_figure(probabilities, height: int = 320) -> go.Figure:
    """All ten class probabilities, the winner highlighted."""
    p = np.asarray(probabilities, dtype=float)
    winner = int(p.argmax())
    bar = dict(
        type="bar",
        x=DIGIT_LABELS,
        y=p.tolist(),
        marker=dict(color=[ACCENT if d == winner else MUTED for d in range(10)]),
        text=[f"{v:.0%}" if v >= 0.005 else "" for v in p],
        textposition="outside",
        textfont=dict(size=16),
        hovertemplate="digit %{x}: %{y:.2%}<extra></extra>",
    )
    # Built unvalidated: plotly's validation is most of what a stroke's page run costs the
    # server (bench/README.md), which a class of thirty shares. The layout was validated once;
    # a test checks that validating the whole figure changes nothing.
    return go.Figure(data=[bar], layout=_probability_layout(height), _validate=False)


# --------------------------------------------------------------------------- diagnostics pages
# Projector-friendly defaults: big type, thick lines, a colour-blind-safe palette (Okabe-Ito).
# Okabe-Ito without its black (it hid the markers and the best-epoch line) and pale yellow
# (unreadable on white on a projector); a dark red and a grey-blue take their places.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#882255", "#5D6D7E"]
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
    )
    fig.update_layout(**layout)
    fig.update_xaxes(title_font=dict(size=FONT_SIZE + 2), tickfont=dict(size=FONT_SIZE))
    fig.update_yaxes(title_font=dict(size=FONT_SIZE + 2), tickfont=dict(size=FONT_SIZE))
    return fig


@contextmanager
def failure_shown(what: str):
    """Run a section of a page; whatever goes wrong in it becomes a message, not a traceback.

    ``st.stop()`` and reruns pass through (they are not ``Exception``s)."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - a page must never show a traceback
        show_failure(error, what)


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
                alt = f"A handwritten {digit['true']} from the test set" if "true" in digit else "A test digit"
                st.image(digit_image(digit["pixels"]), width="stretch", alt=alt)
                st.markdown(caption(digit))
