"""Class rounds: the whole class draws at once, the teacher approves, the projector shows.

    rounds = Rounds(open_storage())
    r = rounds.start("7B", kind="draw", digit=7, seconds=30)        # the teacher
    rounds.submit(r.id, session, "Blue Otter", image, probabilities)  # each student
    rounds.approve([drawing_id]); wall = rounds.wall(r.id)            # the teacher, the projector
    rounds.end(r.id); rounds.add_to_training(r.id)

Two kinds of round: *draw* (everyone draws the digit asked for, within a time limit of 10 to
60 s) and *fool* (draw a digit a person reads at once but the network gets wrong: it scores,
once the teacher, or the class's votes, confirm the digit, by how sure the network was of its
wrong digit).

Everything lives in the class database (tables in ``model.classroom.storage``), so every app
process behind a proxy sees the same round, and a page learns of a change by polling
:meth:`Rounds.pulse` (one indexed row). Nothing is shown on the wall before the teacher
approves it; a rejected drawing is deleted. A nickname is stored only with the round's
drawings, forgotten ``NICKNAME_HOURS`` after the round ended, and deleted with the round
(``keep_days()`` after it started). Who may call what (the teacher's passcode) is the pages'
business: this module trusts its caller.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from model.classroom.privacy import keep_days, valid_class_code
from model.classroom.storage import (
    MAX_TEXT,
    NICKNAME_MAX,
    Answer,
    Storage,
    _png,
    _unpng,
    _utc_naive,
    answers_table,
    round_blocks_table,
    round_drawings_table,
    round_votes_table,
    rounds_table,
)
from model.i18n import N_

KINDS = ("draw", "fool")
MIN_SECONDS, MAX_SECONDS = 10, 60
GRACE_SECONDS = 2  # a drawing sent as the countdown hits 0 still counts (the network's delay)
MAX_PER_WRITER = 12  # drawings one nickname may send in one round: a queue a teacher can read
BLOCK_HOURS = 12  # a blocked nickname stays blocked for the class this long (the school day)
NICKNAME_HOURS = 12  # nicknames are forgotten this long after their round ended
TEST_SHARE = 0.25  # the share of each round's writers kept out of training: the class's test set
MIN_VOTES = 3  # votes needed before the class's majority confirms a fooling drawing
NICKNAME = re.compile(r"^[\w][\w \-']*$")

ADJECTIVES = ("Blue", "Brave", "Calm", "Clever", "Quick", "Green", "Happy", "Lucky", "Quiet", "Red",
              "Shiny", "Sunny", "Swift", "Tiny", "Wild", "Golden", "Silver", "Purple", "Jolly", "Bold")
ANIMALS = ("Otter", "Falcon", "Panda", "Tiger", "Koala", "Fox", "Owl", "Dolphin", "Lynx", "Heron",
           "Badger", "Gecko", "Moose", "Puffin", "Turtle", "Zebra", "Yak", "Llama", "Bison", "Wren")


def per_digit_accuracy(predicted: np.ndarray, labels: np.ndarray) -> list[float | None]:
    """For each digit, the share of its drawings read right (None where it has none)."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    return [float((predicted[labels == d] == d).mean()) if (labels == d).any() else None for d in range(10)]


class RoundError(ValueError):
    """What a student or teacher asked cannot be done; the message says why, for them."""


def _now(now: dt.datetime | None) -> dt.datetime:
    return _utc_naive(now or dt.datetime.now(dt.timezone.utc))


def class_key(class_code: str | None) -> str:
    """The class a round belongs to: its code, or "" for the class with none."""
    return valid_class_code(class_code) or ""


def suggest_nickname(rng: random.Random | None = None) -> str:
    """A random nickname like "Brave Otter": nothing about the person."""
    rng = rng or random.SystemRandom()
    return f"{rng.choice(ADJECTIVES)} {rng.choice(ANIMALS)}"


def valid_nickname(nickname: str | None) -> str:
    """A nickname tidied (spaces collapsed); ``RoundError`` when it is empty, too long or has
    characters other than letters, digits, spaces, ``-``, ``_`` and ``'``."""
    text = " ".join(unicodedata.normalize("NFKC", str(nickname or "")).split())
    if not text:
        raise RoundError("Pick a nickname first (not your real name).")
    if len(text) > 20:
        raise RoundError("A nickname is at most 20 characters.")
    if not NICKNAME.match(text):
        raise RoundError("A nickname has only letters, digits, spaces, - and _.")
    return text


# What a round asks of the class, in English and marked for the catalog: the pages show them translated.
TASKS = {"draw": N_("Draw a {digit}"), "fool": N_("Fool the network")}
HINTS = {
    "draw": N_("Draw a {digit} the network reads right, and send it before the time is up."),
    "fool": N_("Draw a digit anyone would read at once, but that the network reads as another digit. "
               "Say which digit you drew, then send it."),
}


@dataclass(frozen=True)
class Round:
    id: int
    class_code: str | None
    kind: str
    digit: int | None
    seconds: int | None
    voting: bool
    started_at: dt.datetime
    ends_at: dt.datetime | None
    ended_at: dt.datetime | None
    revision: int
    trained_at: dt.datetime | None

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    def seconds_left(self, now: dt.datetime | None = None) -> float | None:
        """Seconds of drawing left (0 when time is up), or None without a time limit."""
        if self.ends_at is None:
            return None
        return max(0.0, (self.ends_at - _now(now)).total_seconds())

    def takes_drawings(self, now: dt.datetime | None = None) -> bool:
        if self.ended_at is not None:
            return False
        return self.ends_at is None or _now(now) < self.ends_at + dt.timedelta(seconds=GRACE_SECONDS)

    @property
    def task(self) -> str:
        return TASKS[self.kind].format(digit=self.digit)

    @property
    def hint(self) -> str:
        return HINTS[self.kind].format(digit=self.digit)


@dataclass(frozen=True)
class Drawing:
    id: int
    round_id: int
    created_at: dt.datetime
    nickname: str | None
    session: str
    intended: int
    predicted: int
    probabilities: np.ndarray  # (10,)
    approved: bool
    confirmed: bool | None
    held_out: bool
    image: np.ndarray  # (28, 28) float32

    @property
    def confidence(self) -> float:
        """How sure the network was of its answer."""
        return float(self.probabilities[self.predicted])

    @property
    def fooled(self) -> bool:
        return self.predicted != self.intended

    def top3(self) -> list[tuple[int, float]]:
        order = np.argsort(self.probabilities)[::-1][:3]
        return [(int(d), float(self.probabilities[d])) for d in order]


@dataclass(frozen=True)
class Fooling:
    drawing: Drawing
    score: float  # the network's confidence in its wrong digit


@dataclass(frozen=True)
class Wall:
    """What the projector shows of a round: approved drawings only."""

    round: Round
    drawings: list[Drawing]  # approved, newest first
    pending: int  # waiting for the teacher (a count only: none of them is shown)
    right: int  # approved drawings the network read as the digit meant
    read_as: list[int]  # per digit, how many approved drawings the network read as it
    foolings: list[Fooling]  # confirmed fooling drawings, best first
    top3: list[tuple[str, float]]  # the best three nicknames and their best score ("fool")
    votes: dict[int, dict[int, int]]  # drawing id -> digit -> votes

    @property
    def total(self) -> int:
        return len(self.drawings)


def _round(row) -> Round:
    return Round(id=row.id, class_code=row.class_key or None, kind=row.kind, digit=row.digit,
                 seconds=row.seconds, voting=bool(row.voting), started_at=row.started_at, ends_at=row.ends_at,
                 ended_at=row.ended_at, revision=row.revision, trained_at=row.trained_at)


def _drawing(row) -> Drawing:
    return Drawing(id=row.id, round_id=row.round_id, created_at=row.created_at, nickname=row.nickname,
                   session=row.session, intended=row.intended, predicted=row.predicted,
                   probabilities=np.frombuffer(row.probabilities, "<f4").copy(), approved=bool(row.approved),
                   confirmed=row.confirmed, held_out=bool(row.held_out),
                   image=np.frombuffer(row.image, "<f4").reshape(28, 28).copy())


def _writer_order(session: str, round_id: int) -> str:
    return hashlib.sha256(f"{round_id}:{session}".encode()).hexdigest()


class Rounds:
    """The class's rounds in one database (a ``Storage``); as thread-safe as it is."""

    def __init__(self, storage: Storage):
        self.storage = storage
        self.engine = storage.engine

    def _writing(self) -> sa.Connection:
        return self.storage._writing()

    @staticmethod
    def _bump(conn: sa.Connection, round_id: int) -> None:
        conn.execute(rounds_table.update().where(rounds_table.c.id == round_id)
                     .values(revision=rounds_table.c.revision + 1))

    # ----------------------------------------------------------------- the teacher's round
    def start(self, class_code: str | None, kind: str, digit: int | None = None, seconds: int | None = None,
              voting: bool = False, now: dt.datetime | None = None) -> Round:
        """Open a round for the class, ending the class's open one if any."""
        if kind not in KINDS:
            raise RoundError(f"A round is one of {', '.join(KINDS)}, not {kind!r}.")
        if kind == "draw":
            if digit is None or not 0 <= int(digit) <= 9:
                raise RoundError("Pick the digit to draw, 0 to 9.")
            if seconds is None:
                raise RoundError(f"A drawing round needs a time limit, {MIN_SECONDS} to {MAX_SECONDS} s.")
        if seconds is not None and not MIN_SECONDS <= int(seconds) <= MAX_SECONDS:
            raise RoundError(f"The time limit is {MIN_SECONDS} to {MAX_SECONDS} seconds.")
        key, at = class_key(class_code), _now(now)
        values = dict(class_key=key, kind=kind, digit=None if kind == "fool" else int(digit),
                      seconds=None if seconds is None else int(seconds), voting=bool(voting and kind == "fool"),
                      started_at=at, ends_at=None if seconds is None else at + dt.timedelta(seconds=int(seconds)),
                      ended_at=None, revision=1, trained_at=None)
        with self._writing() as conn, conn.begin():
            if self.storage.dialect == "postgresql":  # serialise starts of one class (SQLite's writer lock does)
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:a, :b)"),
                             {"a": 0x524E, "b": int(hashlib.sha256(key.encode()).hexdigest()[:7], 16)})
            open_ids = [r[0] for r in conn.execute(sa.select(rounds_table.c.id).where(
                rounds_table.c.class_key == key, rounds_table.c.ended_at.is_(None)))]
            for round_id in open_ids:
                conn.execute(rounds_table.update().where(rounds_table.c.id == round_id)
                             .values(ended_at=at, revision=rounds_table.c.revision + 1))
            round_id = int(conn.execute(rounds_table.insert().values(**values)).inserted_primary_key[0])
        return self.get(round_id)

    def end(self, round_id: int, now: dt.datetime | None = None) -> Round:
        """Stop the round (no more drawings); its wall and summary stay until it is deleted."""
        with self._writing() as conn, conn.begin():
            conn.execute(rounds_table.update().where(rounds_table.c.id == int(round_id),
                                                     rounds_table.c.ended_at.is_(None))
                         .values(ended_at=_now(now), revision=rounds_table.c.revision + 1))
        return self.get(round_id)

    def get(self, round_id: int) -> Round:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(rounds_table).where(rounds_table.c.id == int(round_id))).first()
        if row is None:
            raise RoundError("That round is over and has been deleted.")
        return _round(row)

    def latest(self, class_code: str | None) -> Round | None:
        """The class's newest round, open or ended."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(rounds_table).where(rounds_table.c.class_key == class_key(class_code))
                               .order_by(rounds_table.c.id.desc()).limit(1)).first()
        return None if row is None else _round(row)

    def current(self, class_code: str | None) -> Round | None:
        """The class's open round, if any."""
        latest = self.latest(class_code)
        return latest if latest is not None and latest.is_open else None

    def pulse(self, class_code: str | None) -> tuple[int, int, bool, dt.datetime] | None:
        """The cheap question pages poll: the class's newest round's (id, revision, open,
        started_at), which changes whenever anything about it does. With its start: SQLite gives
        a new round the id of a deleted one (after "delete everything of this class"), and its
        revision starts at 1 again, so (id, revision) alone can name two rounds."""
        t = rounds_table
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.c.id, t.c.revision, t.c.ended_at, t.c.started_at).where(
                t.c.class_key == class_key(class_code)).order_by(t.c.id.desc()).limit(1)).first()
        return None if row is None else (row.id, row.revision, row.ended_at is None, row.started_at)

    # ----------------------------------------------------------------- students
    def submit(self, round_id: int, session: str, nickname: str, image: np.ndarray, probabilities: np.ndarray,
               intended: int | None = None, model: str | None = None, ink: np.ndarray | None = None,
               now: dt.datetime | None = None) -> int:
        """Store a student's drawing in the round, pending the teacher's approval; returns its id.
        ``intended`` is the digit the student drew ("fool"; a "draw" round's is its digit)."""
        nickname = valid_nickname(nickname)
        session = str(session or "")[:MAX_TEXT]
        if not session:
            raise RoundError("A drawing needs the page's session.")
        image = np.asarray(image, np.float32)
        if image.shape != (28, 28) or not np.isfinite(image).all():
            raise RoundError("That drawing could not be read.")
        p = np.asarray(probabilities, np.float32)
        if p.shape != (10,) or not np.isfinite(p).all():
            raise RoundError("The network's answer could not be read.")
        at = _now(now)
        with self._writing() as conn, conn.begin():
            row = conn.execute(sa.select(rounds_table).where(rounds_table.c.id == int(round_id))).first()
            if row is None:
                raise RoundError("That round is over.")
            current = _round(row)
            if not current.takes_drawings(at):
                raise RoundError("Time is up: this round takes no more drawings.")
            if current.kind == "draw":
                intended = current.digit
            elif intended is None or not 0 <= int(intended) <= 9:
                raise RoundError("Say which digit you drew, 0 to 9.")
            d, b = round_drawings_table, round_blocks_table
            since = at - dt.timedelta(hours=BLOCK_HOURS)
            blocked = conn.execute(sa.select(sa.func.count()).select_from(b).where(
                b.c.class_key == row.class_key, b.c.created_at >= since,
                sa.or_(sa.func.lower(b.c.nickname) == nickname.lower(), b.c.session == session))).scalar()
            if blocked:
                raise RoundError("Your teacher has paused your drawings for this lesson.")
            others = conn.execute(sa.select(sa.func.count()).select_from(d).where(
                d.c.round_id == current.id, sa.func.lower(d.c.nickname) == nickname.lower(),
                d.c.session != session)).scalar()
            if others:
                raise RoundError(f"Someone else is {nickname} in this round: pick another nickname.")
            mine = conn.execute(sa.select(sa.func.count()).select_from(d).where(
                d.c.round_id == current.id, d.c.session == session)).scalar()
            if mine >= MAX_PER_WRITER:
                raise RoundError(f"That's {MAX_PER_WRITER} drawings from you this round: enough!")
            drawing_id = conn.execute(d.insert().values(
                round_id=current.id, created_at=at, session=session, nickname=nickname, intended=int(intended),
                predicted=int(np.argmax(p)), probabilities=p.astype("<f4").tobytes(),
                model=None if model is None else str(model)[:MAX_TEXT],
                image=np.clip(image, 0, 1).astype("<f4").tobytes(), ink=None if ink is None else _png(ink),
                approved=False, confirmed=None, held_out=False)).inserted_primary_key[0]
            self._bump(conn, current.id)
        return int(drawing_id)

    def mine(self, round_id: int, session: str) -> list[Drawing]:
        """One student's drawings in the round (their page says which are on the wall)."""
        return self._drawings(round_drawings_table.c.round_id == int(round_id),
                              round_drawings_table.c.session == str(session))

    def vote(self, drawing_id: int, session: str, digit: int) -> None:
        """A student's vote on which digit an approved fooling drawing is (one per student,
        the last one counts)."""
        digit = int(digit)
        if not 0 <= digit <= 9:
            raise RoundError("A vote is a digit, 0 to 9.")
        d, v = round_drawings_table, round_votes_table
        with self._writing() as conn, conn.begin():
            row = conn.execute(sa.select(d.c.round_id, d.c.approved).where(d.c.id == int(drawing_id))).first()
            if row is None or not row.approved:
                raise RoundError("That drawing is not on the wall.")
            r = conn.execute(sa.select(rounds_table.c.voting).where(rounds_table.c.id == row.round_id)).first()
            if r is None or not r.voting:
                raise RoundError("Voting is off for this round.")
            conn.execute(v.delete().where(v.c.drawing_id == int(drawing_id), v.c.session == str(session)[:MAX_TEXT]))
            conn.execute(v.insert().values(drawing_id=int(drawing_id), session=str(session)[:MAX_TEXT], digit=digit))
            self._bump(conn, row.round_id)

    # ----------------------------------------------------------------- the teacher's queue
    def _drawings(self, *where) -> list[Drawing]:
        d = round_drawings_table
        columns = [c for c in d.c if c.name != "ink"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*columns).where(*where).order_by(d.c.id)).all()
        return [_drawing(r) for r in rows]

    def pending(self, round_id: int) -> list[Drawing]:
        """Drawings waiting for the teacher, oldest first."""
        d = round_drawings_table
        return self._drawings(d.c.round_id == int(round_id), d.c.approved.is_(False))

    def _set(self, where, **values) -> int:
        d = round_drawings_table
        with self._writing() as conn, conn.begin():
            round_ids = {r[0] for r in conn.execute(sa.select(d.c.round_id).where(where))}
            changed = conn.execute(d.update().where(where).values(**values)).rowcount if values else 0
            for round_id in round_ids:
                self._bump(conn, round_id)
        return changed

    def approve(self, drawing_ids) -> int:
        ids = [int(i) for i in drawing_ids]
        return self._set(round_drawings_table.c.id.in_(ids), approved=True) if ids else 0

    def approve_nickname(self, round_id: int, nickname: str) -> int:
        d = round_drawings_table
        return self._set(sa.and_(d.c.round_id == int(round_id), d.c.nickname == nickname), approved=True)

    def reject(self, drawing_ids) -> int:
        """Delete drawings (from the queue or the wall), and their votes."""
        ids = [int(i) for i in drawing_ids]
        if not ids:
            return 0
        d, v = round_drawings_table, round_votes_table
        with self._writing() as conn, conn.begin():
            round_ids = {r[0] for r in conn.execute(sa.select(d.c.round_id).where(d.c.id.in_(ids)))}
            conn.execute(v.delete().where(v.c.drawing_id.in_(ids)))
            removed = conn.execute(d.delete().where(d.c.id.in_(ids))).rowcount
            for round_id in round_ids:
                self._bump(conn, round_id)
        return removed

    def block(self, round_id: int, nickname: str, now: dt.datetime | None = None) -> int:
        """Refuse the nickname (and the page that used it) for the class's rounds of this lesson;
        its drawings still waiting are deleted. Returns how many were."""
        current = self.get(round_id)
        d = round_drawings_table
        sessions = {x.session for x in self._drawings(d.c.round_id == current.id, d.c.nickname == nickname)}
        key = current.class_code or ""
        with self._writing() as conn, conn.begin():
            rows = [dict(class_key=key, nickname=nickname[:NICKNAME_MAX], session=s, created_at=_now(now))
                    for s in sorted(sessions)] or [dict(class_key=key, nickname=nickname[:NICKNAME_MAX],
                                                       session=None, created_at=_now(now))]
            conn.execute(round_blocks_table.insert(), rows)
            waiting = [r[0] for r in conn.execute(sa.select(d.c.id).where(
                d.c.round_id == current.id, d.c.nickname == nickname, d.c.approved.is_(False)))]
            if waiting:
                conn.execute(round_votes_table.delete().where(round_votes_table.c.drawing_id.in_(waiting)))
                conn.execute(d.delete().where(d.c.id.in_(waiting)))
            self._bump(conn, current.id)
        return len(waiting)

    def blocked(self, class_code: str | None, now: dt.datetime | None = None) -> list[str]:
        b = round_blocks_table
        since = _now(now) - dt.timedelta(hours=BLOCK_HOURS)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(b.c.nickname).where(b.c.class_key == class_key(class_code),
                                                              b.c.created_at >= since).distinct())
            return sorted(r[0] for r in rows)

    def confirm(self, drawing_id: int, is_intended: bool) -> None:
        """The teacher's verdict on a fooling drawing: does it show the digit its author meant?"""
        self._set(round_drawings_table.c.id == int(drawing_id), confirmed=bool(is_intended))

    # ----------------------------------------------------------------- the wall
    def _votes(self, drawing_ids: list[int]) -> dict[int, dict[int, int]]:
        if not drawing_ids:
            return {}
        v = round_votes_table
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(v.c.drawing_id, v.c.digit, sa.func.count()).where(
                v.c.drawing_id.in_(drawing_ids)).group_by(v.c.drawing_id, v.c.digit)).all()
        out: dict[int, dict[int, int]] = {}
        for drawing_id, digit, n in rows:
            out.setdefault(drawing_id, {})[digit] = n
        return out

    @staticmethod
    def is_confirmed(drawing: Drawing, voting: bool, votes: dict[int, int] | None) -> bool:
        """The teacher's verdict when given; else, with voting on, a majority of at least
        ``MIN_VOTES`` votes for the digit meant."""
        if drawing.confirmed is not None:
            return bool(drawing.confirmed)
        if not voting or not votes:
            return False
        total = sum(votes.values())
        return total >= MIN_VOTES and votes.get(drawing.intended, 0) * 2 > total

    def wall(self, round_id: int) -> Wall:
        current = self.get(round_id)
        d = round_drawings_table
        approved = self._drawings(d.c.round_id == current.id, d.c.approved.is_(True))[::-1]
        with self.engine.connect() as conn:
            pending = conn.execute(sa.select(sa.func.count()).select_from(d).where(
                d.c.round_id == current.id, d.c.approved.is_(False))).scalar()
        votes = self._votes([x.id for x in approved]) if current.voting else {}
        read_as = np.bincount([x.predicted for x in approved], minlength=10).tolist()
        foolings = []
        if current.kind == "fool":
            foolings = sorted((Fooling(x, x.confidence) for x in approved
                               if x.fooled and self.is_confirmed(x, current.voting, votes.get(x.id))),
                              key=lambda f: (-f.score, f.drawing.id))
        best: dict[str, float] = {}
        for f in foolings:
            name = f.drawing.nickname or "(nickname forgotten)"
            best[name] = max(best.get(name, 0.0), f.score)
        top3 = sorted(best.items(), key=lambda kv: -kv[1])[:3]
        return Wall(round=current, drawings=approved, pending=int(pending),
                    right=sum(1 for x in approved if not x.fooled), read_as=read_as, foolings=foolings,
                    top3=top3, votes=votes)

    # ----------------------------------------------------------------- training and the test set
    def add_to_training(self, round_id: int, now: dt.datetime | None = None) -> int:
        """Add the round's approved drawings (a fooling round's: the confirmed ones) to the class's
        answers, which the fine-tuning trains on, with the digit meant as their label. A share of
        the round's writers (``TEST_SHARE``, at least one of two or more) is held out instead: the
        class's test set. Once per round; returns how many drawings went to training."""
        current = self.get(round_id)
        if current.trained_at is not None:
            raise RoundError("This round's drawings are in the training data already.")
        wall = self.wall(round_id)
        chosen = [x for x in wall.drawings
                  if current.kind == "draw" or self.is_confirmed(x, current.voting, wall.votes.get(x.id))]
        if not chosen:
            raise RoundError("No approved drawings to add" + (" (a fooling drawing needs confirming)."
                                                              if current.kind == "fool" else "."))
        writers = sorted({x.session for x in chosen}, key=lambda s: _writer_order(s, current.id))
        n_held = 0 if len(writers) < 2 else max(1, round(TEST_SHARE * len(writers)))
        held = set(writers[:n_held])
        d = round_drawings_table
        with self.engine.connect() as conn:
            inks = dict(conn.execute(sa.select(d.c.id, d.c.ink).where(d.c.id.in_([x.id for x in chosen]))).all())
        at = _now(now)
        rows = [Answer(image=x.image, label=x.intended, session=x.session, predicted=x.predicted,
                       probabilities=x.probabilities, model=None, class_code=current.class_code,
                       ink=_unpng(inks.get(x.id)), created_at=x.created_at).row()
                for x in chosen if x.session not in held]
        with self._writing() as conn, conn.begin():
            done = conn.execute(rounds_table.update().where(rounds_table.c.id == current.id,
                                                            rounds_table.c.trained_at.is_(None))
                                .values(trained_at=at, revision=rounds_table.c.revision + 1)).rowcount
            if not done:  # the teacher's other device pressed it a moment before
                raise RoundError("This round's drawings are in the training data already.")
            held_ids = [x.id for x in chosen if x.session in held]
            if held_ids:
                conn.execute(d.update().where(d.c.id.in_(held_ids)).values(held_out=True))
            if rows:
                conn.execute(answers_table.insert(), rows)
        return len(rows)

    def test_set(self, class_code: str | None) -> tuple[np.ndarray, np.ndarray]:
        """The class's test set: the held-out drawings of its rounds (images, the digits meant)."""
        d, r = round_drawings_table, rounds_table
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(d.c.image, d.c.intended).join(r, r.c.id == d.c.round_id).where(
                r.c.class_key == class_key(class_code), d.c.held_out.is_(True)).order_by(d.c.id)).all()
        images = (np.stack([np.frombuffer(x.image, "<f4").reshape(28, 28) for x in rows])
                  if rows else np.zeros((0, 28, 28), np.float32))
        return images.astype(np.float32), np.array([x.intended for x in rows], np.int64)

    # ----------------------------------------------------------------- forgetting
    def _delete_rounds(self, conn: sa.Connection, where) -> int:
        d, v = round_drawings_table, round_votes_table
        ids = [r[0] for r in conn.execute(sa.select(rounds_table.c.id).where(where))]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            drawing_ids = sa.select(d.c.id).where(d.c.round_id.in_(chunk))
            conn.execute(v.delete().where(v.c.drawing_id.in_(drawing_ids)))
            conn.execute(d.delete().where(d.c.round_id.in_(chunk)))
            conn.execute(rounds_table.delete().where(rounds_table.c.id.in_(chunk)))
        return len(ids)

    def purge(self, days: int | None = None, now: dt.datetime | None = None) -> int:
        """Delete rounds started more than ``days`` ago (default ``keep_days()``) with everything
        in them, forget nicknames ``NICKNAME_HOURS`` after their round ended, and drop old
        blocks. Returns how many rounds were deleted."""
        at = _now(now)
        cutoff = at - dt.timedelta(days=keep_days() if days is None else days)
        with self._writing() as conn, conn.begin():
            removed = self._delete_rounds(conn, rounds_table.c.started_at < cutoff)
            ended = sa.select(rounds_table.c.id).where(
                rounds_table.c.ended_at < at - dt.timedelta(hours=NICKNAME_HOURS))
            conn.execute(round_drawings_table.update().where(
                round_drawings_table.c.round_id.in_(ended), round_drawings_table.c.nickname.is_not(None))
                .values(nickname=None))
            conn.execute(round_blocks_table.delete().where(
                round_blocks_table.c.created_at < at - dt.timedelta(hours=BLOCK_HOURS)))
        return removed

    def delete_class(self, class_code: str | None) -> dict[str, int]:
        """Everything of one class: its answers, rounds (drawings, nicknames, votes) and blocks.
        ``None`` is the class without a code."""
        key = class_key(class_code)
        with self._writing() as conn, conn.begin():
            rounds = self._delete_rounds(conn, rounds_table.c.class_key == key)
            conn.execute(round_blocks_table.delete().where(round_blocks_table.c.class_key == key))
            code = answers_table.c.class_code
            answers = conn.execute(answers_table.delete().where(
                code == key if key else code.is_(None))).rowcount
        return {"rounds": rounds, "answers": answers}
