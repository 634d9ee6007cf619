"""Get MNIST on the Train and Our class pages (Streamlit's AppTest), on a fresh laptop's empty
data folder: the offer where MNIST is missing, the download from a real web server on 127.0.0.1,
the page ready to train once the files are in; offline, the message naming the four files and
where they go, and files copied in by hand found without a restart."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from model.data.mnist_download import MNIST_URL_ENV, download_status
from model.data.mnist_sources import IDX_MD5, MNIST_ENV
from tests.browser import free_port
from tests.mnist_server import MnistServer
from tests.test_class_pages import CODE, _fill, routed_server, unlocked_class_page  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parent.parent
GET = "Get MNIST (about 11 MB)"
WAIT = 60  # s


@pytest.fixture
def laptop(tmp_path, monkeypatch) -> Path:
    """A fresh laptop: an empty data folder, no $MNIST_DIR, no passcode."""
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIGITLAB_DB", f"sqlite:///{tmp_path / 'class.sqlite3'}")
    monkeypatch.delenv(MNIST_ENV, raising=False)
    monkeypatch.delenv("DIGITLAB_TEACHER_CODE", raising=False)
    from model.classroom.storage import _shared_storage

    _shared_storage.cache_clear()
    return tmp_path / "data"


def train_page() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("pages/train.py")
    return at.run()


def everything_said(at: AppTest) -> str:
    kinds = ("info", "error", "warning", "success", "markdown", "caption", "subheader", "header")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind)) + \
        "\n".join(b.label for b in at.button)


def wait_for_state(folder: Path, *states: str) -> None:
    deadline = time.monotonic() + WAIT
    while download_status(folder).state not in states:
        assert time.monotonic() < deadline, download_status(folder)
        time.sleep(0.05)


def test_the_train_page_offers_mnist_and_trains_once_it_is_here(laptop, monkeypatch, mnist_dir):
    at = train_page()
    assert not at.exception and not at.error
    said = everything_said(at)
    assert "Training needs the MNIST digits" in said and "Set MNIST_DIR" not in said
    assert not any(b.label == "Start" for b in at.button)
    with MnistServer(mnist_dir) as server:
        monkeypatch.setenv(MNIST_URL_ENV, server.url)
        at.button(key="train_mnist_get").click().run()
        assert not at.exception
        wait_for_state(laptop / "mnist", "done")
    at.run()
    assert not at.exception and not at.error
    assert any(h.value == "A new training" for h in at.header)
    assert any(b.label == "Start" for b in at.button)
    assert sorted(p.name for p in (laptop / "mnist").iterdir()) == sorted(IDX_MD5)


def test_offline_the_page_says_what_to_copy_where_and_finds_it_without_a_restart(
        laptop, monkeypatch, mnist_dir, tmp_path):
    monkeypatch.setenv(MNIST_URL_ENV, f"http://127.0.0.1:{free_port()}/mnist/")  # nothing listens
    at = train_page()
    at.button(key="train_mnist_get").click().run()
    wait_for_state(laptop / "mnist", "failed")
    at.run()
    assert not at.exception
    said = everything_said(at)
    assert any("MNIST could not be downloaded" in e.value and "could not reach 127.0.0.1" in e.value
               for e in at.error)
    assert all(name in said for name in IDX_MD5) and "`data/mnist`" in said and "No restart is needed" in said
    assert str(tmp_path) not in said  # no server path on the page
    assert any(b.label == "Try again" for b in at.button)
    # The teacher copies the four files in (links to the real ones here); the page looks again.
    (laptop / "mnist").mkdir(parents=True)
    for name in IDX_MD5:
        (laptop / "mnist" / name).symlink_to(Path(mnist_dir).resolve() / name)
    at.run()
    assert not at.exception and not at.error
    assert any(b.label == "Start" for b in at.button)


def test_with_a_passcode_only_the_teacher_gets_mnist(laptop, monkeypatch):
    monkeypatch.setenv("DIGITLAB_TEACHER_CODE", "owl-42")
    at = train_page()
    assert at.button(key="train_mnist_get").disabled
    at.text_input[0].input("owl-42").run()
    assert not at.button(key="train_mnist_get").disabled


def test_the_class_page_offers_mnist_in_place_of_fine_tuning(laptop, monkeypatch):
    from model.classroom.storage import _shared_storage

    import os

    _shared_storage.cache_clear()
    _fill(os.environ["DIGITLAB_DB"])
    at = unlocked_class_page(monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    assert any("Fine-tuning mixes MNIST digits" in i.value for i in at.info)
    assert any(b.label == GET for b in at.button) and not any(b.label == "Fine-tune" for b in at.button)
