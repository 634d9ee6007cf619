"""The class features in a real browser: a student draws and answers "No, it was 4"; the
teacher opens the Class page with the passcode and finds the drawing in the class's confusion
matrix; the export imports into a fresh database with the same counts; a wrong passcode shows
nothing; the teacher's Fine-tune button trains a real model on the class's drawings, once however
often it is pressed, and the new model reads the class's drawings from the picker.

Run: ``.venv/bin/python -m pytest tests/test_class_browser.py``  (about two minutes)
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from model.classroom import classdata, finetune_runs
from model.classroom.finetune_runs import CHECK_DIGITS_ENV, MNIST_DIGITS_ENV
from model.classroom.storage import Storage
from model.serving.inference import load_classifier
from tests.browser import REPO, browser_available, streamlit_server
from tests.conftest import mnist_folder
from tests.drawing import CANVAS, EMPTY_HINT, class_drawings, draw_digit, read_prediction, wait_idle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
]

TIMEOUT = 60_000  # ms; generous: the machine is shared
VIEWPORT = {"width": 1400, "height": 1100}
PASSCODE = "owl-and-pussycat-42"
CLASS_CODE = "7B"
DRAWN, ANSWERED = 9, 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    db = f"sqlite:///{folder / 'class.sqlite3'}"
    env = {"DIGITLAB_DB": db, "DIGITLAB_DATA_DIR": str(folder / "data"), "DIGITLAB_TEACHER_CODE": PASSCODE,
           # The Fine-tune button's run, as a slow server would set it: its training is seconds,
           # not minutes (the blend is checked on the 5,000 validation digits alone).
           MNIST_DIGITS_ENV: "500", CHECK_DIGITS_ENV: "0", "MNIST_DIR": str(Path(mnist_folder()).resolve())}
    with streamlit_server(env=env, timeout=120) as url:
        yield {"url": url, "db": db, "folder": folder}


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    try:
        yield page
    finally:
        # Kept for a look when a test fails (test-results/ is git-ignored).
        (REPO / "test-results").mkdir(exist_ok=True)
        with contextlib.suppress(Exception):
            page.screenshot(path=str(REPO / "test-results" / f"{request.node.name}.png"), full_page=True)
        context.close()


def open_class_page(page, url: str, passcode: str) -> None:
    page.goto(url + "/class", timeout=TIMEOUT)
    wait_idle(page, TIMEOUT)
    page.get_by_label("Teacher's passcode").fill(passcode)
    page.get_by_role("button", name="Unlock").click()
    wait_idle(page, TIMEOUT)


def class_confusion(page) -> list[list[int]]:
    """The class confusion matrix the page plotted (plotly keeps the figure's data on its div)."""
    plot = page.locator(".st-key-class_confusion .js-plotly-plot")
    plot.wait_for(state="attached", timeout=TIMEOUT)
    return page.evaluate("el => el.data[0].z", plot.element_handle())


def test_a_wrong_answer_is_counted_on_the_class_page_and_exports(server, page, tmp_path):
    # The module's server keeps one database; this test counts from an empty one (its own import
    # below leaves two answers, which a repeat, pytest --count, would otherwise find).
    Storage(server["db"]).delete_all()
    page.goto(server["url"] + f"/?class={CLASS_CODE}", timeout=120_000)  # the teacher's link
    wait_idle(page, 120_000)
    page.locator(CANVAS).last.wait_for(state="visible", timeout=120_000)
    page.get_by_text(EMPTY_HINT).wait_for(state="visible", timeout=120_000)
    draw_digit(page, DRAWN)
    predicted = int(read_prediction(page, timeout=TIMEOUT))
    assert predicted != ANSWERED
    page.get_by_text("Right?").wait_for(state="visible")
    page.locator('[data-testid="stButtonGroup"]').get_by_text(str(ANSWERED), exact=True).click()
    page.get_by_text(f"Saved: it was a {ANSWERED}").wait_for(state="visible", timeout=TIMEOUT)

    open_class_page(page, server["url"], PASSCODE)
    page.get_by_text("Our class", exact=True).first.wait_for(state="visible")
    matrix = np.array(class_confusion(page))
    assert matrix.sum() == 1 and matrix[ANSWERED].sum() == 1
    drawings = page.locator('[data-testid="stMetric"]').filter(has_text="Drawings")
    assert drawings.locator('[data-testid="stMetricValue"]').inner_text() == "1"
    assert page.get_by_role("combobox").first.is_visible()
    assert CLASS_CODE in Storage(server["db"]).class_codes()

    with page.expect_download(timeout=TIMEOUT) as download:
        page.get_by_role("button", name="Export the drawings shown (.npz)").click()
    exported = tmp_path / "class.npz"
    download.value.save_as(exported)
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    done = subprocess.run([sys.executable, "-m", "model.classroom.classdata", "import", str(exported), "--db", fresh],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    source, copy = Storage(server["db"]).answers(), Storage(fresh).answers()
    assert len(copy) == len(source) == 1
    assert copy.labels.tolist() == source.labels.tolist() == [ANSWERED]
    assert copy.predicted.tolist() == source.predicted.tolist() == [predicted]
    np.testing.assert_array_equal(copy.images, source.images)

    # The page's own import: the same file once more makes the class's 4s two.
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(exported))
    wait_idle(page, TIMEOUT)
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("Imported 1 drawings.").wait_for(state="visible", timeout=TIMEOUT)
    wait_idle(page, TIMEOUT)
    assert np.array(class_confusion(page))[ANSWERED].sum() == 2


def test_a_wrong_passcode_shows_nothing(server, page):
    open_class_page(page, server["url"], "not-the-passcode")
    page.get_by_text("That passcode is not right.").wait_for(state="visible")
    assert page.locator(".js-plotly-plot").count() == 0
    assert page.locator('[data-testid="stMetric"]').count() == 0
    assert page.get_by_text("Export the drawings").count() == 0


FINETUNED = "cnn_class"  # the page's own suggestion for the shipped cnn
FINETUNE_TIMEOUT = 300  # s; the run takes well under a minute alone, much longer on a busy machine
PROGRESS = '[data-testid="stProgress"] [role="progressbar"]'


def finetune_processes(progress: Path) -> list[int]:
    """The processes fine-tuning into ``progress`` (by their command lines)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            command = proc.joinpath("cmdline").read_bytes().split(b"\0")
            if b"model.classroom.finetune" in command and str(progress).encode() in command:
                found.append(int(proc.name))
    return found


def progress_seen(page) -> tuple[float, str] | None:
    """The fine-tuning's progress bar as the page shows it now: (fraction, message)."""
    with contextlib.suppress(Exception):
        bar = page.locator(PROGRESS)
        if bar.count():
            value = float(bar.first.get_attribute("aria-valuenow", timeout=2_000))
            message = page.locator('[data-testid="stProgress"]').first.inner_text(timeout=2_000).strip()
            return value, message
    return None


@pytest.mark.slow
@pytest.mark.mnist
def test_the_fine_tune_button_trains_one_model_that_the_class_page_then_uses(server, browser, page, mnist_dir):
    from playwright.sync_api import expect

    storage = Storage(server["db"])
    images, labels, sessions = class_drawings(writers=4, per_digit=1, seed=22)
    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=labels, sessions=sessions)
    seeded = classdata.import_npz(storage, buffer.getvalue(), "FT")
    assert seeded == len(labels) >= 20  # enough for model.classroom.finetune's minimum
    progress = server["folder"] / "data" / finetune_runs.PROGRESS_FILE

    # A second teacher's tab, open before the button is pressed: its button is stale.
    other = browser.new_context(viewport=VIEWPORT)
    second = other.new_page()
    second.set_default_timeout(TIMEOUT)
    try:
        open_class_page(second, server["url"], PASSCODE)
        second.get_by_role("button", name="Fine-tune").wait_for(state="visible")

        open_class_page(page, server["url"], PASSCODE)
        expect(page.get_by_label("Name of the new model")).to_have_value(FINETUNED, timeout=TIMEOUT)
        page.get_by_role("button", name="Fine-tune").click()
        page.locator(PROGRESS).first.wait_for(state="visible", timeout=TIMEOUT)
        run_pid = json.loads(progress.read_text())["pid"]

        # The stale button pressed while the run goes: nothing new starts, the tab shows the run.
        second.get_by_role("button", name="Fine-tune").click()
        wait_idle(second, TIMEOUT)
        second.locator(PROGRESS).first.wait_for(state="visible", timeout=TIMEOUT)
        assert second.get_by_role("button", name="Fine-tune").count() == 0

        seen, ready = [], page.get_by_text(f"{FINETUNED} is ready and in the model picker")
        failed = page.get_by_text("Fine-tuning did not finish")
        deadline = time.monotonic() + FINETUNE_TIMEOUT
        while not (ready.count() or failed.count()):
            assert time.monotonic() < deadline, f"no end of the fine-tuning in {FINETUNE_TIMEOUT} s: {seen}"
            assert finetune_processes(progress) in ([run_pid], []), "a second fine-tuning started"
            now = progress_seen(page)
            if now and (not seen or now != seen[-1]):
                seen.append(now)
            page.wait_for_timeout(250)
        assert not failed.count(), failed.inner_text() + "\n" + progress.with_suffix(".log").read_text()[-3000:]
        assert len(seen) >= 2, f"the page's progress bar never moved: {seen}"
        fractions = [fraction for fraction, _ in seen]
        assert fractions == sorted(fractions) and fractions[-1] < 100, seen
        assert json.loads(progress.read_text())["pid"] == run_pid  # the one run, to its end

        card = json.loads((server["folder"] / "data" / "models" / FINETUNED / "card.json").read_text())
        assert card["base"]["arch"] == "cnn" and card["data"]["mnist_train_digits"] == 500
        assert card["class_data"]["drawings"] == len(Storage(server["db"]).answers())

        # Chosen in the sidebar's picker, the new model reads the class's drawings on this page.
        page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Model").click()
        page.get_by_role("option", name=re.compile(rf"^{FINETUNED} \(trained here\) —")).click()
        page.get_by_text(f"Model {FINETUNED} reads every drawing again").wait_for(state="visible")
        wait_idle(page, TIMEOUT)
        answers = Storage(server["db"]).answers()
        tuned = load_classifier(FINETUNED, server["folder"] / "data" / "models")
        accuracy = float((tuned.predict_proba(answers.images).argmax(axis=1) == answers.labels).mean())
        ours = page.locator('[data-testid="stMetric"]').filter(has_text="Our class")
        assert ours.locator('[data-testid="stMetricValue"]').inner_text() == f"{accuracy:.1%}"
    finally:
        other.close()
        # A run the test started must not outlive it (it runs in a session of its own).
        for pid in finetune_processes(progress):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        storage.delete(storage.answers(class_code="FT").ids.tolist())
        storage.close()
