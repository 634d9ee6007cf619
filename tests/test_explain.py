"""model/explaining/explain.py, each function on its own: the pipeline step by step (and with steps off),
feature maps against the Keras model's own intermediate outputs, receptive fields, saliency
(occlusion and integrated gradients) and its faithfulness on real MNIST digits; and the
shipped sample digits. The Inside page itself is rendered headless at the end.

Run: ``.venv/bin/python -m pytest tests/test_explain.py``  (about a minute; TensorFlow loads
for the Keras comparisons and integrated gradients)
"""
from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model import MODEL_DIR
from model.data.preprocess import canvas_to_mnist
from model.data.samples import SAMPLES_PATH, load_samples, pick_samples
from model.explaining import explain
from model.serving.artifacts import shipped_archs
from model.serving.keras_numpy import KerasNumpy, UnsupportedModel
from tests.drawing import render

ARCHS = shipped_archs(MODEL_DIR)
KERAS_ARCHS = [a for a in ARCHS if (MODEL_DIR / a / "model.keras").is_file()]
CONV_ARCHS = [a for a in KERAS_ARCHS if explain.conv_blocks(explain._keras_layers(MODEL_DIR / a))]
NUMPY_ARCHS = [a for a in ARCHS if a not in KERAS_ARCHS]
# Faithfulness on this many MNIST test digits here (the benchmark uses 500): the suite's time.
FAITHFUL_DIGITS = 60
pytestmark = pytest.mark.skipif(not ARCHS, reason="no trained model in model/ yet")


@functools.lru_cache(maxsize=None)
def keras_model(arch: str):
    """The real Keras model (TensorFlow: in the tests only, never in the app)."""
    import keras

    return keras.models.load_model(MODEL_DIR / arch / "model.keras", compile=False)


def drawings():
    """Drawn digits of every kind the Draw page sees: pens thin to blob, small to large, off
    centre."""
    for digit in range(10):
        yield render(digit)
    yield render(7, width=8, scale=0.8)
    yield render(3, width=48, scale=0.25)
    yield render(1, width=22, scale=0.3, offset=(0.05, 0.6))
    yield render(4, width=12, scale=0.4, offset=(0.55, 0.05))


# --------------------------------------------------------------------------- the pipeline


@pytest.mark.parametrize("rgba", list(drawings()), ids=lambda r: f"ink{int((r[..., 0] > 0).sum())}")
def test_every_step_on_is_exactly_the_draw_pages_image(rgba):
    steps = explain.pipeline_steps(rgba)
    assert [name for name, _, _ in steps] == ["Canvas ink", "Crop", "Stroke width", "20x20 box", "28x28, centred"]
    assert np.array_equal(steps[-1][1], canvas_to_mnist(rgba))
    assert np.array_equal(explain.pipeline_image(rgba), canvas_to_mnist(rgba))
    for name, image, note in steps:
        assert image.ndim == 2 and image.dtype == np.float32 and 0 <= image.min() and image.max() <= 1
        assert note.endswith(".") and len(note) < 160, name
    assert steps[0][1].shape == rgba.shape[:2]
    assert max(steps[3][1].shape) == 20


def test_each_switch_changes_what_the_model_reads():
    small_corner = render(1, width=22, scale=0.3, offset=(0.05, 0.6))
    thick = render(3, width=48, scale=0.25)
    lopsided = render(7, width=22, scale=0.6)
    for rgba, step in [(small_corner, "crop"), (thick, "stroke"), (lopsided, "centre")]:
        on, off = explain.pipeline_image(rgba), explain.pipeline_image(rgba, [step])
        assert off.shape == (28, 28)
        assert np.abs(on - off).sum() > 5, step
        names = [name for name, _, _ in explain.pipeline_steps(rgba, [step])]
        assert any(name.startswith("No ") or "not centred" in name for name in names), names
    # Without the crop a small digit in a corner stays small and in the corner.
    plain = explain.pipeline_image(small_corner, ["crop", "stroke", "centre"])
    rows, cols = np.nonzero(plain > 0.2)
    assert rows.max() - rows.min() < 10 and cols.mean() < 10
    # Stroke correction off keeps a blob a blob: far more ink than MNIST's typical ~100 px.
    assert (explain.pipeline_image(thick, ["stroke"]) > 0.5).sum() > 2 * (explain.pipeline_image(thick) > 0.5).sum()


def test_switching_the_crop_off_changes_the_probabilities():
    """A small 3 in a corner: read right with the crop, not without (the whole canvas shrunk
    leaves a speck)."""
    rgba = render(3, width=22, scale=0.3, offset=(0.05, 0.6))
    arch = ARCHS[0]
    on = explain.predict_proba(arch, explain.pipeline_image(rgba))[0]
    off = explain.predict_proba(arch, explain.pipeline_image(rgba, ["crop"]))[0]
    assert on.argmax() == 3 and off[3] < 0.5 * on[3]


def test_blank_canvas_and_unknown_steps():
    blank = np.zeros((400, 400, 4), np.uint8)
    blank[..., 3] = 255
    assert explain.pipeline_steps(blank) == []
    assert explain.pipeline_image(blank) is None
    assert explain.field_to_canvas(blank, np.ones((28, 28))) is None
    with pytest.raises(ValueError, match="unknown pipeline steps"):
        explain.pipeline_steps(render(3), ["resize"])


def test_field_to_canvas_carries_each_pixel_back_to_where_it_came_from():
    rgba = render(7, width=22, scale=0.5, offset=(0.1, 0.3))
    image = explain.pipeline_image(rgba)
    back = explain.field_to_canvas(rgba, image)
    ink = explain.pipeline_steps(rgba)[0][1]
    assert back.shape == ink.shape
    assert not back[ink == 0].any() or back[ink > 0.5].mean() > 3 * back[ink == 0].mean()
    # The drawing's ink and its 28x28 image carried back overlap: same place, same shape.
    overlap = ((back > 0.3) & (ink > 0.5)).sum() / (ink > 0.5).sum()
    assert overlap > 0.6
    assert not back[: int(0.25 * 400)].any()  # nothing above the drawing's box


# --------------------------------------------------------------------------- feature maps


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.test.images[:200].astype(np.float32) / 255


@pytest.mark.parametrize("arch", CONV_ARCHS)
def test_feature_maps_equal_the_keras_models_intermediate_outputs(arch, digits):
    import keras

    model = keras_model(arch)
    maps = explain.feature_maps(arch, digits[0])
    blocks = [b for b in explain.conv_blocks(explain._keras_layers(MODEL_DIR / arch)) if b["kind"] == "conv"]
    assert [name for name, _ in maps] == [b["name"] for b in blocks]
    probe = keras.Model(model.inputs, [model.get_layer(name).output for name, _ in maps])
    for image in digits[:5]:
        expected = probe([image[None, :, :, None]], training=False)
        expected = expected if isinstance(expected, (list, tuple)) else [expected]
        for (name, got), want in zip(explain.feature_maps(arch, image), expected):
            want = np.asarray(want)[0]
            assert got.shape == want.shape, name
            assert np.abs(got - want).max() <= 1e-5, (name, float(np.abs(got - want).max()))


@pytest.mark.parametrize("arch", [a for a in ARCHS if a not in CONV_ARCHS])
def test_models_without_convolutions_have_no_feature_maps(arch):
    assert explain.feature_maps(arch, np.zeros((28, 28), np.float32)) == []
    assert explain.first_layer_kernels(arch) is None


@pytest.mark.parametrize("arch", CONV_ARCHS)
def test_first_layer_kernels_are_the_trained_ones(arch):
    model = keras_model(arch)
    first = next(layer for layer in model.layers if type(layer).__name__ == "Conv2D")
    kernel = first.kernel.numpy()[:, :, 0, :]
    got = explain.first_layer_kernels(arch)
    assert got.shape == kernel.shape
    after = model.layers[model.layers.index(first) + 1]
    if type(after).__name__ == "BatchNormalization":  # folded in: a scale per channel
        gamma, _, _, variance = (w.numpy() for w in after.weights)
        kernel = kernel * gamma / np.sqrt(variance + after.epsilon)
    assert np.abs(got - kernel).max() < 1e-4


@pytest.mark.parametrize("arch", CONV_ARCHS)
def test_a_units_receptive_field_is_all_it_sees(arch, digits, rng):
    """Changing every pixel outside a unit's field leaves the unit as it was; inside, it moves."""
    image = digits[1]
    for name, activations in explain.feature_maps(arch, image):
        channel = int(explain.ranked_channels(activations)[0])
        row, col = np.unravel_index(int(activations[..., channel].argmax()), activations.shape[:2])
        rows, cols = explain.receptive_field(arch, name, int(row), int(col))
        outside = rng.random((28, 28)).astype(np.float32)
        outside[rows, cols] = image[rows, cols]
        after = dict(explain.feature_maps(arch, outside))[name]
        assert np.abs(after[row, col] - activations[row, col]).max() < 1e-4, name
        inside = image.copy()
        inside[rows, cols] = rng.random((rows.stop - rows.start, cols.stop - cols.start))
        changed = dict(explain.feature_maps(arch, inside))[name]
        assert np.abs(changed[row, col] - activations[row, col]).max() > 1e-4, name


def test_ranked_channels_most_active_first():
    activations = np.zeros((4, 4, 3), np.float32)
    activations[..., 1] = 2
    activations[0, 0, 2] = 1
    assert explain.ranked_channels(activations).tolist() == [1, 2, 0]


# --------------------------------------------------------------------------- saliency


def test_a_click_anywhere_on_a_tile_picks_that_tile():
    """The grid of a layer's channels: tiles of 48 px, 2 px apart, 8 to a row (the Inside
    page's), the last row part full. Every pixel of each tile is nearest its own centre; a
    pixel of a gap goes to a tile beside it."""
    count, columns, cell, gap = 29, 8, 48, 2
    centres = explain.tile_centres(count, columns, cell, gap)
    assert centres.shape == (count, 2)
    assert tuple(centres[0]) == (23.5, 23.5) and tuple(centres[9]) == (50 + 23.5, 50 + 23.5)
    for k, (x, y) in enumerate(centres):
        left, top = x - (cell - 1) / 2, y - (cell - 1) / 2
        for dx in (0, 1, cell // 2, cell - 2, cell - 1):
            for dy in (0, 1, cell // 2, cell - 2, cell - 1):
                assert explain.nearest_tile(left + dx, top + dy, centres) == k, (k, dx, dy)
    gap_pixel = explain.nearest_tile(48.5, 10, centres)  # between tiles 0 and 1
    assert gap_pixel in (0, 1)
    # Where a part-full last row has no tile: the drawn tile nearest, the one above.
    assert explain.nearest_tile(7 * 50 + 23.5, 3 * 50 + 23.5, centres) == 23


def test_occlusion_finds_the_pixels_a_known_model_uses():
    """A model whose evidence for class 0 is the ink in one corner: occlusion is positive there
    (and only near there) and zero for a class that ignores the ink."""
    def predict(images):
        corner = images[:, :10, :10].sum(axis=(1, 2))
        logits = np.zeros((len(images), 10))
        logits[:, 0] = corner
        return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    image = np.zeros((28, 28), np.float32)
    image[4:8, 4:8] = 1.0
    image[20:24, 20:24] = 1.0
    maps = explain.occlusion_maps(predict, image, [0, 1])
    assert maps.shape == (2, 28, 28)
    assert maps[0, 4:8, 4:8].min() > 0
    assert np.abs(maps[0, 18:, 18:]).max() < 1e-6
    assert maps[0, 4:8, 4:8].mean() > 0 and maps[1, 4:8, 4:8].mean() < 0  # the other class gains


@pytest.mark.parametrize("arch", ARCHS)
def test_occlusion_works_for_every_model(arch, digits):
    image = digits[2]
    values = explain.saliency(arch, image)
    assert values.shape == (28, 28) and np.isfinite(values).all()
    predicted = int(explain.predict_proba(arch, image)[0].argmax())
    assert np.array_equal(values, explain.saliency(arch, image, target=predicted))
    assert values.max() > 0


@pytest.mark.parametrize("arch", KERAS_ARCHS)
def test_the_numpy_copy_of_a_keras_model_computes_what_keras_does(arch, digits):
    """Same probabilities, and the same gradient of each target's log-odds as TensorFlow's."""
    import tensorflow as tf

    model, network = keras_model(arch), explain.gradient_network(arch)
    x = digits[:20]
    targets = np.arange(20) % 10
    assert np.abs(network.predict_proba(x) - np.asarray(model(x[..., None], training=False))).max() < 1e-5
    pixels = tf.convert_to_tensor(x[..., None])
    with tf.GradientTape() as tape:
        tape.watch(pixels)
        p = model(pixels, training=False)
        mask = tf.one_hot(targets, 10)
        score = tf.math.log(tf.reduce_sum(p * mask, 1)) - tf.math.log(tf.reduce_sum(p * (1 - mask), 1))
    expected = tape.gradient(score, pixels).numpy()[..., 0]
    got = network.log_odds_gradient(x, targets)
    assert np.abs(got - expected).max() < 1e-4 * max(1.0, np.abs(expected).max())


def test_a_layer_numpy_cannot_run_is_refused(tmp_path):
    import zipfile

    source = MODEL_DIR / KERAS_ARCHS[0] / "model.keras"
    copy = tmp_path / "model.keras"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(copy, "w") as new:
        for item in old.namelist():
            data = old.read(item)
            if item == "config.json":
                data = data.replace(b'"class_name": "Flatten"', b'"class_name": "LayerNormalization"')
            new.writestr(item, data)
    with pytest.raises(UnsupportedModel, match="LayerNormalization"):
        KerasNumpy.load(copy)


@pytest.mark.parametrize("arch", KERAS_ARCHS)
def test_integrated_gradients_add_up_to_the_change_from_black(arch, digits):
    image = digits[3]
    values = explain.saliency(arch, image, method="integrated_gradients")
    assert values.shape == (28, 28) and np.isfinite(values).all()
    assert not values[image == 0].any()  # the black baseline: no ink, no share
    target = int(explain.predict_proba(arch, image)[0].argmax())
    p = explain.predict_proba(arch, np.stack([image, np.zeros_like(image)]))
    rise = explain.log_odds(p[0], target) - explain.log_odds(p[1], target)
    assert abs(values.sum() - rise) < 0.15 * abs(rise) + 0.5  # completeness, midpoint rule


@pytest.mark.parametrize("arch", NUMPY_ARCHS)
def test_numpy_models_have_no_gradients_to_follow(arch):
    assert not explain.has_gradients(arch)
    with pytest.raises(ValueError, match="no Keras file"):
        explain.saliency(arch, np.zeros((28, 28), np.float32), method="integrated_gradients")


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown saliency method"):
        explain.saliency(ARCHS[0], np.zeros((28, 28), np.float32), method="gradcam")


@pytest.fixture(scope="module")
def faithful_digits(mnist):
    return mnist.test.images[:FAITHFUL_DIGITS].astype(np.float32) / 255


@pytest.mark.parametrize("method", explain.SALIENCY_METHODS)
def test_saliency_is_faithful_on_mnist(method, faithful_digits):
    """Deleting the 10% of ink the map ranks highest costs the predicted class at least 4x
    what deleting a random 10% costs (on 60 digits here, for the suite's time; bench/inside.py: 500)."""
    arch = "cnn" if "cnn" in KERAS_ARCHS else KERAS_ARCHS[0]
    predict = explain._predictor(arch, str(MODEL_DIR))
    predicted = predict(faithful_digits).argmax(axis=1)
    maps = np.stack([explain.saliency(arch, x, int(t), method) for x, t in zip(faithful_digits, predicted)])
    salient, random = explain.deletion_drops(predict, faithful_digits, maps)
    assert salient.mean() >= 4 * random.mean(), (salient.mean(), random.mean())


def test_saliency_of_a_model_with_shuffled_weights_is_not_faithful(faithful_digits):
    """Adebayo et al.'s sanity check: maps of a copy with every weight array shuffled lose most
    of what deleting the trained model's top 10% costs it. (Against a random 10% they keep a
    little: erasing any clump of ink hurts more than scattered pixels.)"""
    arch = "cnn" if "cnn" in KERAS_ARCHS else KERAS_ARCHS[0]
    predict = explain._predictor(arch, str(MODEL_DIR))
    images = faithful_digits[:40]
    predicted = predict(images).argmax(axis=1)
    trained = explain.gradient_network(arch)
    costs = []
    for network in (trained, explain.shuffled_weights(trained, seed=1)):
        maps = np.concatenate([explain.integrated_gradients_maps(network, x, [int(t)])
                               for x, t in zip(images, predicted)])
        costs.append(explain.deletion_drops(predict, images, maps)[0].mean())
    assert costs[1] < costs[0] / 3, costs


def test_deletion_drops_counts_ten_percent_of_the_ink():
    seen = []

    def predict(images):
        seen.append(images.copy())
        p = np.full((len(images), 10), 0.05)
        p[:, 0] = 0.55
        return p

    image = np.zeros((28, 28), np.float32)
    image[5:15, 5:15] = 1.0  # 100 ink pixels
    values = np.arange(784, dtype=np.float32).reshape(28, 28)
    salient, random = explain.deletion_drops(predict, image[None], values[None], random_draws=2)
    erased = seen[1]
    assert len(erased) == 3
    assert [(image - e).sum() for e in erased] == [10, 10, 10]
    assert (image - erased[0])[14, 5:15].sum() == 10  # the highest values: the last ink row
    assert salient.tolist() == [0.0] and random.tolist() == [0.0]


# --------------------------------------------------------------------------- sample digits


def test_the_shipped_sample_digits_are_mnist_test_digits(mnist):
    samples = load_samples()
    assert SAMPLES_PATH.stat().st_size < 40_000
    assert np.bincount(samples["labels"], minlength=10).tolist() == [10] * 10
    assert np.array_equal(samples["images"], mnist.test.images[samples["indices"]])
    assert np.array_equal(samples["labels"], mnist.test.labels[samples["indices"]])
    assert np.array_equal(samples["indices"], pick_samples(mnist.test.labels))


def test_a_damaged_samples_file_is_an_error(tmp_path: Path):
    bad = tmp_path / "samples.npz"
    np.savez(bad, images=np.zeros((3, 5, 5), np.uint8), labels=np.zeros(3, np.uint8), indices=np.zeros(3, np.int32))
    with pytest.raises(ValueError):
        load_samples(bad)
    with pytest.raises(OSError):
        load_samples(tmp_path / "absent.npz")


# --------------------------------------------------------------------------- the page, headless


@pytest.fixture
def inside_page(monkeypatch):
    """app.py on the Inside page, as a server that has routed through app.py once (see
    tests/test_pages.py's routed_server)."""
    import streamlit.testing.v1.app_test as app_test
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    class RoutedPagesManager(PagesManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    monkeypatch.setattr(app_test, "PagesManager", RoutedPagesManager)
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
    at.switch_page("pages/inside.py")
    return at


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_inside_page_explains_the_current_drawing(inside_page):
    rgba = render(3, width=22, scale=0.3, offset=(0.05, 0.6))
    inside_page.session_state["drawing"] = {"rgba": rgba, "image": canvas_to_mnist(rgba)}
    at = inside_page.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    headers = [h.value for h in at.header]
    assert headers == ["1. From your drawing to 28x28", "2. What each layer picks up", "3. Which pixels made it say that"]
    assert "With every step on" in markdown(at)
    assert "What am I looking at?" in [e.label for e in at.expander]
    before = markdown(at)
    at.toggle(key="inside_step_crop").set_value(False).run()
    assert not at.exception
    after = markdown(at)
    assert "Without *crop to the digit*" in after and after != before
    assert "Block 1 of" in markdown(at)
    images = [c for image in at.get("image") for c in image.captions]
    for caption in ("Occlusion, 28x28", "Integrated gradients, 28x28", "Occlusion, on your canvas",
                    "Integrated gradients, on your canvas"):
        assert images.count(caption) == 2, (caption, images)


@pytest.mark.parametrize("arch", ARCHS)
def test_inside_page_works_for_every_model(inside_page, arch):
    rgba = render(8)
    inside_page.session_state["arch"] = arch
    inside_page.session_state["drawing"] = {"rgba": rgba, "image": canvas_to_mnist(rgba)}
    at = inside_page.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    captions = [c for image in at.get("image") for c in image.captions]
    assert captions.count("Occlusion, 28x28") == 2
    assert captions.count("Integrated gradients, 28x28") == (2 if arch in KERAS_ARCHS else 0)
    if arch in CONV_ARCHS:
        assert "Block 1 of" in markdown(at)
    else:
        assert at.info, "says why there are no feature maps"


def test_the_inside_page_never_imports_tensorflow():
    """With Keras imported, Streamlit clears its session (a full garbage collection) after every
    script run of every page: the Inside page must not bring it in."""
    script = f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
import streamlit.testing.v1.app_test as app_test
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest
from model.data.preprocess import canvas_to_mnist
from tests.drawing import render

class Routed(PagesManager):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False

app_test.PagesManager = Routed
at = AppTest.from_file({str(Path(__file__).resolve().parent.parent / "app.py")!r}, default_timeout=120)
rgba = render(5)
at.session_state["drawing"] = {{"rgba": rgba, "image": canvas_to_mnist(rgba)}}
at.switch_page("pages/inside.py").run()
assert not at.exception and not at.error, (at.exception, at.error)
captions = [c for image in at.get("image") for c in image.captions]
assert captions.count("Integrated gradients, 28x28") == 2, captions
print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_inside_page_without_a_drawing_offers_test_digits(inside_page):
    at = inside_page.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "No drawing yet" in " ".join(i.value for i in at.info)
    assert at.selectbox(key="inside_sample").value == 0
    at.selectbox(key="inside_sample").set_value(5).run()
    assert not at.exception
    label = load_samples()["labels"][5]
    assert next(m.value for m in at.metric if m.label == "Prediction") == str(label)
    assert [h.value for h in at.header][1:] == ["2. What each layer picks up", "3. Which pixels made it say that"]


def grid_outlines(at) -> dict[int, list[tuple[float, float]]]:
    """Per block's grid of filters (the selectable charts), the centre of each outlined tile."""
    grids = [chart for chart in at.get("plotly_chart") if list(chart.proto.selection_mode)]
    outlines = {}
    for number, chart in enumerate(grids, start=1):
        shapes = json.loads(chart.proto.spec)["layout"].get("shapes", [])
        outlines[number] = [((s["x0"] + s["x1"]) / 2, (s["y0"] + s["y1"]) / 2) for s in shapes]
    return outlines


def test_the_filter_up_close_is_outlined_in_its_grid(inside_page):
    """The grids can be clicked (a browser test clicks one); the boxes under them pick the
    filter too, and the grid outlines whichever filter is up close."""
    at = inside_page.run()
    assert not at.exception, [e.value for e in at.exception]
    blocks = len(explain.feature_maps("cnn", np.zeros((28, 28), np.float32)))
    centres = explain.tile_centres(64, 8, 48, 2)
    outlines = grid_outlines(at)
    assert len(outlines) == blocks
    assert outlines[1] == [tuple(centres[0])] and not any(outlines[n] for n in range(2, blocks + 1))
    at.slider(key="inside_rank").set_value(12).run()
    assert grid_outlines(at)[1] == [tuple(centres[11])]
    at.selectbox(key="inside_block").set_value(2).run()
    assert not at.exception
    outlines = grid_outlines(at)
    assert not outlines[1] and outlines[2] == [tuple(centres[11])]
    assert any("of block 2:" in c for image in at.get("image") for c in image.captions)


def test_the_benchmark_runs_end_to_end(mnist_dir, capsys):
    """bench/inside.py on a few digits and drawings: every line printed (no target judged)."""
    from bench import inside

    inside.main(["--n", "8", "--drawings", "2", "--data-dir", mnist_dir])
    out = capsys.readouterr().out
    for line in ("trained model     occlusion", "trained model     integrated_gradients",
                 "shuffled weights  occlusion", "Whole Inside page, new drawing"):
        assert line in out, out
