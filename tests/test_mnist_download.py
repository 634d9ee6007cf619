"""Get MNIST: the four original files fetched from a real web server on 127.0.0.1
(``tests/mnist_server.py``, serving the real files) into the data folder, each checked before it
gets its name; a wrong file refused by its checksum, an interrupted one leaving nothing behind,
one download at a time across threads and processes, the offline advice, the command line, and
the loader's order ($MNIST_DIR, the data folder's copy, the download)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from model import DATA_DIR_ENV
from model.data.mnist import load_mnist
from model.data.mnist_download import (
    MNIST_URL_ENV,
    TOTAL_BYTES,
    DownloadError,
    download_mnist,
    download_status,
    mnist_url,
    start_download,
)
from model.data.mnist_sources import (
    IDX_BYTES,
    IDX_MD5,
    MNIST_ENV,
    MnistError,
    data_copy_dir,
    file_digest,
    find_mnist,
)
from model.jobs.job import mnist_problem
from tests.browser import REPO, free_port
from tests.mnist_server import MnistServer

WAIT = 60  # s


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    """An empty data folder, no $MNIST_DIR: a fresh laptop."""
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.delenv(MNIST_ENV, raising=False)
    monkeypatch.delenv(MNIST_URL_ENV, raising=False)
    return tmp_path / "data"


def everything_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def linked_copy(source: str, target: Path) -> Path:
    """A folder holding MNIST as links to the real files (never a copy of MNIST)."""
    target.mkdir(parents=True)
    for name in IDX_MD5:
        (target / name).symlink_to(Path(source).resolve() / name)
    return target


def wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {WAIT} s; {download_status()}"
        time.sleep(0.05)
    return value


def test_the_four_files_arrive_checked_and_the_loader_reads_them(data, monkeypatch, mnist_dir):
    with MnistServer(mnist_dir) as server:
        monkeypatch.setenv(MNIST_URL_ENV, server.url)
        assert find_mnist() is None and mnist_problem() is not None
        folder = download_mnist()
        assert folder == data / "mnist"
        assert everything_in(folder) == sorted(IDX_MD5)  # nothing else: no temporary file left
        for name, md5 in IDX_MD5.items():
            assert file_digest(folder / name) == md5
            assert (folder / name).stat().st_mode & 0o777 == 0o644
        status = download_status()
        assert (status.state, status.done, status.total) == ("done", TOTAL_BYTES, TOTAL_BYTES)
        assert server.requests == list(IDX_MD5)
        assert find_mnist() == folder and mnist_problem() is None
        assert load_mnist().source == str(folder)

        download_mnist()  # all there: nothing is fetched again
        assert server.requests == list(IDX_MD5)


def test_a_wrong_file_is_refused_by_its_checksum_and_not_kept(data, mnist_dir):
    folder = data / "mnist"
    with MnistServer(mnist_dir, wrong="t10k-images-idx3-ubyte.gz") as server:
        with pytest.raises(DownloadError, match=r"t10k-images-idx3-ubyte.gz from 127.0.0.1:\d+ is not the original "
                           r"MNIST file \(its MD5 checksum differs"):
            download_mnist(folder, server.url)
    # The two files that passed stay; nothing of the wrong one, under its name or another.
    assert everything_in(folder) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    status = download_status(folder)
    assert status.state == "failed" and "not the original MNIST file" in status.message
    assert find_mnist() is None
    with MnistServer(mnist_dir) as good:
        download_mnist(folder, good.url)
        assert good.requests == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert find_mnist() == folder


def test_a_download_cut_off_midway_leaves_nothing_behind(data, mnist_dir):
    folder = data / "mnist"
    with MnistServer(mnist_dir, cut="train-images-idx3-ubyte.gz") as server:
        with pytest.raises(DownloadError, match=r"The download of train-images-idx3-ubyte.gz from 127.0.0.1:\d+ "
                           r"stopped after 4.7 MB of 9.5 MB; nothing of it was kept"):
            download_mnist(folder, server.url)
    assert not folder.exists()  # the folder it made, empty, went too
    assert download_status(folder).state == "failed"


def test_offline_the_message_says_which_files_to_copy_where(data, monkeypatch):
    nobody = f"http://127.0.0.1:{free_port()}/mnist/"  # nothing listens there
    with pytest.raises(DownloadError, match=r"could not reach 127.0.0.1:\d+ \(Connection refused\)"):
        download_mnist(url=nobody)
    # The loader with nothing to read tries the download, and says what to copy where.
    monkeypatch.setenv(MNIST_URL_ENV, nobody)
    with pytest.raises(MnistError) as raised:
        load_mnist()
    message = str(raised.value)
    assert "No MNIST folder given (--data-dir or MNIST_DIR)" in message and "could not reach" in message
    assert all(name in message for name in IDX_MD5) and str(data_copy_dir()) in message
    assert "No restart is needed" in message
    assert not (data / "mnist").exists()


def test_one_download_at_a_time_across_tabs_and_processes(data, mnist_dir):
    folder = data / "mnist"
    # The first file at 2 MB/s: about five seconds to press again, in this process and another.
    with MnistServer(mnist_dir, slow_file="train-images-idx3-ubyte.gz") as server:
        assert start_download(folder, server.url) is True
        wait_for(lambda: download_status(folder).done > 0, "the download under way")
        assert download_status(folder).running
        assert start_download(folder, server.url) is False  # a second press, another tab
        other = subprocess.run(
            [sys.executable, "-m", "model.data.mnist", "--download", "--to", str(folder), "--url", server.url],
            cwd=REPO, capture_output=True, text=True, timeout=WAIT)
        assert other.returncode == 1 and "being downloaded already" in other.stderr, other.stderr
        assert 0 < download_status(folder).fraction < 1
        wait_for(lambda: download_status(folder).state == "done", "the download's end")
        assert server.requests == list(IDX_MD5)  # each file asked for once
    assert everything_in(folder) == sorted(IDX_MD5)


def test_the_command_line_downloads_and_says_where_mnist_is(data, mnist_dir):
    env = {**os.environ, DATA_DIR_ENV: str(data)}
    env.pop(MNIST_ENV, None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "model.data.mnist", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=WAIT)

    missing = run()
    assert missing.returncode == 1 and "python -m model.data.mnist --download" in missing.stdout
    with MnistServer(mnist_dir) as server:
        env[MNIST_URL_ENV] = server.url
        fetched = run("--download")
        assert fetched.returncode == 0, fetched.stderr
        assert all(f"{name}: checked" in fetched.stdout for name in IDX_MD5)
        assert everything_in(data / "mnist") == sorted(IDX_MD5)
        again = run("--download")
        assert again.returncode == 0 and "holds MNIST already" in again.stdout
        elsewhere = run("--download", "--to", str(data / "elsewhere"))
        assert elsewhere.returncode == 0 and everything_in(data / "elsewhere") == sorted(IDX_MD5)
        assert len(server.requests) == 8
    found = run()
    assert found.returncode == 0 and f"MNIST: {data / 'mnist'}" in found.stdout


def test_the_loader_looks_in_order(data, tmp_path, monkeypatch, mnist_dir):
    """--data-dir, $MNIST_DIR, the data folder's copy, the download."""
    copy = linked_copy(mnist_dir, data / "mnist")
    own = linked_copy(mnist_dir, tmp_path / "own")
    monkeypatch.setenv(MNIST_URL_ENV, f"http://127.0.0.1:{free_port()}/")  # a download would fail
    assert find_mnist() == copy
    monkeypatch.setenv(MNIST_ENV, str(own))
    assert find_mnist() == own
    # $MNIST_DIR set to a folder without MNIST (make run exports it empty when ../shared/mnist is missing).
    for useless in (str(tmp_path), "", "  "):
        monkeypatch.setenv(MNIST_ENV, useless)
        assert find_mnist() == copy
    (copy / "t10k-labels-idx1-ubyte.gz").unlink()
    assert find_mnist() is None
    assert load_mnist(own).source == str(own)  # the argument first, whatever else there is


def test_a_damaged_or_half_copied_file_does_not_count(data, mnist_dir):
    folder = data / "mnist"
    folder.mkdir(parents=True)
    for name in IDX_MD5:
        (folder / name).write_bytes((Path(mnist_dir) / name).read_bytes())
    assert find_mnist() == folder
    labels = folder / "train-labels-idx1-ubyte.gz"
    raw = bytearray(labels.read_bytes())
    raw[-20] ^= 0xFF
    labels.write_bytes(bytes(raw))  # same size, other bytes: the checksum notices
    assert find_mnist() is None
    labels.write_bytes(bytes(raw[: IDX_BYTES[labels.name] // 2]))  # still being copied
    assert find_mnist() is None


def test_the_address_comes_from_the_setting(monkeypatch):
    monkeypatch.delenv(MNIST_URL_ENV, raising=False)
    assert mnist_url() == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert mnist_url({MNIST_URL_ENV: "http://school.example/data/mnist"}) == "http://school.example/data/mnist/"
