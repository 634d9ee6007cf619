"""The Draw page: draw a digit, see what the model sees and how sure it is.

``?present=1`` (or the Big-screen switch) is the teacher's mode for a projector: no sidebar or
small print, a huge prediction, and a join panel with the address and QR code students open."""
from __future__ import annotations

import html

import numpy as np
import streamlit as st
from streamlit import net_util

from model.classroom.join import join_address, qr_png
from model.data.preprocess import ImageError, Reading, upload_to_mnist
from model.explaining.explain import novelty
from model.explaining.novelty import NoveltyError
from model.serving.inference import Classifier, ClassifierError
from model.serving.live import STATIC_URL, live_files
from pages.common_artifacts import model_dir
from model.data.mnist import unit_pixels
from model.data.samples import load_samples
from pages.common_access import announce, spoken
from pages.common_drawing import drawing_canvas, read_drawing, remember_drawing
from pages.common_errors import show_failure
from pages.common_feedback import ask_feedback
from pages.common_figures import pixel_grid, probabilities_in_language
from pages.common_frame import asset_text, page_help, style
from pages.common_language import N_, _, join_link, language, number, percent
from pages.common_models import NO_MODEL_YET, friendly_name, selected_arch, serving_classifier
from pages.common_rounds import round_panel

CANVAS_SIDE = 400
DEFAULT_PEN = 22  # px; the preprocessing brings any pen's strokes to MNIST's width
UNSURE_BELOW = 0.5
PRESENT_PARAM = "present"
PRESENT_KEY = "big_screen"
STATIC_CHART = {"staticPlot": True}  # a finger on the chart scrolls the page
CANVAS_LABEL = N_("Drawing area: draw one digit with a mouse, a finger or a pen. Without them, "
                  "use the tab Pick a sample or Upload an image.")

# Sizing, the toolbar and one send per stroke: see the file.
RUNTIME_NAMES = {"litert": "LiteRT", "numpy": "NumPy", "keras": "Keras"}
_CANVAS_FIXES = st.components.v2.component("digitlab.canvas_fixes", js=asset_text("canvas_fixes.js"))
_CANVAS_CSS = asset_text("canvas.css")
# Live while drawing: the browser reads the drawing as the pen moves (see the file).
_LIVE = st.components.v2.component("digitlab.live_draw", js=asset_text("live_draw.js"),
                                   css=asset_text("live_draw.css"))


def _novelty_score(arch: str, image: np.ndarray) -> float:
    # Without its statistics file a model simply gives no verdict; the prediction still shows.
    try:
        return float(novelty(arch, image[None])[0])
    except NoveltyError:
        return float("-inf")


def show_prediction(classifier: Classifier, image: np.ndarray, details=None, where: str = "draw") -> str:
    """The verdict (digit, confidence, a warning when unsure) here; the ten probabilities and
    the 28x28 view in ``details`` (a container; default: here too). ``where``: "draw", "upload"
    or "sample" (a shipped MNIST digit: nothing to ask about). Returns the answer as spoken."""
    probabilities = classifier.predict_proba(image[None])[0]
    ranked = np.argsort(probabilities)[::-1]
    best, confidence = int(ranked[0]), float(probabilities[ranked[0]])
    left, right = st.columns([1, 1])
    left.metric(_("Prediction"), str(best))
    right.metric(_("Confidence"), percent(confidence, 1),
                 help=_("How sure the model is of this digit (a probability), not how often it is right."))
    threshold = classifier.card.get("novelty_threshold")
    if threshold is not None and _novelty_score(classifier.arch, image) > threshold:
        st.warning(_("This doesn't look much like any digit I know. The bars still add up to 100%: "
                     "the model must share its vote among the ten digits, even for a letter or a scribble."),
                   icon=":material/help:")
    if confidence < UNSURE_BELOW:
        top3 = ", ".join(f"**{d}** ({percent(probabilities[d])})" for d in ranked[:3])
        st.warning(_("The model is unsure. Its top three: {top3}.").format(top3=top3), icon=":material/help:")
    with details if details is not None else st.container():
        present = big_screen()
        figure = probabilities_in_language(probabilities, height=380 if present else 320)
        if present:  # read from the back of the room
            figure.update_layout(font_size=24, xaxis_tickfont_size=34, yaxis_tickfont_size=22)
            figure.update_traces(textfont_size=28, constraintext="none", cliponaxis=False)
        st.plotly_chart(figure, config=STATIC_CHART)
        if not present:
            if where != "sample":
                ask_feedback(classifier, image, probabilities, where)
            with st.expander(_("What the model sees (28x28)"), expanded=True):
                st.image(
                    pixel_grid(image),
                    alt=_("Your drawing shrunk to 28 by 28 pixels, white on black, as the model reads it."),
                    caption=_("Your drawing as the model reads it: shrunk to 28x28 pixels, each square one "
                              "of the 784 numbers it gets."),
                )
            st.page_link("pages/inside.py", label=_("Why this answer? Look inside the network"),
                         icon=":material/neurology:")
    return spoken(best, confidence)


def show_reading(classifier: Classifier | None, reading: Reading, details=None) -> str:
    if reading.problem == "empty":
        st.info(
            _("Draw a digit, 0 to 9, in the black box. The prediction appears when you lift the pen."),
            icon=":material/draw:",
        )
    elif reading.problem == "full":
        st.warning(_("The box is almost all ink. Clear it and draw one digit."), icon=":material/ink_eraser:")
    elif reading.problem == "dot":
        st.warning(_("That's only a dot. Draw a whole digit, as large as you like."), icon=":material/draw:")
    elif classifier is not None:
        return show_prediction(classifier, reading.image, details)
    return ""


def live_data(classifier: Classifier | None) -> dict:
    """What the live panel needs: the runtime's and the model's URL paths, or why it is off."""
    if classifier is None:
        return {"off": _("there is no model to run")}
    if classifier.runtime != "litert":
        return {"off": _("this model runs on {runtime}, which has no browser version").format(
            runtime=RUNTIME_NAMES.get(classifier.runtime, classifier.runtime))}
    files = live_files(model_dir(classifier.arch) / classifier.arch, classifier.card)
    if files is None:
        return {"off": _("this server has no copy of the in-browser runtime")}
    base = "/" + "/".join(p for p in (st.get_option("server.baseUrlPath").strip("/"), STATIC_URL) if p) + "/"
    return {"runtime": base + files.runtime, "model": base + files.model}


def live_words() -> dict:
    """The live panel's words in this session's language, and the language its percentages use."""
    return {
        "lang": language(),
        "words": {
            "prediction": _("Prediction (live)"),
            "confidence": _("Confidence"),
            "bars": _("The ten probabilities, live"),
            "ready": _("Live while you draw: your browser reads the drawing as the pen moves. "
                       "When you lift the pen, the server's answer replaces it."),
            "loading": _("Live while you draw: loading… (until then, the prediction appears when you lift the pen)."),
            "off": _("Live while you draw is off: {why}. The prediction appears when you lift the pen."),
            "noBrowser": _("this browser cannot run the model"),
        },
    }


def stroke_count(result) -> int | None:
    """How many strokes the canvas's state holds (the browser sent it: anything else is None)."""
    objects = getattr(result, "json_data", None)
    objects = objects.get("objects") if isinstance(objects, dict) else None
    return len(objects) if isinstance(objects, list) else None


def big_screen() -> bool:
    return st.query_params.get(PRESENT_PARAM, "") in ("1", "true", "yes", "on")


def _switch_big_screen() -> None:
    if st.session_state[PRESENT_KEY]:
        st.query_params[PRESENT_PARAM] = "1"
    else:
        st.query_params.pop(PRESENT_PARAM, None)


def big_screen_switch(where) -> None:
    st.session_state[PRESENT_KEY] = big_screen()
    where.toggle(
        _("Big-screen mode"), key=PRESENT_KEY, on_change=_switch_big_screen,
        help=_("For a projector: a huge prediction, no sidebar, and the address and QR code students open. "
               "Or add ?present=1 to the address."),
    )


def join_panel() -> None:
    """The address students open and its QR code, shown on the projector."""
    address = join_address(st.context.url, net_util.get_internal_ip())
    st.markdown(_("**Join on your phone or tablet**"))
    if address is None:
        st.warning(_("This computer has no network address students can reach."), icon=":material/wifi_off:")
        return
    address = join_link(address)  # students get the class's language
    st.image(qr_png(address), alt=_("QR code of {address}").format(address=address), width=220)
    # The address comes from the request (its Host): escaped, it can only ever show as text.
    st.markdown(f'<p class="digitlab-join-address">{html.escape(address)}</p>', unsafe_allow_html=True)


def _clear() -> None:
    # A new key mounts a fresh, empty canvas: nothing of the old drawing survives.
    st.session_state.canvas_generation += 1


@st.fragment
def drawing_area(classifier: Classifier | None) -> None:
    # A fragment: a stroke reruns only this, not the page around it.
    st.session_state.setdefault("canvas_generation", 0)
    with st.container(key="draw-area"):
        canvas_column, result_column = st.columns([5, 4], gap="large")
        with canvas_column:
            with st.container(key="draw-tools"):
                controls = st.columns([3, 2], vertical_alignment="bottom")
                stroke = controls[0].slider(_("Pen width"), 8, 48, DEFAULT_PEN, step=2)
                # A callback, not ``if st.button``: a click that reaches the server in the same
                # request as the round watcher's timed rerun (pages.common_rounds) could be read by
                # that fragment's run and be lost to this one; a callback runs once either way.
                controls[1].button(_("Clear"), icon=":material/ink_eraser:", width="stretch", on_click=_clear)
            with st.container(key="draw-canvas"):
                st.write("")  # room for the canvas toolbar, which shows above the canvas on hover
                result = drawing_canvas(
                    stroke_width=stroke,
                    stroke_color="#FFFFFF",
                    background_color="#000000",
                    width=CANVAS_SIDE,
                    height=CANVAS_SIDE,
                    drawing_mode="freedraw",
                    return_image_data=True,
                    key=f"canvas-{st.session_state.canvas_generation}",
                )
                _CANVAS_FIXES(key="canvas-fixes", data={"css": _CANVAS_CSS})
        rgba, reading = read_drawing(result, CANVAS_SIDE, CANVAS_SIDE)
        remember_drawing(rgba, reading)
        with result_column:
            verdict = st.container(key="draw-verdict")
            details = st.container(key="draw-details")
        with verdict:
            message = show_reading(classifier, reading, details)
        announce("draw", message, canvas_label=_(CANVAS_LABEL))
        # Last in the run (assets/draw.css shows it first): when the browser gets this run's
        # stroke count, the server's answer to those strokes is already on the page.
        with result_column, st.container(key="draw-live"):
            _LIVE(key="live-draw", data={**live_data(classifier), **live_words(), "strokes": stroke_count(result), "present": big_screen()})


def upload_area(classifier: Classifier | None) -> None:
    upload = st.file_uploader(
        _("A photo or scan of one handwritten digit"),
        type=["png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff"],
    )
    if upload is None:
        st.info(_("Dark ink on light paper or light on dark both work; crop close to the digit."),
                icon=":material/photo_camera:")
        return
    try:
        image = upload_to_mnist(upload.getvalue())
    except ImageError as e:
        st.error(str(e), icon=":material/error:")
        return
    if image is None:
        st.warning(_("No digit found in this image: it looks blank or has too little contrast."),
                   icon=":material/image:")
    elif classifier is not None:
        announce("upload", show_prediction(classifier, image, where="upload"))


def sample_area(classifier: Classifier | None) -> None:
    """The keyboard's way in (and a screen reader's): one of the shipped MNIST test digits."""
    try:
        samples = load_samples()
    except (OSError, ValueError) as error:
        print(f"[digit-lab] sample digits: {error}")
        st.warning(_("The sample digits are missing: draw a digit or upload a photo instead."))
        return
    labels, indices = samples["labels"], samples["indices"]
    names = [_("a {digit} (test digit #{number})").format(digit=d, number=i) for d, i in zip(labels, indices)]
    pick = st.selectbox(_("A handwritten digit from MNIST's test set"), range(len(labels)), index=None,
                        key="draw_sample", placeholder=_("Choose a digit"), format_func=names.__getitem__)
    if pick is None:
        st.info(_("Pick a digit with the keyboard or the mouse: the model reads it as if you had drawn it."),
                icon=":material/keyboard:")
        announce("sample", "")
    elif classifier is not None:
        announce("sample", show_prediction(classifier, unit_pixels(samples["images"][pick]), where="sample"))


present = big_screen()
style("draw.css")
if present:
    style("present.css")
else:
    st.title(_("Draw a digit"))
    page_help("draw")
    big_screen_switch(st.sidebar)
arch = selected_arch()
classifier = None
if arch is None:
    st.error(NO_MODEL_YET)
else:
    try:
        classifier = serving_classifier(arch)
        st.caption(_("Model **{name}** ({arch}) · right on {accuracy} of the {count} MNIST test digits · "
                     "runs on {runtime}").format(
            name=friendly_name(classifier.arch), arch=classifier.arch,
            accuracy=percent(classifier.card.get("test_accuracy", 0), 2), count=number(10000),
            runtime=RUNTIME_NAMES.get(classifier.runtime, classifier.runtime)))
    except ClassifierError as e:
        show_failure(e, _("The model {arch}").format(arch=arch))

if present:
    drawing_column, join_column = st.columns([9, 2], gap="medium")
    with drawing_column:
        drawing_area(classifier)
    with join_column, st.container(key="join-panel"):
        join_panel()
        big_screen_switch(st)
else:
    round_panel(classifier)
    draw_tab, upload_tab, sample_tab = st.tabs([_("Draw"), _("Upload an image"), _("Pick a sample")])
    with draw_tab:
        drawing_area(classifier)
    with upload_tab:
        upload_area(classifier)
    with sample_tab:
        sample_area(classifier)
