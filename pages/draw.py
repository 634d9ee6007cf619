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
from pages.common_drawing import drawing_canvas, read_drawing, remember_drawing
from pages.common_errors import show_failure
from pages.common_feedback import ask_feedback
from pages.common_figures import pixel_grid, probability_figure
from pages.common_frame import asset_text, page_help, style
from pages.common_models import NO_MODEL_YET, friendly_name, selected_arch, serving_classifier

CANVAS_SIDE = 400
DEFAULT_PEN = 22  # px; the preprocessing brings any pen's strokes to MNIST's width
UNSURE_BELOW = 0.5
PRESENT_PARAM = "present"
PRESENT_KEY = "big_screen"
STATIC_CHART = {"staticPlot": True}  # a finger on the chart scrolls the page

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


def show_prediction(classifier: Classifier, image: np.ndarray, details=None, where: str = "draw") -> None:
    """The verdict (digit, confidence, a warning when unsure) here; the ten probabilities and
    the 28x28 view in ``details`` (a container; default: here too). ``where``: "draw" or "upload"."""
    probabilities = classifier.predict_proba(image[None])[0]
    ranked = np.argsort(probabilities)[::-1]
    best, confidence = int(ranked[0]), float(probabilities[ranked[0]])
    left, right = st.columns([1, 1])
    left.metric("Prediction", str(best))
    right.metric("Confidence", f"{confidence:.1%}",
                 help="How sure the model is of this digit (a probability), not how often it is right.")
    threshold = classifier.card.get("novelty_threshold")
    if threshold is not None and _novelty_score(classifier.arch, image) > threshold:
        st.warning("This doesn't look much like any digit I know. The bars still add up to 100%: "
                   "the model must share its vote among the ten digits, even for a letter or a scribble.",
                   icon=":material/help:")
    if confidence < UNSURE_BELOW:
        top3 = ", ".join(f"**{d}** ({probabilities[d]:.0%})" for d in ranked[:3])
        st.warning(f"The model is unsure. Its top three: {top3}.", icon=":material/help:")
    with details if details is not None else st.container():
        present = big_screen()
        figure = probability_figure(probabilities, height=380 if present else 320)
        if present:  # read from the back of the room
            figure.update_layout(font_size=24, xaxis_tickfont_size=34, yaxis_tickfont_size=22)
            figure.update_traces(textfont_size=28, constraintext="none", cliponaxis=False)
        st.plotly_chart(figure, config=STATIC_CHART)
        if not present:
            ask_feedback(classifier, image, probabilities, where)
            with st.expander("What the model sees (28x28)", expanded=True):
                st.image(
                    pixel_grid(image),
                    alt="Your drawing shrunk to 28 by 28 pixels, white on black, as the model reads it.",
                    caption="Your drawing as the model reads it: shrunk to 28x28 pixels, each square one "
                    "of the 784 numbers it gets.",
                )
            st.page_link("pages/inside.py", label="Why this answer? Look inside the network",
                         icon=":material/neurology:")


def show_reading(classifier: Classifier | None, reading: Reading, details=None) -> None:
    if reading.problem == "empty":
        st.info(
            "Draw a digit, 0 to 9, in the black box. The prediction appears when you lift the pen.",
            icon=":material/draw:",
        )
    elif reading.problem == "full":
        st.warning("The box is almost all ink. Clear it and draw one digit.", icon=":material/ink_eraser:")
    elif reading.problem == "dot":
        st.warning("That's only a dot. Draw a whole digit, as large as you like.", icon=":material/draw:")
    elif classifier is not None:
        show_prediction(classifier, reading.image, details)


def live_data(classifier: Classifier | None) -> dict:
    """What the live panel needs: the runtime's and the model's URL paths, or why it is off."""
    if classifier is None:
        return {"off": "there is no model to run"}
    if classifier.runtime != "litert":
        return {"off": f"this model runs on {RUNTIME_NAMES.get(classifier.runtime, classifier.runtime)}, "
                       "which has no browser version"}
    files = live_files(model_dir(classifier.arch) / classifier.arch, classifier.card)
    if files is None:
        return {"off": "this server has no copy of the in-browser runtime"}
    base = "/" + "/".join(p for p in (st.get_option("server.baseUrlPath").strip("/"), STATIC_URL) if p) + "/"
    return {"runtime": base + files.runtime, "model": base + files.model}


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
        "Big-screen mode", key=PRESENT_KEY, on_change=_switch_big_screen,
        help="For a projector: a huge prediction, no sidebar, and the address and QR code students open. "
        "Or add ?present=1 to the address.",
    )


def join_panel() -> None:
    """The address students open and its QR code, shown on the projector."""
    address = join_address(st.context.url, net_util.get_internal_ip())
    st.markdown("**Join on your phone or tablet**")
    if address is None:
        st.warning("This computer has no network address students can reach.", icon=":material/wifi_off:")
        return
    st.image(qr_png(address), alt=f"QR code of {address}", width=220)
    # The address comes from the request (its Host): escaped, it can only ever show as text.
    st.markdown(f'<p class="digitlab-join-address">{html.escape(address)}</p>', unsafe_allow_html=True)


@st.fragment
def drawing_area(classifier: Classifier | None) -> None:
    # A fragment: a stroke reruns only this, not the page around it.
    st.session_state.setdefault("canvas_generation", 0)
    with st.container(key="draw-area"):
        canvas_column, result_column = st.columns([5, 4], gap="large")
        with canvas_column:
            with st.container(key="draw-tools"):
                controls = st.columns([3, 2], vertical_alignment="bottom")
                stroke = controls[0].slider("Pen width", 8, 48, DEFAULT_PEN, step=2)
                if controls[1].button("Clear", icon=":material/ink_eraser:", width="stretch"):
                    # A new key mounts a fresh, empty canvas: nothing of the old drawing survives.
                    st.session_state.canvas_generation += 1
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
            show_reading(classifier, reading, details)
        # Last in the run (assets/draw.css shows it first): when the browser gets this run's
        # stroke count, the server's answer to those strokes is already on the page.
        with result_column, st.container(key="draw-live"):
            _LIVE(key="live-draw", data={**live_data(classifier), "strokes": stroke_count(result), "present": big_screen()})


def upload_area(classifier: Classifier | None) -> None:
    upload = st.file_uploader(
        "A photo or scan of one handwritten digit",
        type=["png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff"],
    )
    if upload is None:
        st.info("Dark ink on light paper or light on dark both work; crop close to the digit.",
                icon=":material/photo_camera:")
        return
    try:
        image = upload_to_mnist(upload.getvalue())
    except ImageError as e:
        st.error(str(e), icon=":material/error:")
        return
    if image is None:
        st.warning("No digit found in this image: it looks blank or has too little contrast.",
                   icon=":material/image:")
    elif classifier is not None:
        show_prediction(classifier, image, where="upload")


present = big_screen()
style("draw.css")
if present:
    style("present.css")
else:
    st.title("Draw a digit")
    page_help("draw")
    big_screen_switch(st.sidebar)
arch = selected_arch()
classifier = None
if arch is None:
    st.error(NO_MODEL_YET)
else:
    try:
        classifier = serving_classifier(arch)
        st.caption(
            f"Model **{friendly_name(classifier.arch)}** ({classifier.arch}) · right on "
            f"{classifier.card.get('test_accuracy', 0):.2%} of the 10,000 MNIST test digits · "
            f"runs on {RUNTIME_NAMES.get(classifier.runtime, classifier.runtime)}"
        )
    except ClassifierError as e:
        show_failure(e, f"The model {arch}")

if present:
    drawing_column, join_column = st.columns([9, 2], gap="medium")
    with drawing_column:
        drawing_area(classifier)
    with join_column, st.container(key="join-panel"):
        join_panel()
        big_screen_switch(st)
else:
    draw_tab, upload_tab = st.tabs(["Draw", "Upload an image"])
    with draw_tab:
        drawing_area(classifier)
    with upload_tab:
        upload_area(classifier)
