"""The Push it page and the Draw page's verdict, run by Streamlit's AppTest (no browser): the
sample digit or the student's drawing is pushed, a letter is called no digit, and a model
without (or with damaged) feature files still gets the page with a plain message."""
from __future__ import annotations

import shutil

import numpy as np
from streamlit.testing.v1 import AppTest

from model import MODEL_DIR
from model.data.preprocess import read_canvas
from pages.common_artifacts import MODEL_DIR_ENV
from pages.common_drawing import DRAWING_KEY
from tests.drawing import LETTER_K, place, render as render_strokes, smooth
from tests.test_pages import routed_server  # noqa: F401 - the fixture, used by every test here

APP = MODEL_DIR.parent / "app.py"
VERDICT = "This doesn't look much like any digit I know"


def push_page(arch: str = "cnn", drawing: np.ndarray | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.session_state["arch"] = arch
    if drawing is not None:
        at.session_state[DRAWING_KEY] = {"rgba": None, "image": drawing}
    at.switch_page("pages/push.py")
    return at.run()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_sample_digit_is_pushed_by_the_sliders():
    at = push_page()
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "Prediction") == "3"
    assert [s.label for s in at.slider] == ["Shift right", "Shift down", "Turn", "Size", "Stroke width", "Noise"]
    assert any("it becomes a" in m.value for m in at.markdown)  # the turn's flip points, in words
    next(s for s in at.slider if s.label == "Turn").set_value(90.0)
    at.run()
    assert not at.exception
    assert metric(at, "Prediction") != "3"


def test_a_drawn_letter_is_pushed_and_called_no_digit():
    letter = read_canvas(render_strokes(place([smooth(s, 4) for s in LETTER_K], 0.6), size=400)).image
    at = push_page(drawing=letter)
    assert not at.exception, [e.value for e in at.exception]
    assert any("your drawing" in c.value for c in at.caption)
    assert any(VERDICT in w.value for w in at.warning)


def test_models_without_or_with_damaged_feature_files(tmp_path, monkeypatch):
    for arch in ("cnn", "seed000_numpy"):
        shutil.copytree(MODEL_DIR / arch, tmp_path / arch)
    (tmp_path / "cnn" / "novelty.npz").write_bytes(b"not an archive")
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path))
    at = push_page("cnn")
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "Prediction") == "3"
    assert any("novelty.npz" in w.value and "python -m model.explaining.derived --arch cnn" in w.value for w in at.warning)
    at = push_page("seed000_numpy")  # no LiteRT export: no check and no map, the sliders work
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "Prediction") == "3"
    assert any("has no map" in c.value for c in at.caption)
