"""Our class vs MNIST, for the teacher behind a passcode: how the selected model reads the
drawings the class answered "Right?" about on the Draw page, beside how it reads MNIST; the
class's drawings it got wrong; filters, deletion, and export/import of the class set. And the
class's rounds: start one, approve what students send, the wall (``?present=1`` shows only the
wall, for the projector), the summary, and deleting everything of a class."""
from __future__ import annotations

import datetime as dt
import hmac
import os
import sys
import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from sklearn.metrics import confusion_matrix

from model.classroom import classdata, finetune_runs
from model.classroom.privacy import keep_days
from model.jobs import queue
from model.jobs.models import models_dir
from model.jobs.slot import SlotTaken
from pages.common_artifacts import load_evaluation, model_dir, shipped_archs
from pages.common_errors import failure_shown, show_failure
from pages.common_feedback import storage
from pages.common_figures import digit_grid, projector_layout
from pages.common_frame import ensure_router, style
from pages.common_mnist import mnist_here, mnist_offer
from pages.common_models import selected_arch, serving_classifier
from pages.common_rounds import (
    POLL_S,
    drawing_png,
    forget_pulse,
    privacy_text,
    pulse,
    rounds,
    show_summary,
    show_wall,
)

TEACHER_CODE_ENV = "DIGITLAB_TEACHER_CODE"
UNLOCKED_KEY = "class_unlocked"
ALL, NO_CODE = "All classes", "No class code"
DIGITS = list(range(10))
WRONG_SHOWN = 48
VIEWS = ["Class data", "Round", "Wall"]
PRESENT_PARAM = "present"
QUEUE_SHOWN = 12
ROUND_CLASS_KEY = "round_class"


def teacher_code() -> str | None:
    code = os.environ.get(TEACHER_CODE_ENV)
    if not code:
        try:
            code = st.secrets.get(TEACHER_CODE_ENV)
        except Exception:  # noqa: BLE001 - no secrets file at all is the usual case
            code = None
    return str(code) if code else None


def confusion_figure(matrix: np.ndarray, title: str) -> go.Figure:
    shares = matrix / matrix.sum(axis=1, keepdims=True).clip(min=1)
    figure = go.Figure(go.Heatmap(
        z=matrix.tolist(), x=[str(d) for d in DIGITS], y=[str(d) for d in DIGITS], customdata=shares.tolist(),
        colorscale="Blues", showscale=False, texttemplate="%{z}",
        hovertemplate="really %{y}, read as %{x}: %{z} (%{customdata:.0%} of the %{y}s)<extra></extra>",
    ))
    projector_layout(figure, height=460, title=title)
    ticks = dict(tickmode="array", tickvals=[str(d) for d in DIGITS])
    figure.update_xaxes(title="read as", **ticks)
    figure.update_yaxes(title="really", autorange="reversed", **ticks)
    return figure


def passcode_gate() -> None:
    """Stops the page unless this session has entered the teacher's passcode."""
    code = teacher_code()
    if code is None:
        st.info(
            "This page is for the teacher and is switched off until a passcode is set. On the "
            f"computer that runs Digit Lab, set the environment variable `{TEACHER_CODE_ENV}` "
            f"before starting it, or add `{TEACHER_CODE_ENV} = \"...\"` to `.streamlit/secrets.toml`.",
            icon=":material/lock:",
        )
        st.stop()
    if st.session_state.get(UNLOCKED_KEY):
        return
    with st.form("passcode"):
        entered = st.text_input("Teacher's passcode", type="password")
        submitted = st.form_submit_button("Unlock", icon=":material/lock_open:")
    if submitted:
        if hmac.compare_digest(entered.encode(), code.encode()):
            st.session_state[UNLOCKED_KEY] = True
            st.rerun()
        time.sleep(1)  # slows guessing down
        st.error("That passcode is not right.", icon=":material/block:")
    st.stop()


@st.dialog("Delete drawings")
def confirm_delete(ids: list[int], what: str) -> None:
    st.markdown(f"Delete **{what}** for good? This cannot be undone.")
    left, right = st.columns(2)
    if left.button("Delete", icon=":material/delete:", type="primary", key="confirm_delete"):
        try:
            removed = storage().delete(ids)
        except Exception as error:  # noqa: BLE001
            show_failure(error, "Deleting")
            return
        st.session_state["class_notice"] = f"Deleted {removed} drawing{'s' if removed != 1 else ''}."
        st.rerun()
    if right.button("Cancel", key="cancel_delete"):
        st.rerun()


@st.fragment(run_every=2)
def finetune_running() -> None:
    """Polls the run's progress file while it runs; reruns the page once it has finished."""
    status = finetune_runs.status()
    if status is None or status["state"] != "running":
        st.rerun()
    st.progress(min(max(float(status.get("fraction", 0)), 0.0), 1.0), text=status.get("message", ""))


def finetune_status(status: dict | None) -> None:
    if status is None:
        return
    if status["state"] == "running":
        finetune_running()
    elif status["state"] == "done":
        scores = status.get("scores", {})
        before, after = scores.get("before", {}), scores.get("after", {})
        st.success(
            f"**{status.get('name')}** is ready and in the model picker. Held-out writers of the class: "
            f"{before.get('held_out_class', 0):.1%} before, {after.get('held_out_class', 0):.1%} after; "
            f"MNIST test: {before.get('mnist_test', 0):.2%} before, {after.get('mnist_test', 0):.2%} after.",
            icon=":material/check:")
    else:
        st.error(f"Fine-tuning did not finish: {status.get('message', 'unknown reason')}",
                 icon=":material/error:")


def finetune_section(class_code: str | None, arch: str | None) -> None:
    st.subheader("Teach the model our handwriting")
    st.markdown(
        "Train the chosen model a little more on the class's drawings, mixed with MNIST digits so "
        "it forgets nothing. Some writers are kept aside to test it fairly. It takes a few minutes; "
        "the new model then appears in the model picker.")
    status = finetune_runs.status()
    running = status is not None and status["state"] == "running"
    if arch is not None and not running and not mnist_here():
        mnist_offer("Fine-tuning mixes MNIST digits in with the class's drawings, so the model forgets nothing it "
                    "knew, and they are not on this computer yet.", key="class_mnist")
    elif arch is not None and not running:
        training = queue.running_job()
        if training is not None:
            st.info(f"{training.spec.name} is training on the Train page now. One network trains at a time: "
                    "fine-tune when it has finished.", icon=":material/hourglass_top:")
        name = st.text_input("Name of the new model", value=f"{arch}_class", max_chars=40,
                             key="finetune_name")
        if st.button("Fine-tune", icon=":material/model_training:", key="finetune_start"):
            if not finetune_runs.NAME.match(name) or name in shipped_archs():
                st.error("A new name of lower-case letters, digits and _ please, starting with a letter.")
            else:
                try:
                    finetune_runs.start(arch, name, model_dir(arch), models_dir(), class_code)
                except SlotTaken as taken:  # a Train-page job has the slot
                    st.warning(f"{taken} Fine-tune when it has finished.", icon=":material/hourglass_top:")
                    return
                except finetune_runs.FinetuneBusy:
                    pass  # pressed in another session a moment before: the rerun shows that run
                except OSError as error:
                    show_failure(error, "Starting the fine-tuning")
                    return
                st.rerun()
    finetune_status(status)


def unlocked() -> bool:
    """Checked again by every action: a fragment's rerun does not pass the passcode gate."""
    return teacher_code() is not None and bool(st.session_state.get(UNLOCKED_KEY))


def round_class() -> str | None:
    """The class code the teacher runs rounds for ("" in the box: the class without a code)."""
    from model.classroom.privacy import valid_class_code

    st.text_input("Class code of the rounds (the one at the end of your students' link, ?class=...; "
                  "empty for none)", max_chars=32, key=ROUND_CLASS_KEY)
    try:
        return valid_class_code(st.session_state.get(ROUND_CLASS_KEY))
    except ValueError as error:
        st.warning(str(error), icon=":material/error:")
        st.stop()


def _act(action, *args) -> None:
    """A queue button's action, only for the unlocked teacher; a message on failure."""
    from model.classroom.rounds import RoundError

    if not unlocked():
        return
    try:
        action(*args)
    except RoundError as error:
        st.session_state["round_teacher_notice"] = str(error)
    forget_pulse(st.session_state.get(ROUND_CLASS_KEY) or None)


def start_round_form(code: str | None) -> None:
    from model.classroom.rounds import MAX_SECONDS, MIN_SECONDS, RoundError

    with st.form("round_start"):
        kind = st.radio("Kind of round", ["Draw a digit", "Fool the network"], horizontal=True,
                        key="round_kind")
        c1, c2 = st.columns(2)
        digit = c1.selectbox("Digit to draw", DIGITS, index=7, key="round_digit")
        seconds = c2.slider("Time limit (seconds)", MIN_SECONDS, MAX_SECONDS, 30, step=5, key="round_seconds")
        voting = st.checkbox("Fooling rounds: the class's votes may confirm the digit meant", key="round_voting")
        st.caption("A fooling round has no time limit: you end it.")
        started = st.form_submit_button("Start the round", type="primary", icon=":material/play_arrow:",
                                        key="round_start_button")
    if started and unlocked():
        latest = rounds().latest(code)
        if (latest is not None and latest.is_open and st.session_state.get("round_started") == latest.id
                and (dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - latest.started_at).total_seconds() < 3):
            return  # one press carried by two reruns: the round it started stays
        try:
            if kind == "Draw a digit":
                started_round = rounds().start(code, "draw", digit=int(digit), seconds=int(seconds))
            else:
                started_round = rounds().start(code, "fool", voting=bool(voting))
        except RoundError as error:
            st.error(str(error), icon=":material/error:")
            return
        st.session_state["round_started"] = started_round.id
        forget_pulse(code)
        st.rerun()


def _queue_row(current, drawing) -> None:
    r = rounds()
    picture, words, buttons = st.columns([1, 2, 5], vertical_alignment="center")
    picture.image(drawing_png(drawing), width=84, alt=f"A drawing sent by {drawing.nickname}")
    meant = f"meant **{drawing.intended}** · " if current.kind == "fool" else ""
    words.markdown(f"**{drawing.nickname}** · {meant}read **{drawing.predicted}** ({drawing.confidence:.0%})")
    b = buttons.columns(4)
    b[0].button("Approve", key=f"approve-{drawing.id}", icon=":material/check:", on_click=_act,
                args=(r.approve, [drawing.id]))
    b[1].button("Reject", key=f"reject-{drawing.id}", icon=":material/delete:", on_click=_act,
                args=(r.reject, [drawing.id]))
    b[2].button("All theirs", key=f"approve-all-{drawing.id}", help=f"Approve every drawing {drawing.nickname} sent",
                on_click=_act, args=(r.approve_nickname, current.id, drawing.nickname))
    b[3].button("Block", key=f"block-{drawing.id}", icon=":material/block:",
                help=f"Refuse {drawing.nickname} for this lesson; their waiting drawings are deleted",
                on_click=_act, args=(r.block, current.id, drawing.nickname))


@st.fragment(run_every=POLL_S)
def approval_queue(round_id: int) -> None:
    """The teacher's queue: nothing reaches the wall before it is approved here."""
    if not unlocked():
        return
    r = rounds()
    current = r.get(round_id)
    notice = st.session_state.pop("round_teacher_notice", None)
    if notice:
        st.warning(notice, icon=":material/error:")
    waiting = r.pending(round_id)
    st.markdown(f"**Waiting for you: {len(waiting)}**")
    if waiting:
        st.button(f"Approve all {len(waiting)}", key="approve-every", icon=":material/done_all:",
                  on_click=_act, args=(r.approve, [d.id for d in waiting]))
    with st.container(key="round-queue"):
        for drawing in waiting[:QUEUE_SHOWN]:
            _queue_row(current, drawing)
    if current.kind == "fool":
        wall = r.wall(round_id)
        unsure = [d for d in wall.drawings if d.fooled and d.confirmed is None]
        if unsure:
            st.markdown("**Fooling drawings to confirm: is it the digit its author meant?**")
        for drawing in unsure[:QUEUE_SHOWN]:
            picture, words, yes, no = st.columns([1, 3, 2, 2], vertical_alignment="center")
            picture.image(drawing_png(drawing), width=84, alt=f"A drawing sent by {drawing.nickname}")
            votes = wall.votes.get(drawing.id, {})
            words.markdown(f"**{drawing.nickname}** meant **{drawing.intended}**, the network read "
                           f"**{drawing.predicted}** ({drawing.confidence:.0%})"
                           + (f" · class votes for {drawing.intended}: {votes.get(drawing.intended, 0)} of "
                              f"{sum(votes.values())}" if current.voting else ""))
            yes.button(f"Yes, a {drawing.intended}", key=f"confirm-{drawing.id}", icon=":material/check:",
                       on_click=_act, args=(r.confirm, drawing.id, True))
            no.button("No", key=f"unconfirm-{drawing.id}", icon=":material/close:",
                      on_click=_act, args=(r.confirm, drawing.id, False))
    blocked = r.blocked(current.class_code)
    if blocked:
        st.caption("Blocked for this lesson: " + ", ".join(blocked))


def _add_to_training(round_id: int) -> None:
    from model.classroom.rounds import RoundError

    if not unlocked() or rounds().get(round_id).trained_at is not None:
        return  # pressed twice: the page says it is done
    try:
        n = rounds().add_to_training(round_id)
    except RoundError as error:
        st.session_state["round_teacher_notice"] = str(error)
        return
    st.session_state["class_notice"] = (
        f"Added {n} drawings to the class's training data; the rest of the round's writers are the "
        "class's test set.")


def round_view(code: str | None) -> None:
    st.subheader("Class round")
    st.caption(privacy_text())
    current = rounds().latest(code)
    if current is not None and current.is_open:
        left = current.seconds_left()
        st.markdown(f"**{current.task}** · " + (
            "no time limit" if left is None else (f"{int(np.ceil(left))} s left" if left else "time is up")))
        if st.button("End the round", icon=":material/stop:", type="primary", key="round_end") and unlocked():
            rounds().end(current.id)
            forget_pulse(code)
            st.rerun()
        approval_queue(current.id)
        return
    start_round_form(code)
    if current is not None:
        wall = rounds().wall(current.id)
        show_summary(wall)
        notice = st.session_state.pop("round_teacher_notice", None)
        if notice:
            st.warning(notice, icon=":material/error:")
        if current.trained_at is None:
            st.button("Add the approved round to the class's training data", icon=":material/library_add:",
                      key="round_train", on_click=_add_to_training, args=(current.id,))
        else:
            st.caption("This round's approved drawings are in the class's training data.")
    with st.expander("Delete everything of this class"):
        who = f"class {code}" if code else "the class without a code"
        st.markdown(f"Every drawing, answer, round, nickname and vote of **{who}**, for good.")
        if st.button(f"Delete everything of {who}", icon=":material/delete_forever:", key="class_delete_everything"):
            confirm_delete_class(code)


@st.dialog("Delete everything of this class")
def confirm_delete_class(code: str | None) -> None:
    st.markdown("This cannot be undone.")
    left, right = st.columns(2)
    if left.button("Delete everything", icon=":material/delete_forever:", type="primary",
                   key="confirm_delete_class") and unlocked():
        removed = rounds().delete_class(code)
        forget_pulse(code)
        st.session_state["class_notice"] = (f"Deleted {removed['answers']} answers and {removed['rounds']} "
                                            "rounds with their drawings and nicknames.")
        st.rerun()
    if right.button("Cancel", key="cancel_delete_class"):
        st.rerun()


def before_and_after(code: str | None) -> None:
    """On the wall: per digit, how the chosen model (and, for a fine-tuned one, the model it was
    tuned from) reads the class's test set (rounds' drawings never trained on) and MNIST."""
    from model.classroom.rounds import per_digit_accuracy

    images, labels = rounds().test_set(code)
    arch = selected_arch()
    if not len(labels) or arch is None:
        return
    card = serving_classifier(arch).card
    base = (card.get("base") or {}).get("arch")
    shown = [m for m in (base, arch) if m and m in shipped_archs()]
    table: dict[str, list] = {"digit": DIGITS, "class test drawings": np.bincount(labels, minlength=10).tolist()}
    for name in shown:
        predicted = serving_classifier(name).predict_proba(images).argmax(axis=1)
        mnist = [row.get("recall") for row in load_evaluation(name).get("per_class", [])] or [None] * 10
        when = "before" if name == base else ("after" if base else "")
        table[f"{name} {when}: class".replace("  ", " ")] = [
            "" if a is None else f"{a:.0%}" for a in per_digit_accuracy(predicted, labels)]
        table[f"{name} {when}: MNIST".replace("  ", " ")] = ["" if r is None else f"{r:.1%}" for r in mnist]
    st.subheader("Before and after: the class's test set")
    st.caption(f"{len(labels)} drawings of the class's rounds kept out of training, and the 10,000 MNIST test "
               "digits: the share of each digit read right" + (f", by {base} and by {arch}, fine-tuned from it."
                                                                 if len(shown) == 2 else f", by {arch}."))
    st.dataframe(table, hide_index=True)


@st.fragment(run_every=POLL_S)
def wall_view(code: str | None, columns: int) -> None:
    """The projector's wall: the class's newest round, approved drawings only."""
    if not unlocked():
        return
    now = pulse(code)
    if now is None:
        st.info("No round yet. Start one in the Round view; the wall fills as you approve drawings.",
                icon=":material/campaign:")
        return
    wall = rounds().wall(now[0])
    if not wall.round.is_open:  # the summary first: it is what the class looks at now
        show_summary(wall)
    show_wall(wall, columns=columns)
    if not wall.round.is_open:
        before_and_after(code)


def about() -> None:
    with st.expander("What am I looking at?", icon=":material/help:"):
        st.markdown(
            "When students draw on the **Draw** page they can tell the model whether it was right. "
            "Their answers are the class's own test set. Here the chosen model reads every one of "
            "them again, and you see how well it does on **your class's handwriting** next to how "
            "well it does on **MNIST**, the 10,000 test digits written by American clerks and "
            "students in the 1990s that it was trained to read.\n\n"
            "If the class's score is lower, look at the mistakes: often they are styles MNIST hardly "
            "has (a 1 with a hook and a base, a crossed 7, a 4 closed at the top). **A model is only "
            "as good as the data it saw.**\n\n"
            f"Only the drawings and answers are kept, with a random code per browser tab, never "
            f"names. They are deleted by themselves after {keep_days()} days; you can delete them "
            "sooner here, or export them to keep a class set."
        )
    with st.expander("What is kept about students, for how long, who sees it", icon=":material/shield_person:"):
        st.markdown(
            "- **Answers to Right?** on the Draw page: the drawing (28x28 and a small copy of the ink), "
            "the digit, what the model said, the time, a random code per browser tab and the class code.\n"
            "- **Class rounds**: the same for each drawing sent, with the nickname the student picked "
            "(never a real name) and the digit meant. Nicknames are forgotten 12 hours after their round "
            "ended; blocked nicknames are refused for 12 hours.\n"
            f"- **How long**: everything is deleted by itself {keep_days()} days after it was stored "
            "(`DIGITLAB_KEEP_DAYS`); the Round view deletes everything of a class at once.\n"
            "- **Who sees what**: only the teacher, behind the passcode, sees drawings before approving "
            "them; the wall (the projector) shows approved drawings with their nickname; a student sees "
            "only their own. No IP addresses, no accounts, no cookies beyond Streamlit's own.")


def lock_button() -> None:
    if st.button("Lock this page", icon=":material/lock:", key="class_lock"):
        st.session_state.pop(UNLOCKED_KEY, None)
        st.rerun()


ensure_router()
present = st.query_params.get(PRESENT_PARAM, "") in ("1", "true", "yes", "on")
if present:
    style("present.css")
else:
    st.title("Our class vs MNIST")
if not present:
    about()

passcode_gate()

notice = st.session_state.pop("class_notice", None)
if notice:
    st.success(notice, icon=":material/check:")

try:
    store = storage()
except Exception as error:  # noqa: BLE001 - StorageError or a driver's own
    st.error("The class database cannot be opened right now. The server's log says why.",
             icon=":material/error:")
    print(f"[digit-lab] class database: {type(error).__name__}: {error}", file=sys.stderr)
    st.stop()

view = "Wall" if present else (st.segmented_control("View", VIEWS, default=VIEWS[0], key="class_view")
                               or VIEWS[0])
if view != VIEWS[0]:
    with failure_shown("The class's rounds"):
        if present:
            from model.classroom.privacy import valid_class_code

            try:
                round_code = valid_class_code(str(st.query_params.get("class", "")) or
                                              st.session_state.get(ROUND_CLASS_KEY))
            except ValueError as error:
                st.warning(str(error), icon=":material/error:")
                st.stop()
        else:
            round_code = round_class()
        if view == "Round":
            round_view(round_code)
        else:
            wall_view(round_code, columns=6 if present else 8)
    if not present:
        lock_button()
    st.stop()

arch = selected_arch()
with failure_shown("The class's drawings"):
    codes = store.class_codes()
    f1, f2, f3 = st.columns([1, 1, 1])
    chosen = f1.selectbox("Class code", [ALL, NO_CODE, *codes], key="class_code_filter")
    today = dt.datetime.now(dt.timezone.utc).date()
    span = store.date_range() or (today, today)
    dates = f2.date_input("Drawn between", value=(span[0], max(span[1], today)), key="class_dates")
    since, until = (dates[0], dates[-1]) if isinstance(dates, (tuple, list)) and dates else (None, None)
    answers = store.answers(class_code=None if chosen in (ALL, NO_CODE) else chosen, since=since, until=until)
    if chosen == NO_CODE:
        keep = answers.class_codes == ""
        answers = type(answers)(**{k: v[keep] for k, v in vars(answers).items()})
    f3.metric("Drawings", f"{len(answers):,}", f"{len(set(answers.sessions.tolist()))} writers",
              delta_color="off", delta_arrow="off")

    if len(answers) == 0:
        st.info("No drawings here yet. Students answer **Right?** under each prediction on the Draw "
                "page; give them the link with `?class=YOURCODE` at the end to tag their class.")
    elif arch is None:
        st.warning("No trained model to compare with.")
    else:
        classifier = serving_classifier(arch)
        predicted = classifier.predict_proba(answers.images).argmax(axis=1)
        class_matrix = confusion_matrix(answers.labels, predicted, labels=DIGITS)
        class_accuracy = float((predicted == answers.labels).mean())
        evaluation = load_evaluation(arch)
        mnist_matrix = np.asarray(evaluation["confusion_matrix"], dtype=int)

        st.markdown(f"Model **{arch}** reads every drawing again (the page's model picker chooses it).")
        m1, m2, m3 = st.columns(3)
        m1.metric("Our class", f"{class_accuracy:.1%}", f"{int((predicted != answers.labels).sum())} wrong",
                  delta_color="off", delta_arrow="off")
        m2.metric("MNIST test", f"{evaluation['accuracy']:.2%}", f"{evaluation.get('errors', 0)} wrong",
                  delta_color="off", delta_arrow="off")
        m3.metric("Difference", f"{(class_accuracy - evaluation['accuracy']) * 100:+.1f} points")

        left, right = st.columns(2)
        left.plotly_chart(confusion_figure(class_matrix, "Our class"), key="class_confusion",
                          config={"displayModeBar": False})
        right.plotly_chart(confusion_figure(mnist_matrix, "MNIST test"), key="mnist_confusion",
                           config={"displayModeBar": False})

        counts = np.bincount(answers.labels, minlength=10)
        right_per_digit = np.diag(class_matrix) / counts.clip(min=1)
        mnist_recall = [row["recall"] for row in evaluation.get("per_class", [])] or [None] * 10
        st.subheader("Per digit")
        st.dataframe(
            {
                "digit": DIGITS,
                "class drawings": counts.tolist(),
                "class: read right": [f"{r:.0%}" if c else "" for r, c in zip(right_per_digit, counts)],
                "MNIST: read right": [f"{r:.2%}" if r is not None else "" for r in mnist_recall],
            },
            hide_index=True,
        )

        wrong = np.flatnonzero(predicted != answers.labels)
        st.subheader(f"Drawings the model got wrong ({len(wrong)})")
        if len(wrong):
            st.caption("Each is captioned *really → read as*, and its number.")
            digit_grid(
                [{"pixels": answers.images[i], "id": int(answers.ids[i]), "true": int(answers.labels[i]),
                  "predicted": int(predicted[i])} for i in wrong[-WRONG_SHOWN:][::-1]],
                lambda d: f"{d['true']} → {d['predicted']} · #{d['id']}",
            )
            if len(wrong) > WRONG_SHOWN:
                st.caption(f"The latest {WRONG_SHOWN} of {len(wrong)}.")
        else:
            st.success("None: the model read every drawing right.")

    st.subheader("Manage")
    d1, d2 = st.columns(2)
    with d1:
        if len(answers):
            pick = st.selectbox("One drawing, by its number", answers.ids.tolist()[::-1],
                                key="class_delete_pick")
            if st.button("Delete this drawing", icon=":material/delete:", key="class_delete_one"):
                confirm_delete([int(pick)], f"drawing #{pick}")
            if st.button(f"Delete all {len(answers)} drawings shown", icon=":material/delete_sweep:",
                         key="class_delete_all"):
                confirm_delete(answers.ids.tolist(), f"all {len(answers)} drawings shown")
    with d2:
        if len(answers):
            name = f"class-{chosen if chosen not in (ALL, NO_CODE) else 'all'}-{today.isoformat()}.npz"
            st.download_button("Export the drawings shown (.npz)", classdata.export_bytes(answers),
                               file_name=name, mime="application/octet-stream", icon=":material/download:",
                               key="class_export")
        upload = st.file_uploader("Import a class set (.npz)", type=["npz"], key="class_import_file")
        import_code = st.text_input("Give the imported drawings this class code (optional)", max_chars=32,
                                    key="class_import_code")
        if upload is not None and st.button("Import", icon=":material/upload:", key="class_import"):
            try:
                n = classdata.import_npz(store, upload.getvalue(), import_code or None)
            except ValueError as error:
                st.error(f"That file cannot be imported: {error}", icon=":material/error:")
            else:
                st.session_state["class_notice"] = f"Imported {n} drawings."
                st.rerun()
    finetune_section(chosen if chosen not in (ALL, NO_CODE) else None, arch)

    lock_button()
