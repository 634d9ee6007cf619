"""A student's forged websocket messages cannot run the teacher's side of a round.

The teacher's page shows its widgets' ids to its own browser; a student with devtools can learn
them (they are the same in every session) and put them in the messages their own page sends.
Here the student's real page, over the real websocket, sends the triggers of the teacher's
buttons (start a round, approve, reject, block, approve all, end the round, add it to the
training data): on the Draw page, as a rerun of the teacher's approval-queue fragment, and as a
run of the Our class page. Nothing happens: the round stays as it was, nothing is approved. And
the same forging, of a button the student's page does offer (Send), does reach the server: so
the messages were delivered, and only the teacher's side refused them.

Run: ``.venv/bin/python -m pytest tests/test_rounds_hostile_browser.py``  (about a minute)
"""
from __future__ import annotations

import contextlib
import re

import pytest
import sqlalchemy as sa

from model.classroom import storage as st_
from model.classroom.rounds import Rounds
from model.classroom.storage import Storage
from tests.browser import REPO, browser_available, streamlit_server
from tests.drawing import clear_canvas, draw_digit, read_prediction, wait_idle
from tests.test_rounds_browser import CLASS_CODE, PASSCODE, open_student, pick_view, send, task, unlock

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,  # every teacher trigger forged from a student's page (about 35 s)
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
]

TIMEOUT = 60_000
RESULTS = REPO / "test-results"
WIDGET_ID = re.compile(rb"\$\$ID-[0-9a-f]{32}-[A-Za-z0-9_\-]+")
STREAM = re.compile(r".*/_stcore/stream")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rounds-hostile")
    db = f"sqlite:///{folder / 'class.sqlite3'}"
    env = {"DIGITLAB_DB": db, "DIGITLAB_DATA_DIR": str(folder / "data"), "DIGITLAB_TEACHER_CODE": PASSCODE}
    with streamlit_server(env=env, timeout=120) as url:
        yield {"url": url, "db": db}


class Wire:
    """A page's websocket, routed through the test: what the server tells the page (every widget
    id, fragment id and page hash in its messages), and forged widget triggers added to the next
    rerun request the page sends (a student's round watcher asks for one every second), optionally
    as another fragment's or another page's run."""

    def __init__(self, page):
        self.widgets: dict[str, str] = {}  # key -> widget id
        self.fragments: set[str] = set()
        self.pages: set[str] = set()
        self.pending: dict | None = None
        self.sent = 0  # forged messages delivered
        self.reruns = 0  # rerun requests the page sent

        def handler(route):
            server = route.connect_to_server()
            route.on_message(lambda message: server.send(self.rewrite(message)))
            server.on_message(lambda message: (self.read(message), route.send(message)))

        page.route_web_socket(STREAM, handler)

    def read(self, message) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if not isinstance(message, bytes):
            return
        for found in WIDGET_ID.findall(message):
            widget = found.decode()
            self.widgets[widget[len("$$ID-") + 33:]] = widget
        with contextlib.suppress(Exception):
            forward = ForwardMsg.FromString(message)
            if forward.WhichOneof("type") == "delta" and forward.delta.fragment_id:
                self.fragments.add(forward.delta.fragment_id)
            if forward.WhichOneof("type") == "new_session":
                self.pages.add(forward.new_session.page_script_hash)

    def rewrite(self, message):
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        if not isinstance(message, bytes):
            return message
        back = BackMsg.FromString(message)
        if back.WhichOneof("type") != "rerun_script":
            return message
        self.reruns += 1
        forged, self.pending = self.pending, None
        if forged is None:
            return message
        rerun = back.rerun_script
        for widget_id in forged["triggers"]:
            rerun.widget_states.widgets.append(WidgetState(id=widget_id, trigger_value=True))
        if "fragment" in forged:
            rerun.fragment_id = forged["fragment"]
        if "script" in forged:
            rerun.page_script_hash = forged["script"]
            rerun.fragment_id = ""
        self.sent += 1
        return back.SerializeToString()

    def forge(self, page, **forged) -> None:
        """Send ``forged`` with the page's next rerun request; return once the page has asked
        for two more runs since (each asked for after the one before had finished) and is idle."""
        sent = self.sent
        self.pending = forged
        while self.sent == sent:
            page.wait_for_timeout(50)
        reruns = self.reruns
        while self.reruns < reruns + 2 and "script" not in forged:
            page.wait_for_timeout(50)
        wait_idle(page, TIMEOUT)


def state(db: str) -> dict:
    """What a forged message could change: the rounds and drawings as stored."""
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        rounds = conn.execute(sa.select(st_.rounds_table.c.id, st_.rounds_table.c.ended_at,
                                        st_.rounds_table.c.trained_at).order_by(st_.rounds_table.c.id)).all()
        drawings = conn.execute(sa.select(st_.round_drawings_table.c.id, st_.round_drawings_table.c.approved)
                                .order_by(st_.round_drawings_table.c.id)).all()
        blocks = conn.execute(sa.select(sa.func.count()).select_from(st_.round_blocks_table)).scalar()
        answers = conn.execute(sa.select(sa.func.count()).select_from(st_.answers_table)).scalar()
    engine.dispose()
    return {"rounds": [tuple(r) for r in rounds], "drawings": [tuple(d) for d in drawings], "blocks": blocks,
            "answers": answers}


def test_a_students_forged_messages_cannot_run_the_teachers_side(server, browser):
    url, db = server["url"], server["db"]
    rounds = Rounds(Storage(db))
    rounds.delete_class(CLASS_CODE)  # from no round, however often the module's server ran it
    teacher_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    student_context = browser.new_context(viewport={"width": 1200, "height": 1000})
    teacher, student = teacher_context.new_page(), student_context.new_page()
    for page in (teacher, student):
        page.set_default_timeout(TIMEOUT)
    seen, forger = Wire(teacher), Wire(student)
    try:
        unlock(teacher, f"{url}/class")
        pick_view(teacher, "Round")
        code = teacher.get_by_label("Class code of the rounds", exact=False)
        code.fill(CLASS_CODE)
        code.press("Enter")
        teacher.get_by_role("button", name="Start the round").wait_for()
        wait_idle(teacher, TIMEOUT)
        open_student(student, url)

        # Round 1, ended, its summary's "add to training" button seen; round 2 with one drawing
        # waiting in the queue.
        teacher.get_by_role("slider").first.press("End")
        teacher.get_by_role("button", name="Start the round").click()
        task(student).get_by_text("Class round: Draw a 7").wait_for()
        send(student, "Kid Ant", 7)
        teacher.get_by_text("Waiting for you: 1").wait_for()
        teacher.get_by_role("button", name="Approve all 1").click()
        teacher.get_by_text("Waiting for you: 0").wait_for()
        teacher.get_by_role("button", name="End the round").click()
        teacher.get_by_role("button", name="Add the approved round to the class's training data").wait_for()
        task(student).wait_for(state="detached")
        teacher.get_by_role("button", name="Start the round").click()
        task(student).get_by_text("Class round: Draw a 7").wait_for()
        clear_canvas(student, TIMEOUT)
        send(student, "Kid Ant", 7)
        teacher.get_by_text("Waiting for you: 1").wait_for()
        current = rounds.current(CLASS_CODE)
        (waiting,) = rounds.pending(current.id)
        teacher.locator(f".st-key-approve-{waiting.id}").wait_for()

        keys = ["round_start_button", "round_train", "round_end", "approve-every", f"approve-{waiting.id}",
                f"reject-{waiting.id}", f"block-{waiting.id}", f"approve-all-{waiting.id}",
                "class_delete_everything"]
        missing = [k for k in keys if k not in seen.widgets and k != "class_delete_everything"]
        assert not missing, f"the teacher's page never showed {missing}"
        stolen = [seen.widgets[k] for k in keys if k in seen.widgets]
        before = state(db)
        assert before["drawings"][-1] == (waiting.id, False) and before["rounds"][-1][1] is None

        forger.forge(student, triggers=stolen)  # on the Draw page
        for fragment in seen.fragments:  # as a rerun of each of the teacher's fragments
            forger.forge(student, triggers=stolen, fragment=fragment)
        assert state(db) == before
        assert student.locator('[data-testid="stException"]').count() == 0
        assert task(student).get_by_text("Class round: Draw a 7").is_visible()

        # The control: the same forging of the student's own Send button is obeyed.
        clear_canvas(student, TIMEOUT)
        draw_digit(student, 1, one_stroke=True)
        read_prediction(student, timeout=TIMEOUT, settle=0)
        wait_idle(student, TIMEOUT)
        assert "round_send" in forger.widgets, "the student's page has no Send button"
        forger.forge(student, triggers=[forger.widgets["round_send"]])
        task(student).get_by_text("Sent! Your teacher looks at it").wait_for()
        after_send = state(db)
        assert len(after_send["drawings"]) == len(before["drawings"]) + 1
        assert all(not approved for _, approved in after_send["drawings"][len(before["drawings"]) - 1:])

        # As a run of the Our class page (whose passcode this session never entered).
        (class_page,) = seen.pages - forger.pages
        forger.forge(student, triggers=stolen, script=class_page)
        student.get_by_label("Teacher's passcode").wait_for()
        assert state(db) == after_send
        assert rounds.current(CLASS_CODE).id == current.id and rounds.get(before["rounds"][0][0]).trained_at is None
        assert student.locator('[data-testid="stException"]').count() == 0
    except BaseException:
        RESULTS.mkdir(exist_ok=True)
        for name, page in (("teacher", teacher), ("student", student)):
            with contextlib.suppress(Exception):
                page.screenshot(path=str(RESULTS / f"rounds-hostile-{name}.png"), full_page=True)
        raise
    finally:
        teacher_context.close()
        student_context.close()
