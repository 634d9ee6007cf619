"""From strokes on a canvas (or a photo of a digit) to a 28x28 image made the way MNIST was.

The MNIST recipe (LeCun et al.): the digit is cropped to its bounding box, scaled with
anti-aliasing so that its longer side is 20 px, keeping the aspect ratio, and placed in a 28x28
field so that its centre of mass is at the centre. We add one step MNIST did not need: the
stroke is thinned or thickened to MNIST's typical width, since people draw on a canvas with any
brush at any size (a tiny digit drawn with a thick brush would otherwise be a blob).

Everything is vectorised numpy / scipy / Pillow, with OpenCV's distance transform, so a
drawing costs about a millisecond (bench/latency.py; figures in bench/README.md). Most of that
is the Lanczos resizes and the stroke-width correction, done at 4x scale because at 3x a
thin-pen "4" is misread; the bigger the digit, the longer its first resize.
"""
from __future__ import annotations

import base64
import binascii
import io
import struct
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

DIGIT_BOX = 20  # MNIST's longer side, in pixels
FIELD = 28
# Measured on MNIST's training set: the centre of mass sits at (14.0, 14.0) (row, column),
# and the median stroke is 2.7 px wide (4 x mean distance-to-edge inside the >0.5 mask).
CENTRE_OF_MASS = 14.0
MNIST_STROKE_WIDTH = 2.7
# The stroke is measured and corrected on the digit scaled to 4x its final size: fine
# enough to be accurate; each pass costs about a millisecond here.
WORK_SCALE = 4
WIDTH_TOLERANCE = (0.8, 1.25)  # leave strokes alone within this ratio of MNIST's width
# One correction brings any thin stroke, and one up to 2x too thick, within tolerance (measured
# on drawn digits of every size and pen: 0.87-1.24 after it); a blob (a huge pen on a tiny
# digit) is only partly fixed by one (1.16-4.9), so it gets a second.
SECOND_PASS_ABOVE = 2.0
INK_THRESHOLD = 0.2  # below this (of full ink) a pixel is background, e.g. anti-aliasing haze

MAX_UPLOAD_PIXELS = 40_000_000  # a 40-megapixel photo is fine; a decompression bomb is not
UPLOAD_WORK_SIDE = 512  # uploads are reduced to this before any processing


class ImageError(ValueError):
    """An uploaded file cannot be read as a digit; the message says why, for the user."""


@dataclass(frozen=True)
class Reading:
    """What was found on a canvas: the 28x28 image, or why there is none."""

    image: np.ndarray | None  # (28, 28) float32 in [0, 1]
    problem: str | None  # a message for the user when there is nothing to classify
    ink_fraction: float  # the share of the drawing area the digit's bounding box spans


def _brightest_channel(pixels: np.ndarray) -> np.ndarray:
    # The brightest channel, not the luminance: a red stroke on black is ink too. Pairwise
    # np.maximum on uint8 planes is ~20x faster than .max(axis=-1) on the strided array.
    value = pixels[..., 0]
    for c in range(1, min(pixels.shape[-1], 3)):
        value = np.maximum(value, pixels[..., c])
    return value


def _drawn_region(pixels: np.ndarray) -> tuple[slice, slice] | None:
    """The rows and columns outside which every pixel has exactly the top-left pixel's colour
    (``None`` if all do). On a canvas, whose background is one colour, that is the drawing and
    its anti-aliased rim; anything else (noise, ink in the corner) gives a wider region, never a
    wrong one. Whole RGBA pixels compared as 32-bit words: one pass over contiguous memory, about
    5x cheaper than the per-channel work on the whole canvas, which then runs on this region."""
    if pixels.shape[2] != 4 or pixels.dtype != np.uint8 or not pixels.flags.c_contiguous:
        return slice(0, pixels.shape[0]), slice(0, pixels.shape[1])
    words = pixels.view("<u4")[..., 0]
    return _mask_box(words != words[0, 0])


def canvas_ink_box(rgba: np.ndarray) -> tuple[np.ndarray, tuple[slice, slice]] | None:
    """The ink in [0, 1] over the bounding box of a canvas drawing, and that box in canvas
    pixels; ``None`` if nothing is drawn. Light strokes on dark, dark on light, or any colour on
    a transparent background. Faint haze (below ``INK_THRESHOLD``) does not widen the box."""
    pixels = np.asarray(rgba)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an (H, W[, C]) image, got shape {pixels.shape}")
    if pixels.shape[2] in (2, 4):
        alpha = pixels[..., -1]
        if alpha.min() < 252:  # a transparent background: ink is wherever there is paint
            ink = alpha.astype(np.float32) * (1 / 255)
            box = _bounding_box(ink)
            return None if box is None else (ink[box], box)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    background = float(np.median(_brightest_channel(border))) / 255
    light_paper = background > 0.5
    if light_paper:
        background = 1.0 - background
    region = _drawn_region(pixels)
    if region is None:
        return None
    # Find the digit in uint8 first, so the float arithmetic runs on its bounding box only.
    value = _brightest_channel(pixels[region])
    level = round(255 * (background + INK_THRESHOLD * (1.0 - background)))
    box = _mask_box(value < 255 - level if light_paper else value > level)
    if box is None:
        return None
    crop = value[box].astype(np.float32) * (1 / 255)
    if light_paper:
        crop = 1.0 - crop
    ink = np.clip((crop - background) / max(1.0 - background, 1e-6), 0.0, 1.0)
    return ink, tuple(slice(r.start + b.start, r.start + b.stop) for r, b in zip(region, box))


def _mask_box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """The rows and columns a boolean mask's True pixels span, or ``None`` if it has none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _bounding_box(ink: np.ndarray) -> tuple[slice, slice] | None:
    return _mask_box(ink > INK_THRESHOLD)


def _resize(ink: np.ndarray, height: int, width: int) -> np.ndarray:
    # Pillow's resampling filters widen with the reduction factor, which is the anti-aliasing
    # MNIST asks for; LANCZOS keeps edges as crisp as MNIST's, its small ringing is clipped.
    pixels = np.ascontiguousarray(ink, dtype=np.float32)
    image = Image.frombuffer("F", pixels.shape[::-1], pixels, "raw", "F", 0, 1)
    resized = image.resize((width, height), Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def _distance_to_background(mask: np.ndarray) -> np.ndarray:
    # The exact Euclidean distance transform, as scipy.ndimage.distance_transform_edt gives it
    # (equal to 1e-6), but about 4x faster: scipy computes the nearest-pixel indices as well.
    return cv2.distanceTransform(mask.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def normalise_stroke_width(ink: np.ndarray, target: float, box: float) -> tuple[np.ndarray, float]:
    """Thin or thicken the strokes so their median width is about ``target`` pixels once the
    digit is rescaled so its longer side is ``box`` pixels again; also the measured width's
    ratio to ``target``. Returns ``ink`` itself when the width is already within tolerance."""
    mask = ink > 0.5
    if not mask.any():
        return ink, 1.0
    inside = _distance_to_background(mask)
    width = 4.0 * (float(inside[mask].mean()) - 0.5)
    ratio = width / target
    if WIDTH_TOLERANCE[0] <= ratio <= WIDTH_TOLERANCE[1]:
        return ink, ratio
    # Peeling d pixels off every edge also shrinks the digit by 2d, and rescaling it back to
    # `box` widens the strokes again: solve (width - 2d) / (box - 2d) = target / box for d.
    share = target / box
    depth = (width - target) / (2 * (1 - share))
    if depth > 0:
        thinner = inside > depth
        if not thinner.any():  # never erase the digit: keep at least its skeleton
            thinner = inside >= inside.max()
        return thinner.astype(np.float32), ratio
    outside = _distance_to_background(~mask)
    return (outside <= -depth).astype(np.float32), ratio


def scaled_to_box(ink: np.ndarray, box: int, margin: int) -> np.ndarray | None:
    """Crop to the ink and scale so the longer side is ``box`` pixels, with a blank margin."""
    bounds = _bounding_box(ink)
    if bounds is None:
        return None
    digit = ink[bounds]
    scale = box / max(digit.shape)
    height = max(1, min(box, round(digit.shape[0] * scale)))
    width = max(1, min(box, round(digit.shape[1] * scale)))
    out = np.zeros((height + 2 * margin, width + 2 * margin), np.float32)
    out[margin : margin + height, margin : margin + width] = _resize(digit, height, width)
    return out


def ink_to_mnist(ink: np.ndarray) -> np.ndarray | None:
    """The MNIST recipe on an ink map (any size, values in [0, 1]); ``None`` if it is blank."""
    # First at 4x the final size, where the stroke width is measured and corrected.
    work_box, margin = DIGIT_BOX * WORK_SCALE, WORK_SCALE * 2
    target = MNIST_STROKE_WIDTH * WORK_SCALE
    work = scaled_to_box(ink, work_box, margin)
    if work is None:
        return None
    corrected, ratio = normalise_stroke_width(work, target, work_box)
    if corrected is not work:
        work = scaled_to_box(corrected, work_box, margin)
        if work is not None and ratio > SECOND_PASS_ABOVE:
            corrected, _ = normalise_stroke_width(work, target, work_box)
            if corrected is not work:
                work = scaled_to_box(corrected, work_box, margin)
    small = scaled_to_box(work, DIGIT_BOX, 0) if work is not None else None
    if small is None or small.sum() <= 0:
        return None
    out_h, out_w = small.shape
    # Paste so the centre of mass lands on MNIST's; whole-pixel shifts add no blur.
    com_row, com_col = ndimage.center_of_mass(small)
    top = int(np.clip(round(CENTRE_OF_MASS - com_row), 0, FIELD - out_h))
    left = int(np.clip(round(CENTRE_OF_MASS - com_col), 0, FIELD - out_w))
    field = np.zeros((FIELD, FIELD), np.float32)
    field[top : top + out_h, left : left + out_w] = small
    return field


def canvas_to_mnist(rgba: np.ndarray) -> np.ndarray | None:
    """A canvas drawing (H, W, 4) uint8 -> (28, 28) float32 in [0, 1], or ``None`` if empty."""
    found = canvas_ink_box(rgba)
    return None if found is None else ink_to_mnist(found[0])


# Ink over more than this share of the canvas is not a digit but a filled box.
MAX_INK_COVERAGE = 0.6
# A digit whose bounding box spans less than this share of the canvas's shorter side is a dot
# or a slip of the pen: there is nothing there for a classifier to read.
MIN_DIGIT_EXTENT = 0.06


def read_canvas(rgba: np.ndarray | None) -> Reading:
    """``canvas_to_mnist`` plus the reasons a drawing cannot be classified, for the page."""
    if rgba is None:
        return Reading(None, "empty", 0.0)
    rgba = np.asarray(rgba)
    # Measured before polarity detection, which would call a fully painted canvas blank paper;
    # every 4th pixel each way is plenty for a share and 16x cheaper.
    sample = rgba[::4, ::4]
    painted = _brightest_channel(sample) > 127 if sample.ndim == 3 else sample > 127
    if sample.ndim == 3 and sample.shape[2] == 4:
        painted &= sample[..., 3] > 127
    if painted.mean() > MAX_INK_COVERAGE:
        return Reading(None, "full", 1.0)
    found = canvas_ink_box(rgba)
    box = None if found is None else _bounding_box(found[0])
    if box is None:
        return Reading(None, "empty", 0.0)
    extent = max(box[0].stop - box[0].start, box[1].stop - box[1].start) / min(rgba.shape[:2])
    if extent < MIN_DIGIT_EXTENT:
        return Reading(None, "dot", extent)
    return Reading(ink_to_mnist(found[0]), None, extent)


# --------------------------------------------------------------------------- uploads

# What a file may declare, checked in its header before any pixel is decoded: a JPEG is
# decoded at 1/2, 1/4 or 1/8 of its size (``draft``), so a phone's 48-megapixel photo costs
# what a 3-megapixel one does; other formats are decoded in full, so they get the lower cap.
MAX_UPLOAD_PIXELS = 50_000_000
MAX_DECODED_PIXELS = 12_000_000
UPLOAD_WORK_SIDE = 512  # uploads are reduced to this before any processing

NOT_AN_IMAGE = "This file is not an image Digit Lab can read (try PNG or JPEG)."
DAMAGED_IMAGE = (
    "This image is damaged or truncated, so Digit Lab cannot read it. Save it again as PNG or JPEG."
)


def _too_large(width: int, height: int, limit: int) -> ImageError:
    return ImageError(
        f"This image is {width}x{height} pixels; the limit is {limit // 1_000_000} megapixels. "
        "A photo of a single digit needs far fewer: make it smaller and try again."
    )


def open_upload(data: bytes) -> Image.Image:
    """Open uploaded bytes as an image no larger than ``UPLOAD_WORK_SIDE``, refusing non-images,
    damaged files and bombs with an :class:`ImageError` a student can read.

    ``Image.open`` reads only the header, so the declared size is checked before any pixel is
    decoded; decoders fail in many format-specific ways (``ValueError`` for a truncated PNG
    header or an over-long text chunk, ``SyntaxError``, ``struct.error``, ``EOFError``...), and
    every one of them means the same thing to the student."""
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError(NOT_AN_IMAGE) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("This image is far too large to be a photo of a digit.") from None
    except Exception:  # noqa: BLE001 - any decoder error is a damaged file to the student
        raise ImageError(DAMAGED_IMAGE) from None
    try:
        width, height = image.size
        if width <= 0 or height <= 0:
            raise ImageError(DAMAGED_IMAGE)
        if width * height > MAX_UPLOAD_PIXELS:
            raise _too_large(width, height, MAX_UPLOAD_PIXELS)
        image.draft("L", (UPLOAD_WORK_SIDE * 2, UPLOAD_WORK_SIDE * 2))  # JPEG: decode smaller
        if image.width * image.height > MAX_DECODED_PIXELS:
            raise _too_large(width, height, MAX_DECODED_PIXELS)
        image.load()
        # Reduced at once, in place (the EXIF orientation stays in ``info``): the full-size
        # pixels are freed before any copy of them is made.
        image.thumbnail((UPLOAD_WORK_SIDE, UPLOAD_WORK_SIDE), Image.Resampling.LANCZOS)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
        raise ImageError("This image is far too large to be a photo of a digit.") from None
    except Exception:  # noqa: BLE001 - as above
        raise ImageError(DAMAGED_IMAGE) from None
    return image


def image_to_mnist(image: Image.Image) -> np.ndarray | None:
    """A photo or scan of a digit -> (28, 28) float32 in [0, 1], or ``None`` if no digit is found.

    Detects dark-on-light against light-on-dark, composites transparency against the colour
    that contrasts with the ink, and suppresses paper texture, uneven light and specks.
    """
    image = ImageOps.exif_transpose(image)
    image.thumbnail((UPLOAD_WORK_SIDE, UPLOAD_WORK_SIDE), Image.Resampling.LANCZOS)
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) * (1 / 255)
    luminance = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    alpha = rgba[..., 3]
    if alpha.min() < 0.99:
        painted = alpha > 0.5
        ink_is_light = painted.any() and float(np.median(luminance[painted])) > 0.5
        backdrop = 0.0 if ink_is_light else 1.0
        luminance = alpha * luminance + (1 - alpha) * backdrop
    border = np.concatenate([luminance[0], luminance[-1], luminance[:, 0], luminance[:, -1]])
    ink = 1.0 - luminance if np.median(border) > 0.5 else luminance
    # Uneven light: the background is what a grey opening (wider than any stroke) leaves.
    size = max(3, min(ink.shape) // 8)
    small = ink[::2, ::2]
    background = ndimage.grey_opening(small, size=(size // 2 + 1, size // 2 + 1))
    background = np.repeat(np.repeat(background, 2, axis=0), 2, axis=1)[: ink.shape[0], : ink.shape[1]]
    ink = np.clip(ink - background, 0.0, None)
    peak = float(np.percentile(ink, 99.5))
    if peak < 0.15:  # no contrast: a blank page or a flat colour
        return None
    ink = np.clip(ink / peak, 0.0, 1.0)
    ink[ink < 0.35] = 0.0  # paper texture and JPEG noise
    # Specks: keep connected blobs at least 10% the size of the largest one.
    labels, count = ndimage.label(ink > 0)
    if count > 1:
        sizes = ndimage.sum_labels(np.ones_like(ink), labels, index=np.arange(1, count + 1))
        keep = np.zeros(count + 1, bool)
        keep[1:] = sizes >= 0.1 * sizes.max()
        ink = ink * keep[labels]
    return ink_to_mnist(ink)


def upload_to_mnist(data: bytes) -> np.ndarray | None:
    """Uploaded bytes -> 28x28 digit; raises :class:`ImageError` with a message for the user."""
    image = open_upload(data)
    try:
        return image_to_mnist(image)
    except Exception:  # noqa: BLE001 - an odd mode or a broken EXIF block: still the file's fault
        raise ImageError(DAMAGED_IMAGE) from None


# --------------------------------------------------------------------------- the canvas payload

# The canvas sends its drawing as a PNG data URL. A browser draws it at the canvas's size, or
# at up to twice that on a high-density screen (devicePixelRatio); anything larger is forged.
CANVAS_SCALE_LIMIT = 2
CANVAS_PAYLOAD_PREFIX = "data:image/png;base64,"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The chunks that make the pixels; text, colour profiles and the like are dropped unread, so a
# chunk that inflates to megabytes never is.
PIXEL_CHUNKS = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"})
UNREADABLE_DRAWING = (
    "Your drawing did not reach Digit Lab in a form it can read. Clear the box and draw again."
)


def _canvas_payload_limit(width: int, height: int) -> int:
    """Base64 characters of the largest PNG a canvas of this size can send: 4 bytes a pixel at
    ``CANVAS_SCALE_LIMIT`` each way, uncompressed, plus room for the chunk framing."""
    raw = 4 * (CANVAS_SCALE_LIMIT * width) * (CANVAS_SCALE_LIMIT * height) + 65_536
    return (raw + 2) // 3 * 4


def _pixel_chunks(png: bytes, max_width: int, max_height: int) -> bytes:
    """``png`` with only the chunks that make its pixels, after its header's declared size was
    checked; raises :class:`ImageError` for anything that is not such a PNG."""
    if not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR" or len(png) < 33:
        raise ImageError(UNREADABLE_DRAWING)
    length, = struct.unpack(">I", png[8:12])
    width, height = struct.unpack(">II", png[16:24])
    if length != 13 or not (0 < width <= max_width and 0 < height <= max_height):
        raise ImageError(UNREADABLE_DRAWING)
    kept, at = [PNG_SIGNATURE], len(PNG_SIGNATURE)
    while at + 8 <= len(png):
        length, = struct.unpack(">I", png[at : at + 4])
        end = at + 12 + length
        if end > len(png):
            raise ImageError(UNREADABLE_DRAWING)
        if png[at + 4 : at + 8] in PIXEL_CHUNKS:
            kept.append(png[at:end])
        at = end
    return b"".join(kept)


def canvas_payload_to_rgba(data_url: str | None, width: int, height: int) -> np.ndarray | None:
    """The canvas's PNG data URL -> (H, W, 4) uint8 pixels, or ``None`` while nothing was sent.

    The payload comes from the browser and can be anything a student with devtools writes;
    its length and the PNG's declared size are checked against the canvas's own ``width`` x
    ``height`` before anything is decoded, and whatever cannot be read raises
    :class:`ImageError` with a message for the page."""
    if data_url is None:
        return None
    if not isinstance(data_url, str) or not data_url.startswith(CANVAS_PAYLOAD_PREFIX):
        raise ImageError(UNREADABLE_DRAWING)
    if len(data_url) - len(CANVAS_PAYLOAD_PREFIX) > _canvas_payload_limit(width, height):
        raise ImageError(UNREADABLE_DRAWING)
    try:
        png = base64.b64decode(data_url[len(CANVAS_PAYLOAD_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ImageError(UNREADABLE_DRAWING) from None
    png = _pixel_chunks(png, CANVAS_SCALE_LIMIT * width, CANVAS_SCALE_LIMIT * height)
    try:
        image = Image.open(io.BytesIO(png), formats=["PNG"])
        image.load()
        if image.mode != "RGBA":
            image = image.convert("RGBA")
        return np.asarray(image)
    except Exception:  # noqa: BLE001 - any decoder error: the payload was not a real drawing
        raise ImageError(UNREADABLE_DRAWING) from None
