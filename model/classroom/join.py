"""How a class joins: the address students open, and a QR code of it.

Plain functions, no Streamlit: the Draw page's big-screen mode shows them, tests decode them.
"""
from __future__ import annotations

import io
import ipaddress
import os
from urllib.parse import urlsplit, urlunsplit

import segno

# Set it when the app is served behind a proxy or under a name the server cannot see itself
# (e.g. https://digits.school.example): it is then the address shown, as given.
PUBLIC_URL_ENV = "DIGITLAB_PUBLIC_URL"


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def join_address(page_url: str | None, network_ip: str | None = None,
                 public_url: str | None = None) -> str | None:
    """The address a student's device opens to reach this app.

    ``public_url`` (default: ``$DIGITLAB_PUBLIC_URL``) wins. Otherwise the address the teacher's
    browser used (``page_url``, its scheme, host and port only), except that a loopback host
    (``localhost``, ``127.0.0.1``), which no other device can reach, is replaced by the server's
    network address ``network_ip`` (what Streamlit prints as its "Network URL"). None when
    nothing better than a loopback address is known.
    """
    public_url = os.environ.get(PUBLIC_URL_ENV) if public_url is None else public_url
    if public_url and public_url.strip():
        return public_url.strip()
    if not page_url:
        return None
    parts = urlsplit(page_url)
    host = parts.hostname or ""
    if _is_loopback(host):
        if not network_ip:
            return None
        host = network_ip
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme or "http", netloc, "/", "", ""))


def qr_png(text: str, scale: int = 8) -> bytes:
    """A QR code of ``text`` as PNG bytes: black on white with the standard quiet zone, medium
    error correction (a projector's glare or a phone held at an angle still reads it)."""
    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
