"""Push it: move, turn, shrink, thicken, noise or rub out the current drawing and watch the
network change its mind; where the digit lands among the ones it knows; and whether it looks
like a digit at all. The computing is in model/explaining/robustness.py, model/explaining/embedding.py and
model/explaining/novelty.py."""
from __future__ import annotations

import hashlib
import sys

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from model.data.mnist import unit_pixels
from model.explaining.embedding import EmbeddingError, load_embedding
from model.explaining.novelty import NoveltyError, feature_model, scorer
from model.explaining.robustness import SLIDERS, Push, eraser_mask, sweep, transform
from model.serving.artifacts import features_command
from model.serving.inference import Classifier
from pages.common_artifacts import model_dir, shipped_archs
from pages.common_drawing import current_drawing
from pages.common_errors import failure_shown, shown_path
from pages.common_figures import digit_image, pixel_grid, probabilities_in_language
from pages.common_access import announce, spoken
from pages.common_colours import DIGIT_COLOURS
from pages.common_frame import ensure_router, page_help, style
from pages.common_language import N_, _, number, percent, short_number
from pages.common_models import open_selected, serving_classifier

ensure_router()

# One colour per digit, the same on the sweep and on the map.
DIGIT_COLORS = DIGIT_COLOURS
STATIC = {"staticPlot": True}  # a finger scrolling the page must not drag a chart
ERASER_SIDE = 224  # 8 canvas px per pixel of the 28x28 image
SAMPLE_KEY = "push_sample"


def slider_key(name: str) -> str:
    return f"push_{name}"


def reset_sliders() -> None:
    for name, slider in SLIDERS.items():
        st.session_state[slider_key(name)] = float(slider.neutral)


# What a page says of a part the model lacks, and of a part whose file is damaged.
PARTS = {
    "not-a-digit check": (N_("This model has no not-a-digit check."),
                          N_("**The not-a-digit check is unavailable:** `{path}` is damaged. "
                             "Make it again with `{command}`.")),
    "map": (N_("This model has no map."),
            N_("**The map is unavailable:** `{path}` is damaged. Make it again with `{command}`.")),
}


def damaged(error: NoveltyError | EmbeddingError, what: str, command: str) -> None:
    """A missing file is a caption (the model simply has no such part); a damaged one, a warning."""
    missing, broken = PARTS[what]
    if error.missing or error.path is None:
        st.caption(_(missing))
    else:
        st.warning(_(broken).format(path=shown_path(error.path), command=command))
        print(f"[digit-lab] {what}: {error}", file=sys.stderr)


def sample_digit(arch: str) -> np.ndarray | None:
    """A digit from the map's MNIST test digits (this model's map, else any), when there is no
    drawing."""
    for candidate in [arch, *shipped_archs()]:
        try:
            atlas = load_embedding(candidate, model_dir(candidate))
            break
        except EmbeddingError:
            continue
    else:
        return None
    digit = st.session_state.get(SAMPLE_KEY, 3)
    index = int(np.flatnonzero(atlas.labels[atlas.pool] == digit)[0])
    return unit_pixels(atlas.pool_images[index])


# Figures are built unvalidated from numpy arrays (sent as binary): validating and copying
# 5,000 map points as lists would cost every rerun more than the rest of the page
# (bench/push.py; figures in bench/README.md).
def sweep_figure(curve, current: float) -> go.Figure:
    slider = SLIDERS[curve.name]
    answers = curve.answers
    traces = []
    for d in range(10):
        shown = bool((answers == d).any())
        traces.append(dict(
            type="scatter", mode="lines", x=curve.values, y=curve.probabilities[:, d],
            name=str(d), line=dict(color=DIGIT_COLORS[d], width=4 if shown else 1.5),
            opacity=1.0 if shown else 0.35,
        ))
    shapes = [dict(type="line", x0=current, x1=current, y0=0, y1=1, yref="y",
                   line=dict(color="#888", width=2, dash="dot"))]
    annotations = []
    for flip in curve.flips:
        shapes.append(dict(type="line", x0=flip.value, x1=flip.value, y0=0, y1=1, yref="y",
                           line=dict(color=DIGIT_COLORS[flip.after], width=3)))
        annotations.append(dict(x=flip.value, y=1.02, yref="y", text=f"→ {flip.after}", showarrow=False,
                                font=dict(size=16, color=DIGIT_COLORS[flip.after])))
    layout = dict(
        height=300, margin=dict(l=10, r=10, t=30, b=10), showlegend=True,
        legend=dict(orientation="h", y=-0.25, font=dict(size=14)),
        xaxis=dict(title=dict(text=f"{_(slider.label)} ({slider.unit})" if slider.unit else _(slider.label))),
        yaxis=dict(range=[0, 1.08], tickformat=".0%"), shapes=shapes, annotations=annotations,
    )
    return go.Figure(data=traces, layout=layout, _validate=False)


def map_figure(atlas, here: np.ndarray, answer: int) -> go.Figure:
    traces = []
    for d in range(10):
        xy = atlas.points[atlas.labels == d]
        traces.append(dict(type="scattergl", mode="markers", x=xy[:, 0], y=xy[:, 1],
                           name=str(d), marker=dict(size=4, color=DIGIT_COLORS[d], opacity=0.45)))
    yours = _("yours")
    traces.append(dict(type="scatter", mode="markers+text", x=[float(here[0])], y=[float(here[1])],
                       name=yours, text=[yours], textposition="top center", textfont=dict(size=16),
                       marker=dict(size=22, color="black", symbol="star", line=dict(color="white", width=2))))
    layout = dict(height=420, margin=dict(l=10, r=10, t=10, b=10),
                  legend=dict(font=dict(size=14), orientation="h", y=-0.05),
                  xaxis=dict(showticklabels=False, zeroline=False),
                  yaxis=dict(showticklabels=False, zeroline=False))
    return go.Figure(data=traces, layout=layout, _validate=False)


def neighbour_strip(images: np.ndarray, gap: int = 2, scale: int = 4) -> np.ndarray:
    """The digits side by side in one picture: one row on a phone as on a projector."""
    count = len(images)
    strip = np.full((28, count * 28 + (count - 1) * gap), 90, np.uint8)
    for k, image in enumerate(images):
        strip[:, k * (28 + gap) : k * (28 + gap) + 28] = image
    return np.kron(strip, np.ones((scale, scale), np.uint8))


def remembered_sweep(classifier: Classifier, original, push: Push, name: str, erased, source_id: str):
    # A sweep does not depend on its own slider's value: moving that slider reuses it.
    others = tuple(v for k, v in sorted(vars(push).items()) if k != name)
    mask = None if erased is None else hashlib.sha1(np.packbits(erased).tobytes()).hexdigest()
    key = (classifier.arch, name, source_id, mask, others)
    memo = st.session_state.get("push_sweep_memo")
    if memo is None or memo[0] != key:
        memo = (key, sweep(classifier.predict_proba, original, push, name, erased))
        st.session_state["push_sweep_memo"] = memo
    return memo[1]


def eraser(original: np.ndarray, source_id: str) -> np.ndarray | None:
    st.subheader(_("Rub it out"))
    st.caption(_("Rub out part of the digit with your finger or the mouse; the prediction changes."))
    background = digit_image(original, scale=ERASER_SIDE // 28).convert("RGB")
    result = st_canvas(
        stroke_width=16, stroke_color="#FF0000", background_image=background, width=ERASER_SIDE,
        height=ERASER_SIDE, drawing_mode="freedraw", return_image_data=True,
        key=f"push-eraser-{source_id}-{st.session_state.get('push_eraser_generation', 0)}",
    )
    if st.button(_("Undo all erasing"), icon=":material/ink_eraser_off:"):
        st.session_state.push_eraser_generation = st.session_state.get("push_eraser_generation", 0) + 1
        st.rerun()
    return eraser_mask(result.image_data)


st.title(_("Push it"))
style("push.css")
page_help("push")

arch, classifier = open_selected(serving_classifier)

drawing = current_drawing()
if drawing is not None:
    original = np.asarray(drawing["image"], np.float32)
    st.caption(_("Pushing **your drawing** from the Draw page."))
else:
    st.info(_("No drawing yet, so here is an MNIST test digit. Draw on the Draw page to push your own."),
            icon=":material/draw:")
    st.segmented_control(_("Sample digit"), list(range(10)), key=SAMPLE_KEY, default=3)
    original = sample_digit(arch)
    if original is None:
        st.warning(_("No sample digits are shipped with this model. Draw one on the Draw page."))
        st.stop()
source_id = hashlib.sha1(original.tobytes()).hexdigest()[:10]

# Filled once the result is known; push.css keeps it in view while the page scrolls under it.
verdict = st.container(key="push-verdict")
controls, view = st.columns([1, 1], gap="large")
with controls:
    with st.container(key="push-sliders"):
        for name, slider in SLIDERS.items():
            # The neutral value as the widget's own default, not only in session state: a slider
            # the browser holds no value for takes the default, and Streamlit's default is the
            # range's low end (traced: a page load's first rerun carried no value for three
            # sliders, and the next, moving Shift right, sent Shift down -10, Turn -90, Size 0.3).
            st.slider(_(slider.label), float(slider.low), float(slider.high), float(slider.neutral),
                      step=float(slider.step), key=slider_key(name), help=_(slider.help),
                      format=f"%g{slider.unit}" if slider.unit in ("°", "px", "x") else "%g")
        st.button(_("Reset the sliders"), icon=":material/restart_alt:", on_click=reset_sliders)
    with st.container(key="push-eraser"):
        erased = eraser(original, source_id)

push = Push(**{name: float(st.session_state[slider_key(name)]) for name in SLIDERS})
pushed = transform(original, push, erased)
probabilities = classifier.predict_proba(pushed[None])[0]
answer = int(probabilities.argmax())
with verdict:
    left, right = st.columns([1, 1])
    left.metric(_("Prediction"), str(answer))
    right.metric(_("Confidence"), percent(probabilities[answer], 1))
    announce("push", spoken(answer, float(probabilities[answer])))  # each slider move's answer, spoken
    with failure_shown(_("The not-a-digit check")):
        try:
            novelty = scorer(arch, model_dir(arch))
            score = float(novelty.scores(pushed[None])[0])
            if score > novelty.threshold:
                st.warning(_("This doesn't look much like any digit I know."), icon=":material/help:")
            else:
                st.caption(_("Looks like a digit: distance {score} to the nearest digit cloud "
                             "(flagged above {threshold}).").format(score=number(score),
                                                                     threshold=number(novelty.threshold)))
        except NoveltyError as e:
            damaged(e, "not-a-digit check", features_command(arch))
with view:
    with st.container(key="push-details"):
        st.image(pixel_grid(pushed, cell=8), caption=_("What the model reads after your changes (28x28)."),
                 alt=_("Your digit after your changes, 28 by 28 pixels, white on black"))
        st.plotly_chart(probabilities_in_language(probabilities, height=260), config=STATIC,
                        key="push_probabilities")

st.subheader(_("One slider, its whole range"))
slider_names = {name: _(slider.label) for name, slider in SLIDERS.items()}
chosen = st.segmented_control(_("Sweep"), list(SLIDERS), key="push_sweep", default="rotation",
                              format_func=slider_names.get) or "rotation"
curve = remembered_sweep(classifier, original, push, chosen, erased, source_id)
st.plotly_chart(sweep_figure(curve, getattr(push, chosen)), config=STATIC, key="push_sweep_chart")
unit = SLIDERS[chosen].unit
if curve.flips:
    said = "; ".join(_("at **{value}** it becomes a **{digit}**").format(
        value=short_number(f.value) + unit, digit=f.after) for f in curve.flips)
    neutral = SLIDERS[chosen].neutral
    at_neutral = curve.answers[np.argmin(np.abs(curve.values - neutral))]
    st.markdown(_("With the other sliders where they are, the model says **{answer}** at {neutral}; "
                  "{flips}. Each line is one digit's probability; the thick ones win somewhere.").format(
        answer=at_neutral, neutral=short_number(neutral) + unit, flips=said))
else:
    st.markdown(_("The answer stays **{answer}** over the whole range of this slider.").format(
        answer=curve.answers[0]))

st.subheader(_("Where it lands"))
with failure_shown(_("The map")):
    try:
        atlas = load_embedding(arch, model_dir(arch))
        features = feature_model(arch, model_dir(arch)).features(pushed[None])[0]
    except (EmbeddingError, NoveltyError) as e:
        damaged(e, "map", features_command(arch))
    else:
        st.plotly_chart(map_figure(atlas, atlas.place(features)[0], answer), config=STATIC, key="push_map")
        st.caption(_(
            "Each dot is one of {count} MNIST test digits, placed by the "
            "{features} numbers the model computes just before its answer, squeezed to 2 by a "
            "fixed straight-line projection (the two directions that best pull the ten digits apart). "
            "Your star is placed by the same formula. Two numbers cannot hold all of them: dots "
            "that overlap here may be far apart for the model, so the 8 digits below are found in "
            "all the numbers, not on this map."
        ).format(count=number(len(atlas.points)), features=number(len(features))))
        nearest, distance = atlas.neighbours(features)
        st.markdown(_("**Its 8 nearest MNIST digits**, nearest first:"))
        st.image(neighbour_strip(atlas.pool_images[nearest]), width="stretch",
                 alt=_("The 8 nearest MNIST digits: {digits}").format(
                     digits=", ".join(str(atlas.labels[atlas.pool[j]]) for j in nearest)))
        said = " · ".join(f"**{atlas.labels[atlas.pool[j]]}** ({number(dist, 1)})" for j, dist in zip(nearest, distance))
        st.caption(_("{neighbours}: the digit each one is, and how far it is from yours in the model's "
                     "numbers.").format(neighbours=said))
