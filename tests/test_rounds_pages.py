"""Class rounds on the pages without a browser (Streamlit's AppTest), on a real SQLite file: the
teacher starts a round on the Our class page, a student's Draw page shows it and sends a
drawing, the teacher approves it, the wall shows it, and the summary at the end."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from model.classroom.rounds import Rounds
from model.classroom.storage import Storage
from tests.test_class_pages import CODE, db, routed_server, unlocked_class_page  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parent.parent


def teacher_view(monkeypatch, view: str, class_code: str = "7B") -> AppTest:
    at = unlocked_class_page(monkeypatch)
    at.get("button_group")[0].set_value(view).run()
    at.text_input(key="round_class").input(class_code).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def student_page(class_code: str | None = "7B") -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    if class_code:
        at.query_params["class"] = class_code
    at.run()  # the first run leaves the database alone
    at.run()  # the round watcher's look (in the browser: its fragment, a second later)
    assert not at.exception, [e.value for e in at.exception]
    return at


def a_drawing(digit: int) -> dict:
    from model.data.preprocess import read_canvas
    from tests.drawing import render

    rgba = render(digit)
    return {"rgba": rgba, "image": read_canvas(rgba).image}


def send(student: AppTest, digit: int) -> None:
    """What a student's Send does with ``digit`` on the canvas (AppTest has no canvas: the
    drawing goes straight into the session, as the canvas's run leaves it)."""
    student.session_state["drawing"] = a_drawing(digit)
    next(b for b in student.button if b.label == "Send to the wall").click().run()
    assert not student.exception, [e.value for e in student.exception]


def texts(at: AppTest) -> str:
    parts = [m.value for kind in ("markdown", "subheader", "success", "warning", "info", "caption", "error")
             for m in at.get(kind)]
    return "\n".join(str(p) for p in parts)


def test_a_drawing_round_from_start_to_summary(db, monkeypatch):  # noqa: F811
    teacher = teacher_view(monkeypatch, "Round")
    assert "Class round" in texts(teacher) and "nickname" in texts(teacher)  # the privacy text
    teacher.selectbox(key="round_digit").set_value(3)
    teacher.slider(key="round_seconds").set_value(45)
    next(b for b in teacher.button if b.label == "Start the round").click().run()
    assert not teacher.exception, [e.value for e in teacher.exception]
    assert "Draw a 3" in texts(teacher) and any(b.label == "End the round" for b in teacher.button)
    assert "Waiting for you: 0" in texts(teacher)

    student = student_page("7B")
    assert any("Class round: Draw a 3" in s.value for s in student.subheader), texts(student)
    assert "s left" in texts(student)
    other = student_page("8A")  # another class sees no round
    assert not any("Class round" in s.value for s in other.subheader)

    send = next(b for b in student.button if b.label == "Send to the wall")
    send.click().run()
    assert any("Draw a digit first" in w.value for w in student.warning)
    student.text_input(key="round_nickname_input").input("Brave Otter").run()
    student.session_state["drawing"] = a_drawing(3)
    next(b for b in student.button if b.label == "Send to the wall").click().run()
    assert not student.exception, [e.value for e in student.exception]
    assert any("Sent!" in s.value for s in student.success), texts(student)
    student.session_state["drawing"] = a_drawing(3)  # the canvas (empty here) forgot it
    next(b for b in student.button if b.label == "Send to the wall").click().run()
    assert any("Sent!" in s.value for s in student.success)  # the same drawing twice: once
    rounds = Rounds(Storage(db))
    current = rounds.current("7B")
    (pending,) = rounds.pending(current.id)
    assert pending.nickname == "Brave Otter" and pending.intended == 3

    wall = teacher_view(monkeypatch, "Wall")
    assert "Nothing on the wall yet" in texts(wall)  # not before approval
    teacher.run()
    assert "Brave Otter" in texts(teacher) and "Waiting for you: 1" in texts(teacher)
    teacher.button(key=f"approve-{pending.id}").click().run()
    assert not teacher.exception, [e.value for e in teacher.exception]
    assert "Waiting for you: 0" in texts(teacher)
    wall.run()
    grid = texts(wall)
    assert "Brave Otter" in grid and f"read **{pending.predicted}**" in grid
    assert next(m for m in wall.metric if m.label == "On the wall").value == "1"
    student.run()
    assert "You sent 1 · 1 on the wall" in texts(student)

    next(b for b in teacher.button if b.label == "End the round").click().run()
    assert "End of the round" in texts(teacher) and "The network read **" in texts(teacher)
    teacher.button(key="round_train").click().run()
    assert any("Added 1 drawings" in s.value for s in teacher.success), texts(teacher)
    assert Storage(db).count(class_code="7B") == 1
    student.run()
    assert not any("Class round" in s.value for s in student.subheader)  # the round is over


def test_a_fooling_round_confirmed_and_its_top_three(db, monkeypatch):  # noqa: F811
    teacher = teacher_view(monkeypatch, "Round")
    teacher.radio(key="round_kind").set_value("Fool the network")
    next(b for b in teacher.button if b.label == "Start the round").click().run()
    assert "Fool the network" in texts(teacher)
    student = student_page("7B")
    assert "No time limit" in texts(student)
    student.text_input(key="round_nickname_input").input("Quiet Heron").run()
    send(student, 1)
    assert any("which digit" in w.value for w in student.warning)
    student.get("button_group")[-1].set_value(7).run()  # "Which digit did you draw?"
    send(student, 1)
    assert any("Sent!" in s.value for s in student.success), texts(student)
    rounds = Rounds(Storage(db))
    (drawing,) = rounds.pending(rounds.current("7B").id)
    assert drawing.intended == 7
    teacher.run()
    teacher.button(key=f"approve-{drawing.id}").click().run()
    if drawing.fooled:  # the network did not read a 7: the teacher confirms it is one
        teacher.button(key=f"confirm-{drawing.id}").click().run()
    next(b for b in teacher.button if b.label == "End the round").click().run()
    summary = texts(teacher)
    assert "End of the round" in summary
    if drawing.fooled:
        assert "1. **Quiet Heron**" in summary and "network: " in summary
    else:
        assert "No confirmed fooling drawings" in summary


def test_a_blocked_nickname_is_told_and_rejected_drawings_vanish(db, monkeypatch):  # noqa: F811
    rounds = Rounds(Storage(db))
    current = rounds.start("7B", "draw", digit=5, seconds=60)
    image = a_drawing(5)["image"]
    p = np.full(10, 0.1, np.float32)
    rude = rounds.submit(current.id, "s-rude", "Rude", image, p)
    fine = rounds.submit(current.id, "s-fine", "Fine", image, p)
    teacher = teacher_view(monkeypatch, "Round")
    teacher.button(key=f"reject-{fine}").click().run()
    teacher.button(key=f"block-{rude}").click().run()
    assert rounds.pending(current.id) == [] and "Blocked for this lesson: Rude" in texts(teacher)
    student = student_page("7B")
    student.text_input(key="round_nickname_input").input("Rude").run()
    send(student, 5)
    assert any("paused your drawings" in w.value for w in student.warning)


def test_the_wall_for_the_projector_and_deleting_a_class_asks_first(db, monkeypatch):  # noqa: F811
    rounds = Rounds(Storage(db))
    current = rounds.start("7B", "draw", digit=2, seconds=60)
    x = rounds.submit(current.id, "s1", "Ann", a_drawing(2)["image"], np.eye(10, dtype=np.float32)[2])
    rounds.approve([x])
    at = unlocked_class_page(monkeypatch)
    at.query_params["present"] = "1"
    at.query_params["class"] = "7B"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.title and "Ann" in texts(at)
    assert next(m for m in at.metric if m.label == "Network right").value == "1 of 1"

    teacher = teacher_view(monkeypatch, "Round")
    next(b for b in teacher.button if b.label == "End the round").click().run()
    teacher.button(key="class_delete_everything").click().run()
    # The dialog asks first (its button reruns the dialog alone, which AppTest does not do: the
    # browser test presses it).
    assert "This cannot be undone." in texts(teacher)
    assert any(b.key == "confirm_delete_class" for b in teacher.button)
    assert rounds.latest("7B") is not None


def test_a_locked_session_cannot_act_on_a_round(db, monkeypatch):  # noqa: F811
    """The queue's actions check the passcode again: a fragment's rerun skips the page's gate."""
    rounds = Rounds(Storage(db))
    current = rounds.start("7B", "draw", digit=2, seconds=60)
    x = rounds.submit(current.id, "s1", "Ann", a_drawing(2)["image"], np.eye(10, dtype=np.float32)[2])
    monkeypatch.setenv("DIGITLAB_TEACHER_CODE", CODE)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/class.py").run()
    assert not any(b.label == "Approve" for b in at.button)  # the gate shows nothing of the round
    assert rounds.pending(current.id)[0].id == x and not rounds.wall(current.id).drawings


@pytest.mark.parametrize("nickname,message", [("", "Pick a nickname"), ("<script>", "letters, digits")])
def test_a_bad_nickname_is_a_message(db, monkeypatch, nickname, message):  # noqa: F811
    Rounds(Storage(db)).start("7B", "draw", digit=5, seconds=60)
    student = student_page("7B")
    student.text_input(key="round_nickname_input").input(nickname).run()
    send(student, 5)
    assert any(message in w.value for w in student.warning), texts(student)


def test_with_voting_on_students_vote_and_the_majority_confirms(db, monkeypatch):  # noqa: F811
    rounds = Rounds(Storage(db))
    current = rounds.start("7B", "fool", voting=True)
    x = rounds.submit(current.id, "s-ann", "Ann", a_drawing(1)["image"], np.eye(10, dtype=np.float32)[1],
                      intended=7)
    rounds.approve([x])
    for voter in range(3):
        student = student_page("7B")
        assert "Vote: which digit is this?" in texts(student)
        next(b for b in student.get("button_group") if b.key == f"round_vote-{x}").set_value(7).run()
        assert not student.exception, [e.value for e in student.exception]
    wall = rounds.wall(current.id)
    assert wall.votes[x] == {7: 3} and [f.drawing.id for f in wall.foolings] == [x]
    assert wall.top3[0][0] == "Ann"


def test_the_wall_shows_the_class_test_set_before_and_after(db, monkeypatch):  # noqa: F811
    rounds = Rounds(Storage(db))
    current = rounds.start("7B", "draw", digit=4, seconds=60)
    for k in range(4):
        rounds.submit(current.id, f"s{k}", f"Kid {k}", a_drawing(4)["image"], np.eye(10, dtype=np.float32)[4])
    rounds.approve([d.id for d in rounds.pending(current.id)])
    rounds.end(current.id)
    rounds.add_to_training(current.id)
    wall = teacher_view(monkeypatch, "Wall")
    assert "Before and after: the class's test set" in texts(wall), texts(wall)
    (table,) = wall.dataframe
    frame = table.value
    assert frame["class test drawings"].tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    model_columns = [c for c in frame.columns if c.endswith(": class")]
    assert model_columns and frame[model_columns[0]].tolist()[4] in ("0%", "100%")


@pytest.mark.parametrize("lang", ["de", "fr", "es"])
def test_a_students_round_panel_speaks_the_language(db, monkeypatch, lang):  # noqa: F811
    """A student whose page is in German, French or Spanish: the round's task and hint, the
    countdown, the form, the privacy text and the sent drawing's count, no English message left."""
    from model.i18n import catalog
    from tests.test_languages import english_left, extracted_messages, shown_text

    template = extracted_messages()
    teacher = teacher_view(monkeypatch, "Round")
    teacher.selectbox(key="round_digit").set_value(7)
    next(b for b in teacher.button if b.label == "Start the round").click().run()
    assert not teacher.exception, [e.value for e in teacher.exception]

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.query_params["class"] = "7B"
    at.query_params["lang"] = lang
    at.run()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    words = catalog.translations(lang).gettext
    task = words("Class round: {task}").format(task=words("Draw a {digit}").format(digit=7))
    assert any(task in s.value for s in at.subheader), texts(at)
    at.session_state["drawing"] = a_drawing(7)
    next(b for b in at.button if b.label == words("Send to the wall")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(words("Sent! Your teacher looks at it before the wall shows it. Clear the canvas to draw "
                     "another.") == s.value for s in at.success), texts(at)
    at.run()
    assert words("You sent {sent} · {shown} on the wall").format(sent=1, shown=0) in texts(at)
    assert english_left(shown_text(at), lang, template) == []
