"""The Draw page's "Right?" question: a student's answer goes into the class database
(model.classroom.storage), for the teacher's Class page. A helper module, not a page.

Nothing is stored until the student taps an answer; one switch turns the question off.
"""
from __future__ import annotations

import contextlib
import hashlib
import sys
import threading
import time

import numpy as np
import streamlit as st

# Only the light rules here: SQLAlchemy (a noticeable fraction of a second to import) loads
# with the first answer stored, not on the Draw page's first prediction.
from model.classroom.privacy import ink_thumbnail, keep_days, new_session, valid_class_code
from model.data.preprocess import canvas_ink_box
from pages.common_drawing import current_drawing
from pages.common_language import _

SHARE_KEY = "feedback_share"
WRITER_KEY = "feedback_writer"  # the anonymous session id
CLASS_KEY = "feedback_class"
SAVED_KEY = "feedback_saved"  # drawing digest -> (answer id, label)
PROBLEM_KEY = "feedback_problem"
CLASS_PARAM = "class"  # ?class=CODE in the link the teacher hands out
PURGE_EVERY_S = 3600

_purged = {"at": 0.0}
_purge_lock = threading.Lock()


def storage():
    """The class database, with answers and rounds past the retention period (and nicknames past
    their lesson) deleted at most hourly."""
    from model.classroom.storage import open_storage

    store = open_storage()
    with _purge_lock:
        if time.monotonic() - _purged["at"] > PURGE_EVERY_S or _purged["at"] == 0.0:
            _purged["at"] = time.monotonic()
            store.purge()
            from model.classroom.rounds import Rounds

            Rounds(store).purge()
    return store


def kept_text() -> str:
    return _(
        "If you answer, the class keeps this drawing (the 28x28 picture the model read and a small "
        "copy of your ink), your answer, what the model said, the time, and a random code for this "
        "browser tab. Never your name or anything else about you. Your teacher can see and delete "
        "the drawings; they are deleted by themselves after {days} days."
    ).format(days=keep_days())


def _digest(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image, np.float32).tobytes()).hexdigest()[:16]


def _ink_of(image: np.ndarray) -> np.ndarray | None:
    """The canvas ink behind ``image``, when ``image`` is the drawing on the canvas (an upload
    has none)."""
    drawing = current_drawing()
    if drawing is None or not np.array_equal(drawing["image"], image):
        return None
    found = canvas_ink_box(np.asarray(drawing["rgba"]))
    return None if found is None else ink_thumbnail(found[0])


def _class_code() -> str | None:
    """The class code given (``ValueError`` when malformed: the link or the box may hold anything)."""
    if CLASS_KEY not in st.session_state:
        st.session_state[CLASS_KEY] = str(st.query_params.get(CLASS_PARAM, ""))[:32]
    return valid_class_code(st.session_state[CLASS_KEY])


def _kept(widget_key: str, store_key: str, default) -> str:
    """A widget key whose value outlives the widget: Streamlit forgets a widget's state on a
    run that does not show it (a cleared canvas shows no question), so its value lives under
    ``store_key`` and is copied in before the widget is drawn and back when it changes."""
    st.session_state.setdefault(store_key, default)
    st.session_state[widget_key] = st.session_state[store_key]
    return widget_key


def _keep(widget_key: str, store_key: str) -> None:
    st.session_state[store_key] = st.session_state[widget_key]


def _save(label: int, image, probabilities, model: str, version: str | None, digest: str) -> None:
    # One answer per drawing. The pick of a digit is widget state, not a trigger: when the round
    # watcher's timed fragment run reaches the server just after the full run that stored the
    # answer (and stopped drawing the question), the browser still sends the old pick, which
    # then reads as new and calls this again.
    if digest in st.session_state.get(SAVED_KEY, {}):
        return
    st.session_state.pop(PROBLEM_KEY, None)
    try:
        from model.classroom.storage import Answer

        answer = Answer(
            image=image,
            label=label,
            session=st.session_state.setdefault(WRITER_KEY, new_session()),
            predicted=int(np.argmax(probabilities)),
            probabilities=probabilities,
            model=model,
            model_version=version,
            class_code=_class_code(),
            ink=_ink_of(image),
        )
        answer_id = storage().add(answer)
    except ValueError as e:
        st.session_state[PROBLEM_KEY] = str(e)
        return
    except Exception as e:  # noqa: BLE001 - the drawing must still predict
        print(f"[digit-lab] storing an answer: {type(e).__name__}: {e}", file=sys.stderr)
        st.session_state[PROBLEM_KEY] = _("Your answer could not be saved right now. The drawing still works.")
        return
    st.session_state.setdefault(SAVED_KEY, {})[digest] = (answer_id, label)


def _undo(digest: str) -> None:
    answer_id, _ = st.session_state.get(SAVED_KEY, {}).pop(digest, (None, None))
    if answer_id is not None:
        try:
            storage().delete([answer_id])
        except Exception as e:  # noqa: BLE001
            print(f"[digit-lab] undoing an answer: {type(e).__name__}: {e}", file=sys.stderr)


def _picked(key: str, image, probabilities, model, version, digest) -> None:
    label = st.session_state.get(key)
    if label is not None:
        _save(int(label), image, probabilities, model, version, digest)


def ask_feedback(classifier, image: np.ndarray, probabilities: np.ndarray, where: str = "draw") -> None:
    """Under a prediction: "Right?" Yes, or "No, it was ..."; the answer is stored once per
    drawing, and can be taken back. ``where`` names the place asking (the Draw and Upload tabs
    may both ask in one run)."""
    # The widgets keep their keys from one drawing to the next, so the browser updates them in
    # place on every stroke instead of building a new set; a new drawing starts with no digit
    # picked.
    digest = _digest(image)
    share_key, class_key = f"feedback_share_switch-{where}", f"feedback_class_input-{where}"
    pick_key, shown_key = f"feedback_no-{where}", f"feedback_digest-{where}"
    if st.session_state.get(shown_key) != digest:
        st.session_state[shown_key] = digest
        st.session_state.pop(pick_key, None)
    with st.container(border=True):
        with contextlib.suppress(ValueError):  # said in the class-code box below
            _class_code()
        share = st.toggle(_("Help my class: answer whether the model was right"),
                          key=_kept(share_key, SHARE_KEY, True), help=kept_text(),
                          on_change=_keep, args=(share_key, SHARE_KEY))
        if not share:
            st.caption(_("Nothing you draw is kept."))
            return
        predicted = int(np.argmax(probabilities))
        model, version = classifier.arch, classifier.card.get("sha256") or classifier.card.get("date")
        saved = st.session_state.get(SAVED_KEY, {}).get(digest)
        problem = st.session_state.get(PROBLEM_KEY)
        if saved is not None:
            left, right = st.columns([3, 1], vertical_alignment="center")
            verdict = (_("Saved: the model was right. Thank you!") if saved[1] == predicted
                       else _("Saved: it was a {digit}. Thank you!").format(digit=saved[1]))
            left.success(verdict, icon=":material/task_alt:")
            right.button(_("Undo"), icon=":material/undo:", key=f"feedback_undo-{where}", on_click=_undo, args=(digest,))
        else:
            st.markdown(_("**Right?**"))
            args = (image, probabilities, model, version, digest)
            st.button(_("Yes, it's a {digit}").format(digit=predicted), icon=":material/check:", key=f"feedback_yes-{where}",
                      on_click=_save, args=(predicted, *args))
            st.pills(_("No, it was …"), [d for d in range(10) if d != predicted], key=pick_key,
                     on_change=_picked, args=(pick_key, *args))
        if problem:
            st.warning(problem, icon=":material/error:")
        with st.expander(_("What is kept, and class code")):
            st.caption(kept_text())
            st.text_input(_("Class code (from your teacher; leave empty if you have none)"), max_chars=32,
                          key=_kept(class_key, CLASS_KEY, ""), on_change=_keep, args=(class_key, CLASS_KEY))
            try:
                _class_code()
            except ValueError as e:
                st.warning(_("{problem} Your answers are not saved until it is fixed or empty.").format(problem=e))
