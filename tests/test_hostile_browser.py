"""Hostile clients in a real browser: uploads of damaged files, and the canvas payload forged
on the websocket (Playwright rewrites the widget's JSON in the BackMsg a real stroke sends).
Each ends in a plain message and no exception box, the server's memory stays bounded and the
session goes on; and with a damaged model.tflite the Draw page names the model and still reads
a drawn digit.

Run: ``.venv/bin/python -m pytest tests/test_hostile_browser.py``  (about a minute)
"""
from __future__ import annotations

import contextlib
import json
import re
import shutil
import urllib.request
from pathlib import Path

import psutil
import pytest

from model import MODEL_DIR
from model.data.preprocess import DAMAGED_IMAGE, UNREADABLE_DRAWING
from tests.browser import browser_available, streamlit_server
from tests.drawing import clear_canvas, draw_digit, open_draw_page, read_prediction, wait_idle
from tests.hostile import canvas_payloads, digit_picture, encode, hostile_files

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not browser_available(), reason="needs playwright and Chromium"),
]

TIMEOUT = 60_000  # ms; generous: the machine is shared
VIEWPORT = {"width": 1400, "height": 1100}
EXCEPTION = '[data-testid="stException"]'
MAX_GROWTH_MB = 250
MIME = {".png": "image/png", ".tif": "image/tiff", ".jpg": "image/jpeg"}


def server_process(base_url: str) -> psutil.Process:
    port = base_url.rsplit(":", 1)[1]
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            command = child.cmdline()
            if "streamlit" in " ".join(command) and port in command:
                return child
    raise AssertionError(f"no streamlit process on port {port}")


def peak_rss_mb(process: psutil.Process) -> float:
    """The process's peak resident memory so far (Linux's VmHWM), in MB."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def rewrite_data_urls(value, forged: str):
    """``value`` (the canvas's state, decoded JSON) with every PNG data URL replaced."""
    if isinstance(value, dict):
        return {k: rewrite_data_urls(v, forged) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite_data_urls(v, forged) for v in value]
    if isinstance(value, str) and value.startswith("data:image/png"):
        return forged
    return value


# Forged shapes of the canvas's whole state, which the component's own Python reads.
FORGED_STATES = {
    "drawing-not-an-object": lambda state: {**state, "drawing": "data:image/png,hello"},
    "background-fit-not-an-object": lambda state: {**state, "backgroundFit": "x"},
}


def forge_canvas_messages(page, forged: dict) -> list[str]:
    """Route the app's websocket through a rewriter: while ``forged["payload"]`` is set, the
    canvas's drawing in every BackMsg the page sends is replaced by it, the protobuf
    re-encoded (its length prefixes with it). Returns the list the rewrites are logged to."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    rewritten: list[str] = []

    def forge(state: dict) -> dict:
        payload = forged["payload"]
        return payload(state) if callable(payload) else rewrite_data_urls(state, payload)

    def rewrite(message):
        if forged.get("payload") is None or not isinstance(message, bytes):
            return message
        back = BackMsg.FromString(message)
        if back.WhichOneof("type") != "rerun_script":
            return message
        for widget in back.rerun_script.widget_states.widgets:
            for field in ("json_value", "json_trigger_value"):
                if widget.WhichOneof("value") == field and "data:image/png" in getattr(widget, field):
                    setattr(widget, field, json.dumps(forge(json.loads(getattr(widget, field)))))
                    rewritten.append(widget.id)
        return back.SerializeToString()

    def handler(route):
        server = route.connect_to_server()
        route.on_message(lambda message: server.send(rewrite(message)))
        server.on_message(lambda message: route.send(message))

    page.route_web_socket(re.compile(r".*/_stcore/stream"), handler)
    return rewritten


UPLOAD_HINT = "Dark ink on light paper"


def upload(page, name: str, data: bytes) -> None:
    """Upload ``data`` as ``name`` on the Draw page's upload tab, after removing the previous
    file (so what the page shows next is this file's doing)."""
    page.get_by_role("tab", name="Upload an image").click()
    previous = page.locator('[data-testid="stFileChipDeleteBtn"]')
    if previous.count():
        previous.first.click()
        page.get_by_text(UPLOAD_HINT).wait_for(timeout=TIMEOUT)
        wait_idle(page, TIMEOUT)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": name, "mimeType": MIME[Path(name).suffix], "buffer": data}]
    )
    wait_idle(page, TIMEOUT)


def alerts(page) -> str:
    return " ".join(page.locator('[data-testid="stAlert"]').all_inner_texts())


def test_hostile_uploads_and_forged_canvas_payloads_get_messages(browser):
    with streamlit_server() as base_url:
        server = server_process(base_url)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(TIMEOUT)
        forged: dict = {}
        rewritten = forge_canvas_messages(page, forged)
        try:
            open_draw_page(page, base_url, timeout=90_000)
            # Warm every path on honest input first: what grows after is the hostile input's doing.
            # One stroke: the first prediction after the pen lifts is the whole drawing's, even on
            # a server still warming up (a two-stroke digit can be read after its first stroke).
            draw_digit(page, 7, one_stroke=True)
            assert read_prediction(page, timeout=TIMEOUT) == "7"
            upload(page, "seven.png", encode(digit_picture(200), "PNG"))
            page.locator('[data-testid="stMetric"]:visible').filter(has_text="Prediction").wait_for(timeout=TIMEOUT)
            before = peak_rss_mb(server)

            for name, data in hostile_files().items():
                upload(page, name, data)
                page.get_by_text(DAMAGED_IMAGE).first.wait_for(timeout=TIMEOUT)
                assert page.locator(EXCEPTION).count() == 0, name

            page.get_by_role("tab", name="Draw").click()
            for name, payload in [*canvas_payloads().items(), *FORGED_STATES.items()]:
                clear_canvas(page, TIMEOUT)
                forged["payload"] = payload
                count = len(rewritten)
                draw_digit(page, 1)
                page.get_by_text(UNREADABLE_DRAWING).first.wait_for(timeout=TIMEOUT)
                wait_idle(page, TIMEOUT)
                assert len(rewritten) > count, f"{name}: no message was rewritten"
                assert page.locator(EXCEPTION).count() == 0, name
                forged["payload"] = None

            with urllib.request.urlopen(base_url + "/_stcore/health", timeout=10) as response:
                assert response.status == 200
            growth = peak_rss_mb(server) - before
            assert growth <= MAX_GROWTH_MB, f"server peak RSS grew {growth:.0f} MB"
            # And the session goes on: an honest drawing is read.
            clear_canvas(page, TIMEOUT)
            draw_digit(page, 3)
            assert read_prediction(page, timeout=TIMEOUT) == "3"
            assert page.locator(EXCEPTION).count() == 0
            print(f"server peak RSS growth over the hostile input: {growth:.1f} MB")
        except Exception:
            page.screenshot(path=str(Path("/tmp") / "hostile-browser-failure.png"), full_page=True)
            raise
        finally:
            page.close()


def test_a_damaged_tflite_is_named_and_the_draw_page_still_reads(browser, tmp_path):
    models = tmp_path / "model"
    for arch in ("cnn", "seed002_cnn"):
        shutil.copytree(MODEL_DIR / arch, models / arch)
    tflite = models / "cnn" / "model.tflite"
    tflite.write_bytes(tflite.read_bytes()[: tflite.stat().st_size // 2])
    with streamlit_server(env={"DIGITLAB_MODEL_DIR": str(models)}, timeout=90) as base_url:
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(TIMEOUT)
        try:
            open_draw_page(page, base_url, timeout=180_000)  # Keras loads TensorFlow: slow
            text = alerts(page)
            assert "The model cnn is damaged" in text and "cnn/model.tflite" in text, text
            assert str(tmp_path) not in page.content()
            # One stroke, as above: Keras's first prediction takes seconds, and a clean-clone run
            # read the 4's first stroke (a 6) while the second was still on its way.
            draw_digit(page, 4, one_stroke=True)
            assert read_prediction(page, timeout=TIMEOUT) == "4"
            assert page.locator(EXCEPTION).count() == 0
        except Exception:
            page.screenshot(path=str(Path("/tmp") / "damaged-model-failure.png"), full_page=True)
            raise
        finally:
            page.close()
