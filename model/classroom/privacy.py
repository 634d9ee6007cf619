"""What the class features keep about a student, and for how long: the rules the Draw page
shows and the database follows. Light on purpose (no SQLAlchemy): the Draw page reads them on
every prediction.

Kept: the drawing (the 28x28 image, and the ink at most ``INK_SIDE`` px a side), the answer,
the prediction, the model, the time, a random id per browser tab and an optional class code.
Never a name or an IP address. Deleted ``keep_days()`` after it was stored.
"""
from __future__ import annotations

import os
import re
import secrets

import numpy as np
from PIL import Image

KEEP_DAYS_ENV = "DIGITLAB_KEEP_DAYS"
KEEP_DAYS = 30  # a month: long enough for a unit's lessons, short enough to forget a class
INK_SIDE = 64  # the stored ink's longer side: enough to re-run the preprocessing later
CLASS_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def keep_days() -> int:
    try:
        return max(1, int(os.environ.get(KEEP_DAYS_ENV, KEEP_DAYS)))
    except ValueError:
        return KEEP_DAYS


def new_session() -> str:
    """An anonymous writer id: random, not derived from anything about the person."""
    return secrets.token_hex(8)


def valid_class_code(code: str | None) -> str | None:
    """A class code stripped, or ``None`` when empty; ``ValueError`` with a plain message when
    it has characters other than letters, digits, ``-`` and ``_`` or is over 32 long."""
    code = (code or "").strip()
    if not code:
        return None
    if not CLASS_CODE.match(code):
        raise ValueError("A class code is 1 to 32 letters, digits, - or _.")
    return code


def ink_thumbnail(ink: np.ndarray, side: int = INK_SIDE) -> np.ndarray:
    """An ink map in [0, 1] (the drawing's bounding box) as uint8, its longer side at most
    ``side`` px, aspect kept."""
    ink = np.clip(np.asarray(ink, dtype=np.float32), 0.0, 1.0)
    image = Image.fromarray(np.round(ink * 255).astype(np.uint8), mode="L")
    h, w = ink.shape
    if max(h, w) > side:
        scale = side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(image)
