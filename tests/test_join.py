"""The join panel's address and QR code (model/classroom/join.py), without a browser."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from model.classroom.join import PUBLIC_URL_ENV, join_address, qr_png


@pytest.fixture(autouse=True)
def no_public_url(monkeypatch):
    monkeypatch.delenv(PUBLIC_URL_ENV, raising=False)


@pytest.mark.parametrize(
    "page_url, network_ip, expected",
    [
        # The teacher opened the app by its network address: students open the same.
        ("http://10.0.0.5:8501/?present=1", "10.0.0.5", "http://10.0.0.5:8501/"),
        ("https://digits.example.org/training", None, "https://digits.example.org/"),
        # Opened on the server itself: no student can reach localhost, so its network address.
        ("http://localhost:8501/?present=1", "192.168.1.20", "http://192.168.1.20:8501/"),
        ("http://127.0.0.1:8501/", "192.168.1.20", "http://192.168.1.20:8501/"),
        ("http://[::1]:8501/", "192.168.1.20", "http://192.168.1.20:8501/"),
        ("http://localhost:8501/", None, None),
        (None, "192.168.1.20", None),
    ],
)
def test_join_address(page_url, network_ip, expected):
    assert join_address(page_url, network_ip) == expected


def test_a_public_url_wins(monkeypatch):
    monkeypatch.setenv(PUBLIC_URL_ENV, " https://digits.school.example ")
    assert join_address("http://localhost:8501/", "10.0.0.5") == "https://digits.school.example"
    assert join_address("http://localhost:8501/", "10.0.0.5", public_url="http://x.test/") == "http://x.test/"


@pytest.mark.parametrize("text", ["http://192.168.1.20:8501/", "https://digits.school.example/class/room-12"])
def test_the_qr_code_decodes_to_the_address(text):
    png = qr_png(text)
    assert png.startswith(b"\x89PNG")
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert decoded == text
    # Shrunk to half (a QR on a far-away projector, seen by a phone's camera), still read.
    small = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    assert cv2.QRCodeDetector().detectAndDecode(small)[0] == text
