"""The feedback widget and the Class page without a browser (Streamlit's AppTest), on a real
SQLite file: what is stored for each answer, the opt-out, a broken database, the passcode."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from model.classroom.storage import Answer, Storage

REPO = Path(__file__).resolve().parent.parent
CODE = "teacher-secret-7"


@pytest.fixture(autouse=True)
def routed_server(monkeypatch):
    """As in test_pages.py: every AppTest server counts as routed through app.py already."""
    import streamlit.testing.v1.app_test as app_test
    from streamlit.runtime.pages_manager import PagesManager

    class RoutedPagesManager(PagesManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    monkeypatch.setattr(app_test, "PagesManager", RoutedPagesManager)


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'class.sqlite3'}"
    monkeypatch.setenv("DIGITLAB_DB", url)
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(tmp_path / "data"))
    from model.classroom.storage import _shared_storage

    _shared_storage.cache_clear()
    return url


def feedback_script():
    import numpy as np

    from model.serving.inference import load_classifier
    from pages.common_feedback import ask_feedback

    classifier = load_classifier("cnn")
    image = np.zeros((28, 28), np.float32)
    image[4:24, 12:16] = 1.0  # a plain upright stroke: a 1
    ask_feedback(classifier, image, classifier.predict_proba(image[None])[0])


def run_feedback(query: str | None = None) -> AppTest:
    at = AppTest.from_function(feedback_script, default_timeout=60)
    if query:
        at.query_params["class"] = query
    return at.run()


def test_yes_stores_the_drawing_with_the_prediction(db):
    at = run_feedback(query="7B")
    assert not at.exception
    yes = next(b for b in at.button if b.label.startswith("Yes, it's a"))
    predicted = int(yes.label.rsplit(" ", 1)[1])
    yes.click().run()
    assert not at.exception
    assert any("Saved: the model was right" in s.value for s in at.success)
    got = Storage(db).answers()
    assert got.labels.tolist() == got.predicted.tolist() == [predicted]
    assert got.class_codes.tolist() == ["7B"] and got.models.tolist() == ["cnn"]
    assert len(got.sessions[0]) == 16 and np.isclose(got.probabilities[0].sum(), 1, atol=1e-4)
    # Undo takes it back out of the database.
    next(b for b in at.button if b.label == "Undo").click().run()
    assert Storage(db).count() == 0


def test_no_it_was_stores_the_students_digit(db):
    at = run_feedback()
    pills = at.get("button_group")[0]
    choice = next(d for d in range(10) if d in pills.options or str(d) in map(str, pills.options))
    pills.set_value(choice).run()
    assert not at.exception
    assert Storage(db).answers().labels.tolist() == [choice]
    assert Storage(db).answers().class_codes.tolist() == [""]


def picked_twice_script():
    import numpy as np

    from model.serving.inference import load_classifier
    from pages.common_feedback import _digest, _picked

    classifier = load_classifier("cnn")
    image = np.zeros((28, 28), np.float32)
    image[4:24, 12:16] = 1.0
    probabilities = classifier.predict_proba(image[None])[0]
    import streamlit as st

    st.session_state["pick"] = 4
    # The same pick, called back a second time: what a timed fragment run carrying the browser's
    # stale pick does after the run that stored it.
    for _ in range(2):
        _picked("pick", image, probabilities, "cnn", None, _digest(image))


def test_a_pick_called_back_twice_is_stored_once(db):
    at = AppTest.from_function(picked_twice_script, default_timeout=60).run()
    assert not at.exception
    assert Storage(db).answers().labels.tolist() == [4]


def two_drawings_script():
    import numpy as np
    import streamlit as st

    from model.serving.inference import load_classifier
    from pages.common_feedback import ask_feedback

    classifier = load_classifier("cnn")
    image = np.zeros((28, 28), np.float32)
    if st.session_state.get("which_drawing", 0) == 0:
        image[4:24, 12:16] = 1.0  # a 1
    else:
        image[4:8, 6:22] = image[4:24, 18:22] = 1.0  # a 7
    ask_feedback(classifier, image, classifier.predict_proba(image[None])[0])


def test_each_new_drawing_is_asked_afresh(db):
    at = AppTest.from_function(two_drawings_script, default_timeout=60).run()
    pills = at.get("button_group")[0]
    choice = next(d for d in range(10) if d in pills.options or str(d) in map(str, pills.options))
    pills.set_value(choice).run()
    assert Storage(db).answers().labels.tolist() == [choice]
    at.session_state["which_drawing"] = 1
    at.run()
    assert not at.exception
    assert not any("Saved" in s.value for s in at.success), "the first drawing's answer shown on the second"
    assert at.get("button_group")[0].value is None, "the first drawing's pick carried over"
    yes = next(b for b in at.button if b.label.startswith("Yes, it's a"))
    yes.click().run()
    assert Storage(db).count() == 2


def test_the_switch_off_stores_nothing(db):
    at = run_feedback()
    at.toggle[0].set_value(False).run()
    assert not at.exception and not at.button
    assert any("Nothing you draw is kept" in c.value for c in at.caption)


def test_a_broken_database_is_a_plain_message(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DIGITLAB_DB", f"sqlite:///{blocker / 'class.sqlite3'}")
    at = run_feedback()
    next(b for b in at.button if b.label.startswith("Yes")).click().run()
    assert not at.exception
    assert any("could not be saved" in w.value for w in at.warning)
    assert not any(str(tmp_path) in w.value for w in at.warning)


def test_a_malformed_class_code_in_the_link_is_said_not_crashed_on(db):
    at = run_feedback(query="7B/../x")
    assert not at.exception
    next(b for b in at.button if b.label.startswith("Yes")).click().run()
    assert not at.exception and Storage(db).count() == 0
    assert any("class code" in w.value for w in at.warning)


def class_page(monkeypatch, code: str | None) -> AppTest:
    if code is None:
        monkeypatch.delenv("DIGITLAB_TEACHER_CODE", raising=False)
    else:
        monkeypatch.setenv("DIGITLAB_TEACHER_CODE", code)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    # Run once first: before a run, AppTest knows a page only by its file name, not its url_path.
    at.run()
    at.switch_page("pages/class.py")
    return at.run()


def _fill(db: str, n: int = 12) -> None:
    rng = np.random.default_rng(0)
    Storage(db).add_many(Answer(image=rng.random((28, 28), dtype=np.float32) * 0.2, label=i % 10,
                                session=f"s{i % 3}", predicted=i % 10) for i in range(n))


def test_without_a_passcode_set_the_class_page_says_how_and_shows_nothing(db, monkeypatch):
    _fill(db)
    at = class_page(monkeypatch, None)
    assert not at.exception
    assert any("DIGITLAB_TEACHER_CODE" in i.value for i in at.info)
    assert not at.metric and not at.text_input


def test_the_class_page_opens_only_with_the_passcode(db, monkeypatch):
    _fill(db)
    at = class_page(monkeypatch, CODE)
    assert not at.metric
    at.text_input[0].input("guess")
    at.button[0].click().run()
    assert any("not right" in e.value for e in at.error) and not at.metric
    at.text_input[0].input(CODE)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    drawings = next(m for m in at.metric if m.label == "Drawings")
    assert drawings.value == "12"
    assert any(m.label == "MNIST test" for m in at.metric)


def unlocked_class_page(monkeypatch) -> AppTest:
    at = class_page(monkeypatch, CODE)
    at.text_input[0].input(CODE)
    at.button[0].click().run()
    return at


def test_the_fine_tuning_progress_is_shown(db, monkeypatch, tmp_path, mnist_dir):
    import json
    import os

    monkeypatch.setenv("MNIST_DIR", mnist_dir)  # else the page offers to get MNIST in the button's place
    _fill(db)
    progress = tmp_path / "data" / "finetune-progress.json"
    progress.parent.mkdir(parents=True, exist_ok=True)
    progress.write_text(json.dumps({"state": "running", "message": "Training, epoch 2 of 3", "fraction": 0.5,
                                    "pid": os.getpid()}))
    at = unlocked_class_page(monkeypatch)
    assert not at.exception
    assert not any(b.label == "Fine-tune" for b in at.button)  # one run at a time
    progress.write_text(json.dumps({"state": "done", "name": "cnn_class", "scores": {
        "before": {"mnist_test": 0.9961, "held_out_class": 0.95},
        "after": {"mnist_test": 0.996, "held_out_class": 0.99}}}))
    at.run()
    assert any("cnn_class** is ready" in s.value and "95.0% before, 99.0% after" in s.value for s in at.success)
    assert any(b.label == "Fine-tune" for b in at.button)
    # A run whose process is gone is not "running" for ever.
    progress.write_text(json.dumps({"state": "running", "message": "x", "fraction": 0.1, "pid": 2**22 + 12345}))
    at.run()
    assert any("did not finish" in e.value for e in at.error)


def test_the_draw_pages_question_does_not_load_the_database_library():
    """SQLAlchemy is slow to import: the first prediction must not wait for it."""
    import subprocess
    import sys

    script = "import sys, pages.common_feedback; print('sqlalchemy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_the_train_page_and_the_fine_tuning_share_one_slot(db, monkeypatch, mnist_dir):
    """While the class's fine-tuning runs, the Train page says so and offers the queue; while a
    Train-page job trains, the Class page says a fine-tuning must wait."""
    import os
    import signal
    import subprocess
    import sys

    from model.jobs import queue, slot
    from model.jobs.job import JobSpec
    from model.jobs.models import recipe_choices

    monkeypatch.setenv("MNIST_DIR", mnist_dir)
    monkeypatch.delenv("DIGITLAB_TEACHER_CODE", raising=False)
    tuner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        queue.hold_slot("cnn_class", lambda: tuner.pid)
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
        at.run()
        at.switch_page("pages/train.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("cnn_class is being fine-tuned for the class now" in i.value for i in at.info)
        assert any(s.value == "cnn_class: Fine-tuning for the class" for s in at.subheader)
        labels = [b.label for b in at.button]
        assert "Add to queue" in labels and "Start" not in labels and "Stop" not in labels
        queue.enqueue(JobSpec(name="mlp-now", recipe="seed002_mlp", epochs=30, train_size=2000),
                      list(recipe_choices()))
    finally:
        tuner.kill()
        tuner.wait()

    # The fine-tuning has ended: the teacher's Class page, looking again, starts the waiting run.
    _fill(db)
    try:
        at = unlocked_class_page(monkeypatch)
        assert queue.queued() == [] and queue.running_job().spec.name == "mlp-now"
        assert not at.exception, [e.value for e in at.exception]
        assert any("mlp-now is training on the Train page now" in i.value for i in at.info)
        next(b for b in at.button if b.label == "Fine-tune").click().run()
        assert any("mlp-now is training now" in w.value and "Fine-tune when" in w.value for w in at.warning)
        assert queue.slot_holder().spec.name == "mlp-now"  # no fine-tuning took the slot
    finally:
        os.kill(slot.running_pid(), signal.SIGKILL)


@pytest.mark.parametrize("lang", ["de", "fr", "es"])
def test_the_class_page_speaks_the_language(db, monkeypatch, mnist_dir, lang):
    """The teacher's page in German, French and Spanish: its passcode form, the class data (the
    figures, both matrices, the per-digit table, the mistakes, managing, fine-tuning), the Round
    view's form, and the empty wall; no English message left anywhere."""
    from model.i18n import catalog
    from tests.test_languages import english_left, extracted_messages, shown_text

    monkeypatch.setenv("MNIST_DIR", mnist_dir)
    template = extracted_messages()
    words = catalog.translations(lang).gettext
    _fill(db)
    monkeypatch.setenv("DIGITLAB_TEACHER_CODE", CODE)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.query_params["lang"] = lang
    at.run()
    at.switch_page("pages/class.py")
    at.run()
    assert words("Our class vs MNIST") in [t.value for t in at.title]
    assert english_left(shown_text(at), lang, template) == []
    at.text_input[0].input(CODE)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [m.label for m in at.metric][:1] == [words("Drawings")]
    assert english_left(shown_text(at), lang, template) == []
    for view in ("Round", "Wall"):
        at.get("button_group")[0].set_value(view).run()
        assert not at.exception, [e.value for e in at.exception]
        assert english_left(shown_text(at), lang, template) == [], view
        if view == "Round":
            assert words("Start the round") in shown_text(at)
        else:
            assert [i.value for i in at.info] == [words("No round yet. Start one in the Round view; the wall fills "
                                                       "as you approve drawings.")]
