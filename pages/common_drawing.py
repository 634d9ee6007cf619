"""The student's drawing, shared by the pages that look at it (Draw, Inside, Push it): the canvas,
what its component sent read without trusting it, and the current drawing kept in session
state. A helper module, not a page."""
from __future__ import annotations

import numpy as np
import streamlit as st

from model.data import preprocess

# The current drawing in session state: a dict with "rgba" (the canvas pixels, uint8 HxWx4) and
# "image" (the 28x28 float32 the model read), or absent while nothing readable is drawn.
DRAWING_KEY = "drawing"


def remember_drawing(rgba, reading) -> None:
    if reading.image is None:
        st.session_state.pop(DRAWING_KEY, None)
    else:
        st.session_state[DRAWING_KEY] = {"rgba": rgba, "image": reading.image}


def current_drawing() -> dict | None:
    return st.session_state.get(DRAWING_KEY)


def drawing_canvas(**options):
    """``st_canvas(**options)``, or ``None`` with a message when the state the browser sent
    has a shape the component's own Python cannot read (it indexes into it unchecked). The
    canvas is on the page either way: the next stroke sends a good state."""
    from streamlit_drawable_canvas import st_canvas  # registers a component: only in a page run

    try:
        return st_canvas(**options)
    except (AttributeError, TypeError, KeyError):
        st.warning(preprocess.UNREADABLE_DRAWING, icon=":material/draw:")
        return None


def read_drawing(result, width: int, height: int) -> tuple[np.ndarray | None, preprocess.Reading]:
    """The canvas's pixels and what they show, from what its component sent (``st_canvas``'s
    result, or ``None``). The payload comes from the browser, so a forged one gets a message
    here and an empty reading, never a traceback; the canvas's own ``image_data`` would
    decode any PNG."""
    try:
        payload = None if result is None else result._image_data_url
        rgba = preprocess.canvas_payload_to_rgba(payload, width, height)
    except preprocess.ImageError as error:
        st.warning(str(error), icon=":material/draw:")
        rgba = None
    return rgba, preprocess.read_canvas(rgba)
