"""The diagnostics pages, rendered headless with Streamlit's AppTest.

Every page renders from the shipped artifacts with the numbers of evaluation.json /
history.json / card.json; a missing or corrupt artifact gives a message naming the file and the
command that regenerates it, and never a traceback, while the other pages keep working.

The fault tests break a *copy* of the artifacts: the pages read ``$DIGITLAB_MODEL_DIR``
(``pages.common_artifacts.model_dir()``), which the ``artifacts`` fixture points at a temporary folder.

Run: ``.venv/bin/python -m pytest tests/test_pages.py``  (about 30 seconds)
"""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from model import MODEL_DIR
from model.serving.artifacts import load_card, load_evaluation, load_history, shipped_archs
from pages.common_artifacts import MODEL_DIR_ENV
from pages.common_errors import SEARCH_COMMAND

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "app.py"
PAGES = {
    "training": "pages/training.py",
    "confusion": "pages/confusion.py",
    "mistakes": "pages/mistakes.py",
    "models": "pages/models.py",
}
# Which artifact each page cannot do without.
NEEDS = {"training": "history.json", "confusion": "evaluation.json", "mistakes": "evaluation.json",
         "models": "card.json"}
ARCHS = shipped_archs(MODEL_DIR)

pytestmark = pytest.mark.skipif(not ARCHS, reason="no trained model in model/ yet")


@pytest.fixture(autouse=True)
def routed_server(monkeypatch):
    """Run every AppTest as a server that has already routed through app.py once.

    A folder named pages/ makes Streamlit start each server in its old multipage mode until
    st.navigation first runs; pages.common_frame.ensure_router() then reruns through app.py. AppTest
    starts *every* run as a fresh server, so each would take that rerun, and a rerun drops a
    button's click. This subclass marks the server as routed (what one real run of app.py does);
    the fresh-server path itself is tested in the browser (test_pages_browser.py).
    """
    import streamlit.testing.v1.app_test as app_test
    from streamlit.runtime.pages_manager import PagesManager

    class RoutedPagesManager(PagesManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    monkeypatch.setattr(app_test, "PagesManager", RoutedPagesManager)


def render(page: str, arch: str | None = None) -> AppTest:
    """Run app.py on ``page`` (the url path, e.g. "confusion") with ``arch`` chosen in the sidebar.

    Switching before the first run opens the page directly, as a link to /confusion does, and
    skips the Draw page (and its classifier) that a first plain run would show.
    """
    at = AppTest.from_file(str(APP), default_timeout=60)
    if arch is not None:
        at.session_state["arch"] = arch
    at.switch_page(PAGES[page])
    return at.run()


def texts(at: AppTest, kind: str) -> list[str]:
    return [element.value for element in getattr(at, kind)]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def assert_healthy(at: AppTest) -> None:
    """Rendered without a traceback and without an error message."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, texts(at, "error")


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def plotly_array(value) -> list:
    """A data array from a Plotly spec: a list, or numpy's typed-array encoding (``bdata``)."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return array.tolist()
    return list(value)


# --------------------------------------------------------------------------- shipped artifacts


@pytest.mark.parametrize("arch", ARCHS)
def test_training_page_shows_the_history(arch):
    history = load_history(arch)
    at = render("training", arch)
    assert_healthy(at)
    best = history["best_epoch"]
    best_row = next(e for e in history["epochs"] if e["epoch"] == best)
    members = history.get("members")
    if members:  # an ensemble: its members and the averaged model's validation accuracy
        assert metric(at, "Networks averaged") == str(len(members))
        card = load_card(arch)
        assert metric(at, "Validation accuracy, averaged") == f"{card['validation_accuracy']:.2%}"
    else:
        assert metric(at, "Best epoch") == f"{best} of {len(history['epochs'])}"
        assert metric(at, "Validation accuracy at best") == f"{best_row['val_accuracy']:.2%}"
    # Four charts (loss, accuracy, learning rate, seconds); the accuracy chart's validation curve
    # is the history's, and its star sits on the best epoch.
    specs = plotly_specs(at)
    assert len(specs) == 4
    accuracy = specs[1]["data"]
    validation = next(t for t in accuracy if t.get("name") == "validation")
    assert validation["y"] == [e["val_accuracy"] for e in history["epochs"]]
    star = next(t for t in accuracy if t.get("name") == "best epoch")
    assert star["x"] == [best]
    shown = [t["y"] for t in accuracy if str(t.get("name", "")).startswith("member, seed")]
    assert shown == [[e["val_accuracy"] for e in m["epochs"]] for m in members or []]


def test_training_page_overlays_several_models():
    if len(ARCHS) < 2:
        pytest.skip("needs two shipped models")
    at = render("training", ARCHS[0])
    at.multiselect(key=f"training_compare_{ARCHS[0]}").set_value(ARCHS[:2]).run()
    assert_healthy(at)
    legend = {t["name"] for t in plotly_specs(at)[0]["data"] if t.get("showlegend", True)}
    assert legend == set(ARCHS[:2])  # one entry per model


@pytest.mark.parametrize("arch", ARCHS)
def test_confusion_page_shows_the_evaluation(arch):
    evaluation = load_evaluation(arch)
    at = render("confusion", arch)
    assert_healthy(at)
    assert metric(at, "Test accuracy") == f"{evaluation['accuracy']:.2%}"
    assert metric(at, f"Errors (of {evaluation['n']:,})") == f"{evaluation['errors']:,}"
    # The clickable layer carries every cell's count: the matrix, row by row.
    cells = next(t for t in plotly_specs(at)[0]["data"] if t.get("name") == "cells")
    counts = [count for count, _share in cells["customdata"]]
    assert counts == [c for row in evaluation["confusion_matrix"] for c in row]
    table = at.table[0].value
    assert list(table["recall"]) == [f"{r['recall']:.1%}" for r in evaluation["per_class"]]
    assert list(table["test digits"]) == [f"{r['support']:,}" for r in evaluation["per_class"]]


def test_the_sidebar_model_drives_the_page():
    at = render("confusion")
    assert at.sidebar.selectbox(key="arch").value == ARCHS[0]  # app.py's picker, default first
    last = ARCHS[-1]
    at.sidebar.selectbox(key="arch").set_value(last).run()
    assert_healthy(at)
    assert metric(at, "Test accuracy") == f"{load_evaluation(last)['accuracy']:.2%}"


def test_confusion_page_shows_the_digits_of_a_cell():
    arch = ARCHS[0]
    evaluation = load_evaluation(arch)
    matrix = evaluation["confusion_matrix"]
    at = render("confusion", arch)
    # It opens on the most common mistake.
    worst = max((matrix[t][p], t, p) for t in range(10) for p in range(10) if t != p)
    assert (at.selectbox(key="confusion_true").value, at.selectbox(key="confusion_predicted").value) \
        == (worst[1], worst[2])
    assert len(at.get("image")) == worst[0]
    # Off the diagonal: the misclassified digits of that cell.
    true, predicted = min(
        ((t, p) for t in range(10) for p in range(10) if t != p and matrix[t][p]),
        key=lambda cell: (matrix[cell[0]][cell[1]], cell),
    )
    at.selectbox(key="confusion_true").set_value(true)
    at.selectbox(key="confusion_predicted").set_value(predicted)
    at.run()
    assert_healthy(at)
    assert len(at.get("image")) == matrix[true][predicted]
    assert any(f"a {true} the model read as {predicted}" in text for text in texts(at, "markdown"))
    # On the diagonal: the correctly read examples kept in evaluation.json.
    at.selectbox(key="confusion_predicted").set_value(true).run()
    assert_healthy(at)
    assert len(at.get("image")) == len(evaluation["correct_examples"][str(true)])
    # The row-normalised view shows shares.
    at.toggle(key="confusion_normalised").set_value(True).run()
    assert_healthy(at)
    heatmap = plotly_specs(at)[0]["data"][0]
    assert any(label.endswith("%") for row in heatmap["text"] for label in row)


@pytest.mark.parametrize("arch", ARCHS)
def test_mistakes_page_shows_the_misclassified(arch):
    evaluation = load_evaluation(arch)
    mistakes = evaluation["misclassified"]
    at = render("mistakes", arch)
    assert_healthy(at)
    # markdown[0] is the page's "What am I looking at?" text; the summary comes after it.
    assert any(f"got **{len(mistakes)}**" in m.value for m in at.markdown)
    # A page of digits, most confident first, captioned true -> predicted (confidence).
    first = max(mistakes, key=lambda m: m["confidence"])
    shown = [b.label for b in at.button]
    assert len(shown) == len(at.get("image")) == min(20, len(mistakes))
    assert shown[0] == f"{first['true']} → {first['predicted']} ({first['confidence']:.0%})"


def test_mistakes_page_filters_sorts_and_inspects():
    arch = ARCHS[0]
    mistakes = load_evaluation(arch)["misclassified"]
    true = max(range(10), key=lambda d: sum(m["true"] == d for m in mistakes))
    wanted = sorted((m for m in mistakes if m["true"] == true), key=lambda m: m["confidence"])
    at = render("mistakes", arch)
    at.selectbox(key="mistakes_true").set_value(true)
    at.radio(key="mistakes_sort").set_value("Least confident first")
    at.run()
    assert_healthy(at)
    assert [b.key for b in at.button] == [f"mistake_{m['index']}" for m in wanted[:20]]
    # Clicking a caption opens a closer look with that digit's ten probabilities.
    assert not any("Test digit #" in text for text in texts(at, "markdown"))
    chosen = wanted[min(2, len(wanted) - 1)]
    at.button(key=f"mistake_{chosen['index']}").click().run()
    assert_healthy(at)
    assert any(f"Test digit #{chosen['index']}" in text for text in texts(at, "markdown"))
    bars = next(s for s in plotly_specs(at) if s["data"][0]["type"] == "bar")["data"][0]
    assert plotly_array(bars["y"]) == pytest.approx(chosen["probabilities"])
    # A filter no mistake matches says so.
    at.selectbox(key="mistakes_predicted").set_value(true).run()
    assert_healthy(at)
    assert any("No mistakes match" in text for text in texts(at, "info"))


def test_models_page_lists_every_model():
    at = render("models", ARCHS[0])
    assert_healthy(at)
    table = at.dataframe[0].value
    assert list(table["model"]) == ARCHS
    for arch, row in zip(ARCHS, table.to_dict("records")):
        card = load_card(arch)
        assert row["errors"] == card["test_errors"]
        assert row["test accuracy"] == pytest.approx(card["test_accuracy"] * 100)
        assert row["parameters"] == card["params"]
        if card.get("published_accuracy"):
            difference = (card["test_accuracy"] - card["published_accuracy"]) * 100
            assert row["difference"] == pytest.approx(difference)
    layers = at.dataframe[1].value
    assert list(layers["name"]) == [layer["name"] for layer in load_card(ARCHS[0])["layers"]]
    shipped_search = MODEL_DIR / "search" / "results.json"
    if shipped_search.exists():  # the search's rows, best first
        rows = json.loads(shipped_search.read_text())["rows"]
        search = at.dataframe[2].value
        assert len(search) == len(rows)
        assert search["val_accuracy"].iloc[0] == max(r["val_accuracy"] for r in rows)


def test_models_page_offers_every_model_to_take_home(tmp_path, monkeypatch):
    """A Download per model, the models trained here included; a damaged one says so instead."""
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(tmp_path))
    mine, broken = tmp_path / "models" / "mlp-mine", tmp_path / "models" / "mlp-broken"
    for folder in (mine, broken):
        shutil.copytree(MODEL_DIR / "seed002_mlp", folder)
    tflite = broken / "model.tflite"
    tflite.write_bytes(tflite.read_bytes()[:-10] + bytes(10))
    at = render("models", ARCHS[0])
    assert not at.exception, [e.value for e in at.exception]
    keys = [button.proto.id.split("-", 2)[-1] for button in at.get("download_button")]  # $$ID-<hash>-<key>
    assert keys == [f"models_download_{arch}" for arch in [*ARCHS, "mlp-mine"]]
    assert all(button.label == "Download" for button in at.get("download_button"))
    assert any("mlp-mine" in m.value and "(trained here)" in m.value for m in at.markdown)
    assert any("Damaged: model.tflite" in w.value for w in at.warning)


def test_models_page_shows_how_a_model_was_made_without_the_servers_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(tmp_path))
    folder = tmp_path / "models" / "mlp-mine"
    shutil.copytree(MODEL_DIR / "seed002_mlp", folder)
    card = json.loads((folder / "card.json").read_text())
    card["command"] = f"python -m model.classroom.finetune --db {tmp_path}/class.db --out {folder}"
    (folder / "card.json").write_text(json.dumps(card))
    at = render("models", "mlp-mine")
    assert not at.exception, [e.value for e in at.exception]
    shown = "\n".join(m.value for m in at.markdown)
    assert "`python -m model.classroom.finetune --db class.db --out mlp-mine`" in shown
    assert str(tmp_path) not in shown


def test_pages_do_not_import_tensorflow():
    """The diagnostics pages only read JSON: no TensorFlow (seconds of start-up) behind them."""
    script = f"""
import sys
from streamlit.testing.v1 import AppTest
for page in {list(PAGES.values())!r}:
    at = AppTest.from_file({str(APP)!r}, default_timeout=60)
    at.switch_page(page).run()
    assert not at.exception, (page, at.exception)
print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


# --------------------------------------------------------------------------- broken artifacts


@pytest.fixture
def artifacts(tmp_path, monkeypatch) -> Path:
    """A copy of the shipped JSON artifacts (two models at most) that the pages read instead."""
    folder = tmp_path / "model"
    for arch in ARCHS[:2]:
        (folder / arch).mkdir(parents=True)
        for name in ("card.json", "history.json", "evaluation.json"):
            shutil.copy(MODEL_DIR / arch / name, folder / arch / name)
    monkeypatch.setenv(MODEL_DIR_ENV, str(folder))
    return folder


def break_file(path: Path, fault: str) -> None:
    if fault == "missing":
        path.unlink()
    else:
        path.write_text(path.read_text()[: 200] + "\n")  # cut short: not valid JSON


# Each page with one fault in make test, the fault of the other kind with the slow tests (CI).
@pytest.mark.parametrize("page, fault", [
    pytest.param(page, fault, marks=[pytest.mark.slow] if (i + j) % 2 else [], id=f"{page}-{fault}")
    for i, page in enumerate(PAGES) for j, fault in enumerate(("missing", "corrupt"))
])
def test_a_broken_artifact_is_named_and_the_other_pages_work(artifacts, page, fault):
    arch = ARCHS[0]
    name = NEEDS[page]
    break_file(artifacts / arch / name, fault)

    at = render(page, arch)
    assert not at.exception, [e.value for e in at.exception]
    message = " ".join(texts(at, "error"))
    assert f"{arch}/{name}" in message and fault in message
    assert f"python -m model.train --arch {arch}" in message

    # Every page that does not need the broken file is unaffected.
    for other in PAGES:
        if NEEDS[other] != name:
            assert_healthy(render(other, arch))
    # And the broken page still works for another model (the Models page, which lists every
    # model, still names the broken card).
    if len(ARCHS) > 1:
        at = render(page, ARCHS[1])
        assert not at.exception, [e.value for e in at.exception]
        assert all(f"{arch}/{name}" in text for text in texts(at, "error"))
        if page == "models":
            assert list(at.dataframe[0].value["model"]) == [a for a in ARCHS[:2] if a != arch]


def test_a_model_without_a_card_is_reported_and_dropped(artifacts):
    (artifacts / ARCHS[0] / "card.json").unlink()
    at = render("models")
    assert not at.exception
    assert f"{ARCHS[0]}/card.json" in " ".join(texts(at, "error"))
    assert ARCHS[0] not in list(at.dataframe[0].value["model"])


def test_unexpected_content_is_a_message_not_a_traceback(artifacts):
    arch = ARCHS[0]
    path = artifacts / arch / "history.json"
    history = json.loads(path.read_text())
    for row in history["epochs"]:
        del row["val_loss"]
    path.write_text(json.dumps(history))
    at = render("training", arch)
    assert not at.exception
    assert any("unavailable" in text and "val_loss" in text for text in texts(at, "error"))


def test_no_model_at_all(tmp_path, monkeypatch):
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path))
    for page in PAGES:
        at = render(page)
        assert not at.exception
        assert any("python -m model.train" in text for text in texts(at, "info"))


# --------------------------------------------------------------------------- the search results


SEARCH_ROWS = [
    {"learning_rate": lr, "hidden": hidden, "weight_decay": wd, "val_accuracy": acc,
     "val_loss": loss, "seconds": 30.0}
    for lr, hidden, wd, acc, loss in [
        (0.1, 512, 0.0, 0.961, 0.13), (0.5, 512, 1e-5, 0.975, 0.09),
        (0.5, 1024, 1e-5, 0.979, 0.08), (1.0, 1024, 1e-4, 0.970, 0.10),
    ]
]
# What python -m model.training.search writes (model.training.search.load_search_results checks it).
SEARCH_RESULTS = {
    "arch": "seed003_numpy",
    "rows": SEARCH_ROWS,
    "best": max(SEARCH_ROWS, key=lambda r: r["val_accuracy"]),
    "settings": {"train_size": 55000, "epochs": 1},
}


def write_search_results(folder: Path, text: str) -> Path:
    path = folder / "search" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_search_results_absent_is_an_info(artifacts):
    at = render("models", ARCHS[0])
    assert_healthy(at)
    assert any("No search results yet" in text and SEARCH_COMMAND in text for text in texts(at, "info"))


def test_search_results_table_and_plot(artifacts):
    write_search_results(artifacts, json.dumps(SEARCH_RESULTS))
    at = render("models", ARCHS[0])
    assert_healthy(at)
    search = at.dataframe[-1].value
    assert len(search) == len(SEARCH_ROWS)
    assert search["val_accuracy"].iloc[0] == max(r["val_accuracy"] for r in SEARCH_ROWS)  # best first
    scatter = plotly_specs(at)[-1]["data"]  # one trace per hidden size and weight decay
    assert sum(len(plotly_array(t["y"])) for t in scatter) == len(SEARCH_ROWS)
    assert {t["legendgroup"] for t in scatter} == {"512", "1024"}


@pytest.mark.parametrize("text", ['{"rows": [{"learning_rate": 0.5,', '{"rows": []}'])
def test_search_results_corrupt_is_named(artifacts, text):
    write_search_results(artifacts, text)
    at = render("models", ARCHS[0])
    assert not at.exception
    message = " ".join(texts(at, "error"))
    assert "search/results.json" in message and SEARCH_COMMAND in message
    assert at.dataframe[0].value is not None  # the model table is still there


def test_the_canvas_still_has_what_the_draw_page_relies_on():
    # pages/draw.py (with assets/canvas_fixes.js and canvas.css) moves the canvas's toolbar and
    # presses its "send now" button at the end of each stroke, to skip the component's 200 ms
    # debounce. Both depend on the component's bundle; an upgrade that renames them would
    # silently bring the delay back.
    import importlib.util

    # Located, not imported: importing it registers a component, which needs a running app.
    package = Path(importlib.util.find_spec("streamlit_drawable_canvas").origin).parent
    bundle_dir = package / "frontend" / "build"
    bundle = "".join(p.read_text() for p in bundle_dir.glob("*.js"))
    repo = Path(__file__).parent.parent
    page = "".join(p.read_text() for p in [repo / "pages" / "draw.py", *sorted((repo / "assets").glob("canvas*"))])
    for needle in ('"Update the app with this drawing"', "dc-toolbar", "upper-canvas"):
        assert needle in bundle, needle
        assert needle in page, needle


def test_pixel_grid_shows_every_pixel_enlarged_with_lines_between(mnist):
    from pages.common_figures import pixel_grid

    digit = mnist.test.images[0]
    grid = pixel_grid(digit, cell=10)
    assert grid.shape == (280, 280) and grid.dtype == np.uint8
    # Inside each cell, the pixel's own value; on the last row and column of a cell, the line.
    np.testing.assert_array_equal(grid[0::10, 0::10], digit)
    np.testing.assert_array_equal(grid[4::10, 4::10], digit)
    assert (grid[9::10, :] == round(0.15 * 255)).all() and (grid[:, 9::10] == round(0.15 * 255)).all()
    np.testing.assert_array_equal(pixel_grid(digit / 255.0, cell=10), grid)  # [0, 1] input too


@pytest.mark.parametrize("height", [320, 300])
def test_probability_figure_is_what_plotly_validation_would_make(height):
    import plotly.graph_objects as go

    from pages.common_colours import OTHER_BAR, WINNER_BAR
    from pages.common_figures import probability_figure, projector_layout

    probabilities = np.array([0.01, 0.002, 0.05, 0.8, 0.0, 0.1, 0.02, 0.008, 0.006, 0.004])
    figure = probability_figure(probabilities, height=height)
    # Built without validation for speed: validating it must neither drop nor change a thing,
    # and it keeps Streamlit's plotly template, which the page theme recolours.
    assert go.Figure(figure.to_dict()).to_dict() == figure.to_dict()
    assert figure.layout.template.layout.font is not None and figure.layout.height == height
    bar = figure.data[0]
    assert list(bar.x) == [str(d) for d in range(10)] and list(bar.y) == probabilities.tolist()
    assert list(bar.marker.color) == [WINNER_BAR if d == 3 else OTHER_BAR for d in range(10)]
    assert list(bar.text) == ["1%", "", "5%", "80%", "", "10%", "2%", "1%", "1%", ""]
    # The mistakes page restyles a validated copy; nothing done to a figure reaches the next one.
    restyled = projector_layout(go.Figure(figure), height=300, title="The ten probabilities")
    restyled.update_traces(textfont_size=18)
    assert go.Figure(restyled.to_dict()).to_dict() == restyled.to_dict()
    assert restyled.layout.title.text == "The ten probabilities" and restyled.data[0].textfont.size == 18
    figure.layout.margin.t = 99
    assert probability_figure(probabilities, height=height).layout.margin.t == 10


def test_the_served_config_keeps_what_a_class_needs():
    import tomllib

    from streamlit import config as st_config

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    # Each is measured in README "Running it for a class": Streamlit's post-run full GC cost
    # 40-100 ms a run (server CPU per drawing 183 -> 48 ms without it); file watching made every
    # session watch every imported module.
    assert config["runner"]["postScriptGC"] is False
    assert config["server"]["fileWatcherType"] == "none"
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"]["maxUploadSize"] <= 10
    # Each key is a real Streamlit option, so a renamed one cannot silently stop applying.
    for section, options in config.items():
        for name in options:
            st_config.get_option(f"{section}.{name}")  # raises for an option Streamlit lacks
