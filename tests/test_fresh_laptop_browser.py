"""A teacher's laptop the evening before a lesson, in a real browser: a fresh clone of this
checkout with no ``../shared/mnist`` beside it, ``make run``, the Train page offering Get MNIST,
the download from a web server on 127.0.0.1 (standing in for the public mirror: this machine has
no internet) with its progress bar in two tabs and one download, then a small network trained on
what came, in the model picker, and its zip downloaded from the Models page and run.

The clone is of the commit checked out, with the checkout's uncommitted changes and new files
copied over it. It uses this test run's virtual environment (``.venv`` links to it, and make is
told not to install it again: TensorFlow alone would take minutes), which is what a teacher's
second ``make run`` finds.

Run: ``.venv/bin/python -m pytest -m slow tests/test_fresh_laptop_browser.py``  (about 2 minutes)
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from model.data.mnist_sources import IDX_MD5
from tests.browser import REPO, browser_available, free_port, wait_for_app
from tests.mnist_server import MnistServer
from tests.test_export import assert_read_right, digit_pictures, read_with_predict
from tests.test_train_browser import EXCEPTION, PICKER, TRAINING, choose, set_epochs, wait_for_state

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
    pytest.mark.skipif(shutil.which("make") is None or shutil.which("git") is None, reason="needs make and git"),
]

TIMEOUT = 60_000  # ms; generous: the machine is shared
START = 120  # s for make run to serve the app
GET = "Get MNIST (about 11 MB)"
MODEL = "seed002-mlp-1"
# Settings of the machine running the tests that a fresh laptop does not have.
NOT_ON_THE_LAPTOP = ("MNIST_DIR", "DIGITLAB_DATA_DIR", "DIGITLAB_MODEL_DIR", "DIGITLAB_DB", "DIGITLAB_TEACHER_CODE",
                     "DIGITLAB_MNIST_URL", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def fresh_clone(target: Path) -> Path:
    """A clone of the checked-out commit, with the checkout's uncommitted edits and new files."""
    target.parent.mkdir(parents=True, exist_ok=True)
    git("clone", "--quiet", "--depth", "1", f"file://{REPO}", str(target), cwd=target.parent)
    changed = git("diff", "--name-only", "HEAD").splitlines()
    new = git("ls-files", "--others", "--exclude-standard").splitlines()
    for name in changed + new:
        if name == ".venv" or name.startswith(".venv/"):
            continue
        source, copy = REPO / name, target / name
        if source.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
        else:
            copy.unlink(missing_ok=True)
    (target / ".venv").symlink_to(Path(sys.prefix))
    return target


@contextlib.contextmanager
def make_run(clone: Path, mnist_url: str, log: Path):
    """``make run`` in the clone, serving on a free port of 127.0.0.1; its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in NOT_ON_THE_LAPTOP}
    env.update(DIGITLAB_MNIST_URL=mnist_url, STREAMLIT_SERVER_PORT=str(port),
               STREAMLIT_SERVER_ADDRESS="127.0.0.1", STREAMLIT_SERVER_HEADLESS="true")
    with open(log, "wb") as out:
        server = subprocess.Popen(["make", "-o", ".venv/.app-installed", "run"], cwd=clone, env=env,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START
        while True:
            assert server.poll() is None, f"make run ended ({server.returncode}):\n{log.read_text()[-3000:]}"
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            assert time.monotonic() < deadline, f"make run served nothing in {START} s:\n{log.read_text()[-3000:]}"
            time.sleep(0.25)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)  # make and the streamlit it started
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def open_train(page, url: str) -> None:
    page.goto(url + "/train")
    wait_for_app(page, timeout=TIMEOUT)
    page.get_by_role("heading", name="Train a network", exact=True).wait_for()


def fewest_digits(page) -> None:
    """1,000 training digits: the smallest run the page offers."""
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Training digits").get_by_role("slider")
    slider.focus()
    slider.press("Home")
    expect(slider).to_have_attribute("aria-valuetext", "1,000")
    wait_for_app(page, timeout=TIMEOUT)


def test_a_fresh_laptop_gets_mnist_trains_and_takes_the_model_home(tmp_path, browser, mnist):
    clone = fresh_clone(tmp_path / "laptop" / "digitlab")
    assert not (clone.parent.parent / "shared").exists() and not (clone / "data").exists()
    results = REPO / "test-results"
    results.mkdir(exist_ok=True)
    # The big file at 1 MB/s: ten seconds in which both tabs show the one download.
    with MnistServer(mnist.source, slow_file="train-images-idx3-ubyte.gz", bytes_per_second=1_000_000) as mirror, \
            make_run(clone, mirror.url, results / "fresh_laptop_make_run.log") as url:
        context = browser.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
        teacher, other_tab = context.new_page(), context.new_page()
        for page in (teacher, other_tab):
            page.set_default_timeout(TIMEOUT)
        try:
            open_train(teacher, url)
            open_train(other_tab, url)
            for page in (teacher, other_tab):
                page.get_by_text("Training needs the MNIST digits").wait_for()
                page.get_by_role("button", name=GET).wait_for()
                assert page.get_by_text("MNIST_DIR").count() == 0 and page.locator(EXCEPTION).count() == 0

            teacher.get_by_role("button", name=GET).click()
            progress = teacher.locator('[data-testid="stProgress"]').filter(has_text="Downloading MNIST from 127.0.0.1")
            progress.wait_for()
            # The other tab, polling once a second, shows the same download and offers no second one.
            other_tab.locator('[data-testid="stProgress"]').filter(has_text="Downloading MNIST").wait_for()
            assert other_tab.get_by_role("button", name=GET).count() == 0

            # Once the files are in, both pages offer training by themselves: no restart, no reload.
            for page in (teacher, other_tab):
                page.get_by_role("heading", name="A new training", exact=True).wait_for()
            assert mirror.requests == list(IDX_MD5)  # each file fetched once
            assert sorted(p.name for p in (clone / "data" / "mnist").iterdir()) == sorted(IDX_MD5)

            wait_for_app(teacher, timeout=TIMEOUT)
            choose(teacher, "Network", "seed002_mlp")
            set_epochs(teacher, 1)
            fewest_digits(teacher)
            expect(teacher.get_by_role("textbox", name="Name of the new model", exact=True)).to_have_value(MODEL)
            teacher.get_by_role("button", name="Start").click()
            wait_for_state(teacher, ("Finished",), timeout=TRAINING)
            assert teacher.locator(EXCEPTION).count() == 0

            picker = teacher.locator(PICKER)
            picker.click()
            teacher.get_by_role("option").filter(has_text=f"{MODEL} (trained here)").wait_for()
            teacher.keyboard.press("Escape")

            # Take it home: the Models page's Download, unzipped and run.
            teacher.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Models", exact=True).click()
            wait_for_app(teacher, timeout=TIMEOUT)
            button = teacher.locator(f".st-key-models_download_{MODEL}").get_by_role("button", name="Download")
            with teacher.expect_download() as download:
                button.click()
            assert download.value.suggested_filename == f"digitlab-{MODEL}.zip"
            saved = tmp_path / download.value.suggested_filename
            download.value.save_as(saved)
            with zipfile.ZipFile(saved) as archive:
                archive.extractall(tmp_path / "home")
            folder = tmp_path / "home" / f"digitlab-{MODEL}"
            assert {"model.tflite", "model.keras", "card.json", "predict.py", "preprocess.py", "README.md",
                    "requirements.txt"} <= {p.name for p in folder.iterdir()}
            pictures = digit_pictures(mnist, tmp_path / "pictures")
            output = read_with_predict(folder, pictures)
            print(f"\n{saved.name}: {saved.stat().st_size / 2**20:.2f} MB\n{output}")
            assert_read_right(output, pictures, right=False)  # a 1-epoch network may misread one
        except Exception:
            for name, page in (("teacher", teacher), ("other_tab", other_tab)):
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(results / f"fresh_laptop_{name}.png"), full_page=True)
            raise
        finally:
            context.close()
