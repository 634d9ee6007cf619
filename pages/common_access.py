"""What a screen reader needs from the pages: a live region that speaks each new answer, and the
drawing canvas's label (assets/announce.js). A helper module, not a page."""
from __future__ import annotations

import streamlit as st

from pages.common_frame import asset_text
from pages.common_language import _, number

_ANNOUNCE = st.components.v2.component("digitlab.announce", js=asset_text("announce.js"))


def announce(region: str, message: str, canvas_label: str | None = None) -> None:
    """Say ``message`` to screen readers when it differs from what ``region`` last said ("" when
    there is no answer). Mount it on every run of the place it speaks for."""
    with st.container(key=f"announce-{region}"):
        _ANNOUNCE(key=f"announce-{region}-script",
                  data={"region": region, "message": message, "canvasLabel": canvas_label})


def spoken(best: int, confidence: float) -> str:
    """An answer as a screen reader says it: "Prediction 7, 98 percent sure"."""
    return _("Prediction {digit}, {percent} percent sure").format(digit=best, percent=number(confidence * 100))
