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
from pages.common_language import N_, _, number, percent
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
    task_of,
)

TEACHER_CODE_ENV = "DIGITLAB_TEACHER_CODE"
UNLOCKED_KEY = "class_unlocked"
ALL, NO_CODE = N_("All classes"), N_("No class code")
DIGITS = list(range(10))
WRONG_SHOWN = 48
VIEWS = [N_("Class data"), N_("Round"), N_("Wall")]
ROUND_KINDS = [N_("Draw a digit"), N_("Fool the network")]
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
        hovertemplate=_("really %{y}, read as %{x}: %{z} (%{customdata:.0%} of the %{y}s)") + "<extra></extra>",
    ))
    projector_layout(figure, height=460, title=title)
    ticks = dict(tickmode="array", tickvals=[str(d) for d in DIGITS])
    figure.update_xaxes(title=_("read as"), **ticks)
    figure.update_yaxes(title=_("really"), autorange="reversed", **ticks)
    return figure


def passcode_gate() -> None:
    """Stops the page unless this session has entered the teacher's passcode."""
    code = teacher_code()
    if code is None:
        st.info(_(
            "This page is for the teacher and is switched off until a passcode is set. On the "
            "computer that runs Digit Lab, set the environment variable `{setting}` "
            "before starting it, or add `{setting} = \"...\"` to `.streamlit/secrets.toml`.").format(
            setting=TEACHER_CODE_ENV), icon=":material/lock:")
        st.stop()
    if st.session_state.get(UNLOCKED_KEY):
        return
    with st.form("passcode"):
        entered = st.text_input(_("Teacher's passcode"), type="password")
        submitted = st.form_submit_button(_("Unlock"), icon=":material/lock_open:")
    if submitted:
        if hmac.compare_digest(entered.encode(), code.encode()):
            st.session_state[UNLOCKED_KEY] = True
            st.rerun()
        time.sleep(1)  # slows guessing down
        st.error(_("That passcode is not right."), icon=":material/block:")
    st.stop()


@st.dialog(_("Delete drawings"))
def confirm_delete(ids: list[int], what: str) -> None:
    st.markdown(_("Delete **{what}** for good? This cannot be undone.").format(what=what))
    left, right = st.columns(2)
    if left.button(_("Delete"), icon=":material/delete:", type="primary", key="confirm_delete"):
        try:
            removed = storage().delete(ids)
        except Exception as error:  # noqa: BLE001
            show_failure(error, _("Deleting"))
            return
        st.session_state["class_notice"] = (_("Deleted {count} drawing.") if removed == 1
                                            else _("Deleted {count} drawings.")).format(count=removed)
        st.rerun()
    if right.button(_("Cancel"), key="cancel_delete"):
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
        st.success(_(
            "**{name}** is ready and in the model picker. Held-out writers of the class: "
            "{class_before} before, {class_after} after; MNIST test: {mnist_before} before, {mnist_after} after.").format(
            name=status.get("name"), class_before=percent(before.get("held_out_class", 0), 1),
            class_after=percent(after.get("held_out_class", 0), 1), mnist_before=percent(before.get("mnist_test", 0), 2),
            mnist_after=percent(after.get("mnist_test", 0), 2)), icon=":material/check:")
    else:
        st.error(_("Fine-tuning did not finish: {why}").format(why=status.get("message", _("unknown reason"))),
                 icon=":material/error:")


def finetune_section(class_code: str | None, arch: str | None) -> None:
    st.subheader(_("Teach the model our handwriting"))
    st.markdown(_(
        "Train the chosen model a little more on the class's drawings, mixed with MNIST digits so "
        "it forgets nothing. Some writers are kept aside to test it fairly. It takes a few minutes; "
        "the new model then appears in the model picker."))
    status = finetune_runs.status()
    running = status is not None and status["state"] == "running"
    if arch is not None and not running and not mnist_here():
        mnist_offer(_("Fine-tuning mixes MNIST digits in with the class's drawings, so the model forgets nothing it "
                      "knew, and they are not on this computer yet."), key="class_mnist")
    elif arch is not None and not running:
        training = queue.running_job()
        if training is not None:
            st.info(_("{name} is training on the Train page now. One network trains at a time: "
                      "fine-tune when it has finished.").format(name=training.spec.name), icon=":material/hourglass_top:")
        name = st.text_input(_("Name of the new model"), value=f"{arch}_class", max_chars=40,
                             key="finetune_name")
        if st.button(_("Fine-tune"), icon=":material/model_training:", key="finetune_start"):
            if not finetune_runs.NAME.match(name) or name in shipped_archs():
                st.error(_("A new name of lower-case letters, digits and _ please, starting with a letter."))
            else:
                try:
                    finetune_runs.start(arch, name, model_dir(arch), models_dir(), class_code)
                except SlotTaken as taken:  # a Train-page job has the slot
                    st.warning(f"{taken} " + _("Fine-tune when it has finished."), icon=":material/hourglass_top:")
                    return
                except finetune_runs.FinetuneBusy:
                    pass  # pressed in another session a moment before: the rerun shows that run
                except OSError as error:
                    show_failure(error, _("Starting the fine-tuning"))
                    return
                st.rerun()
    finetune_status(status)


def unlocked() -> bool:
    """Checked again by every action: a fragment's rerun does not pass the passcode gate."""
    return teacher_code() is not None and bool(st.session_state.get(UNLOCKED_KEY))


def round_class() -> str | None:
    """The class code the teacher runs rounds for ("" in the box: the class without a code)."""
    from model.classroom.privacy import valid_class_code

    st.text_input(_("Class code of the rounds (the one at the end of your students' link, ?class=...; "
                    "empty for none)"), max_chars=32, key=ROUND_CLASS_KEY)
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
        kinds = {kind: _(kind) for kind in ROUND_KINDS}
        kind = st.radio(_("Kind of round"), ROUND_KINDS, horizontal=True, key="round_kind", format_func=kinds.get)
        c1, c2 = st.columns(2)
        digit = c1.selectbox(_("Digit to draw"), DIGITS, index=7, key="round_digit")
        seconds = c2.slider(_("Time limit (seconds)"), MIN_SECONDS, MAX_SECONDS, 30, step=5, key="round_seconds")
        voting = st.checkbox(_("Fooling rounds: the class's votes may confirm the digit meant"), key="round_voting")
        st.caption(_("A fooling round has no time limit: you end it."))
        started = st.form_submit_button(_("Start the round"), type="primary", icon=":material/play_arrow:",
                                        key="round_start_button")
    if started and unlocked():
        latest = rounds().latest(code)
        if (latest is not None and latest.is_open and st.session_state.get("round_started") == latest.id
                and (dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - latest.started_at).total_seconds() < 3):
            return  # one press carried by two reruns: the round it started stays
        try:
            if kind == ROUND_KINDS[0]:
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
    picture.image(drawing_png(drawing), width=84, alt=_("A drawing sent by {nickname}").format(nickname=drawing.nickname))
    meant = _("meant **{digit}**").format(digit=drawing.intended) + " · " if current.kind == "fool" else ""
    words.markdown(f"**{drawing.nickname}** · {meant}" + _("read **{digit}**").format(digit=drawing.predicted)
                   + f" ({percent(drawing.confidence)})")
    b = buttons.columns(4)
    b[0].button(_("Approve"), key=f"approve-{drawing.id}", icon=":material/check:", on_click=_act,
                args=(r.approve, [drawing.id]))
    b[1].button(_("Reject"), key=f"reject-{drawing.id}", icon=":material/delete:", on_click=_act,
                args=(r.reject, [drawing.id]))
    b[2].button(_("All theirs"), key=f"approve-all-{drawing.id}",
                help=_("Approve every drawing {nickname} sent").format(nickname=drawing.nickname),
                on_click=_act, args=(r.approve_nickname, current.id, drawing.nickname))
    b[3].button(_("Block"), key=f"block-{drawing.id}", icon=":material/block:",
                help=_("Refuse {nickname} for this lesson; their waiting drawings are deleted").format(
                    nickname=drawing.nickname),
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
    st.markdown("**" + _("Waiting for you: {count}").format(count=len(waiting)) + "**")
    if waiting:
        st.button(_("Approve all {count}").format(count=len(waiting)), key="approve-every", icon=":material/done_all:",
                  on_click=_act, args=(r.approve, [d.id for d in waiting]))
    with st.container(key="round-queue"):
        for drawing in waiting[:QUEUE_SHOWN]:
            _queue_row(current, drawing)
    if current.kind == "fool":
        wall = r.wall(round_id)
        unsure = [d for d in wall.drawings if d.fooled and d.confirmed is None]
        if unsure:
            st.markdown(_("**Fooling drawings to confirm: is it the digit its author meant?**"))
        for drawing in unsure[:QUEUE_SHOWN]:
            picture, words, yes, no = st.columns([1, 3, 2, 2], vertical_alignment="center")
            picture.image(drawing_png(drawing), width=84,
                          alt=_("A drawing sent by {nickname}").format(nickname=drawing.nickname))
            votes = wall.votes.get(drawing.id, {})
            words.markdown(_("**{nickname}** meant **{meant}**, the network read **{read}** ({share})").format(
                nickname=drawing.nickname, meant=drawing.intended, read=drawing.predicted,
                share=percent(drawing.confidence))
                + (" · " + _("class votes for {digit}: {votes} of {total}").format(
                    digit=drawing.intended, votes=votes.get(drawing.intended, 0), total=sum(votes.values()))
                   if current.voting else ""))
            yes.button(_("Yes, a {digit}").format(digit=drawing.intended), key=f"confirm-{drawing.id}", icon=":material/check:",
                       on_click=_act, args=(r.confirm, drawing.id, True))
            no.button(_("No"), key=f"unconfirm-{drawing.id}", icon=":material/close:",
                      on_click=_act, args=(r.confirm, drawing.id, False))
    blocked = r.blocked(current.class_code)
    if blocked:
        st.caption(_("Blocked for this lesson: {nicknames}").format(nicknames=", ".join(blocked)))


def _add_to_training(round_id: int) -> None:
    from model.classroom.rounds import RoundError

    if not unlocked() or rounds().get(round_id).trained_at is not None:
        return  # pressed twice: the page says it is done
    try:
        n = rounds().add_to_training(round_id)
    except RoundError as error:
        st.session_state["round_teacher_notice"] = str(error)
        return
    st.session_state["class_notice"] = _(
        "Added {count} drawings to the class's training data; the rest of the round's writers are the "
        "class's test set.").format(count=n)


def round_view(code: str | None) -> None:
    st.subheader(_("Class round"))
    st.caption(privacy_text())
    current = rounds().latest(code)
    if current is not None and current.is_open:
        left = current.seconds_left()
        st.markdown(f"**{task_of(current)}** · " + (
            _("no time limit") if left is None else (
                _("{seconds} s left").format(seconds=int(np.ceil(left))) if left else _("time is up"))))
        if st.button(_("End the round"), icon=":material/stop:", type="primary", key="round_end") and unlocked():
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
            st.button(_("Add the approved round to the class's training data"), icon=":material/library_add:",
                      key="round_train", on_click=_add_to_training, args=(current.id,))
        else:
            st.caption(_("This round's approved drawings are in the class's training data."))
    with st.expander(_("Delete everything of this class")):
        who = _("class {code}").format(code=code) if code else _("the class without a code")
        st.markdown(_("Every drawing, answer, round, nickname and vote of **{who}**, for good.").format(who=who))
        if st.button(_("Delete everything of {who}").format(who=who), icon=":material/delete_forever:", key="class_delete_everything"):
            confirm_delete_class(code)


@st.dialog(_("Delete everything of this class"))
def confirm_delete_class(code: str | None) -> None:
    st.markdown(_("This cannot be undone."))
    left, right = st.columns(2)
    if left.button(_("Delete everything"), icon=":material/delete_forever:", type="primary",
                   key="confirm_delete_class") and unlocked():
        removed = rounds().delete_class(code)
        forget_pulse(code)
        st.session_state["class_notice"] = _("Deleted {answers} answers and {rounds} rounds with their drawings "
                                             "and nicknames.").format(answers=removed["answers"], rounds=removed["rounds"])
        st.rerun()
    if right.button(_("Cancel"), key="cancel_delete_class"):
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
    table: dict[str, list] = {_("digit"): DIGITS, _("class test drawings"): np.bincount(labels, minlength=10).tolist()}
    class_word = _("class")
    for name in shown:
        predicted = serving_classifier(name).predict_proba(images).argmax(axis=1)
        mnist = [row.get("recall") for row in load_evaluation(name).get("per_class", [])] or [None] * 10
        when = _("before") if name == base else (_("after") if base else "")
        table[f"{name} {when}: {class_word}".replace("  ", " ")] = [
            "" if a is None else percent(a) for a in per_digit_accuracy(predicted, labels)]
        table[f"{name} {when}: MNIST".replace("  ", " ")] = ["" if r is None else percent(r, 1) for r in mnist]
    st.subheader(_("Before and after: the class's test set"))
    st.caption(_("{count} drawings of the class's rounds kept out of training, and the {mnist} MNIST test "
                 "digits: the share of each digit read right").format(count=len(labels), mnist=number(10_000))
               + (_(", by {base} and by {arch}, fine-tuned from it.").format(base=base, arch=arch)
                  if len(shown) == 2 else _(", by {arch}.").format(arch=arch)))
    st.dataframe(table, hide_index=True)


@st.fragment(run_every=POLL_S)
def wall_view(code: str | None, columns: int) -> None:
    """The projector's wall: the class's newest round, approved drawings only."""
    if not unlocked():
        return
    now = pulse(code)
    if now is None:
        st.info(_("No round yet. Start one in the Round view; the wall fills as you approve drawings."),
                icon=":material/campaign:")
        return
    wall = rounds().wall(now[0])
    if not wall.round.is_open:  # the summary first: it is what the class looks at now
        show_summary(wall)
    show_wall(wall, columns=columns)
    if not wall.round.is_open:
        before_and_after(code)


def about() -> None:
    with st.expander(_("What am I looking at?"), icon=":material/help:"):
        st.markdown(_(
            "When students draw on the **Draw** page they can tell the model whether it was right. "
            "Their answers are the class's own test set. Here the chosen model reads every one of "
            "them again, and you see how well it does on **your class's handwriting** next to how "
            "well it does on **MNIST**, the {mnist} test digits written by American clerks and "
            "students in the 1990s that it was trained to read.\n\n"
            "If the class's score is lower, look at the mistakes: often they are styles MNIST hardly "
            "has (a 1 with a hook and a base, a crossed 7, a 4 closed at the top). **A model is only "
            "as good as the data it saw.**\n\n"
            "Only the drawings and answers are kept, with a random code per browser tab, never "
            "names. They are deleted by themselves after {days} days; you can delete them "
            "sooner here, or export them to keep a class set."
        ).format(mnist=number(10_000), days=keep_days()))
    with st.expander(_("What is kept about students, for how long, who sees it"), icon=":material/shield_person:"):
        st.markdown(_(
            "- **Answers to Right?** on the Draw page: the drawing (28x28 and a small copy of the ink), "
            "the digit, what the model said, the time, a random code per browser tab and the class code.\n"
            "- **Class rounds**: the same for each drawing sent, with the nickname the student picked "
            "(never a real name) and the digit meant. Nicknames are forgotten 12 hours after their round "
            "ended; blocked nicknames are refused for 12 hours.\n"
            "- **How long**: everything is deleted by itself {days} days after it was stored "
            "(`DIGITLAB_KEEP_DAYS`); the Round view deletes everything of a class at once.\n"
            "- **Who sees what**: only the teacher, behind the passcode, sees drawings before approving "
            "them; the wall (the projector) shows approved drawings with their nickname; a student sees "
            "only their own. No IP addresses, no accounts, no cookies beyond Streamlit's own.").format(days=keep_days()))


def lock_button() -> None:
    if st.button(_("Lock this page"), icon=":material/lock:", key="class_lock"):
        st.session_state.pop(UNLOCKED_KEY, None)
        st.rerun()


ensure_router()
present = st.query_params.get(PRESENT_PARAM, "") in ("1", "true", "yes", "on")
if present:
    style("present.css")
else:
    st.title(_("Our class vs MNIST"))
if not present:
    about()

passcode_gate()

notice = st.session_state.pop("class_notice", None)
if notice:
    st.success(notice, icon=":material/check:")

try:
    store = storage()
except Exception as error:  # noqa: BLE001 - StorageError or a driver's own
    st.error(_("The class database cannot be opened right now. The server's log says why."),
             icon=":material/error:")
    print(f"[digit-lab] class database: {type(error).__name__}: {error}", file=sys.stderr)
    st.stop()

view_names = {view: _(view) for view in VIEWS}
view = VIEWS[2] if present else (st.segmented_control(_("View"), VIEWS, default=VIEWS[0], key="class_view",
                                                      format_func=view_names.get) or VIEWS[0])
if view != VIEWS[0]:
    with failure_shown(_("The class's rounds")):
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
        if view == VIEWS[1]:
            round_view(round_code)
        else:
            wall_view(round_code, columns=6 if present else 8)
    if not present:
        lock_button()
    st.stop()

arch = selected_arch()
with failure_shown(_("The class's drawings")):
    codes = store.class_codes()
    f1, f2, f3 = st.columns([1, 1, 1])
    code_names = {ALL: _(ALL), NO_CODE: _(NO_CODE)}
    chosen = f1.selectbox(_("Class code"), [ALL, NO_CODE, *codes], key="class_code_filter",
                          format_func=lambda code: code_names.get(code, code))
    today = dt.datetime.now(dt.timezone.utc).date()
    span = store.date_range() or (today, today)
    dates = f2.date_input(_("Drawn between"), value=(span[0], max(span[1], today)), key="class_dates")
    since, until = (dates[0], dates[-1]) if isinstance(dates, (tuple, list)) and dates else (None, None)
    answers = store.answers(class_code=None if chosen in (ALL, NO_CODE) else chosen, since=since, until=until)
    if chosen == NO_CODE:
        keep = answers.class_codes == ""
        answers = type(answers)(**{k: v[keep] for k, v in vars(answers).items()})
    f3.metric(_("Drawings"), number(len(answers)), _("{count} writers").format(count=len(set(answers.sessions.tolist()))),
              delta_color="off", delta_arrow="off")

    if len(answers) == 0:
        st.info(_("No drawings here yet. Students answer **Right?** under each prediction on the Draw "
                  "page; give them the link with `?class=YOURCODE` at the end to tag their class."))
    elif arch is None:
        st.warning(_("No trained model to compare with."))
    else:
        classifier = serving_classifier(arch)
        predicted = classifier.predict_proba(answers.images).argmax(axis=1)
        class_matrix = confusion_matrix(answers.labels, predicted, labels=DIGITS)
        class_accuracy = float((predicted == answers.labels).mean())
        evaluation = load_evaluation(arch)
        mnist_matrix = np.asarray(evaluation["confusion_matrix"], dtype=int)

        st.markdown(_("Model **{arch}** reads every drawing again (the page's model picker chooses it).").format(arch=arch))
        m1, m2, m3 = st.columns(3)
        m1.metric(_("Our class"), percent(class_accuracy, 1),
                  _("{count} wrong").format(count=int((predicted != answers.labels).sum())),
                  delta_color="off", delta_arrow="off")
        m2.metric(_("MNIST test"), percent(evaluation["accuracy"], 2),
                  _("{count} wrong").format(count=evaluation.get("errors", 0)), delta_color="off", delta_arrow="off")
        difference = (class_accuracy - evaluation["accuracy"]) * 100
        m3.metric(_("Difference"), _("{points} points").format(
            points=("+" if difference >= 0 else "-") + number(abs(difference), 1)))

        left, right = st.columns(2)
        left.plotly_chart(confusion_figure(class_matrix, _("Our class")), key="class_confusion",
                          config={"displayModeBar": False})
        right.plotly_chart(confusion_figure(mnist_matrix, _("MNIST test")), key="mnist_confusion",
                           config={"displayModeBar": False})

        counts = np.bincount(answers.labels, minlength=10)
        right_per_digit = np.diag(class_matrix) / counts.clip(min=1)
        mnist_recall = [row["recall"] for row in evaluation.get("per_class", [])] or [None] * 10
        st.subheader(_("Per digit"))
        st.dataframe(
            {
                _("digit"): DIGITS,
                _("class drawings"): counts.tolist(),
                _("class: read right"): [percent(r) if c else "" for r, c in zip(right_per_digit, counts)],
                _("MNIST: read right"): [percent(r, 2) if r is not None else "" for r in mnist_recall],
            },
            hide_index=True,
        )

        wrong = np.flatnonzero(predicted != answers.labels)
        st.subheader(_("Drawings the model got wrong ({count})").format(count=len(wrong)))
        if len(wrong):
            st.caption(_("Each is captioned *really → read as*, and its number."))
            digit_grid(
                [{"pixels": answers.images[i], "id": int(answers.ids[i]), "true": int(answers.labels[i]),
                  "predicted": int(predicted[i])} for i in wrong[-WRONG_SHOWN:][::-1]],
                lambda d: f"{d['true']} → {d['predicted']} · #{d['id']}",
            )
            if len(wrong) > WRONG_SHOWN:
                st.caption(_("The latest {shown} of {count}.").format(shown=WRONG_SHOWN, count=len(wrong)))
        else:
            st.success(_("None: the model read every drawing right."))

    st.subheader(_("Manage"))
    d1, d2 = st.columns(2)
    with d1:
        if len(answers):
            pick = st.selectbox(_("One drawing, by its number"), answers.ids.tolist()[::-1],
                                key="class_delete_pick")
            if st.button(_("Delete this drawing"), icon=":material/delete:", key="class_delete_one"):
                confirm_delete([int(pick)], _("drawing #{number}").format(number=pick))
            if st.button(_("Delete all {count} drawings shown").format(count=len(answers)),
                         icon=":material/delete_sweep:", key="class_delete_all"):
                confirm_delete(answers.ids.tolist(), _("all {count} drawings shown").format(count=len(answers)))
    with d2:
        if len(answers):
            name = f"class-{chosen if chosen not in (ALL, NO_CODE) else 'all'}-{today.isoformat()}.npz"
            st.download_button(_("Export the drawings shown (.npz)"), classdata.export_bytes(answers),
                               file_name=name, mime="application/octet-stream", icon=":material/download:",
                               key="class_export")
        upload = st.file_uploader(_("Import a class set (.npz)"), type=["npz"], key="class_import_file")
        import_code = st.text_input(_("Give the imported drawings this class code (optional)"), max_chars=32,
                                    key="class_import_code")
        if upload is not None and st.button(_("Import"), icon=":material/upload:", key="class_import"):
            try:
                n = classdata.import_npz(store, upload.getvalue(), import_code or None)
            except ValueError as error:
                st.error(_("That file cannot be imported: {why}").format(why=error), icon=":material/error:")
            else:
                st.session_state["class_notice"] = _("Imported {count} drawings.").format(count=n)
                st.rerun()
    finetune_section(chosen if chosen not in (ALL, NO_CODE) else None, arch)

    lock_button()
