"""The sidebar's model picker and the model it chose: what students see a model called, the
picker itself (shared by every page through session state), the chosen model opened for a page
with a message when it cannot be, and the classifier the pages run (another one that works when
it is damaged). A helper module, not a page."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import streamlit as st

from model.serving import artifacts, inference
from pages.common_artifacts import (
    is_known_arch,
    is_usable,
    load_card,
    model_dir,
    model_stamps,
    shipped_archs,
    trained_here,
)
from pages.common_errors import show_failure
from pages.common_language import N_, _, number, percent

ARCH_KEY = "arch"
CHOSEN_KEY = "arch_chosen"  # a model another page chose, for the picker to take on its next run
NO_MODEL_YET = f"No trained model yet. Train one: `{artifacts.train_command()}`"
T = TypeVar("T")


# What students see instead of the folder names: a name and one line on what the network is.
# The folder name (the "technical name") stays one click away: the picker's help, the Models
# page's table. A model not listed here shows its folder name and its card's summary.
MODEL_NAMES = {
    "cnn": (N_("Digit Lab CNN"), N_("Our own convolutional network: three layers of pattern finders, "
            "trained on shifted and tilted digits.")),
    "cnn_blend": (N_("Digit Lab CNN, blended"), N_("The Digit Lab CNN and its version for pens, mixed weight by "
                  "weight: it reads pens nearly as well as the one and MNIST nearly as well as the other.")),
    "cnn_pen": (N_("Digit Lab CNN for pens"), N_("The Digit Lab CNN trained further on digits drawn with a pen: "
                "MNIST's digits redrawn, continental 1s, crossed 7s, slashed zeros, and 140 more writers.")),
    "seed004_cnn": (N_("Deep CNN"), N_("Four layers of pattern finders with large windows, then a big plain layer.")),
    "seed002_cnn": (N_("Compact CNN"), N_("Three small layers of pattern finders; few weights, trained on "
                    "shifted digits.")),
    "seed000_cnn": (N_("Small CNN"), N_("One layer of 28 pattern finders, then a plain layer of 128 neurons.")),
    "seed000_numpy": (N_("Small CNN, from scratch"), N_("The Small CNN written in plain numpy, without a "
                      "deep-learning library.")),
    "seed002_mlp": (N_("Plain network"), N_("No pattern finders: every pixel wired to 512 neurons.")),
    "seed003_fcn": (N_("Wide plain network"), N_("No pattern finders: every pixel wired to 1,024 neurons.")),
    "seed003_numpy": (N_("Wide plain network, from scratch"), N_("The Wide plain network written in plain numpy.")),
}


def friendly_name(arch: str) -> str:
    return _(MODEL_NAMES[arch][0]) if arch in MODEL_NAMES else arch


def model_description(arch: str) -> str:
    """One line on what the model is, for students."""
    if arch in MODEL_NAMES:
        return _(MODEL_NAMES[arch][1])
    try:
        return str(load_card(arch).get("summary", ""))
    except artifacts.ArtifactError:
        return ""


def arch_label(arch: str) -> str:
    if not is_known_arch(arch):
        return _("(not a shipped model)")
    try:
        card = load_card(arch)
    except artifacts.ArtifactError:
        return _("{name} (files damaged)").format(name=friendly_name(arch))
    if not is_usable(arch):
        return _("{name} (damaged, cannot be used)").format(name=friendly_name(arch))
    name = _("{name} (trained here)").format(name=friendly_name(arch)) if trained_here(arch) else friendly_name(arch)
    return f"{name} — {percent(card.get('test_accuracy', 0), 2)}"


def default_arch(archs: list[str]) -> str | None:
    """The first model that can be used (else the first one, to say what is wrong with it)."""
    return next((a for a in archs if is_usable(a)), archs[0] if archs else None)


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
        # Labels made now, in this run's language (a format function called later may not know it).
        _("Model"), archs, key=ARCH_KEY, format_func={a: arch_label(a) for a in archs}.get,
        help=_("{description} Technical name: `{arch}`. The percentage is how many of "
               "{count} test digits it reads right.").format(
            description=model_description(current), arch=current, count=number(10000)),
    )


def choose_model(arch: str) -> None:
    """Make ``arch`` the picker's choice from the next run on (the picker has already been
    drawn in this one, so its value cannot change now)."""
    st.session_state[CHOSEN_KEY] = arch


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
            classifier = _classifier(candidate, str(model_dir(candidate)), model_stamps(candidate))
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
