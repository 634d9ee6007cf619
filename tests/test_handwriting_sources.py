"""Public pen-stroke digits: the real files verified and read, a changed byte refused by name.

The real-data tests read ../shared/pen (or $DIGITLAB_PEN_DIR) and skip, saying so, where a
source's folder is absent; the refusal test needs no data and always runs.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from model.handwriting import fetch, sources
from model.handwriting.sources import (
    MANIFEST_NAME,
    PEN_DIR_ENV,
    PenDataError,
    PenSource,
    load_strokes,
    pen_dir,
    verify_files,
)


def require(name: str):
    folder = pen_dir() / name
    if not folder.is_dir():
        pytest.skip(
            f"needs the {name} pen data: the folder {folder} is absent "
            f"(set {PEN_DIR_ENV} or put the files in ../shared/pen; see docs/pen-data.md)"
        )
    return load_strokes(name)


@pytest.fixture(scope="module")
def unipen():
    return require("unipen_1a")


@pytest.fixture(scope="module")
def pendigits():
    return require("uci_pendigits")


def per_digit(samples) -> list[int]:
    counts = Counter(sample.label for sample in samples)
    return [counts[digit] for digit in range(10)]


def test_pendigits_is_the_published_writer_independent_test_set(pendigits):
    # pendigits-orig.names: 3,498 digits by the 14 writers kept apart for testing, by class
    # 363 364 364 336 364 335 336 364 336 336; 250 digits asked of each writer.
    assert len(pendigits) == 3498
    assert per_digit(pendigits) == [363, 364, 364, 336, 364, 335, 336, 364, 336, 336]
    by_writer = Counter(sample.writer for sample in pendigits)
    assert len(by_writer) == sources.SOURCES["uci_pendigits"].writers == 14
    assert set(by_writer.values()) <= {249, 250}


def test_unipen_1a_is_every_isolated_digit_of_train_r01_v07(unipen):
    # CDROM-README: category 1a holds 15,953 segments in 634 files from 17 sites.
    assert len(unipen) == 15953
    assert per_digit(unipen) == [1646, 1748, 1653, 1591, 1626, 1522, 1518, 1546, 1558, 1545]
    writers = {sample.writer for sample in unipen}
    assert len(writers) == sources.SOURCES["unipen_1a"].writers == 268
    assert len({writer.split(":", 1)[1].split("/")[0] for writer in writers}) == 17


@pytest.mark.parametrize("name", ["unipen_1a", "uci_pendigits"])
def test_every_sample_is_a_digit_with_float32_strokes(name, request):
    samples = request.getfixturevalue("unipen" if name == "unipen_1a" else "pendigits")
    for sample in samples:
        assert sample.source == name and sample.writer.startswith(name + ":")
        assert 0 <= sample.label <= 9
        assert sample.strokes
        for stroke in sample.strokes:
            assert stroke.dtype == np.float32 and stroke.ndim == 2 and stroke.shape[1] == 2
            assert len(stroke) >= 1 and np.isfinite(stroke).all()


def test_writer_ids_never_collide_across_sources(unipen, pendigits):
    assert not {s.writer for s in unipen} & {s.writer for s in pendigits}


def test_y_points_down_at_every_site(unipen, pendigits):
    # Nearly everyone starts a 2, 3, 5 or 7 at its top, so with y down its first point lies in
    # the upper half of its box. As the files store them (y up), at most 4% did at any site.
    starts_on_top = {}
    for sample in unipen + pendigits:
        if sample.label not in (2, 3, 5, 7):
            continue
        points = np.concatenate(sample.strokes)
        top, bottom = points[:, 1].min(), points[:, 1].max()
        if bottom > top:
            site = sample.writer.split("/")[0]  # "unipen_1a:apb"; pendigits has one tablet
            site = site if sample.source == "unipen_1a" else sample.source
            starts_on_top.setdefault(site, []).append(sample.strokes[0][0, 1] < (top + bottom) / 2)
    assert len(starts_on_top) == 18
    share = {site: float(np.mean(flags)) for site, flags in starts_on_top.items()}
    assert min(share.values()) > 0.9, share


def test_a_changed_byte_in_a_real_file_is_named(tmp_path):
    require("uci_pendigits")
    real = pen_dir() / "uci_pendigits" / "pendigits-orig.tes.Z"
    copy = tmp_path / "uci_pendigits" / real.name
    copy.parent.mkdir()
    data = bytearray(real.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    with pytest.raises(PenDataError, match=r"pendigits-orig\.tes\.Z .* is not the published file"):
        load_strokes("uci_pendigits", tmp_path)


def test_the_unipen_manifest_names_the_one_listed_file_that_changed(tmp_path):
    require("unipen_1a")
    real = pen_dir() / "unipen_1a"
    copy = tmp_path / "unipen_1a"
    listed = [line.split("  ", 1)[1] for line in (real / MANIFEST_NAME).read_text().splitlines()]
    changed = "data/1a/aga/amywldrp.dat"
    for relative in [MANIFEST_NAME, *listed]:
        (copy / relative).parent.mkdir(parents=True, exist_ok=True)
        if relative == changed:
            data = bytearray((real / relative).read_bytes())
            data[-2] ^= 0x01
            (copy / relative).write_bytes(bytes(data))
        else:
            (copy / relative).symlink_to(real / relative)
    with pytest.raises(PenDataError, match=rf"unipen_1a: {changed} at .* is not the published file"):
        verify_files("unipen_1a", tmp_path)


def test_missing_or_changed_files_are_refused_before_parsing(tmp_path, monkeypatch):
    # Needs no real data: a made-up source pinned to a small file, then a copy with one byte
    # changed. It has no reader, so reaching the parser would fail differently.
    original = b"0 1 2 3 4 5 6 7 8 9\n"
    monkeypatch.setitem(sources.SOURCES, "made_up", PenSource(
        name="made_up",
        url="https://example.org/made-up",
        licence="none",
        writers=1,
        files={"digits.txt": hashlib.sha256(original).hexdigest()},
        citation="none",
    ))
    folder = tmp_path / "made_up"
    with pytest.raises(PenDataError, match=r"missing digits\.txt") as missing:
        load_strokes("made_up", tmp_path)
    assert str(folder) in str(missing.value) and PEN_DIR_ENV in str(missing.value)

    folder.mkdir()
    (folder / "digits.txt").write_bytes(original)
    assert verify_files("made_up", tmp_path) == {"digits.txt": hashlib.sha256(original).hexdigest()}

    changed = bytearray(original)
    changed[4] ^= 0x01  # "2" -> "3"
    (folder / "digits.txt").write_bytes(bytes(changed))
    with pytest.raises(PenDataError, match=r"made_up: digits\.txt at .* is not the published file"):
        load_strokes("made_up", tmp_path)


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, text=True).stdout.strip()


def _mirror_clone(folder: Path, files: dict[str, bytes]) -> str:
    folder.mkdir()
    _git(folder, "init", "-q")
    for path, data in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    _git(folder, "add", "-A")
    _git(folder, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "mirror")
    return _git(folder, "rev-parse", "HEAD")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_fetch_follows_includes_and_refuses_a_mirror_whose_bytes_differ(tmp_path, monkeypatch):
    """A UNIPEN-like mirror: the digit file's includes (from include/ and relative) are fetched,
    the folder's manifest does not hash to the pinned one, and nothing is put in place."""
    commit = _mirror_clone(tmp_path / "clone", {
        "data/1a/site/a.dat": b".INCLUDE site/site.doc\n.INCLUDE ../../x.doc\n.SEGMENT CHARACTER 0 ? \"1\"\n",
        "include/site/site.doc": b".INCLUDE site/data/ink.dat\n",
        "include/site/data/ink.dat": b".PEN_DOWN\n1 2\n.PEN_UP\n",
        "data/x.doc": b"relative to the including file\n",
        "unrelated/letters.dat": b"not a digit file\n",
        "CDROM-README": b"notice\n",
    })
    monkeypatch.setitem(fetch.MIRRORS, "unipen_1a", fetch.Mirror(
        repo="example/mirror", commit=commit, files=((commit, "CDROM-README", "CDROM-README"),), crawl="data/1a"))
    pen = tmp_path / "pen"
    (pen / "unipen_1a").mkdir(parents=True)
    (pen / "unipen_1a" / "kept.txt").write_text("what was there before")

    with pytest.raises(PenDataError, match=MANIFEST_NAME):
        fetch.fetch_source("unipen_1a", pen, tmp_path / "clone")
    assert sorted(p.name for p in pen.iterdir()) == ["unipen_1a"]  # no staging folder left behind
    assert [p.name for p in (pen / "unipen_1a").iterdir()] == ["kept.txt"]

    written = {}
    monkeypatch.setattr(sources, "verify_files", lambda name, folder: written.update(
        (str(p.relative_to(Path(folder) / name)), p.read_bytes()) for p in (Path(folder) / name).rglob("*") if p.is_file()))
    fetch.fetch_source("unipen_1a", pen, tmp_path / "clone")
    assert sorted(written) == ["CDROM-README", "SHA256SUMS", "data/1a/site/a.dat", "data/x.doc",
                               "include/site/data/ink.dat", "include/site/site.doc"]
    listed = dict(reversed(line.split("  ", 1)) for line in written["SHA256SUMS"].decode().splitlines())
    assert listed["data/x.doc"] == hashlib.sha256(b"relative to the including file\n").hexdigest()
    assert (pen / "unipen_1a" / "include" / "site" / "data" / "ink.dat").is_file()
    assert not (pen / "unipen_1a" / "kept.txt").exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_fetch_from_a_clone_puts_the_published_pendigits_file_in_place(tmp_path, monkeypatch):
    published = pen_dir() / "uci_pendigits" / "pendigits-orig.tes.Z"
    if not published.is_file():
        pytest.skip(f"needs the uci_pendigits pen data: {published} is absent (see docs/pen-data.md)")
    path = "Unit Tests/Accord.Tests.IO/Resources/pendigits-orig.tes.Z"
    commit = _mirror_clone(tmp_path / "clone", {path: published.read_bytes()})
    monkeypatch.setitem(fetch.MIRRORS, "uci_pendigits", fetch.Mirror(
        repo="example/mirror", commit=commit, files=((commit, path, "pendigits-orig.tes.Z"),)))
    assert fetch.main(["--to", str(tmp_path / "pen"), "--git", f"uci_pendigits={tmp_path / 'clone'}",
                       "uci_pendigits"]) == 0
    assert len(load_strokes("uci_pendigits", tmp_path / "pen")) == 3498
