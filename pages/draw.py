"""The Draw page: draw a digit, see what the model sees and how sure it is."""
from __future__ import annotations

import numpy as np
import streamlit as st

from model.explain import novelty
from model.inference import Classifier, ClassifierError
from model.novelty import NoveltyError
from model.preprocess import ImageError, Reading, upload_to_mnist
from pages.common import (
    NO_MODEL_YET, drawing_canvas, pixel_grid, probability_figure, read_drawing, remember_drawing,
    selected_arch, serving_classifier, show_failure,
)
from pages.common_feedback import ask_feedback

CANVAS_SIDE = 400
DEFAULT_PEN = 22  # px; the preprocessing brings any pen's strokes to MNIST's width
UNSURE_BELOW = 0.5

# Two fixes to the canvas component, made from outside it (it has no option for either):
# 1. Its toolbar is invisible until hovered but lies over the canvas's top-right corner, where
#    it swallows strokes. A style moves it wholly above the canvas, so every pixel draws. The
#    canvas's styles live in an open shadow root that page CSS cannot reach, so the style is put
#    into each such root as soon as the root exists (before its toolbar does: a stroke on a page
#    just opened must draw too), and put back if the component rebuilds its content.
# 2. It sends a finished stroke to the app only after a 200 ms debounce (`Bc = 200` in its
#    bundle), more than the whole rest of the round trip. When the pen lifts after a stroke
#    that began on the canvas, this presses the toolbar's own "Update the app with this drawing"
#    button, which sends at once and cancels the pending debounced send: one send per stroke.
_CANVAS_FIXES = st.components.v2.component(
    "digitlab.canvas_fixes",
    js="""
export default function () {
  const css = ".dc-toolbar{top:auto !important;bottom:100% !important;padding-bottom:.25rem !important;}";
  const watched = new WeakSet();
  const observers = [];
  const patch = (root) => {
    if (root.querySelector("style[data-digitlab]")) return;
    const style = document.createElement("style");
    style.dataset.digitlab = "toolbar";
    style.textContent = css;
    root.appendChild(style);
  };
  let retries = 0;
  const fix = () => {
    let pending = false;
    for (const host of document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')) {
      const root = host.shadowRoot;
      if (!root) { pending = true; continue; }
      patch(root);
      if (!watched.has(root)) {
        watched.add(root);
        const observer = new MutationObserver(() => patch(root));
        observer.observe(root, { childList: true });
        observers.push(observer);
      }
    }
    if (pending && retries++ < 200) setTimeout(fix, 25);
  };
  fix();
  const bodyObserver = new MutationObserver(() => { retries = 0; fix(); });
  bodyObserver.observe(document.body, { childList: true, subtree: true });

  let strokeRoot = null;
  const onDown = (event) => {
    const target = event.composedPath()[0];
    strokeRoot = target instanceof Element && target.matches("canvas.upper-canvas") ? target.getRootNode() : null;
  };
  const onUp = () => {
    const root = strokeRoot;
    strokeRoot = null;
    // A new task: the canvas finishes the path and queues its debounced send on this same
    // pointer-up (a mouseup listener and a microtask), so the send now comes after both.
    if (root) setTimeout(() => root.querySelector('button[aria-label="Update the app with this drawing"]')?.click(), 0);
  };
  window.addEventListener("pointerdown", onDown, true);
  window.addEventListener("pointerup", onUp, true);
  return () => {
    bodyObserver.disconnect();
    observers.forEach((o) => o.disconnect());
    window.removeEventListener("pointerdown", onDown, true);
    window.removeEventListener("pointerup", onUp, true);
  };
}
""",
)


def _novelty_score(arch: str, image: np.ndarray) -> float:
    # Without its statistics file a model simply gives no verdict; the prediction still shows.
    try:
        return float(novelty(arch, image[None])[0])
    except NoveltyError:
        return float("-inf")


def show_prediction(classifier: Classifier, image: np.ndarray) -> None:
    probabilities = classifier.predict_proba(image[None])[0]
    ranked = np.argsort(probabilities)[::-1]
    best, confidence = int(ranked[0]), float(probabilities[ranked[0]])
    left, right = st.columns([1, 1])
    left.metric("Prediction", str(best))
    right.metric("Confidence", f"{confidence:.1%}")
    threshold = classifier.card.get("novelty_threshold")
    if threshold is not None and _novelty_score(classifier.arch, image) > threshold:
        st.warning("This doesn't look much like any digit I know. The bars below still add up to 100%: "
                   "the model must share its vote among the ten digits, even for a letter or a scribble.",
                   icon=":material/help:")
    if confidence < UNSURE_BELOW:
        top3 = ", ".join(f"**{d}** ({probabilities[d]:.0%})" for d in ranked[:3])
        st.warning(f"The model is unsure. Its top three: {top3}.")
    st.plotly_chart(probability_figure(probabilities), config={"displayModeBar": False})
    ask_feedback(classifier, image, probabilities)
    with st.expander("What the model sees (28x28)", expanded=True):
        st.image(pixel_grid(image), caption="Each square is one of the 784 pixels the model reads.")


def show_reading(classifier: Classifier | None, reading: Reading) -> None:
    if reading.problem == "empty":
        st.info("✏️ Draw a digit, 0 to 9, in the black box. The prediction appears when you lift the pen.")
    elif reading.problem == "full":
        st.warning("The box is almost all ink. Clear it and draw one digit.")
    elif reading.problem == "dot":
        st.warning("That's only a dot. Draw a whole digit, as large as you like.")
    elif classifier is not None:
        show_prediction(classifier, reading.image)


@st.fragment
def drawing_area(classifier: Classifier | None) -> None:
    # A fragment: a stroke reruns only this, not the page around it.
    st.session_state.setdefault("canvas_generation", 0)
    canvas_column, result_column = st.columns([5, 4], gap="large")
    with canvas_column:
        controls = st.columns([3, 2], vertical_alignment="bottom")
        stroke = controls[0].slider("Pen width", 8, 48, DEFAULT_PEN, step=2)
        if controls[1].button("Clear", icon="🧽", use_container_width=True):
            # A new key mounts a fresh, empty canvas: nothing of the old drawing survives.
            st.session_state.canvas_generation += 1
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
        _CANVAS_FIXES(key="canvas-fixes")
    rgba, reading = read_drawing(result, CANVAS_SIDE, CANVAS_SIDE)
    remember_drawing(rgba, reading)
    with result_column:
        show_reading(classifier, reading)
        st.page_link("pages/inside.py", label="Why this answer? Look inside the network", icon=":material/neurology:")


def upload_area(classifier: Classifier | None) -> None:
    upload = st.file_uploader(
        "A photo or scan of one handwritten digit",
        type=["png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff"],
    )
    if upload is None:
        st.info("Dark ink on light paper or light on dark both work; crop close to the digit.")
        return
    try:
        image = upload_to_mnist(upload.getvalue())
    except ImageError as e:
        st.error(str(e))
        return
    if image is None:
        st.warning("No digit found in this image: it looks blank or has too little contrast.")
    elif classifier is not None:
        show_prediction(classifier, image)


st.title("✏️ Draw a digit")
arch = selected_arch()
classifier = None
if arch is None:
    st.error(NO_MODEL_YET)
else:
    try:
        classifier = serving_classifier(arch)
        st.caption(
            f"Model **{classifier.arch}** · {classifier.card.get('test_accuracy', 0):.2%} on the 10,000 "
            f"MNIST test digits · runs on {classifier.runtime}"
        )
    except ClassifierError as e:
        show_failure(e, f"The model {arch}")

draw_tab, upload_tab = st.tabs(["Draw", "Upload an image"])
with draw_tab:
    drawing_area(classifier)
with upload_tab:
    upload_area(classifier)
