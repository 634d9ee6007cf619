"""Class rounds on the pages (model.classroom.rounds holds what they mean): the student's round
panel on the Draw page, the teacher's controls and approval queue, and the wall, on the Our class
page. A helper module, not a page.

How a page learns of a change: a fragment polls ``Rounds.pulse`` (one indexed row: the class's
newest round's id, revision and whether it is open) every ``STUDENT_POLL_S`` seconds (the teacher's pages every ``POLL_S``), through a cache
shared by the process's sessions (``PULSE_TTL_S``), so 60 students cost at most one query a
``PULSE_TTL_S`` per class. A student's page reruns whole only when a round starts or ends.
"""
from __future__ import annotations

import functools
import hashlib
import sys
import threading
import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from model.classroom.privacy import keep_days, new_session
from pages.common_drawing import current_drawing
from pages.common_feedback import WRITER_KEY, _class_code, _ink_of, _keep, _kept, storage
from pages.common_figures import digit_image, projector_layout
from pages.common_language import _, percent

POLL_S = 1.0  # the teacher's queue and the wall
# A student's page: with the shared pulse's PULSE_TTL_S, it learns of a round within 1.9 s, and 60
# of them cost two thirds of the reruns a 1 s poll would.
STUDENT_POLL_S = 1.5
PULSE_TTL_S = 0.4
SEEN_KEY = "round_seen"  # the open round this page drew itself for: (id, takes drawings) or None
UNCHECKED = "unchecked"
NICKNAME_KEY = "round_nickname"
SENT_KEY = "round_sent"  # round id -> digests of the drawings sent in it
NOTICE_KEY = "round_notice"
WALL_SHOWN = 24

_pulses: dict[str, tuple[float, object]] = {}
_pulse_lock = threading.Lock()


def rounds():
    from model.classroom.rounds import Rounds

    return Rounds(storage())


def pulse(class_code: str | None):
    """The class's pulse, shared for ``PULSE_TTL_S`` by every session of this process."""
    store = storage()
    key = (store.url, class_code or "")
    with _pulse_lock:
        cached = _pulses.get(key)
        if cached is not None and time.monotonic() - cached[0] < PULSE_TTL_S:
            return cached[1]
    from model.classroom.rounds import Rounds

    value = Rounds(store).pulse(class_code)
    with _pulse_lock:
        _pulses[key] = (time.monotonic(), value)
    return value


def forget_pulse(class_code: str | None) -> None:
    """After this session changed the round: its next look must not be the cached one."""
    with _pulse_lock:
        _pulses.pop((storage().url, class_code or ""), None)


@functools.lru_cache(maxsize=64)
def _round_at(url: str, round_id: int, started_at, revision: int):
    return rounds().get(round_id)


def round_at(round_id: int, revision: int, started_at):
    """A round as it was at a revision (one query per revision per process); its start too,
    because a round after a deletion can have a deleted one's id and revision (see ``pulse``)."""
    return _round_at(storage().url, round_id, started_at, revision)


def _student_class() -> str | None:
    try:
        return _class_code()
    except ValueError:
        return None  # said under the Right? question; rounds go to the class without a code


def privacy_text() -> str:
    return _(
        "In a class round the class keeps your drawing, the nickname you pick (never your real name), "
        "the digit you meant and what the network said, with a random code for this browser tab. "
        "Only your teacher sees drawings before approving them; the projector shows approved ones "
        "with their nickname. Nicknames are forgotten at the end of the lesson and rounds are deleted "
        "after {days} days. No addresses, no cookies, no accounts."
    ).format(days=keep_days())


def task_of(current) -> str:
    """The round's task in this session's language: "Draw a 7", "Fool the network"."""
    from model.classroom.rounds import TASKS

    return _(TASKS[current.kind]).format(digit=current.digit)


def hint_of(current) -> str:
    from model.classroom.rounds import HINTS

    return _(HINTS[current.kind]).format(digit=current.digit)


# --------------------------------------------------------------------------- the student's panel


@st.fragment(run_every=STUDENT_POLL_S)
def round_watch() -> None:
    """On the Draw page: reruns the page when the class's round starts, stops taking drawings
    or ends, and shows the countdown and what became of the student's drawings."""
    if SEEN_KEY not in st.session_state:
        # The first run does not wait for the database library: the first prediction comes first.
        st.session_state[SEEN_KEY] = UNCHECKED
        return
    class_code = _student_class()
    try:
        now = pulse(class_code)
        current = None if now is None or not now[2] else round_at(now[0], now[1], now[3])
    except Exception as error:  # noqa: BLE001 - the drawing must still predict
        print(f"[digit-lab] class rounds: {type(error).__name__}: {error}", file=sys.stderr)
        return
    shown = None if current is None else (current.id, current.takes_drawings())
    seen = st.session_state[SEEN_KEY]
    if seen != shown:
        st.session_state[SEEN_KEY] = shown
        if not (seen == UNCHECKED and shown is None):
            st.rerun(scope="app")
    if current is None:
        return
    left = current.seconds_left()
    with st.container(key="round-status"):
        if left is None:
            st.markdown(_("No time limit: your teacher ends the round."))
        elif left > 0:
            st.markdown("#### :material/timer: " + _("{seconds} s left").format(seconds=int(np.ceil(left))))
        else:
            st.markdown("#### :material/timer_off: " + _("Time's up! Look at the wall."))
        session = st.session_state.get(WRITER_KEY)
        if session:
            key = (current.id, now[1])
            cached = st.session_state.get("round_mine")
            if cached is None or cached[0] != key:
                mine = rounds().mine(current.id, session)
                cached = (key, len(mine), sum(d.approved for d in mine))
                st.session_state["round_mine"] = cached
            sent = len(st.session_state.get(SENT_KEY, {}).get(current.id, ()))  # the teacher deletes rejected ones
            if sent:
                st.caption(_("You sent {sent} · {shown} on the wall").format(sent=sent, shown=cached[2]))


def _digest(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image, np.float32).tobytes()).hexdigest()[:16]


def _submit(classifier, current) -> None:
    from model.classroom.rounds import RoundError

    drawing = current_drawing()
    if drawing is None:
        st.session_state[NOTICE_KEY] = ("warning", _("Draw a digit first, then send it."))
        return
    image = drawing["image"]
    digest = _digest(image)
    sent = st.session_state.setdefault(SENT_KEY, {}).setdefault(current.id, set())
    if digest in sent:
        # Sent already (a second tap, or one click carried by two reruns): the form says so.
        return
    intended = st.session_state.get("round_intended") if current.kind == "fool" else None
    try:
        rounds().submit(current.id, st.session_state.setdefault(WRITER_KEY, new_session()),
                        st.session_state.get(NICKNAME_KEY, ""), image,
                        classifier.predict_proba(image[None])[0], intended=intended, model=classifier.arch,
                        ink=_ink_of(image))
    except RoundError as error:
        st.session_state[NOTICE_KEY] = ("warning", str(error))
        return
    except Exception as error:  # noqa: BLE001 - the drawing must still predict
        print(f"[digit-lab] sending a round drawing: {type(error).__name__}: {error}", file=sys.stderr)
        st.session_state[NOTICE_KEY] = ("warning", _("Your drawing could not be sent right now. Try again."))
        return
    sent.add(digest)


@st.fragment
def _round_form(classifier, current) -> None:
    from model.classroom.rounds import suggest_nickname

    st.session_state.setdefault(NICKNAME_KEY, suggest_nickname())
    if current.kind == "fool":
        st.pills(_("Which digit did you draw?"), list(range(10)), key="round_intended")
    nick_col, send_col = st.columns([3, 2], vertical_alignment="bottom")
    nick_col.text_input(_("Your nickname (not your real name)"), max_chars=20,
                        key=_kept("round_nickname_input", NICKNAME_KEY, ""), on_change=_keep,
                        args=("round_nickname_input", NICKNAME_KEY))
    send_col.button(_("Send to the wall"), icon=":material/send:", type="primary", key="round_send",
                    width="stretch", on_click=_submit, args=(classifier, current),
                    disabled=classifier is None)
    notice = st.session_state.pop(NOTICE_KEY, None)
    drawing = current_drawing()
    if drawing is not None and _digest(drawing["image"]) in st.session_state.get(SENT_KEY, {}).get(current.id, ()):
        st.success(_("Sent! Your teacher looks at it before the wall shows it. Clear the canvas to draw another."),
                   icon=":material/task_alt:")
    elif notice:
        getattr(st, notice[0])(notice[1])
    with st.expander(_("What is kept in a round")):
        st.caption(privacy_text())


def _vote(drawing_id: int, key: str) -> None:
    from model.classroom.rounds import RoundError

    digit = st.session_state.get(key)
    if digit is None:
        return
    try:
        rounds().vote(drawing_id, st.session_state.setdefault(WRITER_KEY, new_session()), int(digit))
    except RoundError as error:
        st.session_state[NOTICE_KEY] = ("warning", str(error))


@st.fragment(run_every=3 * POLL_S)
def _vote_form(round_id: int) -> None:
    """With voting on: the class says which digit each approved fooling drawing shows."""
    from model.classroom.rounds import RoundError

    try:
        wall = rounds().wall(round_id)
    except RoundError:
        return
    session = st.session_state.get(WRITER_KEY)
    others = [d for d in wall.drawings if d.fooled and d.session != session and d.confirmed is None][:6]
    if not others:
        return
    st.markdown(_("**Vote: which digit is this?** (the class's majority confirms it)"))
    for start in range(0, len(others), 3):
        for cell, drawing in zip(st.columns(3), others[start:start + 3]):
            with cell:
                st.image(drawing_png(drawing), width=96, alt=_("A classmate's fooling drawing"))
                key = f"round_vote-{drawing.id}"
                st.pills(_("It is a"), list(range(10)), key=key, on_change=_vote, args=(drawing.id, key),
                         label_visibility="collapsed")


def round_panel(classifier) -> None:
    """The Draw page's round: the task, the countdown, the nickname and the send button, shown
    while the class's round is open; polls for one otherwise."""
    seen = st.session_state.get(SEEN_KEY)
    with st.container(key="round-panel"):
        current = None
        if isinstance(seen, tuple):
            try:
                current = rounds().get(seen[0])
            except Exception as error:  # noqa: BLE001 - a deleted round, a database away
                print(f"[digit-lab] class rounds: {type(error).__name__}: {error}", file=sys.stderr)
        if current is None or not current.is_open:
            round_watch()
            return
        with st.container(border=True, key="round-task"):
            st.subheader(":material/campaign: " + _("Class round: {task}").format(task=task_of(current)))
            st.caption(hint_of(current))
            round_watch()
            if current.takes_drawings():
                _round_form(classifier, current)
            if current.voting:
                _vote_form(current.id)


# --------------------------------------------------------------------------- the wall


def read_as_figure(read_as: list[int], highlight: int | None, title: str) -> go.Figure:
    colours = ["#0072B2" if d == highlight else "#8c9bb5" for d in range(10)]
    figure = go.Figure(go.Bar(x=[str(d) for d in range(10)], y=read_as, marker_color=colours,
                              text=[str(n) if n else "" for n in read_as], textposition="outside",
                              hovertemplate=_("read as") + " %{x}: %{y}<extra></extra>"))
    projector_layout(figure, height=300, title=title)
    figure.update_xaxes(type="category", title=_("the network read"))
    figure.update_yaxes(title=_("drawings"), rangemode="tozero", dtick=max(1, int(max(read_as or [1]) // 5) or 1))
    return figure


@functools.lru_cache(maxsize=512)
def _png_of(url: str, drawing_id: int, pixels: bytes) -> bytes:
    import io

    buffer = io.BytesIO()
    digit_image(np.frombuffer(pixels, np.float32).reshape(28, 28)).save(buffer, format="PNG")
    return buffer.getvalue()


def drawing_png(drawing) -> bytes:
    """A drawing's picture, made once per process: the wall and the queue show it every second."""
    return _png_of(storage().url, drawing.id, np.ascontiguousarray(drawing.image, np.float32).tobytes())


def _drawing_cell(drawing, caption: str) -> None:
    st.image(drawing_png(drawing), width="stretch",
             alt=_("A drawing of a {meant}, read as {read}").format(meant=drawing.intended, read=drawing.predicted))
    st.markdown(caption)


def show_wall(wall, columns: int = 8) -> None:
    """The round's approved drawings with the network's answer and confidence, the score, the
    per-digit bars; the top three in a fooling round."""
    current = wall.round
    state = _("round open") if current.is_open else _("round over")
    st.subheader(f"{task_of(current)} · {state}")
    m1, m2, m3 = st.columns(3)
    m1.metric(_("On the wall"), wall.total)
    m2.metric(_("Network right"), _("{right} of {total}").format(right=wall.right, total=wall.total)
              if wall.total else "–")
    m3.metric(_("Waiting for the teacher"), wall.pending)
    if current.kind == "fool" and wall.top3:
        st.markdown(_("**Best foolers:**") + " " + " · ".join(
            _("{place}. {name} ({share} sure of the wrong digit)").format(place=i + 1, name=name, share=percent(score))
            for i, (name, score) in enumerate(wall.top3)))
    if not wall.drawings:
        st.info(_("Nothing on the wall yet: drawings appear here once the teacher approves them."),
                icon=":material/hourglass_top:")
        return
    shown = wall.drawings[:WALL_SHOWN]
    with st.container(key="wall-grid"):
        for start in range(0, len(shown), columns):
            row = st.columns(columns, gap="small")
            for cell, drawing in zip(row, shown[start:start + columns]):
                with cell:
                    mark = ":material/check:" if not drawing.fooled else ":material/close:"
                    _drawing_cell(drawing, f"{mark} " + _("read **{digit}**").format(digit=drawing.predicted)
                                  + f" · {percent(drawing.confidence)}"
                                  + (f" · {drawing.nickname}" if drawing.nickname else ""))
    if wall.total > WALL_SHOWN:
        st.caption(_("The newest {shown} of {total}.").format(shown=WALL_SHOWN, total=wall.total))
    st.plotly_chart(read_as_figure(wall.read_as, current.digit, _("What the network read")),
                    config={"displayModeBar": False, "staticPlot": True}, key=f"wall-bars-{current.id}")


def show_summary(wall) -> None:
    """The end of a round: the fooling drawings beside the network's top three."""
    current = wall.round
    st.subheader(_("End of the round"))
    if current.kind == "draw":
        share = wall.right / wall.total if wall.total else 0
        st.markdown(_("The network read **{right} of {total}** drawings of a {digit} right ({share}).").format(
            right=wall.right, total=wall.total, digit=current.digit, share=percent(share)))
        wrong = [d for d in wall.drawings if d.fooled]
    else:
        wrong = [f.drawing for f in wall.foolings]
        if wall.top3:
            st.markdown(_("**Top three:**") + " " + " · ".join(
                f"{i + 1}. **{name}**, {percent(score)}" for i, (name, score) in enumerate(wall.top3)))
        else:
            st.markdown(_("No confirmed fooling drawings in this round."))
    if wrong:
        st.markdown(_("**The drawings the network got wrong, with its top three guesses**"))
        for start in range(0, len(wrong), 4):
            row = st.columns(4, gap="medium")
            for cell, drawing in zip(row, wrong[start:start + 4]):
                with cell:
                    guesses = ", ".join(f"{d}: {percent(p)}" for d, p in drawing.top3())
                    _drawing_cell(drawing, _("meant **{meant}** · network: {guesses}").format(
                        meant=drawing.intended, guesses=guesses)
                                  + (f" · {drawing.nickname}" if drawing.nickname else ""))
