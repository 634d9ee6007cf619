"""The class database (model/classroom/storage.py) on a real SQLite file and a real PostgreSQL server."""
from __future__ import annotations

import datetime as dt
import threading
import uuid

import numpy as np
import pytest
import sqlalchemy as sa

from model.classroom import storage as st_
from model.classroom.storage import Answer, Storage, StorageError
from tests.drawing import render
from tests.postgres import PostgresUnavailable, postgres_server

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_url():
    try:
        with postgres_server() as url:
            yield url
    except PostgresUnavailable as e:
        pytest.skip(f"no PostgreSQL server could be started: {e}")


def _fresh_postgres_database(server_url: str) -> str:
    name = "t_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return str(sa.make_url(server_url).set(database=name))


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """A URL of an empty database, one per test: a new SQLite file, or a new database on the
    session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'class.sqlite3'}"
    return _fresh_postgres_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
def storage(db_url):
    s = Storage(db_url)
    yield s
    s.close()


def _answer(rng, label=4, session="s1", **fields) -> Answer:
    probabilities = rng.dirichlet(np.ones(10)).astype(np.float32)
    return Answer(
        image=rng.random((28, 28), dtype=np.float32),
        label=label,
        session=session,
        predicted=int(probabilities.argmax()),
        probabilities=probabilities,
        model="cnn",
        model_version="2026-11-22T06:19:03+00:00",
        **fields,
    )


def test_an_answer_comes_back_as_it_was_stored(storage, rng):
    from model.data.preprocess import canvas_ink_box

    ink = st_.ink_thumbnail(canvas_ink_box(render(7))[0])
    assert max(ink.shape) == st_.INK_SIDE and ink.dtype == np.uint8 and ink.max() > 200
    stored = _answer(rng, label=1, session="abc123", class_code="7B", ink=ink,
                     created_at=dt.datetime(2026, 11, 29, 10, 30, tzinfo=dt.timezone.utc))
    answer_id = storage.add(stored)
    got = storage.answers()
    assert len(got) == 1 and got.ids[0] == answer_id
    np.testing.assert_array_equal(got.images[0], stored.image)
    np.testing.assert_array_equal(got.probabilities[0], stored.probabilities)
    assert (got.labels[0], got.predicted[0], got.sessions[0], got.class_codes[0]) == (
        1, stored.predicted, "abc123", "7B")
    assert (got.models[0], got.model_versions[0]) == ("cnn", "2026-11-22T06:19:03+00:00")
    assert got.created_at[0] == np.datetime64("2026-11-29T10:30:00")
    np.testing.assert_array_equal(storage.ink(answer_id), ink)
    # The ink is enough to run the preprocessing again: the same digit, near enough.
    from model.data.preprocess import canvas_to_mnist, ink_to_mnist

    again, original = ink_to_mnist(storage.ink(answer_id) / 255.0), canvas_to_mnist(render(7))
    assert np.corrcoef(again.ravel(), original.ravel())[0, 1] > 0.9


def test_what_is_kept_is_only_the_drawing_and_the_answers(storage):
    # A column added here (a name, an IP address) must be a conscious decision.
    columns = {c["name"] for c in sa.inspect(storage.engine).get_columns("answers")}
    assert columns == {"id", "created_at", "stored_at", "session", "class_code", "label", "predicted", "probabilities",
                       "model", "model_version", "image", "ink"}


def test_bad_answers_are_refused_and_nothing_is_stored(storage, rng):
    for bad in (
        dict(label=10),
        dict(label=-1),
        dict(class_code="7B; DROP TABLE answers"),
        dict(class_code="x" * 33),
    ):
        with pytest.raises(ValueError):
            storage.add(_answer(rng, **bad))
    with pytest.raises(ValueError):
        storage.add(Answer(image=np.zeros((27, 28), np.float32), label=3, session="s"))
    with pytest.raises(ValueError):
        storage.add(Answer(image=np.full((28, 28), np.nan, np.float32), label=3, session="s"))
    with pytest.raises(ValueError):  # one bad answer in a batch: none of the batch is stored
        storage.add_many([_answer(rng), _answer(rng, label=11)])
    assert storage.count() == 0


def test_filters_deletion_and_retention(storage, rng):
    now = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)
    day = dt.timedelta(days=1)
    storage.add_many([
        _answer(rng, label=1, class_code="A", created_at=now - 40 * day),
        _answer(rng, label=2, class_code="A", created_at=now - 2 * day),
        _answer(rng, label=3, class_code="B", created_at=now - day),
        _answer(rng, label=4, created_at=now),
    ])
    assert storage.count() == 4 and storage.class_codes() == ["A", "B"]
    assert storage.answers(class_code="A").labels.tolist() == [1, 2]
    assert storage.answers(since=(now - 3 * day).date()).labels.tolist() == [2, 3, 4]
    assert storage.answers(until=(now - 2 * day).date()).labels.tolist() == [1, 2]
    assert storage.date_range() == ((now - 40 * day).date(), now.date())
    # Retention counts from when an answer was stored, not drawn: an imported old set stays.
    assert storage.purge(days=30, now=now) == 0
    assert storage.purge(days=30, now=dt.datetime.now(dt.timezone.utc) + 31 * day) == 4
    storage.add_many([
        _answer(rng, label=2, class_code="A", created_at=now - 2 * day),
        _answer(rng, label=3, class_code="B", created_at=now - day),
        _answer(rng, label=4, created_at=now),
    ])
    assert storage.delete([storage.answers(class_code="B").ids[0], 10**9]) == 1
    assert storage.delete_all(class_code="A") == 1
    assert storage.answers().labels.tolist() == [4]
    assert storage.delete_all() == 1 and storage.count() == 0


def test_the_schema_is_created_and_migrated_in_order(db_url, rng):
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:  # a database left at version 1 by an older app
        st_.schema_version.create(conn)
        st_.MIGRATIONS[0](conn)
        conn.execute(st_.schema_version.insert().values(version=1))
    engine.dispose()
    storage = Storage(db_url)
    try:
        assert storage.version() == st_.SCHEMA_VERSION == len(st_.MIGRATIONS)
        indexes = {i["name"] for i in sa.inspect(storage.engine).get_indexes("answers")}
        assert {"ix_answers_created_at", "ix_answers_stored_at", "ix_answers_class_code"} <= indexes
        tables = set(sa.inspect(storage.engine).get_table_names())
        assert {"rounds", "round_drawings", "round_blocks", "round_votes"} <= tables
        assert "ux_rounds_open" in {i["name"] for i in sa.inspect(storage.engine).get_indexes("rounds")}
        storage.add(_answer(rng))
    finally:
        storage.close()
    again = Storage(db_url)  # reopening migrates nothing and keeps the data
    assert again.version() == st_.SCHEMA_VERSION and again.count() == 1
    with again.engine.begin() as conn:
        conn.execute(st_.schema_version.update().values(version=st_.SCHEMA_VERSION + 1))
    again.close()
    with pytest.raises(StorageError, match="newer than this app"):
        Storage(db_url)


def test_many_processes_opening_a_new_database_at_once_migrate_it_once(db_url):
    errors, opened = [], []

    def open_it():
        try:
            opened.append(Storage(db_url))
        except Exception as e:  # noqa: BLE001 - collected and reported below
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with opened[0].engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(st_.schema_version)).scalar() == 1
    for s in opened:
        s.close()


def test_sqlite_runs_in_wal_mode_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(st_.DB_ENV, raising=False)
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(tmp_path / "data"))
    assert st_.database_url() == f"sqlite:///{tmp_path / 'data' / st_.DB_FILENAME}"
    storage = Storage()
    try:
        assert (tmp_path / "data" / st_.DB_FILENAME).is_file()
        with storage.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == st_.SQLITE_BUSY_MS
    finally:
        storage.close()


def test_a_bad_url_is_a_plain_message():
    with pytest.raises(StorageError, match="not a database URL"):
        Storage("not a url")
    with pytest.raises(StorageError, match="could not be opened"):
        Storage("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")


WRITERS, ANSWERS_EACH = 60, 20


def store_concurrently(url: str, writers: int, each: int, seed: int = 0) -> list[BaseException]:
    """``writers`` threads, released together, each storing ``each`` answers one by one through
    one shared Storage (as the app's sessions do); returns the errors."""
    storage = st_.open_storage(url)
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        rng = np.random.default_rng(seed + k)
        session = st_.new_session()
        barrier.wait()
        try:
            for i in range(each):
                storage.add(_answer(rng, label=i % 10, session=session))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_a_class_storing_at_once_loses_nothing(db_url):
    errors = store_concurrently(db_url, WRITERS, ANSWERS_EACH)
    assert not errors, errors[:3]
    storage = st_.open_storage(db_url)
    got = storage.answers()
    assert len(got) == WRITERS * ANSWERS_EACH
    assert len(set(got.sessions.tolist())) == WRITERS
    assert np.bincount(got.labels, minlength=10).tolist() == [WRITERS * ANSWERS_EACH // 10] * 10
    assert storage.delete(got.ids) == WRITERS * ANSWERS_EACH and storage.count() == 0  # in chunks
    storage.close()
