"""Inside: why the network said what it said about the student's drawing (or a test digit):
the preprocessing step by step with switches, every conv block's feature maps and the first
layer's kernels, and saliency maps for the top two digits. The compute is model/explaining/explain.py."""
from __future__ import annotations

import base64
import functools
import io

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image, ImageDraw

from model.data.mnist import unit_pixels
from model.data.preprocess import canvas_ink_box
from model.data.samples import load_samples
from model.explaining import explain
from pages.common_artifacts import model_dir
from pages.common_colours import AGAINST_RGB, CHOSEN_OUTLINE, FOR_RGB
from pages.common_drawing import current_drawing
from pages.common_errors import failure_shown
from pages.common_figures import pixel_grid, probabilities_in_language
from pages.common_frame import asset_text, ensure_router, page_help, style
from pages.common_language import _, percent
from pages.common_models import open_selected

STATIC = {"staticPlot": True}  # charts that never trap a finger scrolling on a phone
STEP_SIDE = 168  # px of each pipeline picture
POSITIVE = np.array(FOR_RGB, np.float32)  # orange: evidence for the digit
NEGATIVE = np.array(AGAINST_RGB, np.float32)  # blue: evidence against it
TILE_GAP = 2
TILE_CELL = 48
TILE_COLUMNS = 8
MAX_TILES = 64  # the last block of a big model has 128 channels of 1x1: the top 64 are plenty
GRID_WIDTH = 380  # px a block's grid is drawn for: about a half-page column on a laptop
CHOSEN = CHOSEN_OUTLINE  # the outline of the filter shown up close
TAP_TO_PICK = st.components.v2.component("digitlab.tap_to_pick", js=asset_text("tap_to_pick.js"))
BLOCK, RANK = "inside_block", "inside_rank"


# --------------------------------------------------------------------------- pictures


def framed(values: np.ndarray, side: int = STEP_SIDE) -> Image.Image:
    """A 2-D image in [0, 1] fitted into a square (aspect kept), on a dark grey frame that
    shows where the array ends: small arrays keep their pixels sharp."""
    pixels = np.clip(np.asarray(values, np.float32), 0, 1)
    height, width = pixels.shape
    scale = (side - 4) / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    smooth = Image.Resampling.BOX if max(height, width) > side else Image.Resampling.NEAREST
    picture = Image.fromarray(np.round(pixels * 255).astype(np.uint8)).resize(size, smooth)
    frame = Image.new("L", (side, side), 70)
    frame.paste(picture, ((side - size[0]) // 2, (side - size[1]) // 2))
    return frame


def diverging(values: np.ndarray, under: np.ndarray | None = None, limit: float | None = None) -> np.ndarray:
    """Signed values as colours centred on 0: orange positive, blue negative, strength = size
    (scaled by ``limit``, default the largest magnitude), over ``under`` (ink in [0, 1],
    shown grey) or black. uint8 (H, W, 3)."""
    values = np.asarray(values, np.float32)
    limit = limit or float(np.abs(values).max()) or 1.0
    # A square-root scale: the weaker evidence stays visible beside the strongest.
    strength = np.sqrt(np.clip(np.abs(values) / limit, 0, 1))[..., None]
    base = np.zeros(values.shape + (3,), np.float32)
    if under is not None:
        base += 90 * np.clip(np.asarray(under, np.float32), 0, 1)[..., None]
    colour = np.where(values[..., None] >= 0, POSITIVE, NEGATIVE)
    return np.round(base * (1 - strength) + colour * strength).astype(np.uint8)


def enlarged(rgb: np.ndarray, side: int) -> Image.Image:
    image = Image.fromarray(rgb)
    smooth = Image.Resampling.BOX if max(rgb.shape[:2]) > side else Image.Resampling.NEAREST
    return image.resize((side, side), smooth)


def tile_grid(activations: np.ndarray, order: np.ndarray) -> Image.Image:
    """Channels of an (H, W, C) array side by side in ``order``, one brightness scale for the
    whole layer (a dim tile really is a weak response)."""
    order = order[:MAX_TILES]
    top = float(activations.max()) or 1.0
    rows = -(-len(order) // TILE_COLUMNS)
    step = TILE_CELL + TILE_GAP
    canvas = np.full((rows * step - TILE_GAP, TILE_COLUMNS * step - TILE_GAP), 45, np.uint8)
    corners = explain.tile_centres(len(order), TILE_COLUMNS, TILE_CELL, TILE_GAP) - (TILE_CELL - 1) / 2
    for (x, y), channel in zip(corners.astype(int), order):
        tile = np.clip(activations[..., channel] / top, 0, 1)
        canvas[y : y + TILE_CELL, x : x + TILE_CELL] = np.asarray(Image.fromarray(
            np.round(tile * 255).astype(np.uint8)).resize((TILE_CELL, TILE_CELL), Image.Resampling.NEAREST))
    return Image.fromarray(canvas)


def grid_figure(activations: np.ndarray, order: np.ndarray, chosen: int | None) -> go.Figure:
    """A block's tile grid as a picture to click: an invisible point at the centre of every
    tile, the nearest of which any click picks (so anywhere on a tile picks it); the tile of
    rank ``chosen`` (0 = most active) outlined."""
    picture = tile_grid(activations, order)
    width, height = picture.size
    png = io.BytesIO()
    picture.save(png, format="PNG")
    centres = explain.tile_centres(min(len(order), MAX_TILES), TILE_COLUMNS, TILE_CELL, TILE_GAP)
    outline = []
    if chosen is not None and chosen < len(centres):
        (x, y), half = centres[chosen], TILE_CELL / 2 + 0.5
        outline = [dict(type="rect", x0=x - half, x1=x + half, y0=y - half, y1=y + half,
                        line=dict(color=CHOSEN, width=3))]
    hidden = dict(marker=dict(opacity=0))
    # One dict, validated once: a figure built up call by call costs several times as much.
    return go.Figure(dict(
        data=[
            dict(type="image", source="data:image/png;base64," + base64.b64encode(png.getvalue()).decode(),
                 hoverinfo="skip"),
            dict(type="scatter", x=centres[:, 0], y=centres[:, 1], customdata=order[: len(centres)],
                 mode="markers", marker=dict(size=4, opacity=0), selected=hidden, unselected=hidden,
                 showlegend=False,
                 hovertemplate="Filter %{customdata}: click to see it up close<extra></extra>"),
        ],
        layout=dict(
            height=round(GRID_WIDTH * height / width), margin=dict(l=0, r=0, t=0, b=0), shapes=outline,
            paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
            clickmode="event+select", dragmode=False, hovermode="closest", hoverdistance=-1,
            # Square pixels in whatever width the column has, flush with the caption's left edge.
            xaxis=dict(visible=False, range=[-0.5, width - 0.5], fixedrange=True, constrain="domain",
                       constraintoward="left"),
            yaxis=dict(visible=False, range=[height - 0.5, -0.5], fixedrange=True, constrain="domain",
                       constraintoward="top", scaleanchor="x"),
        ),
    ))


def take_click(key: str, number: int, shown: int) -> None:
    """A click on block ``number``'s grid picks that tile's filter in the boxes below, so the
    click and the keyboard-friendly boxes always agree."""
    event = st.session_state.get(key)
    points = (event.selection.points if event and event.selection else None) or []
    if points:
        centres = explain.tile_centres(shown, TILE_COLUMNS, TILE_CELL, TILE_GAP)
        st.session_state[BLOCK] = number
        st.session_state[RANK] = explain.nearest_tile(points[0]["x"], points[0]["y"], centres) + 1


def kernel_grid(kernels: np.ndarray, columns: int = 8, cell: int = 48, gap: int = 6) -> Image.Image:
    """The first layer's kernels (kh, kw, C), each in orange (adds) and blue (subtracts), apart
    on white."""
    limit = float(np.abs(kernels).max()) or 1.0
    count = kernels.shape[-1]
    rows = -(-count // columns)
    step = cell + gap
    canvas = np.full((rows * step - gap, columns * step - gap, 3), 255, np.uint8)
    for k in range(count):
        tile = np.asarray(enlarged(diverging(kernels[..., k], limit=limit), cell))
        r, c = divmod(k, columns)
        canvas[r * step : r * step + cell, c * step : c * step + cell] = tile
    return Image.fromarray(canvas)


def with_box(image28: np.ndarray, rows: slice, cols: slice, side: int = 252) -> Image.Image:
    """The digit, enlarged, with a box around the pixels (rows, cols)."""
    picture = Image.fromarray(pixel_grid(image28, cell=side // 28)).convert("RGB")
    cell = side // 28
    ImageDraw.Draw(picture).rectangle(
        (cols.start * cell - 1, rows.start * cell - 1, cols.stop * cell, rows.stop * cell),
        outline=(255, 75, 75), width=3)
    return picture


# --------------------------------------------------------------------------- cached compute


@st.cache_data(show_spinner=False, max_entries=16)  # a canvas's ink is 0.6 MB a step
def _pipeline(rgba_bytes: bytes, shape: tuple, off: tuple[str, ...]):
    rgba = np.frombuffer(rgba_bytes, np.uint8).reshape(shape)
    return explain.pipeline_steps(rgba, off)


@st.cache_data(show_spinner=False, max_entries=64)
def _probabilities(arch: str, folder: str, image_bytes: bytes) -> np.ndarray:
    image = np.frombuffer(image_bytes, np.float32).reshape(28, 28)
    return explain.predict_proba(arch, image, model_dir=folder)[0]


@st.cache_data(show_spinner=False, max_entries=32)
def _maps(arch: str, folder: str, image_bytes: bytes):
    image = np.frombuffer(image_bytes, np.float32).reshape(28, 28)
    return explain.feature_maps(arch, image, model_dir=folder)


# The figure itself, shared (st.plotly_chart only reads it): picking a filter redraws just the
# grids whose outline moved, and building a figure costs more than its picture.
@st.cache_resource(show_spinner=False, max_entries=64)
def _grid(arch: str, folder: str, image_bytes: bytes, number: int, chosen: int | None) -> go.Figure:
    activations = _maps(arch, folder, image_bytes)[number - 1][1]
    return grid_figure(activations, explain.ranked_channels(activations), chosen)


@st.cache_data(show_spinner=False, max_entries=64)
def _saliency(arch: str, folder: str, image_bytes: bytes, targets: tuple[int, ...], method: str) -> np.ndarray:
    image = np.frombuffer(image_bytes, np.float32).reshape(28, 28)
    return explain.saliencies(arch, image, list(targets), method, model_dir=folder)


@st.cache_data(show_spinner=False, max_entries=4)
def _samples():
    return load_samples()


# --------------------------------------------------------------------------- the views


def choose_digit(arch: str) -> dict | None:
    """The digit to look inside: the current drawing, or a shipped MNIST test digit."""
    drawing = current_drawing()
    source = "drawing"
    if drawing is not None:
        sources = {"drawing": _("Your drawing"), "sample": _("A test digit")}
        source = st.radio(_("Look inside with"), list(sources), horizontal=True, key="inside_source",
                          format_func=sources.get)
    else:
        st.info(_("No drawing yet. Draw a digit on the Draw page and come back, or pick one of "
                  "MNIST's test digits here."), icon=":material/draw:")
        st.page_link("pages/draw.py", label=_("Draw a digit"), icon=":material/edit:")
        source = "sample"
    if source == "drawing":
        return {"rgba": np.ascontiguousarray(drawing["rgba"], dtype=np.uint8),
                "image": np.asarray(drawing["image"], np.float32), "name": _("your drawing")}
    try:
        samples = _samples()
    except (OSError, ValueError) as error:
        st.warning(_("The sample digits are missing, so there is nothing to show without a "
                     "drawing. Draw one on the Draw page."))
        print(f"[digit-lab] sample digits: {error}")
        return None
    labels, indices = samples["labels"], samples["indices"]
    names = [_("a {digit} (MNIST test digit #{number})").format(digit=d, number=i) for d, i in zip(labels, indices)]
    pick = st.selectbox(_("Test digit"), range(len(labels)), key="inside_sample", format_func=names.__getitem__)
    return {"rgba": None, "image": unit_pixels(samples["images"][pick]),
            "name": _("test digit #{number}").format(number=indices[pick])}


def show_pipeline(arch: str, folder: str, rgba: np.ndarray | None, best: int, confidence: float) -> None:
    st.header(_("1. From your drawing to 28x28"), anchor="pipeline")
    if rgba is None:
        st.caption(_("A test digit is already 28x28, made by MNIST's own recipe. Draw a digit on "
                     "the Draw page to see the steps your drawing goes through."))
        return
    st.caption(_("Each picture is one step of turning your canvas into what the model reads. "
                 "Switch a step off to see what goes wrong without it: the answer below is re-read "
                 "every time."))
    switches = st.columns(len(explain.SWITCHABLE_STEPS))
    off = tuple(step for column, (step, label) in zip(switches, explain.SWITCHABLE_STEPS.items())
                if not column.toggle(label, value=True, key=f"inside_step_{step}"))
    steps = _pipeline(rgba.tobytes(), rgba.shape, off)
    if not steps:
        st.warning(_("Nothing is drawn on the canvas."))
        return
    columns = st.columns(len(steps))
    for number, (column, (name, image, note)) in enumerate(zip(columns, steps), start=1):
        with column:
            height, width = image.shape
            st.image(framed(image), caption=f"{number}. {name} ({width}x{height})",
                     alt=f"Step {number}, {name}: the digit as a {width} by {height} grey picture")
            st.caption(note)
    final = steps[-1][1]
    if final.shape != (28, 28):
        st.warning(_("With these steps off, nothing readable came out. Switch a step back on."))
        return
    probabilities = _probabilities(arch, folder, final.astype(np.float32).tobytes())
    now = int(probabilities.argmax())
    if off:
        missing = ", ".join(explain.SWITCHABLE_STEPS[s].lower() for s in off)
        verdict = _("With every step on, the model reads **{best}** ({confidence}). "
                    "Without *{missing}*, it reads **{now}** ({share}).").format(
            best=best, confidence=percent(confidence), missing=missing, now=now, share=percent(probabilities[now]))
    else:
        verdict = _("With every step on, the model reads **{now}** ({share}).").format(
            now=now, share=percent(probabilities[now]))
    st.markdown(verdict)
    st.plotly_chart(probabilities_in_language(probabilities, height=260),
                    config=STATIC, key="inside_pipeline_probs")
    st.caption(_("The model's ten probabilities for the last picture above."))


def show_feature_maps(arch: str, folder: str, image: np.ndarray) -> None:
    st.header(_("2. What each layer picks up"), anchor="feature-maps")
    maps = _maps(arch, folder, image.tobytes())
    if not maps and not explain.has_gradients(arch, folder):
        st.info(_("This model is written in plain numpy, whose layers this page does not open. "
                  "Pick one of the Keras CNNs in the sidebar to see feature maps."), icon=":material/info:")
        return
    if not maps:
        st.info(_("This model has no convolution layers: it looks at all 784 pixels at once, so "
                  "there are no feature maps to show. Pick a CNN in the sidebar to see them."),
                icon=":material/info:")
        return
    st.caption(_("Each small square is one filter's answer for your digit: bright where it found "
                 "its pattern, black where it did not. The most active filters come first. Early "
                 "layers see small details (edges); later ones see bigger parts of the digit at a "
                 "coarser grid. Click or tap a square, or pick it in the boxes below, to see that "
                 "filter up close."))
    kernels = explain.first_layer_kernels(arch, folder)
    if kernels is not None:
        st.subheader(_("The first layer's filters"))
        left, right = st.columns([1, 2])
        left.image(kernel_grid(kernels), width="stretch",
                   alt=_("The {count} first-layer filters as small squares, orange where a "
                         "filter adds ink, blue where it subtracts").format(count=kernels.shape[-1]))
        right.caption(_("The {count} filters of the first layer, each {height}x{width} pixels. "
                        "Orange pixels add up ink, blue pixels subtract it: a filter with orange on "
                        "one side and blue on the other finds edges. Sliding each over the digit "
                        "makes the first grid below.").format(
            count=kernels.shape[-1], height=kernels.shape[0], width=kernels.shape[1]))
    chosen_block, chosen_rank = keep_choice_in_range(maps)
    for number, (name, activations) in enumerate(maps, start=1):
        height, width, channels = activations.shape
        shown = min(channels, MAX_TILES)
        if number % 2 == 1:  # a row per two blocks: stacked on a phone, they stay in order
            columns = st.columns(2)
        with columns[(number - 1) % 2]:
            st.markdown(_("**Block {number} of {blocks}**: {channels} filters, each {height}x{width}").format(
                number=number, blocks=len(maps), channels=channels, height=height, width=width))
            chosen = chosen_rank - 1 if number == chosen_block else None
            key = f"inside_grid_{number}"
            with st.container(key=f"inside-grid-{number}"):
                st.plotly_chart(_grid(arch, folder, image.tobytes(), number, chosen), key=key,
                                on_select=functools.partial(take_click, key, number, shown),
                                selection_mode="points", width="stretch", config={"displayModeBar": False})
            layer = (_("Layer `{name}` (the {shown} most active shown).").format(name=name, shown=shown)
                     if shown < channels else _("Layer `{name}`.").format(name=name))
            if height * width == 1:
                st.caption(layer + " " + _("Each square is a single number: how strongly "
                                           "that filter answers to the digit as a whole. The last layer reads these."))
            else:
                st.caption(layer + " " + _("One brightness scale for the whole block."))
    with st.container(key="inside-tap-to-pick"):
        TAP_TO_PICK(key="inside-tap-to-pick-script")
    show_channel(arch, folder, image, maps)


def keep_choice_in_range(maps: list) -> tuple[int, int]:
    """The block and rank of the filter up close, brought within this model's blocks and that
    block's filters (another model in the sidebar may have fewer)."""
    if st.session_state.get(BLOCK, 1) > len(maps):
        st.session_state[BLOCK] = 1
    block = st.session_state.get(BLOCK, 1)
    st.session_state[RANK] = min(st.session_state.get(RANK, 1), maps[block - 1][1].shape[-1])
    return block, st.session_state[RANK]


def show_channel(arch: str, folder: str, image: np.ndarray, maps: list) -> None:
    st.subheader(_("One filter, up close"))
    blocks = [_("Block {number} ({name})").format(number=n, name=name) for n, (name, _a) in enumerate(maps, start=1)]
    pick = st.columns(2)
    number = pick[0].selectbox(_("Block"), range(1, len(maps) + 1), key=BLOCK,
                               format_func=lambda n: blocks[n - 1])
    name, activations = maps[number - 1]
    order = explain.ranked_channels(activations)
    rank = pick[1].slider(_("Filter, by activity (1 = most active)"), 1, len(order), key=RANK)
    channel = int(order[rank - 1])
    values = activations[..., channel]
    row, col = np.unravel_index(int(values.argmax()), values.shape)
    rows, cols = explain.receptive_field(arch, name, int(row), int(col), folder)
    left, middle, right = st.columns(3)
    top = float(values.max()) or 1.0  # its own scale: a quiet filter's pattern shows too
    left.image(enlarged(np.repeat(np.round(np.clip(values / top, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=2), 252),
               caption=_("Filter {channel} of block {number}: {height}x{width}").format(
                   channel=channel, number=number, height=values.shape[0], width=values.shape[1]),
               alt=_("Where filter {channel} of block {number} answers: bright where it answers strongly").format(
                   channel=channel, number=number))
    middle.image(with_box(image, rows, cols), caption=_("Where it answers most strongly"),
                 alt=_("The digit with a box around the place the filter answers most strongly"))
    patch = image[rows, cols]
    right.image(framed(patch, 252), caption=_("The {width}x{height} patch it sees there").format(
                    width=patch.shape[1], height=patch.shape[0]),
                alt=_("The {width} by {height} pixel patch of the digit that filter sees").format(
                    width=patch.shape[1], height=patch.shape[0]))
    if values.max() <= 0:
        st.caption(_("This filter finds nothing in this digit: all black. Filters answer only to "
                     "their own pattern."))
    else:
        st.caption(_("The brightest spot of this filter (row {row}, column {column} of its grid) "
                     "looks at the boxed {width}x{height} pixels of the digit: "
                     "that patch holds the pattern it is tuned to.").format(
            row=row, column=col, width=patch.shape[1], height=patch.shape[0]))


def show_saliency(arch: str, folder: str, digit: dict, probabilities: np.ndarray) -> None:
    st.header(_("3. Which pixels made it say that"), anchor="saliency")
    ranked = [int(d) for d in np.argsort(probabilities)[::-1][:2]]
    st.markdown(_(
        ":orange[**Orange**] pixels pushed the model *towards* the digit named above the picture; "
        ":blue[**blue**] pixels pushed it *away*, towards other digits; grey ink barely "
        "mattered. The stronger the colour, the bigger the push."))
    image, rgba = digit["image"], digit["rgba"]
    methods = {"occlusion": _("Occlusion"), "integrated_gradients": _("Integrated gradients")}
    maps = {"occlusion": _saliency(arch, folder, image.tobytes(), tuple(ranked), "occlusion")}
    if explain.has_gradients(arch, folder):
        with st.spinner(_("Following the gradients (the first time loads TensorFlow: a few seconds)")):
            maps["integrated_gradients"] = _saliency(arch, folder, image.tobytes(), tuple(ranked),
                                                     "integrated_gradients")
    else:
        st.caption(_("This model is plain numpy, without gradients to follow here: occlusion only."))
    ink = None
    if rgba is not None:
        found = canvas_ink_box(rgba)
        if found is not None:
            ink = np.zeros(rgba.shape[:2], np.float32)
            ink[found[1]] = found[0]
    for place, target in enumerate(ranked):
        label = _("The model's answer") if place == 0 else _("Its runner-up")
        share = probabilities[target]
        amount = _("under {share}").format(share=percent(0.001, 1)) if share < 0.001 else percent(share, 1)
        st.subheader(f"{label}: {target} ({amount})")
        pictures = [(diverging(values[place], image), _("{method}, 28x28").format(method=methods[method]))
                    for method, values in maps.items()]
        if ink is not None:
            for method, values in maps.items():
                on_canvas = explain.field_to_canvas(rgba, values[place])
                if on_canvas is not None:
                    pictures.append((diverging(on_canvas, ink, float(np.abs(values[place]).max())),
                                     _("{method}, on your canvas").format(method=methods[method])))
        for column, (rgb, caption) in zip(st.columns(len(pictures)), pictures):
            column.image(enlarged(rgb, 252), caption=caption, width="stretch",
                         alt=_("{picture}: orange pixels pushed towards the answer, blue ones away").format(
                             picture=caption))
    st.caption(_("Occlusion blacks out 4x4 squares one at a time and measures how much less sure "
                 "of each digit the model gets. Integrated gradients add the digit up from a black "
                 "picture in small steps and track each pixel's share of the change. Both measure "
                 "the evidence as log-odds, which keep counting where the percentage is already "
                 "near 100%."))


ensure_router()
st.title(_("Inside the network"))
style("inside.css")
page_help("inside")
arch = open_selected()[0]
folder = str(model_dir(arch))
digit = None
with failure_shown(_("Choosing a digit")):
    digit = choose_digit(arch)
if digit is not None:
    with failure_shown(_("The model {arch}").format(arch=arch)):
        probabilities = _probabilities(arch, folder, digit["image"].tobytes())
        best = int(probabilities.argmax())
        left, middle, right = st.columns([1, 1, 2])
        left.image(pixel_grid(digit["image"], cell=6),
                   caption=_("What the model reads: {name}").format(name=digit["name"]),
                   alt=_("{name}, 28 by 28 pixels, white on black").format(name=digit["name"]))
        middle.metric(_("Prediction"), str(best))
        middle.metric(_("Confidence"), percent(probabilities[best], 1))
        right.caption(_("Model **{arch}**. Pick another in the sidebar to compare how two "
                        "networks look at the same digit.").format(arch=arch))
        with failure_shown(_("The pipeline")):
            show_pipeline(arch, folder, digit["rgba"], best, float(probabilities[best]))
        with failure_shown(_("The feature maps")):
            show_feature_maps(arch, folder, digit["image"])
        with failure_shown(_("The saliency maps")):
            show_saliency(arch, folder, digit, probabilities)
