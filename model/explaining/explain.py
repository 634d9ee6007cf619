"""Why the network says what it says: the preprocessing step by step, feature maps, saliency,
and how unlike any digit an input is. UI-free; the Inside and Push it pages draw what this
computes.

    pipeline_steps(rgba)                  # [(name, image, note), ...] canvas -> 28x28
    feature_maps("cnn", image28)          # [(layer_name, array[H, W, C]), ...] per conv block
    saliency("cnn", image28, method="occlusion" | "integrated_gradients")  # array[28, 28]

Feature maps and occlusion run on the model's LiteRT export, integrated gradients on its
Keras file run in numpy (model/serving/keras_numpy.py): no TensorFlow anywhere, which in a Streamlit
server would slow every page's every run.
"""
from __future__ import annotations

import functools
import threading
import warnings
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from scipy import ndimage
from threadpoolctl import threadpool_limits

from model import MODEL_DIR
from model.data.preprocess import (
    CENTRE_OF_MASS,
    DIGIT_BOX,
    FIELD,
    MNIST_STROKE_WIDTH,
    SECOND_PASS_ABOVE,
    WORK_SCALE,
    canvas_ink_box,
    normalise_stroke_width,
    scaled_to_box,
)
from model.explaining.novelty import novelty_scores
from model.serving.inference import load_forward
from model.serving.keras_numpy import KerasNumpy, read_layers

# --------------------------------------------------------------------------- the pipeline

# The steps a teacher can switch off, and what replaces each: the naive choice they fix.
SWITCHABLE_STEPS = {
    "crop": "Crop to the digit",
    "stroke": "Correct the stroke width",
    "centre": "Centre by the centre of mass",
}


def _resize_longer_side(ink: np.ndarray, side: int) -> np.ndarray:
    """The whole array (no crop) scaled so its longer side is ``side``: the naive resize."""
    scale = side / max(ink.shape)
    height = max(1, round(ink.shape[0] * scale))
    width = max(1, round(ink.shape[1] * scale))
    pixels = np.ascontiguousarray(ink, dtype=np.float32)
    image = Image.frombuffer("F", pixels.shape[::-1], pixels, "raw", "F", 0, 1)
    resized = image.resize((width, height), Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def _corrected_stroke(work: np.ndarray, rescale: Callable[[np.ndarray], np.ndarray | None]
                      ) -> tuple[np.ndarray | None, float, int]:
    """``model.data.preprocess.ink_to_mnist``'s stroke-width correction, step for step: the image,
    the measured width's ratio to MNIST's, and how many passes changed it."""
    work_box = DIGIT_BOX * WORK_SCALE
    target = MNIST_STROKE_WIDTH * WORK_SCALE
    corrected, ratio = normalise_stroke_width(work, target, work_box)
    passes = 0
    if corrected is not work:
        passes = 1
        work = rescale(corrected)
        if work is not None and ratio > SECOND_PASS_ABOVE:
            corrected, _ = normalise_stroke_width(work, target, work_box)
            if corrected is not work:
                passes = 2
                work = rescale(corrected)
    return work, ratio, passes


def _pipeline(rgba: np.ndarray, off: frozenset[str]):
    """The steps as (name, image, note) and, when a 28x28 image came out, where the canvas
    crop landed in it: (crop box on the canvas, (top, left, height, width) in the field)."""
    unknown = off - set(SWITCHABLE_STEPS)
    if unknown:
        raise ValueError(f"unknown pipeline steps {sorted(unknown)}; known: {sorted(SWITCHABLE_STEPS)}")
    rgba = np.asarray(rgba)
    found = canvas_ink_box(rgba)
    if found is None:
        return [], None
    crop, box = found
    ink = np.zeros(rgba.shape[:2], np.float32)
    ink[box] = crop
    steps = [("Canvas ink", ink, "Your drawing as ink from 0 (none) to 1 (full), the colours dropped.")]
    work_box, margin = DIGIT_BOX * WORK_SCALE, WORK_SCALE * 2
    if "crop" in off:
        steps.append(("No crop", ink, "Switched off: the whole canvas is kept, empty space and all."))
        source, region = ink, (slice(0, ink.shape[0]), slice(0, ink.shape[1]))

        def to_work(image):
            return _resize_longer_side(image, work_box)

        def to_box(image):
            return _resize_longer_side(image, DIGIT_BOX)

        # Thinning keeps the array's size, so there is nothing to scale back.
        def rescale(image):
            return image
    else:
        steps.append(("Crop", crop, "Cut to the box around the ink: where on the canvas you drew "
                      "stops mattering."))
        source, region = crop, box

        def to_work(image):
            return scaled_to_box(image, work_box, margin)

        def to_box(image):
            return scaled_to_box(image, DIGIT_BOX, 0)

        def rescale(image):
            return scaled_to_box(image, work_box, margin)

    work = to_work(source)
    if work is None:
        return steps, None
    if "stroke" in off:
        steps.append(("No stroke correction", work,
                      "Switched off: the strokes stay as thick or thin as your pen made them."))
    else:
        work, ratio, passes = _corrected_stroke(work, rescale)
        if work is None:
            return steps, None
        if passes == 0:
            note = f"Your strokes are {ratio:.1f}x MNIST's width, close enough: left as they are."
        else:
            verb = "thinned" if ratio > 1 else "thickened"
            note = (f"Your strokes were {ratio:.1f}x as wide as MNIST's, so they were {verb} "
                    "to match the digits the model learnt from.")
        steps.append(("Stroke width", work, note))
    small = to_box(work)
    if small is None or small.sum() <= 0:
        return steps, None
    steps.append(("20x20 box", small, "Shrunk so the longer side is 20 pixels, smoothing the "
                  "edges, as MNIST's digits were."))
    height, width = small.shape
    if "centre" in off:
        top, left = (FIELD - height) // 2, (FIELD - width) // 2
        note = "Switched off: the box sits in the middle of 28x28, however its ink is spread."
    else:
        # Exactly model.data.preprocess.ink_to_mnist's placement.
        com_row, com_col = ndimage.center_of_mass(small)
        top = int(np.clip(round(CENTRE_OF_MASS - com_row), 0, FIELD - height))
        left = int(np.clip(round(CENTRE_OF_MASS - com_col), 0, FIELD - width))
        note = ("Placed in a 28x28 field so the ink's centre of mass is at the middle, "
                "where MNIST's digits have theirs.")
    field = np.zeros((FIELD, FIELD), np.float32)
    field[top : top + height, left : left + width] = small
    steps.append(("28x28, centred" if "centre" not in off else "28x28, not centred", field, note))
    return steps, (region, (top, left, height, width))


def pipeline_steps(rgba: np.ndarray, off=()) -> list[tuple[str, np.ndarray, str]]:
    """Each step from a canvas drawing (H, W, 4) to the model's 28x28 input, as (name, 2-D
    float image in [0, 1], a one-line why); the last image is what the model reads. ``off``
    names steps of ``SWITCHABLE_STEPS`` to skip. Empty when nothing is drawn. With every step
    on, the last image is exactly ``model.data.preprocess.canvas_to_mnist(rgba)``."""
    return _pipeline(rgba, frozenset(off))[0]


def pipeline_image(rgba: np.ndarray, off=()) -> np.ndarray | None:
    """The 28x28 image the pipeline gives with the steps in ``off`` skipped, or ``None``."""
    steps, placed = _pipeline(rgba, frozenset(off))
    return steps[-1][1] if placed is not None else None


def field_to_canvas(rgba: np.ndarray, values28: np.ndarray) -> np.ndarray | None:
    """28x28 maps (e.g. saliency maps; shape (..., 28, 28)) carried back onto the canvas:
    (..., H, W) float, zero outside the drawing's box; ``None`` if nothing is drawn. Each
    canvas pixel takes the value of the 28x28 pixel it ended up in."""
    steps, placed = _pipeline(rgba, frozenset())
    if placed is None:
        return None
    (rows, cols), (top, left, height, width) = placed
    values = np.asarray(values28, np.float32)
    patch = values[..., top : top + height, left : left + width]
    out = np.zeros(values.shape[:-2] + np.asarray(rgba).shape[:2], np.float32)
    box_h, box_w = rows.stop - rows.start, cols.stop - cols.start
    index_r = np.minimum((np.arange(box_h) * height) // box_h, height - 1)
    index_c = np.minimum((np.arange(box_w) * width) // box_w, width - 1)
    out[..., rows, cols] = patch[..., index_r[:, None], index_c[None, :]]
    return out


# --------------------------------------------------------------------------- model geometry


def _keras_layers(folder: Path) -> list[dict]:
    """The layers of ``folder``'s ``model.keras``; empty if the model has no such file."""
    path = folder / "model.keras"
    return read_layers(path) if path.is_file() else []


def conv_blocks(layers: list[dict]) -> list[dict]:
    """Every conv block of a Keras layer list: a Conv2D with the batch normalisation and
    activation right after it, and any pooling after those (its own entry, as LiteRT keeps it
    apart). Each: ``name`` (the Keras layer whose output the block's activations are), ``kind``
    ("conv" or "pool"), ``kernel``, ``stride``, ``padding``."""
    blocks = []
    for i, layer in enumerate(layers):
        kind = layer["class_name"]
        if kind == "Conv2D":
            end = i
            while end + 1 < len(layers) and layers[end + 1]["class_name"] in ("BatchNormalization", "Activation"):
                end += 1
            blocks.append(dict(name=layers[end]["name"], conv=layer["name"], kind="conv",
                               kernel=int(layer["kernel_size"][0]), stride=int(layer["strides"][0]),
                               padding=layer["padding"]))
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            size = int(layer["pool_size"][0])
            stride = layer.get("strides") or layer["pool_size"]
            blocks.append(dict(name=layer["name"], kind="pool", kernel=size, stride=int(stride[0]),
                               padding=layer.get("padding", "valid")))
    return blocks


def receptive_fields(blocks: list[dict], side: int = FIELD) -> dict[str, tuple[int, int, int]]:
    """For each block: (first, jump, size): unit ``i`` of its output (along a row or a column)
    sees input pixels ``first + i * jump`` to ``first + i * jump + size - 1`` (clip to 0-27)."""
    first, jump, size, length = 0, 1, 1, side
    out = {}
    for block in blocks:
        k, s = block["kernel"], block["stride"]
        if block["padding"] == "same":
            new_length = -(-length // s)
            pad = max((new_length - 1) * s + k - length, 0) // 2
        else:
            new_length = (length - k) // s + 1
            pad = 0
        first -= pad * jump
        size += (k - 1) * jump
        jump *= s
        length = new_length
        out[block["name"]] = (first, jump, size)
    return out


# --------------------------------------------------------------------------- feature maps


class _FeatureReader:
    """A model's LiteRT export run with every intermediate tensor kept, so one ``invoke`` gives
    every conv block's activations (the convolution, batch normalisation and ReLU are fused
    into one LiteRT op, whose output is the block's). Not shared with the Draw page's
    interpreter, which stays small and fast."""

    def __init__(self, folder: Path):
        from ai_edge_litert.interpreter import Interpreter

        layers = _keras_layers(folder)
        self.blocks = conv_blocks(layers)
        self.fields = receptive_fields(self.blocks)
        self.conv_names = [b["name"] for b in self.blocks if b["kind"] == "conv"]
        self.tensors: list[tuple[str, int]] = []
        self.kernel_index = None
        path = folder / "model.tflite"
        if not self.conv_names or not path.is_file():
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "preserve_all_tensors is meant for debugging"
            self.interpreter = Interpreter(model_path=str(path), num_threads=1,
                                           experimental_preserve_all_tensors=True)
        self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        ops = [op for op in self.interpreter._get_ops_details() if op["op_name"] == "CONV_2D"]
        if len(ops) != len(self.conv_names):
            raise RuntimeError(f"{path} has {len(ops)} convolutions, its Keras model {len(self.conv_names)}")
        self.tensors = [(name, int(op["outputs"][0])) for name, op in zip(self.conv_names, ops)]
        self.kernel_index = int(ops[0]["inputs"][1])
        self.lock = threading.Lock()

    def maps(self, image28: np.ndarray) -> list[tuple[str, np.ndarray]]:
        if not self.tensors:
            return []
        x = np.ascontiguousarray(np.asarray(image28, np.float32).reshape(1, FIELD, FIELD, 1))
        with self.lock:
            self.interpreter.set_tensor(self.input_index, x)
            self.interpreter.invoke()
            return [(name, self.interpreter.get_tensor(index)[0].copy()) for name, index in self.tensors]

    def kernels(self) -> np.ndarray | None:
        if self.kernel_index is None:
            return None
        with self.lock:
            weights = self.interpreter.get_tensor(self.kernel_index)  # (out, kh, kw, in)
        return np.transpose(weights, (1, 2, 3, 0))[:, :, 0, :].copy()


@functools.lru_cache(maxsize=16)
def _feature_reader(arch: str, model_dir: str) -> _FeatureReader:
    return _FeatureReader(Path(model_dir) / arch)


def feature_maps(arch: str, image28: np.ndarray, model_dir: Path = MODEL_DIR) -> list[tuple[str, np.ndarray]]:
    """Every conv block's activations for a 28x28 image: (Keras layer name, array[H, W, C]),
    input side first. Empty for a model without convolutions or without a LiteRT export."""
    return _feature_reader(arch, str(model_dir)).maps(image28)


def first_layer_kernels(arch: str, model_dir: Path = MODEL_DIR) -> np.ndarray | None:
    """The first convolution's kernels as (kh, kw, channels), as the network applies them (a
    batch normalisation right after it is folded in, which scales each kernel), or ``None``."""
    return _feature_reader(arch, str(model_dir)).kernels()


def receptive_field(arch: str, layer_name: str, row: int, col: int,
                    model_dir: Path = MODEL_DIR) -> tuple[slice, slice]:
    """The input pixels (rows, columns of the 28x28 image) unit (row, col) of a conv block sees."""
    first, jump, size = _feature_reader(arch, str(model_dir)).fields[layer_name]

    def span(i: int) -> slice:
        start = first + i * jump
        return slice(max(start, 0), min(start + size, FIELD))

    return span(row), span(col)


def ranked_channels(activations: np.ndarray) -> np.ndarray:
    """Channel indices of an (H, W, C) activation array, most active (highest mean) first."""
    return np.argsort(-activations.reshape(-1, activations.shape[-1]).mean(axis=0), kind="stable")


def tile_centres(count: int, columns: int, cell: int, gap: int) -> np.ndarray:
    """(count, 2) pixel centres (x, y) of ``count`` square tiles of ``cell`` px laid out row by
    row, ``columns`` to a row, ``gap`` px apart: the grid of a layer's channels."""
    rows, cols = np.divmod(np.arange(count), columns)
    step = cell + gap
    return np.stack([cols * step, rows * step], axis=1) + (cell - 1) / 2


def nearest_tile(x: float, y: float, centres: np.ndarray) -> int:
    """The tile whose centre is nearest to the point (x, y): every pixel of a tile is nearer its
    own centre than any other, so a click anywhere on a tile picks that tile."""
    return int(np.argmin(np.hypot(centres[:, 0] - x, centres[:, 1] - y)))


# --------------------------------------------------------------------------- saliency

OCCLUSION_PATCH = 4  # px; a bit more than a stroke's width on MNIST's scale
OCCLUSION_STRIDE = 2  # every pixel is covered by (4 / 2)^2 = 4 squares
OCCLUSION_BATCH = 128  # a fixed batch (one for most digits): the interpreter is sized once
IG_STEPS = 16
SALIENCY_METHODS = ("occlusion", "integrated_gradients")


class _BatchPredictor:
    """A model's own forward pass (LiteRT, numpy or Keras) in fixed-size batches, apart from
    the Draw page's: occlusion's hundred images never hold up a student's stroke."""

    def __init__(self, folder: Path, arch: str):
        self.runtime, self.forward = load_forward(folder, arch)
        # A second copy for one image at a time: a batch of 128 for one digit costs 100x more.
        self.single = load_forward(folder, arch, self.runtime)[1]
        self.lock = threading.Lock()

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, np.float32).reshape(-1, FIELD, FIELD)
        out = []
        with self.lock:
            if len(images) == 1:
                return self.single(np.ascontiguousarray(images))
            for start in range(0, len(images), OCCLUSION_BATCH):
                chunk = images[start : start + OCCLUSION_BATCH]
                padded = np.zeros((OCCLUSION_BATCH, FIELD, FIELD), np.float32)
                padded[: len(chunk)] = chunk
                out.append(self.forward(padded)[: len(chunk)])
        return np.concatenate(out) if out else np.zeros((0, 10), np.float32)


@functools.lru_cache(maxsize=16)
def _predictor(arch: str, model_dir: str) -> _BatchPredictor:
    return _BatchPredictor(Path(model_dir) / arch, arch)


def predict_proba(arch: str, images: np.ndarray, model_dir: Path = MODEL_DIR) -> np.ndarray:
    """Class probabilities (N, 10) for (N, 28, 28) images (or one 28x28), with the model's
    fastest runtime, separate from the Draw page's classifier."""
    return _predictor(arch, str(model_dir))(images)


def log_odds(probabilities: np.ndarray, target: int) -> np.ndarray:
    """log p(target) - log p(any other digit), per row: the evidence for ``target``. Unlike the
    probability it does not flatten out near 100%, where a confident model's is."""
    p = np.asarray(probabilities, np.float64)
    others = p.sum(axis=-1) - p[..., target]
    return np.log(np.maximum(p[..., target], 1e-30)) - np.log(np.maximum(others, 1e-30))


def occlusion_maps(predict: Callable[[np.ndarray], np.ndarray], image28: np.ndarray,
                   targets: list[int]) -> np.ndarray:
    """For each target, how much its log-odds fall when a square of the image is blacked out,
    each pixel getting the mean over the squares that cover it: (len(targets), 28, 28). Only
    squares that touch ink are run (blacking out black changes nothing), all in one batch."""
    image = np.asarray(image28, np.float32).reshape(FIELD, FIELD)
    size, stride = OCCLUSION_PATCH, OCCLUSION_STRIDE
    starts = range(stride - size, FIELD, stride)
    squares = [(max(r, 0), max(c, 0), r + size, c + size) for r in starts for c in starts]
    squares = [s for s in squares if image[s[0] : s[2], s[1] : s[3]].any()]
    batch = np.repeat(image[None], len(squares) + 1, axis=0)
    for k, (r0, c0, r1, c1) in enumerate(squares, start=1):
        batch[k, r0:r1, c0:c1] = 0.0
    probabilities = predict(batch)
    covered = np.zeros((FIELD, FIELD))
    for r0, c0, r1, c1 in squares:
        covered[r0:r1, c0:c1] += 1
    maps = np.zeros((len(targets), FIELD, FIELD))
    for t, target in enumerate(targets):
        scores = log_odds(probabilities, target)
        for (r0, c0, r1, c1), drop in zip(squares, scores[0] - scores[1:]):
            maps[t, r0:r1, c0:c1] += drop
    return (maps / np.maximum(covered, 1)).astype(np.float32)


def integrated_gradients_maps(network, image28: np.ndarray, targets: list[int],
                              steps: int = IG_STEPS) -> np.ndarray:
    """Integrated gradients (Sundararajan et al. 2017) of each target's log-odds from a black
    image to ``image28`` (midpoint rule, ``steps`` points): (len(targets), 28, 28). A map sums
    to about the log-odds' rise from black to the image, and is zero where there is no ink (the
    black baseline). ``network`` has ``log_odds_gradient(images, targets)`` (a KerasNumpy)."""
    image = np.asarray(image28, np.float32).reshape(FIELD, FIELD)
    alphas = (np.arange(steps, dtype=np.float32) + 0.5) / steps
    path = alphas[:, None, None] * image[None]
    chosen = np.repeat(np.asarray(targets, int)[:, None], steps, axis=1)  # one forward pass for all
    # One BLAS thread: on a shared 2-core server more threads only wait for each other.
    with threadpool_limits(1):
        grads = network.log_odds_gradient(path, chosen)  # (targets, steps, 28, 28)
    return (image[None] * grads.mean(axis=1)).astype(np.float32)


@functools.lru_cache(maxsize=8)
def gradient_network(arch: str, model_dir: str = str(MODEL_DIR)) -> KerasNumpy:
    """``arch``'s Keras model run in numpy (model/serving/keras_numpy.py), cached: its gradients
    without TensorFlow. Raises ``ValueError`` for a model without a Keras file it can run."""
    path = Path(model_dir) / arch / "model.keras"
    if not path.is_file():
        raise ValueError(f"the model {arch} has no Keras file, so no gradients to follow")
    return KerasNumpy.load(path)


def has_gradients(arch: str, model_dir: Path = MODEL_DIR) -> bool:
    """Whether integrated gradients apply: the model is a Keras model numpy can run."""
    try:
        gradient_network(arch, str(model_dir))
    except (ValueError, OSError, KeyError, zipfile.BadZipFile):  # absent, unsupported or damaged
        return False
    return True


def saliencies(arch: str, image28: np.ndarray, targets: list[int], method: str = "occlusion",
               model_dir: Path = MODEL_DIR) -> np.ndarray:
    """``saliency`` for several targets at once (one batch): (len(targets), 28, 28)."""
    if method not in SALIENCY_METHODS:
        raise ValueError(f"unknown saliency method {method!r}; known: {', '.join(SALIENCY_METHODS)}")
    image = np.asarray(image28, np.float32).reshape(FIELD, FIELD)
    targets = [int(t) for t in targets]
    if method == "occlusion":
        return occlusion_maps(_predictor(arch, str(model_dir)), image, targets)
    return integrated_gradients_maps(gradient_network(arch, str(model_dir)), image, targets)


def saliency(arch: str, image28: np.ndarray, target: int | None = None, method: str = "occlusion",
             model_dir: Path = MODEL_DIR) -> np.ndarray:
    """A 28x28 map of each pixel's evidence for ``target`` (default: the predicted class):
    positive pushed the model towards it, negative away from it. ``method`` "occlusion" (any
    model, on its fast runtime) or "integrated_gradients" (Keras models, run in numpy)."""
    if target is None:
        target = int(predict_proba(arch, image28, model_dir)[0].argmax())
    return saliencies(arch, image28, [target], method, model_dir)[0]


# --------------------------------------------------------------------------- faithfulness


def deletion_drops(predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray, maps: np.ndarray,
                   fraction: float = 0.1, random_draws: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The deletion test of a saliency method: for each image, how much the predicted class's
    probability falls when the ``fraction`` of its ink pixels with the highest saliency are set
    to 0, and (mean of ``random_draws``) when a random ``fraction`` of them are. A faithful
    method's drops are far larger than random ones."""
    images = np.asarray(images, np.float32).reshape(-1, FIELD, FIELD)
    rng = np.random.default_rng(seed)
    base = predict(images)
    predicted = base.argmax(axis=1)
    batch, owners, kinds = [], [], []
    for i, (image, values) in enumerate(zip(images, np.asarray(maps).reshape(-1, FIELD, FIELD))):
        ink = np.flatnonzero(image.ravel() > 0)
        count = max(1, round(fraction * len(ink)))
        ranked = ink[np.argsort(-values.ravel()[ink], kind="stable")[:count]]
        chosen = [ranked] + [rng.choice(ink, count, replace=False) for _ in range(random_draws)]
        for k, pixels in enumerate(chosen):
            erased = image.ravel().copy()
            erased[pixels] = 0.0
            batch.append(erased.reshape(FIELD, FIELD))
            owners.append(i)
            kinds.append(k)
    after = predict(np.stack(batch))
    owners, kinds = np.array(owners), np.array(kinds)
    drop = base[owners, predicted[owners]] - after[np.arange(len(after)), predicted[owners]]
    salient = drop[kinds == 0]
    random = drop[kinds > 0].reshape(len(images), random_draws).mean(axis=1)
    return salient, random


def shuffled_weights(network: KerasNumpy, seed: int = 0) -> KerasNumpy:
    """A copy of a network with every weight array's entries shuffled (Adebayo et al. 2018's
    full randomisation): the same architecture, none of what training taught it. Maps of a
    faithful saliency method computed on it explain nothing about the trained model."""
    rng = np.random.default_rng(seed)
    return network.with_weights(lambda w: rng.permutation(w.ravel()).reshape(w.shape))


def novelty(arch: str, images) -> np.ndarray:
    """How unlike any digit each of ``images`` (N, 28, 28) is, as an (N,) array: higher = less
    like a digit; flagged above the card's ``novelty_threshold`` (see model/explaining/novelty.py)."""
    return novelty_scores(arch, images)
