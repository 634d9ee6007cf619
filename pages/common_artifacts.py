"""Which models there are and their artifacts, read once per version of their files: the models
shipped in ``model/`` (or ``$DIGITLAB_MODEL_DIR``) and those trained on the Train page, their
cards, histories and evaluations, whether a model's files match its card, and the seed-003
search's results. A helper module, not a page."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

from model import MODEL_DIR
from model.jobs.models import models_dir
from model.serving import artifacts

try:  # the seed-003 search; plain JSON and numpy at import, like model.serving.artifacts
    from model.training import search as _search
except Exception as error:  # noqa: BLE001 - absent or broken, the other pages must still work
    _search = None
    print(f"[digit-lab] model.training.search unavailable: {type(error).__name__}: {error}", file=sys.stderr)

# Where every page reads the artifacts from. Unset: the repository's model/ folder. Tests (and
# anyone trying a set of artifacts out) point it at another folder of <arch>/ subfolders.
MODEL_DIR_ENV = "DIGITLAB_MODEL_DIR"


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


def model_stamps(arch: str) -> tuple:
    folder = model_dir(arch) / arch
    return tuple(file_stamp(folder / name) for name in ("card.json", *artifacts.MODEL_FILES))


def is_usable(arch: str) -> bool:
    """Whether a shipped model has a model file that matches its card (checked once per
    version of its files)."""
    try:
        return _usable(arch, str(model_dir(arch)), model_stamps(arch))
    except artifacts.ArtifactError:
        return False
