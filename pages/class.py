"""Our class vs MNIST, for the teacher behind a passcode: how the selected model reads the
drawings the class answered "Right?" about on the Draw page, beside how it reads MNIST; the
class's drawings it got wrong; filters, deletion, and export/import of the class set."""
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
from pages.common_frame import ensure_router
from pages.common_mnist import mnist_here, mnist_offer
from pages.common_models import selected_arch, serving_classifier

TEACHER_CODE_ENV = "DIGITLAB_TEACHER_CODE"
UNLOCKED_KEY = "class_unlocked"
ALL, NO_CODE = "All classes", "No class code"
DIGITS = list(range(10))
WRONG_SHOWN = 48


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


ensure_router()
st.title("Our class vs MNIST")
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

    if st.button("Lock this page", icon=":material/lock:", key="class_lock"):
        st.session_state.pop(UNLOCKED_KEY, None)
        st.rerun()
