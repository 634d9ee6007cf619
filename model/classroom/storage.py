"""The class's answers to "Right?" on the Draw page, kept in a real database through SQLAlchemy.

    storage = open_storage()            # $DIGITLAB_DB, else SQLite in model.data_dir()
    storage.add(Answer(image=..., label=4, predicted=9, probabilities=..., session=new_session()))
    answers = storage.answers(class_code="7B")   # arrays: images, labels, predicted, ...

One URL, any database SQLAlchemy speaks: the default is a SQLite file (WAL mode, so readers
never wait for the writer, and a busy timeout, so a class writing at once queues instead of
failing); a school server's PostgreSQL is ``postgresql+psycopg://user:pass@host/db``.

The schema is versioned: ``schema_version`` holds the number of the last step of ``MIGRATIONS``
applied, and opening a database applies the missing steps in order, under a lock, so several
app processes starting together migrate it once.

What an answer keeps, and nothing more: the 28x28 image the model read, the drawing's ink
(its bounding box, at most 64 px a side, as a PNG), the true label, the prediction and its
probabilities, the model and its version, the time, an anonymous random session id and an
optional class code. No names, no IP addresses.
"""
from __future__ import annotations

import datetime as dt
import functools
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import sqlalchemy as sa
from PIL import Image

from model import data_dir
from model.classroom.privacy import (  # noqa: F401 - the storage layer's callers use them from here too
    INK_SIDE,
    KEEP_DAYS,
    KEEP_DAYS_ENV,
    ink_thumbnail,
    keep_days,
    new_session,
    valid_class_code,
)

DB_ENV = "DIGITLAB_DB"
DB_FILENAME = "class.sqlite3"
MAX_TEXT = 64  # model names and versions are cut to this
SQLITE_BUSY_MS = 30_000
_ADVISORY_LOCK = 0x44_4C_32_32  # PostgreSQL's lock id while migrating ("DL22")


class StorageError(RuntimeError):
    """The database could not be opened or written; the message says why, for the user."""


def database_url() -> str:
    """``$DIGITLAB_DB``, else a SQLite file in the app's data folder."""
    return os.environ.get(DB_ENV) or f"sqlite:///{data_dir() / DB_FILENAME}"


# --------------------------------------------------------------------------- what is stored


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, np.uint8), mode="L").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _unpng(data: bytes | None) -> np.ndarray | None:
    if not data:
        return None
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"))


@dataclass
class Answer:
    """One answer: the digit the model read and what the student said it was."""

    image: np.ndarray  # (28, 28) float32 in [0, 1], what the model read
    label: int  # what the student said it was
    session: str  # anonymous writer id (new_session())
    predicted: int | None = None
    probabilities: np.ndarray | None = None  # (10,)
    model: str | None = None
    model_version: str | None = None
    class_code: str | None = None
    ink: np.ndarray | None = None  # uint8 (h, w), ink_thumbnail() of the drawing
    created_at: dt.datetime | None = None  # UTC; now when None

    def row(self) -> dict:
        image = np.asarray(self.image, dtype=np.float32)
        if image.shape != (28, 28) or not np.isfinite(image).all():
            raise ValueError(f"an answer's image must be 28x28 finite numbers, got {image.shape}")
        label = int(self.label)
        if not 0 <= label <= 9:
            raise ValueError(f"a label is a digit 0-9, got {self.label!r}")
        predicted = None if self.predicted is None else int(self.predicted)
        if predicted is not None and not 0 <= predicted <= 9:
            raise ValueError(f"a prediction is a digit 0-9, got {self.predicted!r}")
        probabilities = None
        if self.probabilities is not None:
            p = np.asarray(self.probabilities, dtype=np.float32)
            if p.shape != (10,):
                raise ValueError(f"probabilities are 10 numbers, got shape {p.shape}")
            probabilities = p.tobytes()
        session = str(self.session)[:MAX_TEXT]
        if not session:
            raise ValueError("an answer needs a session id")
        now = _utc_naive(dt.datetime.now(dt.timezone.utc))
        return {
            "created_at": _utc_naive(self.created_at) if self.created_at else now,
            "stored_at": now,
            "session": session,
            "class_code": valid_class_code(self.class_code),
            "label": label,
            "predicted": predicted,
            "probabilities": probabilities,
            "model": None if self.model is None else str(self.model)[:MAX_TEXT],
            "model_version": None if self.model_version is None else str(self.model_version)[:MAX_TEXT],
            "image": np.clip(image, 0.0, 1.0).astype("<f4").tobytes(),
            "ink": None if self.ink is None else _png(self.ink),
        }


@dataclass
class Answers:
    """Many answers as arrays, oldest first (what the Class page and the exports read)."""

    ids: np.ndarray  # (N,) int64
    images: np.ndarray  # (N, 28, 28) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64
    predicted: np.ndarray  # (N,) int64, -1 where unknown
    probabilities: np.ndarray  # (N, 10) float32, NaN where unknown
    sessions: np.ndarray  # (N,) str
    class_codes: np.ndarray  # (N,) str, "" where none
    models: np.ndarray  # (N,) str, "" where unknown
    model_versions: np.ndarray  # (N,) str
    created_at: np.ndarray  # (N,) datetime64[s], UTC

    def __len__(self) -> int:
        return len(self.ids)


# --------------------------------------------------------------------------- the schema

metadata = sa.MetaData()
schema_version = sa.Table("schema_version", metadata, sa.Column("version", sa.Integer, nullable=False))
answers_table = sa.Table(
    "answers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime, nullable=False),  # when drawn (UTC)
    sa.Column("stored_at", sa.DateTime, nullable=False),  # when it entered this database: the retention clock
    sa.Column("session", sa.String(MAX_TEXT), nullable=False),
    sa.Column("class_code", sa.String(32)),
    sa.Column("label", sa.SmallInteger, nullable=False),
    sa.Column("predicted", sa.SmallInteger),
    sa.Column("probabilities", sa.LargeBinary),  # 10 little-endian float32
    sa.Column("model", sa.String(MAX_TEXT)),
    sa.Column("model_version", sa.String(MAX_TEXT)),
    sa.Column("image", sa.LargeBinary, nullable=False),  # 784 little-endian float32
    sa.Column("ink", sa.LargeBinary),  # PNG, greyscale
)


def _create_answers(conn: sa.Connection) -> None:
    # The table as this step made it: later steps change it with their own DDL, so this stays
    # as it is even when answers_table grows.
    v1 = sa.MetaData()
    sa.Table(
        "answers",
        v1,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("stored_at", sa.DateTime, nullable=False),
        sa.Column("session", sa.String(MAX_TEXT), nullable=False),
        sa.Column("class_code", sa.String(32)),
        sa.Column("label", sa.SmallInteger, nullable=False),
        sa.Column("predicted", sa.SmallInteger),
        sa.Column("probabilities", sa.LargeBinary),
        sa.Column("model", sa.String(MAX_TEXT)),
        sa.Column("model_version", sa.String(MAX_TEXT)),
        sa.Column("image", sa.LargeBinary, nullable=False),
        sa.Column("ink", sa.LargeBinary),
    )
    v1.create_all(conn)


def _index_filters(conn: sa.Connection) -> None:
    # What the Class page filters on, and what the retention purge scans.
    sa.Index("ix_answers_created_at", answers_table.c.created_at).create(conn)
    sa.Index("ix_answers_stored_at", answers_table.c.stored_at).create(conn)
    sa.Index("ix_answers_class_code", answers_table.c.class_code).create(conn)


# The class's rounds (model.classroom.rounds owns what they mean): a round, the drawings sent in
# it (pending until the teacher approves them; a rejected one is deleted), the nicknames the
# teacher blocked, and the class's votes on fooling drawings. Nicknames live only here.
NICKNAME_MAX = 24
rounds_table = sa.Table(
    "rounds",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("class_key", sa.String(32), nullable=False),  # the class code, "" for none
    sa.Column("kind", sa.String(8), nullable=False),  # "draw" or "fool"
    sa.Column("digit", sa.SmallInteger),  # the digit asked for ("draw")
    sa.Column("seconds", sa.SmallInteger),  # the time limit, None for none
    sa.Column("voting", sa.Boolean, nullable=False),  # the class's votes may confirm ("fool")
    sa.Column("started_at", sa.DateTime, nullable=False),  # UTC; also the retention clock
    sa.Column("ends_at", sa.DateTime),  # when drawing stops (started_at + seconds)
    sa.Column("ended_at", sa.DateTime),  # when the teacher ended it; None while open
    sa.Column("revision", sa.Integer, nullable=False),  # bumped by every change: what pages poll
    sa.Column("trained_at", sa.DateTime),  # when its approved drawings joined the class's answers
)
round_drawings_table = sa.Table(
    "round_drawings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("round_id", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("session", sa.String(MAX_TEXT), nullable=False),
    sa.Column("nickname", sa.String(NICKNAME_MAX)),  # None once forgotten
    sa.Column("intended", sa.SmallInteger, nullable=False),  # the digit the student drew
    sa.Column("predicted", sa.SmallInteger, nullable=False),
    sa.Column("probabilities", sa.LargeBinary, nullable=False),  # 10 little-endian float32
    sa.Column("model", sa.String(MAX_TEXT)),
    sa.Column("image", sa.LargeBinary, nullable=False),  # 784 little-endian float32
    sa.Column("ink", sa.LargeBinary),  # PNG
    sa.Column("approved", sa.Boolean, nullable=False),
    sa.Column("confirmed", sa.Boolean),  # "fool": the teacher's verdict on the intended digit
    sa.Column("held_out", sa.Boolean, nullable=False),  # the class's test set, never trained on
)
round_blocks_table = sa.Table(
    "round_blocks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("class_key", sa.String(32), nullable=False),
    sa.Column("nickname", sa.String(NICKNAME_MAX), nullable=False),
    sa.Column("session", sa.String(MAX_TEXT)),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
round_votes_table = sa.Table(
    "round_votes",
    metadata,
    sa.Column("drawing_id", sa.Integer, nullable=False),
    sa.Column("session", sa.String(MAX_TEXT), nullable=False),
    sa.Column("digit", sa.SmallInteger, nullable=False),
    sa.UniqueConstraint("drawing_id", "session", name="uq_round_votes_voter"),
)


def _create_rounds(conn: sa.Connection) -> None:
    v3 = sa.MetaData()
    tables = [t.to_metadata(v3) for t in (rounds_table, round_drawings_table, round_blocks_table,
                                          round_votes_table)]
    v3.create_all(conn, tables=tables)
    rounds, drawings = tables[0], tables[1]
    # One open round per class: two teachers' devices pressing Start at once cannot open two.
    open_only = rounds.c.ended_at.is_(None)
    sa.Index("ux_rounds_open", rounds.c.class_key, unique=True, sqlite_where=open_only,
             postgresql_where=open_only).create(conn)
    sa.Index("ix_rounds_started_at", rounds.c.started_at).create(conn)
    sa.Index("ix_round_drawings_round", drawings.c.round_id, drawings.c.approved).create(conn)


# In order; a database at version k has had the first k applied. Only ever append.
MIGRATIONS: list[Callable[[sa.Connection], None]] = [_create_answers, _index_filters, _create_rounds]
SCHEMA_VERSION = len(MIGRATIONS)


def _sqlite_setup(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # SQLAlchemy begins transactions itself (below), not the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL's safe setting: a crash loses no commit
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A writer takes the write lock when it begins: a deferred transaction that reads and
        # then writes can hit SQLITE_BUSY at once, which no busy timeout retries.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("writes") else "BEGIN")


class Storage:
    """The answers in one database; safe to share between threads (one per app process)."""

    def __init__(self, url: str | None = None):
        self.url = url or database_url()
        try:
            parsed = sa.make_url(self.url)
        except sa.exc.ArgumentError as e:
            raise StorageError(f"{DB_ENV} is not a database URL ({e})") from e
        self.dialect = parsed.get_backend_name()
        try:
            if self.dialect == "sqlite":
                if parsed.database and parsed.database != ":memory:":
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                self.engine = sa.create_engine(
                    parsed, pool_size=8, max_overflow=56, pool_timeout=120,
                    connect_args={"timeout": SQLITE_BUSY_MS / 1000, "check_same_thread": False},
                )
                _sqlite_setup(self.engine)
            else:
                self.engine = sa.create_engine(
                    parsed, pool_size=5, max_overflow=15, pool_timeout=120, pool_pre_ping=True
                )
            self.migrate()
        except sa.exc.SQLAlchemyError as e:
            raise StorageError(f"the class database could not be opened ({type(e).__name__})") from e

    def __repr__(self) -> str:
        return f"Storage({sa.make_url(self.url).render_as_string(hide_password=True)!r})"

    def _writing(self) -> sa.Connection:
        return self.engine.connect().execution_options(writes=True)

    # ----------------------------------------------------------------- schema
    def version(self) -> int:
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("schema_version"):
                return 0
            return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0

    def migrate(self) -> int:
        """Apply the missing migration steps; returns the version the database is now at."""
        with self._writing() as conn, conn.begin():
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK})
            schema_version.create(conn, checkfirst=True)
            current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
            if current > SCHEMA_VERSION:
                raise StorageError(
                    f"the class database is at schema version {current}, newer than this app's "
                    f"{SCHEMA_VERSION}: update the app")
            for step in MIGRATIONS[current:]:
                step(conn)
            if current < SCHEMA_VERSION:
                conn.execute(schema_version.delete())
                conn.execute(schema_version.insert().values(version=SCHEMA_VERSION))
        return SCHEMA_VERSION

    # ----------------------------------------------------------------- writing
    def add(self, answer: Answer) -> int:
        """Store one answer; returns its id."""
        row = answer.row()
        with self._writing() as conn, conn.begin():
            return int(conn.execute(answers_table.insert().values(**row)).inserted_primary_key[0])

    def add_many(self, answers: Iterable[Answer]) -> int:
        """Store many answers in one transaction (all or none); returns how many."""
        rows = [a.row() for a in answers]
        if rows:
            with self._writing() as conn, conn.begin():
                conn.execute(answers_table.insert(), rows)
        return len(rows)

    def delete(self, ids: Iterable[int]) -> int:
        ids = [int(i) for i in ids]
        removed = 0
        with self._writing() as conn, conn.begin():
            for start in range(0, len(ids), 500):  # SQLite caps the parameters of one statement
                chunk = ids[start:start + 500]
                removed += conn.execute(answers_table.delete().where(answers_table.c.id.in_(chunk))).rowcount
        return removed

    def delete_all(self, class_code: str | None = None) -> int:
        """Every answer, or every answer of one class code."""
        statement = answers_table.delete()
        if class_code is not None:
            statement = statement.where(answers_table.c.class_code == class_code)
        with self._writing() as conn, conn.begin():
            return conn.execute(statement).rowcount

    def purge(self, days: int | None = None, now: dt.datetime | None = None) -> int:
        """Delete answers stored more than ``days`` ago (default ``keep_days()``); returns how
        many. Counted from when an answer entered this database, so an imported class set gets
        the full period too."""
        now = _utc_naive(now or dt.datetime.now(dt.timezone.utc))
        cutoff = now - dt.timedelta(days=keep_days() if days is None else days)
        with self._writing() as conn, conn.begin():
            return conn.execute(answers_table.delete().where(answers_table.c.stored_at < cutoff)).rowcount

    def date_range(self) -> tuple[dt.date, dt.date] | None:
        """The first and last day (UTC) a stored answer was drawn, or ``None`` when empty."""
        column = answers_table.c.created_at
        with self.engine.connect() as conn:
            first, last = conn.execute(sa.select(sa.func.min(column), sa.func.max(column))).one()
        return None if first is None else (first.date(), last.date())

    # ----------------------------------------------------------------- reading
    def count(self, class_code: str | None = None) -> int:
        statement = sa.select(sa.func.count()).select_from(answers_table)
        if class_code is not None:
            statement = statement.where(answers_table.c.class_code == class_code)
        with self.engine.connect() as conn:
            return int(conn.execute(statement).scalar())

    def class_codes(self) -> list[str]:
        column = answers_table.c.class_code
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(column).where(column.is_not(None)).distinct().order_by(column))
            return [r[0] for r in rows]

    def answers(
        self,
        class_code: str | None = None,
        since: dt.date | dt.datetime | None = None,
        until: dt.date | dt.datetime | None = None,
        ids: Iterable[int] | None = None,
    ) -> Answers:
        """The answers matching every filter given (dates are UTC; ``until`` a date includes
        that whole day)."""
        t = answers_table
        statement = sa.select(
            t.c.id, t.c.image, t.c.label, t.c.predicted, t.c.probabilities, t.c.session,
            t.c.class_code, t.c.model, t.c.model_version, t.c.created_at,
        ).order_by(t.c.created_at, t.c.id)
        if class_code is not None:
            statement = statement.where(t.c.class_code == class_code)
        if since is not None:
            statement = statement.where(t.c.created_at >= _as_datetime(since))
        if until is not None:
            end = _as_datetime(until)
            if not isinstance(until, dt.datetime):
                end += dt.timedelta(days=1)
            statement = statement.where(t.c.created_at < end)
        if ids is not None:
            statement = statement.where(t.c.id.in_([int(i) for i in ids]))
        with self.engine.connect() as conn:
            rows = conn.execute(statement).all()
        n = len(rows)
        probabilities = np.full((n, 10), np.nan, np.float32)
        for i, r in enumerate(rows):
            if r.probabilities and len(r.probabilities) == 40:
                probabilities[i] = np.frombuffer(r.probabilities, "<f4")
        return Answers(
            ids=np.array([r.id for r in rows], np.int64),
            images=(np.stack([np.frombuffer(r.image, "<f4").reshape(28, 28) for r in rows]).astype(np.float32)
                    if n else np.zeros((0, 28, 28), np.float32)),
            labels=np.array([r.label for r in rows], np.int64),
            predicted=np.array([-1 if r.predicted is None else r.predicted for r in rows], np.int64),
            probabilities=probabilities,
            sessions=np.array([r.session for r in rows], dtype=str),
            class_codes=np.array([r.class_code or "" for r in rows], dtype=str),
            models=np.array([r.model or "" for r in rows], dtype=str),
            model_versions=np.array([r.model_version or "" for r in rows], dtype=str),
            created_at=np.array([r.created_at for r in rows], dtype="datetime64[s]"),
        )

    def ink(self, answer_id: int) -> np.ndarray | None:
        """The stored ink (uint8, at most ``INK_SIDE`` a side) of one answer."""
        with self.engine.connect() as conn:
            statement = sa.select(answers_table.c.ink).where(answers_table.c.id == int(answer_id))
            data = conn.execute(statement).scalar()
        return _unpng(data)

    def close(self) -> None:
        self.engine.dispose()


def _utc_naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def _as_datetime(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    return dt.datetime(value.year, value.month, value.day)


def open_storage(url: str | None = None) -> Storage:
    """One ``Storage`` per URL per process (``$DIGITLAB_DB`` or the default when ``None``),
    shared by every session and thread. A failure is not cached: the next call retries."""
    return _shared_storage(url or database_url())


@functools.lru_cache(maxsize=4)
def _shared_storage(url: str) -> Storage:
    return Storage(url)
