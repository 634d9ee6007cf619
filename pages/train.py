"""Train: pick a network and its settings, train it on MNIST in a background process while its
curves grow, then draw on it; while one trains, add yours to the queue. The jobs and the queue
themselves are ``model.jobs``; this page only shows them."""
from __future__ import annotations

import uuid

import plotly.graph_objects as go
import streamlit as st

from model.jobs import queue
from model.jobs.job import (
    CUSTOM,
    FULL_TRAINING_SET,
    OPTIMIZERS,
    Job,
    JobError,
    JobSpec,
    passcode_ok,
    teacher_code_required,
)
from model.jobs.models import delete_model, recipe_choices
from pages.common_artifacts import load_card, user_archs
from pages.common_errors import failure_shown
from pages.common_figures import PALETTE, projector_layout
from pages.common_frame import ensure_router, page_help
from pages.common_language import N_, _, number, percent
from pages.common_mnist import mnist_here, mnist_offer
from pages.common_models import choose_model

TEACHER_KEY = "train_teacher_ok"
WATCHING_KEY = "train_watching"  # the job this session saw running, to notice when it ends
FINE_TUNING = "fine-tuning"  # what WATCHING_KEY holds while the Class page's fine-tuning has the slot
OWNER_KEY = "train_owner"  # this browser session, as the owner of the runs it queues
DIGIT_CHOICES = [1_000, 2_000, 5_000, 10_000, 20_000, FULL_TRAINING_SET]
BATCH_CHOICES = [32, 64, 128, 256, 512]
RATE_CHOICES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3]
OPTIMIZER_LABELS = {
    "recipe": N_("The network's own recipe"),
    "adam": "Adam",
    "sgd": N_("SGD with momentum"),
    "rmsprop": "RMSprop",
}
STATE_WORDS = {
    "starting": N_("Starting"),
    "training": N_("Training"),
    "saving": N_("Saving"),
    "finished": N_("Finished"),
    "stopped": N_("Stopped"),
    "failed": N_("Failed"),
}


def teacher_ok() -> bool:
    return not teacher_code_required() or bool(st.session_state.get(TEACHER_KEY))


def passcode_box() -> None:
    if teacher_ok():
        return
    code = st.text_input(_("Teacher's passcode"), type="password",
                         help=_("In a class, only the teacher starts and stops trainings."))
    if code:
        if passcode_ok(code):
            st.session_state[TEACHER_KEY] = True
            st.rerun()
        st.error(_("That passcode is not right."))


def duration_words(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return _("about {seconds} s").format(seconds=max(5, round(seconds / 5) * 5))
    return _("about {minutes} min").format(minutes=number(seconds / 60))


def session_owner() -> str:
    return st.session_state.setdefault(OWNER_KEY, uuid.uuid4().hex)


def taken_names() -> set[str]:
    """Names a new run cannot have: models trained here, the job training now, the queued runs."""
    taken = set(user_archs()) | {run.spec.name for run in queue.queued()}
    running = queue.running_job()
    return taken | {running.spec.name} if running else taken


def unused_name(base: str, taken: set[str]) -> str:
    n = 1
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def settings_form(choices: dict[str, dict], busy: bool) -> None:
    """The settings and the Start button, which adds the run to the queue while a job runs."""
    names = list(choices) + [CUSTOM]
    default = names.index("seed002_mlp") if "seed002_mlp" in names else 0
    left, right = st.columns(2, gap="large")
    with left:
        own = _("Build your own")
        recipe = st.selectbox(
            _("Network"), names, index=default, key="train_recipe",
            format_func=lambda n: own if n == CUSTOM else f"{n}: {choices[n]['summary']}",
        )
        knobs = {}
        if recipe == CUSTOM:
            knobs["conv_blocks"] = st.slider(_("Convolution blocks"), 0, 3, 2,
                                             help=_("Each block: a 3x3 convolution, then a 2x2 max-pool."))
            knobs["filters"] = st.select_slider(_("Filters in the first block"), [4, 8, 16, 32, 64], 16,
                                                help=_("Each further block has twice as many."))
            knobs["dense_units"] = st.select_slider(_("Dense units"), [0, 32, 64, 128, 256, 512], 128)
            knobs["dropout"] = st.slider(_("Dropout"), 0.0, 0.6, 0.25, 0.05)
        optimizer_names = {key: _(label) for key, label in OPTIMIZER_LABELS.items()}
        optimizer = st.selectbox(_("Optimizer"), list(OPTIMIZER_LABELS), format_func=optimizer_names.get,
                                 key="train_optimizer")
        rate = None
        if optimizer != "recipe":
            rate = st.select_slider(_("Learning rate"), RATE_CHOICES, value=OPTIMIZERS[optimizer],
                                    format_func=lambda r: f"{r:g}")
    with right:
        digit_counts = {n: number(n) for n in DIGIT_CHOICES}
        train_size = st.select_slider(_("Training digits"), DIGIT_CHOICES, value=5_000,
                                      format_func=digit_counts.get, key="train_digits",
                                      help=_("{demo} for a demo of a minute or two; {all} is all of them.").format(
                                          demo=number(5_000), all=number(FULL_TRAINING_SET)))
        epochs = st.number_input(_("Epochs"), 1, 30, 2, key="train_epochs")
        batch_size = st.select_slider(_("Batch size"), BATCH_CHOICES, value=128,
                                      help=_("How many digits the network sees before each small weight change."))
        recipe_augments = choices.get(recipe, {}).get("augment", False)
        augment = st.toggle(_("Augmentation (shifted, turned and zoomed digits)"), value=recipe_augments,
                            key=f"train_augment_{recipe}")
        # Keyed on the names taken, so a fresh unused name is offered once one is taken.
        taken = taken_names()
        name = st.text_input(_("Name of the new model"), value=unused_name(recipe.replace("_", "-"), taken),
                             key=f"train_name_{recipe}_{len(taken)}", max_chars=40)
        per_digit = choices.get(recipe, {}).get("seconds_per_digit")
        if per_digit:
            # The job trains on one core, at about half the pace the shipped cards were timed at.
            st.caption(_("Expected training time: {duration}, plus up to half a minute to start and to save.").format(
                duration=duration_words(per_digit * train_size * epochs * 2)))

    passcode_box()
    label, icon = (_("Add to queue"), ":material/queue:") if busy else (_("Start"), ":material/play_arrow:")
    if st.button(label, type="primary", icon=icon, disabled=not teacher_ok(), key="train_start"):
        spec = JobSpec(
            name=name.strip(), recipe=recipe, epochs=int(epochs), batch_size=int(batch_size),
            train_size=int(train_size), optimizer=optimizer, learning_rate=rate,
            augment=None if augment == recipe_augments and recipe != CUSTOM else augment, **knobs,
        )
        try:
            if busy:
                queue.enqueue(spec, list(choices), owner=session_owner())
            else:
                st.session_state[WATCHING_KEY] = queue.start(spec, list(choices)).id
        except JobError as error:
            st.error(str(error))
        else:
            st.rerun()


def curves(job: Job) -> go.Figure:
    """Loss and accuracy so far: a line through the training points, dots for validation."""
    points, rows = job.progress.get("points", []), job.progress.get("rows", [])
    size = job.spec.train_size
    fig = go.Figure()
    for key, color, axis in (("loss", PALETTE[1], "y"), ("accuracy", PALETTE[0], "y2")):
        training, validation = (_("training loss"), _("validation loss")) if key == "loss" \
            else (_("training accuracy"), _("validation accuracy"))
        fig.add_trace(go.Scatter(
            x=[p["seen"] / size for p in points], y=[p[key] for p in points], name=training,
            mode="lines", line=dict(color=color, width=4), yaxis=axis,
        ))
        fig.add_trace(go.Scatter(
            x=[r["epoch"] for r in rows], y=[r[f"val_{key}"] for r in rows], name=validation,
            mode="markers", marker=dict(color=color, size=16, symbol="diamond"), yaxis=axis,
        ))
    projector_layout(fig, height=380, title=_("Learning so far"),
                     legend=dict(orientation="h", yanchor="top", y=-0.25, x=0))
    fig.update_layout(
        yaxis=dict(title=_("loss"), rangemode="tozero"),
        yaxis2=dict(title=_("accuracy"), overlaying="y", side="right", range=[0, 1], tickformat=".0%", dtick=0.2,
                    showgrid=False),
    )
    fig.update_xaxes(title=_("epochs"), range=[0, job.spec.epochs], dtick=1 if job.spec.epochs <= 20 else None)
    return fig


def spec_words(spec: JobSpec) -> str:
    what = _("its own small network") if spec.recipe == CUSTOM else spec.recipe
    return _("{what}, {digits} training digits, {epochs} epoch(s), batch {batch}").format(
        what=what, digits=number(spec.train_size), epochs=spec.epochs, batch=spec.batch_size)


def job_panel(job: Job) -> None:
    state = job.state
    spec = job.spec
    st.subheader(f"{spec.name}: {_(STATE_WORDS[state]) if state in STATE_WORDS else state}")
    st.caption(spec_words(spec))
    if job.running:
        eta = job.eta_seconds()
        epoch = job.progress.get("epoch") or 1
        words = _("Epoch {epoch} of {epochs}").format(epoch=min(epoch, spec.epochs), epochs=spec.epochs)
        if job.progress.get("seen"):
            words += " · " + _("{seen} of {total} digits").format(
                seen=number(job.progress["seen"]), total=number(job.progress.get("total", 0)))
        if state == "training" and eta is not None:
            words += " · " + _("{duration} left").format(duration=duration_words(eta))
        elif state != "training":
            words += f" · {job.progress.get('message', '')}"
        st.progress(job.fraction_done, text=words)
        if teacher_ok() and st.button(_("Stop"), icon=":material/stop:", key="train_stop",
                                      help=_("Ends the training now; the best epoch so far is kept.")):
            queue.stop()
    elif state == "failed":
        st.error(job.message)
    else:
        st.success(job.message)
        model = job.progress.get("model")
        if model and model in user_archs() and st.button(_("Draw with it"), icon=":material/draw:", key="train_draw"):
            choose_model(model)
            st.switch_page("pages/draw.py")
    # Drawn while the job starts too, empty: the axes are there before the first point.
    if job.running or job.progress.get("points") or job.progress.get("rows"):
        st.plotly_chart(curves(job), width="stretch", key="train_curves")


def queue_panel() -> None:
    """The runs waiting for the slot, in order, each with a Remove button for whoever may."""
    runs = queue.queued()
    if not runs:
        return
    st.subheader(_("Waiting to train"))
    if teacher_code_required():
        st.caption(_("Each starts by itself when the one before it is done. Only the teacher (with the "
                     "passcode) can remove a waiting run."))
    else:
        st.caption(_("Each starts by itself when the one before it is done. Anyone using the app here can "
                     "remove a waiting run."))
    mine = session_owner()
    for run in runs:
        cells = st.columns([1, 8, 2], vertical_alignment="center")
        cells[0].markdown(f"**{run.position}.**")
        added = " · " + _("added from this browser") if run.owner == mine else ""
        cells[1].markdown(f"**{run.spec.name}**  \n{spec_words(run.spec)}{added}")
        if cells[2].button(_("Remove"), icon=":material/close:", key=f"train_unqueue_{run.id}",
                           disabled=not teacher_ok()):
            try:
                queue.dequeue(run.id)
            except JobError as error:
                st.warning(str(error))
            else:
                st.rerun(scope="fragment")


def fine_tuning_panel(name: str) -> None:
    st.subheader(_("{name}: Fine-tuning for the class").format(name=name))
    st.caption(_("Started by the teacher on the Class page, with the class's own drawings. Runs added to the "
                 "queue start when it is done."))


@st.fragment(run_every=1)
def live_panel() -> None:
    """Polls the slot and the queue once a second while a job or a fine-tuning runs; a full
    rerun when it ends or the next one takes its place, so the model picker lists the new
    model and the button says Start again when nothing is left to train."""
    job = queue.slot_holder()
    watched = st.session_state.get(WATCHING_KEY)
    if isinstance(job, str):  # the Class page's fine-tuning, making the model of that name
        st.session_state[WATCHING_KEY] = FINE_TUNING
        fine_tuning_panel(job)
        queue_panel()
        return
    if job is not None:
        job_panel(job)
        queue_panel()
    if watched is not None and (job is None or not job.running or watched != job.id):
        st.session_state[WATCHING_KEY] = None
        st.rerun()


def trained_here_list() -> None:
    names = user_archs()
    st.header(_("Models trained here"))
    if not names:
        st.caption(_("None yet."))
        return
    for name in names:
        with failure_shown(_("The model {arch}").format(arch=name)):
            card = load_card(name)
            job = card.get("job") or {}
            cells = st.columns([3, 2, 2, 1], vertical_alignment="center")
            cells[0].markdown(f"**{name}**  \n{card.get('summary', '')}")
            cells[1].metric(_("Test accuracy"), percent(card.get("test_accuracy", 0), 2))
            cells[2].markdown(_("{digits} digits, best epoch {best} of {epochs}").format(
                digits=number(card.get("train_size", 0)), best=card.get("best_epoch"), epochs=card.get("epochs"))
                + "  \n" + _("from {source}").format(source=job.get("recipe", card.get("source", ""))))
            if cells[3].button(_("Delete"), icon=":material/delete:", key=f"train_delete_{name}",
                               disabled=not teacher_ok()):
                try:
                    delete_model(name)
                except JobError as error:
                    st.error(str(error))
                else:
                    st.rerun()


ensure_router()
st.title(_("Train a network"))
page_help("train")
if not mnist_here():
    mnist_offer(_("Training needs the MNIST digits ({train} handwritten digits to learn from, {test} to test "
                  "on), and they are not on this computer yet.").format(train=number(60_000), test=number(10_000)),
                allowed=teacher_ok(), key="train_mnist")
    passcode_box()
    trained_here_list()
    st.stop()

current = queue.slot_holder()  # a job, or the name of the model the Class page's fine-tuning makes
tuning = current if isinstance(current, str) else None
busy = tuning is not None or (current is not None and current.running)
if busy:
    st.session_state[WATCHING_KEY] = FINE_TUNING if tuning else current.id
    doing = (_("{name} is being fine-tuned for the class now.") if tuning else _("{name} is training now.")).format(
        name=tuning or current.spec.name)
    st.info(doing + " " + _("One network trains at a time; add yours to the queue and it starts by itself when "
                            "the ones before it are done."), icon=":material/hourglass_top:")
    live_panel()
elif current is not None:
    job_panel(current)
st.header(_("A new training"))
with failure_shown(_("The training settings")):
    settings_form(recipe_choices(), busy)
trained_here_list()
