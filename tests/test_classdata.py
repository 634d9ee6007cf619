"""The class-data .npz format (model/classroom/classdata.py): round trips, the command line, bad files."""
from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys

import numpy as np
import pytest

from model.classroom import classdata
from model.classroom.classdata import ClassDataError
from model.classroom.storage import Answer, Storage
from tests.browser import REPO


@pytest.fixture
def store(tmp_path):
    s = Storage(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    yield s
    s.close()


def _fill(storage: Storage, rng, n: int = 30) -> None:
    t0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.timezone.utc)
    storage.add_many(
        Answer(image=rng.random((28, 28), dtype=np.float32), label=i % 10, session=f"w{i % 4}",
               predicted=(i * 3) % 10, probabilities=np.full(10, 0.1, np.float32), model="cnn",
               class_code="7B" if i % 2 else None, created_at=t0 + dt.timedelta(minutes=i))
        for i in range(n)
    )


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_export_then_import_into_a_fresh_database_keeps_everything(store, tmp_path, rng):
    _fill(store, rng)
    path = tmp_path / "class.npz"
    assert classdata.export_npz(store, path) == 30
    with np.load(path, allow_pickle=False) as f:
        assert f["images"].dtype == np.float32 and f["images"].shape == (30, 28, 28)
        assert f["labels"].dtype == np.int64 and f["sessions"].dtype.kind == "U"
        assert set(f.files) == set(classdata.REQUIRED + classdata.OPTIONAL)
    fresh = Storage(f"sqlite:///{tmp_path / 'b.sqlite3'}")
    assert classdata.import_npz(fresh, path) == 30
    a, b = store.answers(), fresh.answers()
    np.testing.assert_array_equal(a.images, b.images)
    for field in ("labels", "predicted", "sessions", "class_codes", "models", "created_at"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert classdata.import_npz(fresh, path, class_code="9C") == 30
    assert fresh.count(class_code="9C") == 30
    fresh.close()


def test_only_images_labels_and_sessions_are_required(store):
    data = _npz(images=np.zeros((3, 28, 28), np.float32), labels=np.array([1, 4, 7]),
                sessions=np.array(["a", "a", "b"]))
    assert classdata.import_npz(store, data, class_code="X1") == 3
    got = store.answers()
    assert got.labels.tolist() == [1, 4, 7] and got.predicted.tolist() == [-1, -1, -1]
    assert got.class_codes.tolist() == ["X1"] * 3


GOOD = dict(images=np.zeros((2, 28, 28), np.float32), labels=np.array([1, 2]), sessions=np.array(["a", "b"]))


@pytest.mark.parametrize("data, message", [
    (b"not a zip at all", "not a readable"),
    (_npz(images=GOOD["images"], labels=GOOD["labels"]), "no sessions"),
    (_npz(**{**GOOD, "images": np.zeros((2, 28, 27), np.float32)}), r"shape \(N, 28, 28\)"),
    (_npz(**{**GOOD, "images": np.zeros((2, 28, 28), np.uint8)}), "floating point"),
    (_npz(**{**GOOD, "images": np.full((2, 28, 28), 2.0, np.float32)}), r"in \[0, 1\]"),
    (_npz(**{**GOOD, "images": np.full((2, 28, 28), np.nan, np.float32)}), r"in \[0, 1\]"),
    (_npz(**{**GOOD, "labels": np.array([1, 12])}), "digits 0-9"),
    (_npz(**{**GOOD, "labels": np.array([1, 2, 3])}), "must be 2 integers"),
    (_npz(**{**GOOD, "labels": np.array([1.0, 2.0])}), "must be 2 integers"),
    (_npz(**{**GOOD, "sessions": np.array(["a", ""])}), "empty"),
    (_npz(**{**GOOD, "sessions": np.array([1, 2])}), "must be text"),
    (_npz(**{**GOOD, "sessions": np.array(["a", "b"], dtype=object)}), "cannot be read"),
    (_npz(**{**GOOD, "class_codes": np.array(["ok", "no way!"])}), "class code"),
    (_npz(**{**GOOD, "created_at": np.array(["2026-11-01", "yesterday"])}), "dates"),
    (_npz(**{**GOOD, "predicted": np.array([3, 10])}), "predicted"),
    (_npz(images=np.zeros((0, 28, 28), np.float32), labels=np.zeros(0, int), sessions=np.zeros(0, str)), "1 to"),
])
def test_a_bad_file_is_refused_with_a_reason_and_nothing_is_stored(store, data, message):
    with pytest.raises(ClassDataError, match=message):
        classdata.import_npz(store, data)
    assert store.count() == 0


def test_a_single_array_file_is_refused(store):
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ClassDataError, match="single array"):
        classdata.import_npz(store, buffer.getvalue())


def test_the_command_line_exports_and_imports(store, tmp_path, rng):
    _fill(store, rng, n=12)
    target_db = f"sqlite:///{tmp_path / 'copy.sqlite3'}"
    path = tmp_path / "set.npz"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "model.classroom.classdata", *args], cwd=REPO,
                              capture_output=True, text=True, timeout=120)

    done = cli("export", str(path), "--db", store.url, "--class-code", "7B")
    assert done.returncode == 0, done.stderr
    assert "exported 6 drawings" in done.stdout
    done = cli("import", str(path), "--db", target_db, "--class-code", "NEW")
    assert done.returncode == 0, done.stderr
    copy = Storage(target_db)
    assert copy.count(class_code="NEW") == 6
    copy.close()
    (tmp_path / "bad.npz").write_bytes(b"junk")
    done = cli("import", str(tmp_path / "bad.npz"), "--db", target_db)
    assert done.returncode == 2 and "not a readable .npz" in done.stderr and "Traceback" not in done.stderr
