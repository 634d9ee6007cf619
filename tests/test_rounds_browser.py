"""Class rounds in real browsers: a teacher's laptop, the projector (``?present=1``) and three
students' phones (touch, drawn with CDP touch events) on one server. A drawing round (the
students' pages learn of it without reloading, they send, the teacher approves two and rejects
one, the wall shows only the approved, the summary), then a fooling round (a student says which
digit they drew, the teacher confirms, the summary's top three and the network's guesses), and
the round added to the class's training data.

Run: ``.venv/bin/python -m pytest tests/test_rounds_browser.py``  (about a minute and a half)
"""
from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest

from model.classroom.rounds import Rounds
from model.classroom.storage import Storage
from tests.browser import REPO, WebsocketLog, browser_available, streamlit_server
from tests.drawing import CANVAS, EMPTY_HINT, digit_strokes, read_prediction, touch_strokes, wait_idle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,  # a whole round of each kind with a teacher, the projector and three phones (about 45 s)
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
]

TIMEOUT = 60_000  # ms; generous: the machine is shared
PASSCODE = "owl-and-pussycat-42"
CLASS_CODE = "7B"
RESULTS = REPO / "test-results"
LAPTOP = dict(viewport={"width": 1400, "height": 1000})
PROJECTOR = dict(viewport={"width": 1280, "height": 720})
PHONE = dict(viewport={"width": 390, "height": 664}, device_scale_factor=3, is_mobile=True, has_touch=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rounds")
    db = f"sqlite:///{folder / 'class.sqlite3'}"
    env = {"DIGITLAB_DB": db, "DIGITLAB_DATA_DIR": str(folder / "data"), "DIGITLAB_TEACHER_CODE": PASSCODE}
    with streamlit_server(env=env, timeout=120) as url:
        yield {"url": url, "db": db}


@contextlib.contextmanager
def device(browser, name: str, options: dict):
    """A page in its own browser context (its own session); on failure a screenshot and its
    websocket messages in test-results/."""
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    messages = WebsocketLog(page)
    try:
        yield page
    except BaseException:
        RESULTS.mkdir(exist_ok=True)
        with contextlib.suppress(Exception):
            page.screenshot(path=str(RESULTS / f"rounds-{name}.png"), full_page=True)
        messages.save(RESULTS / f"rounds-{name}.websocket.jsonl")
        raise
    finally:
        context.close()


def unlock(page, url: str) -> None:
    page.goto(url, timeout=120_000)
    wait_idle(page, 120_000)
    page.get_by_label("Teacher's passcode").fill(PASSCODE)
    page.get_by_role("button", name="Unlock").click()
    page.get_by_label("Teacher's passcode").wait_for(state="detached")
    wait_idle(page, TIMEOUT)


def open_student(page, url: str) -> None:
    page.goto(f"{url}/?class={CLASS_CODE}", timeout=120_000)
    wait_idle(page, 120_000)
    page.locator(CANVAS).last.wait_for(state="visible", timeout=120_000)
    page.get_by_text(EMPTY_HINT).wait_for(state="visible", timeout=120_000)


def task(page):
    return page.locator(".st-key-round-task")


def send(page, nickname: str, digit: int, meant: int | None = None) -> None:
    """Draw ``digit`` with a finger, (in a fooling round) say it is ``meant``, send it."""
    box = task(page)
    field = box.get_by_label("Your nickname (not your real name)")
    if field.input_value() != nickname:
        field.fill(nickname)
        field.press("Enter")
        wait_idle(page, TIMEOUT)
    previous = page.evaluate("() => document.querySelectorAll('[data-testid=stMetric]').length")
    assert previous == 0, "a Prediction is shown before drawing"
    canvas = page.locator(CANVAS).last
    canvas.scroll_into_view_if_needed()
    cdp = page.context.new_cdp_session(page)
    touch_strokes(page, cdp, digit_strokes(digit, one_stroke=True), box=canvas.bounding_box())
    read_prediction(page, timeout=TIMEOUT, settle=0)  # the first answer after the finger lifts: the whole digit's
    if meant is not None:
        box.locator('[data-testid="stButtonGroup"]').get_by_text(str(meant), exact=True).click()
        box.locator('[data-testid="stButtonGroup"] [data-selected]').get_by_text(str(meant), exact=True).wait_for()
    sent = box.get_by_text(re.compile(r"^You sent \d+"))
    before = int(re.search(r"\d+", sent.inner_text()).group()) if sent.count() else 0
    box.get_by_role("button", name="Send to the wall").click()
    # "Sent!" is what a student sees, unless the round's time runs out just then (60 s for three
    # phones in turn, seen on a machine running two test suites): then the panel says "Time's up"
    # and counts the drawing, "You sent N".
    box.get_by_text(re.compile(rf"Sent! Your teacher looks at it|^You sent {before + 1} ")).first.wait_for()


def clear(page) -> None:
    from tests.drawing import clear_canvas

    clear_canvas(page, TIMEOUT)


def pick_view(page, view: str) -> None:
    page.locator('[data-testid="stButtonGroup"]').first.get_by_text(view, exact=True).click()
    wait_idle(page, TIMEOUT)


def test_a_class_plays_a_drawing_round_and_a_fooling_round(server, browser):
    url, rounds = server["url"], Rounds(Storage(server["db"]))
    # The module's server keeps one database: the class starts with no round (a second run of
    # this test, pytest --count, found the first run's last round on the wall).
    rounds.delete_class(CLASS_CODE)
    with contextlib.ExitStack() as stack:
        teacher = stack.enter_context(device(browser, "teacher", LAPTOP))
        wall = stack.enter_context(device(browser, "projector", PROJECTOR))
        students = [stack.enter_context(device(browser, f"student{k}", PHONE)) for k in range(3)]
        names = ["Kid Ant", "Kid Bee", "Kid Cat"]

        unlock(teacher, f"{url}/class")
        pick_view(teacher, "Round")
        code = teacher.get_by_label("Class code of the rounds", exact=False)
        code.fill(CLASS_CODE)
        code.press("Enter")
        teacher.get_by_role("button", name="Start the round").wait_for()
        wait_idle(teacher, TIMEOUT)
        unlock(wall, f"{url}/class?present=1&class={CLASS_CODE}")
        wall.get_by_text("No round yet").wait_for()
        for student in students:
            open_student(student, url)
        assert task(students[0]).count() == 0

        # A drawing round: 7, the longest time limit (a shared test machine is slow).
        teacher.get_by_role("slider").first.press("End")
        teacher.get_by_role("button", name="Start the round").click()
        teacher.get_by_text("Waiting for you: 0").wait_for()
        for student in students:  # without reloading: the round watcher's poll
            task(student).get_by_text("Class round: Draw a 7").wait_for()
            task(student).get_by_text("s left").wait_for()
        for student, name in zip(students, names):
            send(student, name, 7)
        teacher.get_by_text("Waiting for you: 3").wait_for()
        current = rounds.current(CLASS_CODE)
        ids = {d.nickname: d.id for d in rounds.pending(current.id)}
        assert set(ids) == set(names)
        wall.get_by_text("Nothing on the wall yet").wait_for()  # nothing shown before approval
        for action, name in (("approve", "Kid Ant"), ("approve", "Kid Bee"), ("reject", "Kid Cat")):
            # Each click reruns the queue, and its rows move up: while that run is under way the
            # moved row shows twice (Streamlit keeps the old elements until the new ones come).
            # Wait for the row to be gone, as a teacher sees it go, before the next click.
            teacher.locator(f".st-key-{action}-{ids[name]} button").click()
            teacher.locator(f".st-key-{action}-{ids[name]}").wait_for(state="detached")
            wait_idle(teacher, TIMEOUT)
        teacher.get_by_text("Waiting for you: 0").wait_for()
        grid = wall.locator(".st-key-wall-grid")
        grid.get_by_text("Kid Ant").wait_for()
        grid.get_by_text("Kid Bee").wait_for()
        right = wall.locator('[data-testid="stMetric"]').filter(has_text="On the wall")
        right.get_by_text("2", exact=True).wait_for()
        assert grid.get_by_text("Kid Cat").count() == 0
        task(students[0]).get_by_text("You sent 1 · 1 on the wall").wait_for()
        task(students[2]).get_by_text("You sent 1 · 0 on the wall").wait_for()
        assert len(rounds.wall(current.id).drawings) == 2 and rounds.pending(current.id) == []

        teacher.get_by_role("button", name="End the round").click()
        teacher.get_by_text("End of the round").wait_for()
        wall.get_by_text("End of the round").wait_for()
        for student in students:
            task(student).wait_for(state="detached")

        # A fooling round: Kid Ant draws a 1 and says it is a 7; the teacher confirms it.
        teacher.get_by_text("Fool the network", exact=True).click()
        teacher.get_by_role("button", name="Start the round").click()
        teacher.get_by_text("Waiting for you: 0").wait_for()
        for student in students[:2]:
            task(student).get_by_text("Fool the network").first.wait_for()
            clear(student)
        send(students[0], "Kid Ant", 1, meant=7)
        send(students[1], "Kid Bee", 0, meant=0)
        teacher.get_by_text("Waiting for you: 2").wait_for()
        current = rounds.current(CLASS_CODE)
        fooling = {d.nickname: d for d in rounds.pending(current.id)}
        assert fooling["Kid Ant"].intended == 7 and fooling["Kid Ant"].fooled
        teacher.get_by_role("button", name="Approve all 2").click()
        teacher.get_by_text("Waiting for you: 0").wait_for()
        if fooling["Kid Bee"].fooled:  # the network misread Kid Bee's 0: the teacher says it is no fooling
            teacher.locator(f".st-key-unconfirm-{fooling['Kid Bee'].id} button").click()
            teacher.locator(f".st-key-unconfirm-{fooling['Kid Bee'].id}").wait_for(state="detached")
            wait_idle(teacher, TIMEOUT)
        teacher.locator(f".st-key-confirm-{fooling['Kid Ant'].id} button").click()
        wall.get_by_text("Best foolers: 1. Kid Ant").wait_for()
        teacher.get_by_role("button", name="End the round").click()
        summary = wall.get_by_text("meant 7 · network: ")
        summary.wait_for()
        top = fooling["Kid Ant"].top3()
        assert f"network: {top[0][0]}: {top[0][1]:.0%}" in summary.inner_text()
        wall.get_by_text("Top three: 1. Kid Ant").wait_for()

        teacher.get_by_role("button", name="Add the approved round to the class's training data").click()
        teacher.get_by_text("Added 1 drawings to the class's training data").wait_for()
        assert Storage(server["db"]).answers(class_code=CLASS_CODE).labels.tolist() == [7]
        for page in (teacher, wall, *students):
            assert page.locator('[data-testid="stException"]').count() == 0
        wall.screenshot(path=str(Path(RESULTS, "rounds-wall-summary.png")))
