"""Inputs that are not digits, and drawn digits, all through the app's real preprocessing.

    letters = rendered_letters()            # {font name: (N, 28, 28)}, from the installed fonts
    scribbles = random_scribbles(200, rng)  # (200, 28, 28)
    drawn = drawn_digits(rng)               # (N, 28, 28), labels: the hand-written strokes of
                                            # tests/drawing.py at many sizes, places and pens

Letters shaped like digits are left out (O o I l i S s Z z B G g q b): a network that calls an
O a 0 is right. Fonts are whatever is installed (DejaVu and Liberation on the CI image) plus
Pillow's own built-in font, in several weights and sizes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from model.data.preprocess import canvas_to_mnist, ink_to_mnist
from tests.drawing import DIGITS, ONE_STROKE, place, render, smooth

DIGIT_LIKE = set("OoIliSsZzBGgqb")
LETTERS = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in DIGIT_LIKE]
FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts/opentype"), Path("/usr/local/share/fonts"))
# Weights and styles wanted from each installed family (file-name stems), where the family has them.
FONT_FILES = {
    "DejaVu Sans": ["DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-ExtraLight",
                    "DejaVuSansCondensed"],
    "DejaVu Serif": ["DejaVuSerif", "DejaVuSerif-Bold", "DejaVuSerif-Italic"],
    "DejaVu Sans Mono": ["DejaVuSansMono", "DejaVuSansMono-Bold"],
    "Liberation Sans": ["LiberationSans-Regular", "LiberationSans-Bold", "LiberationSans-Italic",
                        "LiberationSansNarrow-Regular"],
    "Liberation Serif": ["LiberationSerif-Regular", "LiberationSerif-Bold", "LiberationSerif-Italic"],
    "Liberation Mono": ["LiberationMono-Regular", "LiberationMono-Bold"],
    "FreeSans": ["FreeSans", "FreeSansBold", "FreeSansOblique"],
    "FreeSerif": ["FreeSerif", "FreeSerifBold", "FreeSerifItalic"],
}
SIZES = (36, 72, 144)
PILLOW_FONT = "Pillow built-in"


def installed_fonts() -> dict[str, list[Path | None]]:
    """Family -> font files found (``None`` stands for Pillow's built-in font)."""
    files = {p.stem: p for d in FONT_DIRS if d.is_dir() for p in d.rglob("*.[ot]tf")}
    found: dict[str, list[Path | None]] = {}
    for family, stems in FONT_FILES.items():
        paths = [files[s] for s in stems if s in files]
        if paths:
            found[family] = paths
    try:
        ImageFont.load_default(20)  # a scalable built-in font needs Pillow built with FreeType
        found[PILLOW_FONT] = [None]
    except (ImportError, TypeError, OSError):
        pass
    return found


def render_text(text: str, font_path: Path | None, size: int) -> np.ndarray | None:
    """``text`` in white on black, ink in [0, 1], through the MNIST recipe -> (28, 28)."""
    font = ImageFont.load_default(size) if font_path is None else ImageFont.truetype(str(font_path), size)
    side = size * 3
    image = Image.new("L", (side, side), 0)
    ImageDraw.Draw(image).text((side // 2, side // 2), text, fill=255, font=font, anchor="mm")
    return ink_to_mnist(np.asarray(image, np.float32) / 255)


def rendered_letters(letters: list[str] = LETTERS, sizes=SIZES) -> dict[str, np.ndarray]:
    """Every letter in every weight and size of every installed family, per family."""
    out = {}
    for family, paths in installed_fonts().items():
        images = [render_text(c, p, s) for p in paths for s in sizes for c in letters]
        out[family] = np.stack([im for im in images if im is not None])
    return out


def random_scribbles(n: int, rng: np.random.Generator, canvas: int = 280) -> np.ndarray:
    """``n`` random scribbles: 1-4 strokes of 3-8 random points each, smoothed like a hand,
    drawn with a random pen on a canvas and read like a drawing."""
    out = []
    while len(out) < n:
        strokes = [smooth([tuple(p) for p in rng.uniform(0.1, 0.9, (rng.integers(3, 9), 2))], 4)
                   for _ in range(rng.integers(1, 5))]
        image = canvas_to_mnist(render(strokes, size=canvas, width=int(rng.integers(8, 30))))
        if image is not None:
            out.append(image)
    return np.stack(out)


def drawn_digits(rng: np.random.Generator, per_digit: int = 20, canvas: int = 280) -> tuple[np.ndarray, np.ndarray]:
    """tests/drawing.py's hand-written digits (both stroke sets) at random sizes, places, pens,
    with each point moved by up to 2% of the digit's box, read like drawings on the canvas."""
    images, labels = [], []
    for digit in range(10):
        for k in range(per_digit):
            table = ONE_STROKE if k % 2 else DIGITS
            scale = float(rng.uniform(0.35, 0.85))
            offset = tuple(rng.uniform(0, 1 - scale, 2))
            strokes = [[(x + rng.normal(0, 0.02), y + rng.normal(0, 0.02)) for x, y in s] for s in table[digit]]
            strokes = place([smooth(s, 4) for s in strokes], scale, offset)
            image = canvas_to_mnist(render(strokes, size=canvas, width=int(rng.integers(10, 36))))
            if image is not None:
                images.append(image)
                labels.append(digit)
    return np.stack(images), np.array(labels)


# Capital letters as people draw them with a pen, in a unit square (straight strokes; none of
# them shaped like a digit).
DRAWN_LETTERS: dict[str, list[list[tuple[float, float]]]] = {
    "A": [[(0.08, 0.98), (0.3, 0.5), (0.5, 0.02), (0.7, 0.5), (0.92, 0.98)], [(0.28, 0.55), (0.72, 0.55)]],
    "E": [[(0.8, 0.02), (0.2, 0.02), (0.2, 0.5), (0.2, 0.98), (0.8, 0.98)], [(0.2, 0.5), (0.7, 0.5)]],
    "F": [[(0.8, 0.02), (0.2, 0.02), (0.2, 0.5), (0.2, 0.98)], [(0.2, 0.5), (0.7, 0.5)]],
    "H": [[(0.15, 0.02), (0.15, 0.98)], [(0.85, 0.02), (0.85, 0.98)], [(0.15, 0.5), (0.85, 0.5)]],
    "K": [[(0.2, 0.02), (0.2, 0.98)], [(0.8, 0.02), (0.2, 0.55)], [(0.35, 0.45), (0.85, 0.98)]],
    "M": [[(0.05, 0.98), (0.12, 0.02), (0.5, 0.7), (0.88, 0.02), (0.95, 0.98)]],
    "N": [[(0.15, 0.98), (0.15, 0.02), (0.85, 0.98), (0.85, 0.02)]],
    "R": [[(0.2, 0.98), (0.2, 0.02), (0.6, 0.04), (0.78, 0.2), (0.6, 0.46), (0.2, 0.48)], [(0.45, 0.48), (0.85, 0.98)]],
    "T": [[(0.05, 0.04), (0.95, 0.04)], [(0.5, 0.04), (0.5, 0.98)]],
    "V": [[(0.05, 0.02), (0.5, 0.98), (0.95, 0.02)]],
    "W": [[(0.02, 0.02), (0.25, 0.98), (0.5, 0.3), (0.75, 0.98), (0.98, 0.02)]],
    "X": [[(0.1, 0.02), (0.9, 0.98)], [(0.9, 0.02), (0.1, 0.98)]],
    "Y": [[(0.1, 0.02), (0.5, 0.5)], [(0.9, 0.02), (0.5, 0.5), (0.5, 0.98)]],
}


def drawn_letters(rng: np.random.Generator, per_letter: int = 15, canvas: int = 280) -> dict[str, np.ndarray]:
    """:data:`DRAWN_LETTERS` at random sizes, places and pens, each point moved by up to 2% of
    the letter's box, read like drawings on the canvas: {letter: (N, 28, 28)}."""
    out = {}
    for letter, table in DRAWN_LETTERS.items():
        images = []
        for _ in range(per_letter):
            scale = float(rng.uniform(0.35, 0.85))
            offset = tuple(rng.uniform(0, 1 - scale, 2))
            strokes = [[(x + rng.normal(0, 0.02), y + rng.normal(0, 0.02)) for x, y in s] for s in table]
            image = canvas_to_mnist(render(place([smooth(s, 4) for s in strokes], scale, offset), size=canvas,
                                           width=int(rng.integers(10, 36))))
            if image is not None:
                images.append(image)
        out[letter] = np.stack(images)
    return out
