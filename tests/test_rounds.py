"""Class rounds (model/classroom/rounds.py) on a real SQLite file and a real PostgreSQL server:
starting and ending, submissions, the approval queue, the wall, fooling scores, training data,
the class's test set and forgetting."""
from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pytest
import sqlalchemy as sa

from model.classroom import storage as st_
from model.classroom.rounds import (
    BLOCK_HOURS,
    MAX_PER_WRITER,
    NICKNAME_HOURS,
    RoundError,
    Rounds,
    suggest_nickname,
    valid_nickname,
)
from model.classroom.storage import Storage
from tests.test_storage import db_url, postgres_url  # noqa: F401 - the shared database fixtures

T0 = dt.datetime(2026, 12, 5, 9, 0, 0)


@pytest.fixture
def rounds(db_url):  # noqa: F811
    storage = Storage(db_url)
    yield Rounds(storage)
    storage.close()


def probs(best: int, sure: float = 0.9) -> np.ndarray:
    p = np.full(10, (1 - sure) / 9, np.float32)
    p[best] = sure
    return p


def image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((28, 28), dtype=np.float32)


def test_a_class_has_one_open_round_and_others_do_not_see_it(rounds):
    assert rounds.current("7B") is None and rounds.pulse("7B") is None
    first = rounds.start("7B", "draw", digit=7, seconds=30, now=T0)
    assert first.task == "Draw a 7" and first.seconds_left(T0 + dt.timedelta(seconds=10)) == 20
    assert rounds.current("7B").id == first.id
    assert rounds.current("8A") is None and rounds.current(None) is None
    second = rounds.start("7B", "fool", now=T0 + dt.timedelta(minutes=1))
    assert not rounds.get(first.id).is_open and rounds.current("7B").id == second.id
    assert second.seconds_left() is None and second.digit is None
    pulse = rounds.pulse("7B")
    rounds.end(second.id)
    assert rounds.current("7B") is None and rounds.latest("7B").id == second.id
    assert rounds.pulse("7B")[1] > pulse[1] and rounds.pulse("7B")[2] is False


def test_a_round_after_a_deletion_has_a_pulse_no_deleted_round_had(rounds):
    # SQLite hands a new round the id of a deleted one, and every round's revision starts at 1:
    # a page caching rounds by (id, revision) showed the deleted round ("Time's up!") instead of
    # the new one (found by running the whole-round browser test 20 times in one server).
    first = rounds.start("7B", "draw", digit=7, seconds=30, now=T0)
    before = rounds.pulse("7B")
    rounds.delete_class("7B")
    assert rounds.pulse("7B") is None
    second = rounds.start("7B", "draw", digit=3, seconds=30, now=T0 + dt.timedelta(minutes=5))
    after = rounds.pulse("7B")
    assert after != before and after[3] != before[3]
    assert rounds.get(after[0]).digit == 3 and second.id == after[0]
    if rounds.storage.dialect == "sqlite":
        assert second.id == first.id and after[1] == before[1]  # the collision the start resolves


@pytest.mark.parametrize("kwargs,message", [
    (dict(kind="race"), "one of"),
    (dict(kind="draw", seconds=30), "digit"),
    (dict(kind="draw", digit=10, seconds=30), "digit"),
    (dict(kind="draw", digit=3), "time limit"),
    (dict(kind="draw", digit=3, seconds=9), "10 to 60"),
    (dict(kind="draw", digit=3, seconds=61), "10 to 60"),
])
def test_a_round_is_started_only_as_the_teacher_can_ask(rounds, kwargs, message):
    with pytest.raises(RoundError, match=message):
        rounds.start("7B", **kwargs)
    assert rounds.current("7B") is None
    with pytest.raises(ValueError, match="class code"):
        rounds.start("7B/../x", "fool")


def test_two_devices_starting_at_once_leave_one_open_round(rounds):
    errors = []
    barrier = threading.Barrier(6)

    def start(k):
        barrier.wait()
        try:
            rounds.start("7B", "draw", digit=k, seconds=20)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=start, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with rounds.engine.connect() as conn:
        t = st_.rounds_table
        assert conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.ended_at.is_(None))).scalar() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() == 6


def test_nicknames():
    assert valid_nickname("  Brave   Otter ") == "Brave Otter"
    assert valid_nickname("Zoë-3") == "Zoë-3"
    for bad in ("", "   ", "x" * 21, "<script>", "a@b.c", "Robert'); DROP"):
        with pytest.raises(RoundError):
            valid_nickname(bad)
    assert all(valid_nickname(suggest_nickname()) for _ in range(20))


def test_a_drawing_round_queue_wall_and_score(rounds):
    r = rounds.start("7B", "draw", digit=7, seconds=30, now=T0)
    at = T0 + dt.timedelta(seconds=5)
    a = rounds.submit(r.id, "s-ann", "Ann", image(1), probs(7, 0.95), now=at)
    b = rounds.submit(r.id, "s-bo", "Bo", image(2), probs(1, 0.6), now=at)
    c = rounds.submit(r.id, "s-cy", "Cy", image(3), probs(7, 0.8), intended=2, now=at)  # "draw": the round's 7
    wall = rounds.wall(r.id)
    assert wall.drawings == [] and wall.pending == 3 and wall.total == 0  # nothing before approval
    assert [x.id for x in rounds.pending(r.id)] == [a, b, c]
    assert all(x.intended == 7 for x in rounds.pending(r.id))
    assert rounds.approve([a, b]) == 2
    assert rounds.reject([c]) == 1
    wall = rounds.wall(r.id)
    assert [x.id for x in wall.drawings] == [b, a]  # newest first
    assert (wall.right, wall.total, wall.pending) == (1, 2, 0)
    assert wall.read_as == [0, 1, 0, 0, 0, 0, 0, 1, 0, 0]
    assert wall.foolings == [] and wall.top3 == []
    assert abs(wall.drawings[0].confidence - 0.6) < 1e-6
    assert [d for d, _ in wall.drawings[0].top3()][0] == 1
    with rounds.engine.connect() as conn:  # the rejected drawing is gone from the database
        assert conn.execute(sa.select(sa.func.count()).select_from(st_.round_drawings_table)).scalar() == 2
    # Time is up (after a short grace): no more drawings.
    with pytest.raises(RoundError, match="Time is up"):
        rounds.submit(r.id, "s-dee", "Dee", image(4), probs(7), now=T0 + dt.timedelta(seconds=33))
    rounds.submit(r.id, "s-dee", "Dee", image(4), probs(7), now=T0 + dt.timedelta(seconds=31))
    rounds.end(r.id)
    with pytest.raises(RoundError, match="Time is up"):
        rounds.submit(r.id, "s-dee", "Dee", image(4), probs(7), now=T0 + dt.timedelta(seconds=1))


def test_bad_submissions_get_messages_and_store_nothing(rounds):
    r = rounds.start(None, "fool")
    cases = [
        (dict(nickname=""), "nickname"),
        (dict(nickname="<b>x</b>"), "letters"),
        (dict(session=""), "session"),
        (dict(image=np.full((28, 28), np.nan, np.float32)), "drawing"),
        (dict(image=np.zeros((10, 10), np.float32)), "drawing"),
        (dict(probabilities=np.ones(3)), "answer"),
        (dict(intended=None), "which digit"),
        (dict(intended=11), "which digit"),
        (dict(round_id=r.id + 99), "over"),
    ]
    for change, message in cases:
        args = dict(round_id=r.id, session="s1", nickname="Ann", image=image(), probabilities=probs(3),
                    intended=8)
        args.update(change)
        with pytest.raises(RoundError, match=message):
            rounds.submit(**args)
    assert rounds.pending(r.id) == []


def test_nicknames_are_one_writers_and_a_writer_has_a_cap(rounds):
    r = rounds.start("7B", "fool")
    rounds.submit(r.id, "s1", "Ann", image(), probs(3), intended=8)
    with pytest.raises(RoundError, match="Someone else is ann"):
        rounds.submit(r.id, "s2", "ann", image(), probs(3), intended=8)
    for _ in range(MAX_PER_WRITER - 1):
        rounds.submit(r.id, "s1", "Ann", image(), probs(3), intended=8)
    with pytest.raises(RoundError, match="enough"):
        rounds.submit(r.id, "s1", "Ann", image(), probs(3), intended=8)
    assert len(rounds.mine(r.id, "s1")) == MAX_PER_WRITER and rounds.mine(r.id, "s2") == []


def test_approve_all_from_a_nickname_and_block_one(rounds):
    r = rounds.start("7B", "draw", digit=3, seconds=60)
    for k in range(3):
        rounds.submit(r.id, "s-ann", "Ann", image(k), probs(3))
        rounds.submit(r.id, "s-rude", "Rude", image(k), probs(3))
    assert rounds.approve_nickname(r.id, "Ann") == 3
    assert rounds.block(r.id, "Rude") == 3  # its waiting drawings are deleted
    assert rounds.pending(r.id) == [] and rounds.wall(r.id).total == 3
    assert rounds.blocked("7B") == ["Rude"] and rounds.blocked("8A") == []
    with pytest.raises(RoundError, match="paused"):
        rounds.submit(r.id, "s-rude", "Rude", image(), probs(3))
    with pytest.raises(RoundError, match="paused"):  # the same page under a new nickname
        rounds.submit(r.id, "s-rude", "Nice", image(), probs(3))
    # For the lesson, in the class's next round too; not in another class's.
    nxt = rounds.start("7B", "fool")
    with pytest.raises(RoundError, match="paused"):
        rounds.submit(nxt.id, "s-other", "rude", image(), probs(3), intended=1)
    other = rounds.start("8A", "fool")
    rounds.submit(other.id, "s-rude", "Rude", image(), probs(3), intended=1)
    # After the lesson, the block is gone.
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=BLOCK_HOURS + 1)
    rounds.purge(now=later)
    assert rounds.blocked("7B", now=later) == []


def test_fooling_scores_need_confirming_and_give_the_top_three(rounds):
    r = rounds.start("7B", "fool")
    ids = {}
    # (nickname, session, drawn, network's answer, its confidence)
    for name, drawn, read, sure in [("Ann", 7, 1, 0.97), ("Ann", 4, 9, 0.99), ("Bo", 3, 8, 0.7),
                                    ("Cy", 5, 5, 0.99), ("Dee", 2, 7, 0.9), ("Eve", 6, 0, 0.95)]:
        ids[(name, drawn)] = rounds.submit(r.id, f"s-{name}", name, image(drawn), probs(read, sure), intended=drawn)
    rounds.approve(ids.values())
    wall = rounds.wall(r.id)
    assert wall.foolings == [] and wall.top3 == []  # nothing counts before the teacher confirms
    for key in [("Ann", 7), ("Ann", 4), ("Bo", 3), ("Cy", 5), ("Dee", 2)]:
        rounds.confirm(ids[key], True)
    rounds.confirm(ids[("Eve", 6)], False)  # the teacher does not read a 6 there
    wall = rounds.wall(r.id)
    # Cy's 5 was read right: not a fooling drawing, however sure.
    assert [f.drawing.id for f in wall.foolings] == [ids[("Ann", 4)], ids[("Ann", 7)], ids[("Dee", 2)],
                                                     ids[("Bo", 3)]]
    assert [name for name, _ in wall.top3] == ["Ann", "Dee", "Bo"]
    assert abs(wall.top3[0][1] - 0.99) < 1e-6 and abs(wall.foolings[0].score - 0.99) < 1e-6
    assert wall.foolings[0].drawing.top3()[0] == (9, pytest.approx(0.99, abs=1e-6))
    assert wall.right == 1


def test_with_voting_on_a_class_majority_confirms(rounds):
    r = rounds.start("7B", "fool", voting=True)
    x = rounds.submit(r.id, "s-ann", "Ann", image(), probs(1, 0.8), intended=7)
    with pytest.raises(RoundError, match="not on the wall"):
        rounds.vote(x, "v0", 7)
    rounds.approve([x])
    rounds.vote(x, "v1", 7)
    rounds.vote(x, "v2", 7)
    assert rounds.wall(r.id).foolings == []  # too few votes
    rounds.vote(x, "v3", 1)
    rounds.vote(x, "v3", 7)  # a change of mind replaces the vote
    wall = rounds.wall(r.id)
    assert wall.votes[x] == {7: 3} and [f.drawing.id for f in wall.foolings] == [x]
    rounds.confirm(x, False)  # the teacher's verdict wins
    assert rounds.wall(r.id).foolings == []
    plain = rounds.start("8A", "fool")
    y = rounds.submit(plain.id, "s", "Bo", image(), probs(1), intended=7)
    rounds.approve([y])
    with pytest.raises(RoundError, match="Voting is off"):
        rounds.vote(y, "v1", 7)


def test_the_approved_round_joins_the_training_data_with_a_test_set_kept_out(rounds):
    storage = rounds.storage
    r = rounds.start("7B", "draw", digit=4, seconds=60)
    writers = [f"s{k}" for k in range(8)]
    for k, s in enumerate(writers):
        for j in range(2):
            rounds.submit(r.id, s, f"Kid {k}", image(10 * k + j), probs(4 if j else 9))
    rounds.submit(r.id, "s-late", "Late", image(99), probs(4))  # never approved: never trained on
    rounds.approve([x.id for x in rounds.pending(r.id) if x.session != "s-late"])
    rounds.end(r.id)
    added = rounds.add_to_training(r.id)
    assert added == 12  # 6 of the 8 writers; 2 (a quarter) are the class's test set
    answers = storage.answers(class_code="7B")
    assert len(answers) == 12 and set(answers.labels.tolist()) == {4}
    images, labels = rounds.test_set("7B")
    assert len(labels) == 4 and set(labels.tolist()) == {4}
    assert not set(answers.sessions.tolist()) & {x.session for x in rounds.wall(r.id).drawings if x.held_out}
    for held in images:  # no test drawing is among the training ones
        assert not any(np.array_equal(held, a) for a in answers.images)
    with pytest.raises(RoundError, match="already"):
        rounds.add_to_training(r.id)
    assert len(storage.answers(class_code="7B")) == 12
    assert rounds.test_set("8A")[1].size == 0


def test_a_fooling_round_trains_only_on_confirmed_drawings(rounds):
    r = rounds.start(None, "fool")
    x = rounds.submit(r.id, "s1", "Ann", image(1), probs(1), intended=7)
    y = rounds.submit(r.id, "s2", "Bo", image(2), probs(1), intended=7)
    rounds.approve([x, y])
    with pytest.raises(RoundError, match="confirming"):
        rounds.add_to_training(r.id)
    rounds.confirm(x, True)
    assert rounds.add_to_training(r.id) == 1  # one writer: nothing held out
    got = rounds.storage.answers()
    assert got.labels.tolist() == [7] and got.class_codes.tolist() == [""]


def test_retention_nicknames_and_deleting_a_class(rounds, monkeypatch):
    storage = rounds.storage
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    old = rounds.start("7B", "draw", digit=1, seconds=60, now=now - dt.timedelta(days=40))
    rounds.submit(old.id, "s1", "Ann", image(), probs(1), now=old.started_at + dt.timedelta(seconds=5))
    rounds.end(old.id, now=old.started_at + dt.timedelta(minutes=1))
    fresh = rounds.start("7B", "fool", now=now - dt.timedelta(hours=NICKNAME_HOURS + 2))
    y = rounds.submit(fresh.id, "s1", "Ann", image(), probs(1), intended=7, now=fresh.started_at)
    rounds.end(fresh.id, now=fresh.started_at + dt.timedelta(minutes=5))
    today = rounds.start("7B", "fool")
    z = rounds.submit(today.id, "s1", "Ann", image(), probs(1), intended=7)
    monkeypatch.setenv("DIGITLAB_KEEP_DAYS", "30")
    assert rounds.purge() == 1
    with pytest.raises(RoundError):
        rounds.get(old.id)
    nick = {x.id: x.nickname for x in rounds.mine(fresh.id, "s1") + rounds.mine(today.id, "s1")}
    assert nick == {y: None, z: "Ann"}  # forgotten after the lesson, kept during it
    # "Delete everything of this class": answers, rounds, drawings, votes, blocks; others stay.
    storage.add(st_.Answer(image=image(), label=3, session="s9", class_code="7B"))
    storage.add(st_.Answer(image=image(), label=3, session="s9", class_code="8A"))
    rounds.block(today.id, "Ann")
    other = rounds.start("8A", "fool")
    rounds.submit(other.id, "s5", "Zed", image(), probs(1), intended=7)
    assert rounds.delete_class("7B") == {"rounds": 2, "answers": 1}
    assert rounds.latest("7B") is None and rounds.blocked("7B") == []
    assert storage.count() == 1 and rounds.latest("8A").id == other.id and len(rounds.pending(other.id)) == 1
    with rounds.engine.connect() as conn:
        d = st_.round_drawings_table
        assert conn.execute(sa.select(sa.func.count()).select_from(d)).scalar() == 1


def test_two_app_processes_see_the_same_round(db_url):  # noqa: F811
    """Two Storage objects (as two app processes have) on one database."""
    teacher, student = Rounds(Storage(db_url)), Rounds(Storage(db_url))
    try:
        r = teacher.start("7B", "draw", digit=5, seconds=45)
        seen = student.current("7B")
        assert seen is not None and seen.id == r.id and seen.digit == 5
        x = student.submit(seen.id, "s1", "Ann", image(), probs(5))
        assert [d.id for d in teacher.pending(r.id)] == [x]
        teacher.approve([x])
        assert student.wall(r.id).total == 1
    finally:
        teacher.storage.close()
        student.storage.close()


def test_a_class_submitting_at_once_loses_nothing(rounds):
    r = rounds.start("7B", "draw", digit=2, seconds=60)
    writers, each = 30, 4
    barrier = threading.Barrier(writers)
    errors = []

    def writer(k):
        barrier.wait()
        try:
            for j in range(each):
                rounds.submit(r.id, f"s{k}", f"Kid {k}", image(k), probs(2))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(rounds.pending(r.id)) == writers * each
    assert rounds.get(r.id).revision == 1 + writers * each


def test_per_digit_accuracy():
    from model.classroom.rounds import per_digit_accuracy

    got = per_digit_accuracy(np.array([4, 4, 9, 1]), np.array([4, 4, 4, 7]))
    assert got[4] == pytest.approx(2 / 3) and got[7] == 0.0 and got[0] is None
