"""Hostile input through the guards from bytes to pixels: the files and forged canvas payloads
that once escaped as tracebacks or cost hundreds of megabytes, and a fixed-seed fuzz of byte
mutations of valid images. Each must end in a message for the student or a reading (a digit,
or none), never another exception, with bounded memory."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from model.data.preprocess import (
    DAMAGED_IMAGE,
    UNREADABLE_DRAWING,
    ImageError,
    canvas_payload_to_rgba,
    read_canvas,
    upload_to_mnist,
)
from tests.browser import REPO
from tests.hostile import CANVAS_SIDE, canvas_payloads, data_url, hostile_files, valid_canvas_png, valid_images


@pytest.mark.parametrize("name", sorted(hostile_files()))
def test_each_hostile_file_gets_the_damaged_message(name):
    with pytest.raises(ImageError) as caught:
        upload_to_mnist(hostile_files()[name])
    assert str(caught.value) == DAMAGED_IMAGE


@pytest.mark.parametrize("name", sorted(canvas_payloads()))
def test_each_forged_canvas_payload_gets_a_message(name):
    with pytest.raises(ImageError, match="did not reach Digit Lab") as caught:
        canvas_payload_to_rgba(canvas_payloads()[name], CANVAS_SIDE, CANVAS_SIDE)
    assert str(caught.value) == UNREADABLE_DRAWING


def test_the_canvas_reader_takes_what_a_browser_sends():
    rgba = canvas_payload_to_rgba(data_url(valid_canvas_png()), CANVAS_SIDE, CANVAS_SIDE)
    assert rgba.shape == (CANVAS_SIDE, CANVAS_SIDE, 4) and rgba.dtype == np.uint8
    assert read_canvas(rgba).image is not None
    assert canvas_payload_to_rgba(None, CANVAS_SIDE, CANVAS_SIDE) is None
    # A high-density screen draws the canvas at up to twice its size each way; beyond is forged.
    from PIL import Image

    from tests.hostile import encode

    double = encode(Image.new("RGBA", (2 * CANVAS_SIDE, 2 * CANVAS_SIDE), (0, 0, 0, 255)), "PNG")
    assert canvas_payload_to_rgba(data_url(double), CANVAS_SIDE, CANVAS_SIDE).shape == (800, 800, 4)
    wider = encode(Image.new("RGBA", (2 * CANVAS_SIDE + 1, 10)), "PNG")
    with pytest.raises(ImageError):
        canvas_payload_to_rgba(data_url(wider), CANVAS_SIDE, CANVAS_SIDE)


def test_valid_uploads_of_every_format_are_read():
    for name, data in valid_images().items():
        assert upload_to_mnist(data) is not None, name


def test_fuzz_ends_in_a_message_or_a_reading_with_bounded_memory():
    # In its own process, so its peak memory is its own (a fixed seed: the same cases each run).
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "tests.hostile", "600", "20.0"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["escaped"] == []
    assert set(report["named"].values()) == {"message"}, report["named"]
    assert report["cases"] >= 300
    # The mutations reach both ends: many files stay readable, many do not.
    assert report["outcomes"].get("digit", 0) > 50 and report["outcomes"]["message"] > 50, report["outcomes"]
    assert report["peak_after_mb"] - report["peak_before_mb"] < 100, report


def test_the_canvas_result_still_carries_its_data_url():
    # pages.common_drawing.read_drawing reads the canvas's PNG data URL itself (the component's own
    # image_data decodes any PNG unchecked); an upgrade that renamed the attribute would make
    # every drawing fail. Located, not imported: importing registers a component.
    import importlib.util
    from pathlib import Path

    package = Path(importlib.util.find_spec("streamlit_drawable_canvas").origin)
    source = package.read_text()
    assert '"_image_data_url",' in source and "self._image_data_url = image_data_url" in source
