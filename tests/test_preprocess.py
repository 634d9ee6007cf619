"""Canvas strokes and uploads to MNIST-like 28x28 digits, and the shipped cnn reading them."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from model.data.preprocess import (
    CENTRE_OF_MASS,
    ImageError,
    canvas_to_mnist,
    image_to_mnist,
    read_canvas,
    upload_to_mnist,
)
from model.serving.inference import load_classifier

SIDE = 280


@pytest.fixture(scope="module")
def cnn():
    return load_classifier("cnn")


def blank_canvas(side: int = SIDE) -> np.ndarray:
    canvas = np.zeros((side, side, 4), np.uint8)
    canvas[..., 3] = 255
    return canvas


def stroke_canvas(strokes, width: int, side: int = SIDE) -> np.ndarray:
    """Strokes (lists of (x, y) in canvas pixels) in white on the black canvas, as drawn."""
    image = Image.new("RGBA", (side, side), (0, 0, 0, 255))
    pen = ImageDraw.Draw(image)
    for points in strokes:
        pen.line(points, fill=(255, 255, 255, 255), width=width, joint="curve")
        r = width / 2
        for x, y in (points[0], points[-1]):  # round caps, like the canvas's pen
            pen.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, 255))
    return np.asarray(image)


def digit_on_canvas(digit: np.ndarray, size: int, top: int, left: int, side: int = SIDE) -> np.ndarray:
    canvas = blank_canvas(side)
    big = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC))
    canvas[top : top + size, left : left + size, :3] = big[..., None]
    return canvas


def stroke_width(image: np.ndarray) -> float:
    mask = image > 0.5
    return 4.0 * (ndimage.distance_transform_edt(mask)[mask].mean() - 0.5)


def bounding_box(image: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero((image > 0.05).any(axis=1))
    cols = np.flatnonzero((image > 0.05).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def test_mnist_digits_drawn_anywhere_at_any_size_are_read(mnist, cnn, rng):
    """2,000 test digits at a random 40-90% of the canvas, anywhere on it: >= 99.0% right."""
    chosen = rng.choice(len(mnist.test), 2000, replace=False)
    images, labels = mnist.test.images[chosen], mnist.test.labels[chosen]
    processed = []
    for digit in images:
        size = int(SIDE * rng.uniform(0.4, 0.9))
        top, left = rng.integers(0, SIDE - size + 1, size=2)
        processed.append(canvas_to_mnist(digit_on_canvas(digit, size, top, left)))
    on_canvas = (cnn.predict_proba(np.stack(processed)).argmax(axis=1) == labels).mean()
    baseline = (cnn.predict_proba(images / 255.0).argmax(axis=1) == labels).mean()
    print(f"\ncnn on 2,000 test digits: {on_canvas:.2%} through the canvas, {baseline:.2%} canvas-free")
    assert on_canvas >= 0.990
    assert baseline - on_canvas < 0.006  # the canvas path costs (almost) nothing


def test_output_follows_the_mnist_recipe(mnist):
    digit = mnist.test.images[0]  # a 7
    out = canvas_to_mnist(digit_on_canvas(digit, 150, 100, 20))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0 and out.max() > 0.9
    assert max(bounding_box(out)) in (19, 20, 21)
    com = ndimage.center_of_mass(out)
    assert abs(com[0] - CENTRE_OF_MASS) <= 0.5 and abs(com[1] - CENTRE_OF_MASS) <= 0.5


def test_empty_canvas_is_none():
    assert canvas_to_mnist(blank_canvas()) is None
    assert read_canvas(blank_canvas()).problem == "empty"
    assert read_canvas(None).problem == "empty"
    transparent = np.zeros((SIDE, SIDE, 4), np.uint8)
    assert canvas_to_mnist(transparent) is None


def test_a_dot_is_reported_not_classified():
    dot = stroke_canvas([[(140, 140), (141, 141)]], width=8)
    reading = read_canvas(dot)
    assert reading.problem == "dot" and reading.image is None
    out = canvas_to_mnist(dot)  # still a well-formed image if asked for directly
    assert out.shape == (28, 28) and np.isfinite(out).all() and out.max() > 0.5


def test_a_full_canvas_is_reported():
    full = blank_canvas()
    full[..., :3] = 255
    assert read_canvas(full).problem == "full"


def test_ink_touching_every_edge(cnn):
    zero = stroke_canvas([[(140, 0), (279, 140), (140, 279), (0, 140), (140, 0)]], width=30)
    out = canvas_to_mnist(zero)
    assert max(bounding_box(out)) <= 21
    assert cnn.predict_proba(out).argmax() == 0


def test_a_one_keeps_its_aspect_ratio(cnn):
    one = stroke_canvas([[(140, 40), (140, 240)]], width=16)
    out = canvas_to_mnist(one)
    height, width = bounding_box(out)
    assert height >= 19 and width <= 6
    assert cnn.predict_proba(out).argmax() == 1


SEVEN = [[(60, 60), (220, 60), (120, 230)]]
FOUR = [[(170, 230), (170, 40), (50, 170), (220, 170)]]


# (pen width, digit scale): from a hairline on a full-size digit to a pen a quarter as wide as
# a small digit (wider still, loops fill in and no preprocessing can bring them back).
PENS = [(2, 1.0), (6, 0.35), (12, 0.35), (20, 0.35), (20, 0.6), (30, 1.0), (45, 1.0)]


@pytest.mark.parametrize("pen, scale", PENS)
def test_any_pen_on_any_size_comes_out_mnist_like(pen, scale, cnn):
    """A thin pen on a big digit, a thick pen on a small one: MNIST's stroke width either way."""
    for strokes, label in ((SEVEN, 7), (FOUR, 4)):
        scaled = [[(140 + (x - 140) * scale, 140 + (y - 140) * scale) for x, y in s] for s in strokes]
        out = canvas_to_mnist(stroke_canvas(scaled, width=pen))
        assert 1.7 <= stroke_width(out) <= 4.2, (pen, scale, stroke_width(out))
        assert cnn.predict_proba(out).argmax() == label, (pen, scale, label)


def test_colour_and_transparency_are_handled(mnist):
    digit = mnist.test.images[1]
    reference = canvas_to_mnist(digit_on_canvas(digit, 200, 40, 40))
    red_on_black = digit_on_canvas(digit, 200, 40, 40)
    red_on_black[..., 1:3] = 0
    np.testing.assert_allclose(canvas_to_mnist(red_on_black), reference, atol=1e-6)
    ink_on_glass = np.zeros((SIDE, SIDE, 4), np.uint8)
    ink_on_glass[..., 3] = digit_on_canvas(digit, 200, 40, 40)[..., 0]
    np.testing.assert_allclose(canvas_to_mnist(ink_on_glass), reference, atol=1e-6)


def test_the_drawn_region_shortcut_changes_nothing(mnist):
    """A contiguous RGBA canvas is first narrowed to where its pixels differ from the top-left
    one; any other array skips that. Both paths must give the same digit, bit for bit, also
    where the shortcut cannot narrow: ink in the top-left corner, dark ink on light paper,
    a noisy background."""
    rng = np.random.default_rng(3)
    seven = digit_on_canvas(mnist.test.images[0], 200, 60, 50)
    corner = stroke_canvas([[(0, 0), (120, 60), (60, 200)]], width=14)
    paper = 255 - seven
    paper[..., 3] = 255
    noisy = seven.copy()
    noisy[..., :3] = np.maximum(noisy[..., :3], rng.integers(0, 30, noisy.shape[:2], np.uint8)[..., None])
    for canvas in (seven, corner, paper, noisy):
        fast = canvas_to_mnist(np.ascontiguousarray(canvas))
        general = canvas_to_mnist(np.asfortranarray(canvas))
        assert fast is not None and np.array_equal(fast, general)
        assert read_canvas(canvas).ink_fraction == read_canvas(np.asfortranarray(canvas)).ink_fraction


# --------------------------------------------------------------------------- uploads


def paper_photo(digit: np.ndarray, size: int = 400, noise: float = 0.06, seed: int = 0) -> Image.Image:
    """A dark-on-light 'scan': the digit in grey ink on off-white paper with texture and a gradient."""
    rng = np.random.default_rng(seed)
    ink = np.asarray(Image.fromarray(digit).resize((size // 2, size // 2), Image.Resampling.BICUBIC)) / 255
    page = np.zeros((size, size))
    page[size // 4 : size // 4 + size // 2, size // 3 : size // 3 + size // 2] = ink
    light = np.linspace(0.95, 0.8, size)[None, :]
    grey = light * (1 - 0.75 * page) + rng.normal(0, noise, (size, size))
    return Image.fromarray(np.clip(grey * 255, 0, 255).astype(np.uint8))


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def confident_digits(mnist, cnn):
    """One test digit per class that the cnn reads right with confidence on its own."""
    probabilities = cnn.predict_proba(mnist.test.images[:500] / 255.0)
    picks = []
    for d in range(10):
        candidates = np.flatnonzero((mnist.test.labels[:500] == d) & (probabilities[:, d] > 0.99))
        picks.append((mnist.test.images[candidates[0]], d))
    return picks


def test_uploaded_png_and_jpeg_scans_are_read(confident_digits, cnn):
    for digit, label in confident_digits:
        photo = paper_photo(digit, seed=label)
        for data in (encode(photo, "PNG"), encode(photo.convert("RGB"), "JPEG", quality=70)):
            out = upload_to_mnist(data)
            assert out is not None and cnn.predict_proba(out).argmax() == label, label


def test_uploaded_light_on_dark_is_read(confident_digits, cnn):
    for digit, label in confident_digits[:5]:
        out = upload_to_mnist(encode(Image.fromarray(digit).resize((300, 300)), "PNG"))
        assert cnn.predict_proba(out).argmax() == label


def test_uploaded_rgba_with_transparency(confident_digits, cnn):
    for digit, label in confident_digits[5:]:
        alpha = Image.fromarray(digit).resize((300, 300))
        for colour in ((0, 0, 0), (255, 255, 255), (30, 60, 200)):
            rgba = Image.new("RGBA", (300, 300), colour + (0,))
            rgba.putalpha(alpha)
            out = image_to_mnist(Image.open(io.BytesIO(encode(rgba, "PNG"))))
            assert cnn.predict_proba(out).argmax() == label, (label, colour)


def test_a_blank_page_has_no_digit():
    paper = Image.fromarray(np.full((300, 300), 235, np.uint8))
    assert upload_to_mnist(encode(paper, "PNG")) is None


def test_not_an_image_gets_a_clear_message():
    with pytest.raises(ImageError, match="not an image"):
        upload_to_mnist(b"%PDF-1.4 definitely not a picture")
    with pytest.raises(ImageError, match="not an image"):
        upload_to_mnist(b"")


def test_a_truncated_file_gets_a_clear_message(confident_digits):
    data = encode(paper_photo(confident_digits[3][0]), "PNG")
    with pytest.raises(ImageError, match="damaged or truncated"):
        upload_to_mnist(data[: len(data) // 2])


def test_a_decompression_bomb_is_refused():
    bomb = encode(Image.new("1", (20_000, 20_000)), "PNG")
    assert len(bomb) < 200_000  # tiny on disk, 400 megapixels decoded
    with pytest.raises(ImageError, match="too large"):
        upload_to_mnist(bomb)
    too_big = encode(Image.new("L", (9_000, 6_000), 255), "PNG")  # 54 MP: over any format's cap
    with pytest.raises(ImageError, match="limit is 50 megapixels"):
        upload_to_mnist(too_big)
    # A PNG is decoded in full, so its cap is lower; a JPEG of that size is decoded at 1/4.
    big_png = Image.new("L", (6_000, 4_000), 255)
    with pytest.raises(ImageError, match="limit is 12 megapixels"):
        upload_to_mnist(encode(big_png, "PNG"))
    assert upload_to_mnist(encode(big_png, "JPEG")) is None  # read: a blank page, no digit
