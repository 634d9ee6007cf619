"""The deployment the README describes: the class config, the shipped nginx config (``nginx
-t``, and nginx actually in front of the app), and the app started with the documented
settings refusing a websocket whose Host header names another site (DNS rebinding)."""
from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from tests.browser import free_port

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
HOSTNAME = "digitlab.school.example"  # the placeholder the shipped files use
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it with apt as root)")
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def documented_env() -> dict[str, str]:
    """deploy/digitlab.env as a dict (the systemd EnvironmentFile every process reads)."""
    env = {}
    for line in (DEPLOY / "digitlab.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    return env


def test_the_class_config_shows_students_no_error_details():
    from streamlit.config import ShowErrorDetailsConfigOptions

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == ShowErrorDetailsConfigOptions.NONE.value
    assert config["server"]["enableXsrfProtection"] is True and config["server"]["enableCORS"] is True
    # The canvas's largest honest state (a PNG at twice its size each way, base64) must fit.
    from model.data.preprocess import _canvas_payload_limit

    assert _canvas_payload_limit(400, 400) < config["server"]["maxWidgetStateSize"] * 1e6 <= 5e6
    env = documented_env()
    assert env["STREAMLIT_SERVER_ADDRESS"] == "127.0.0.1" and env["STREAMLIT_SERVER_ALLOWED_HOSTS"] == HOSTNAME
    assert "STREAMLIT_SERVER_COOKIE_SECRET" not in env  # a secret, kept out of the repository


@contextlib.contextmanager
def documented_app(port: int):
    """``streamlit run app.py`` as deploy/digitlab@.service starts it, on ``port``."""
    env = {**os.environ, **documented_env(), "STREAMLIT_SERVER_COOKIE_SECRET": "test-secret-" + "x" * 32}
    log = open(os.devnull, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, "streamlit exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "streamlit did not start"
            time.sleep(0.25)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def websocket_status(port: int, host: str, tls_host: str | None = None) -> int:
    """The HTTP status of a websocket upgrade to /_stcore/stream sent with ``host`` as its
    Host header (101: accepted)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    if tls_host is not None:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        raw = context.wrap_socket(raw, server_hostname=tls_host)
    with raw:
        raw.sendall(
            (
                "GET /_stcore/stream HTTP/1.1\r\n"
                f"Host: {host}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: streamlit\r\n\r\n"
            ).encode()
        )
        reply = b""
        while b"\r\n" not in reply:
            chunk = raw.recv(1024)
            if not chunk:
                break
            reply += chunk
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0


def test_the_documented_settings_refuse_a_foreign_host_on_the_websocket():
    port = free_port()
    with documented_app(port):
        assert websocket_status(port, f"{HOSTNAME}:443") == 101
        assert websocket_status(port, "evil.example") == 403
        assert websocket_status(port, f"{HOSTNAME}.evil.example") == 403
        # Bound to this machine's loopback only: the proxy is the way in.
        with pytest.raises(OSError):
            socket.create_connection((non_loopback_address(), port), timeout=2).close()


def non_loopback_address() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = s.getsockname()[0]
        except OSError:
            address = "127.0.0.1"
    if address.startswith("127."):
        pytest.skip("this machine has no address besides loopback")
    return address


def nginx_config(folder: Path, upstream_port: int, http_port: int, https_port: int) -> Path:
    """deploy/nginx.conf with a throwaway certificate, its files in ``folder`` and the given
    ports: only paths and ports change."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(folder / "privkey.pem"), "-out", str(folder / "fullchain.pem"), "-subj", f"/CN={HOSTNAME}"],
        check=True, capture_output=True,
    )
    text = (DEPLOY / "nginx.conf").read_text()
    for old, new in [
        ("/etc/ssl/digitlab/", f"{folder}/"),
        ("/run/nginx-digitlab.pid", f"{folder}/nginx.pid"),
        ("/var/log/nginx/", f"{folder}/"),
        ("server 127.0.0.1:8501;", f"server 127.0.0.1:{upstream_port};"),
        ("server 127.0.0.1:8502;", ""),
        ("listen 443 ", f"listen {https_port} "),
        ("listen [::]:443 ", f"listen [::]:{https_port} "),
        ("listen 80", f"listen {http_port}"),
        ("listen [::]:80", f"listen [::]:{http_port}"),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    if not ipv6_available():
        text = "\n".join(line for line in text.splitlines() if "listen [::]:" not in line)
    path = folder / "nginx.conf"
    path.write_text(text)
    return path


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@needs_nginx
@needs_openssl
def test_the_shipped_nginx_config_is_valid(tmp_path):
    config = nginx_config(tmp_path, 8501, free_port(), free_port())
    result = subprocess.run([NGINX, "-t", "-c", str(config), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@needs_nginx
@needs_openssl
def test_nginx_in_front_of_the_app_serves_it_and_hides_the_metrics(tmp_path):
    app_port, http_port, https_port = free_port(), free_port(), free_port()
    config = nginx_config(tmp_path, app_port, http_port, https_port)
    with documented_app(app_port):
        nginx = subprocess.Popen([NGINX, "-c", str(config), "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                                  "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            context = ssl.create_default_context(cafile=str(tmp_path / "fullchain.pem"))
            context.check_hostname = False

            def get(path: str) -> http.client.HTTPResponse:
                deadline = time.monotonic() + 20
                while True:
                    try:
                        connection = http.client.HTTPSConnection("127.0.0.1", https_port, context=context, timeout=10)
                        connection.sock = context.wrap_socket(
                            socket.create_connection(("127.0.0.1", https_port), timeout=10), server_hostname=HOSTNAME
                        )
                        connection.request("GET", path, headers={"Host": HOSTNAME})
                        response = connection.getresponse()
                        response.read()
                        return response
                    except (ConnectionRefusedError, ssl.SSLError):
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.2)

            page = get("/")
            assert page.status == 200
            assert "frame-ancestors 'self'" in page.getheader("Content-Security-Policy")
            assert page.getheader("Set-Cookie").startswith("digitlab_route=")
            assert get("/_stcore/health").status == 200
            assert get("/_stcore/metrics").status == 404
            with urllib.request.urlopen(f"http://127.0.0.1:{app_port}/_stcore/metrics", timeout=5) as direct:
                assert direct.status == 200  # what the proxy hides is really there
            assert websocket_status(https_port, HOSTNAME, tls_host=HOSTNAME) == 101
            # Another name pointed at this machine gets no TLS handshake at all.
            with pytest.raises(ssl.SSLError):
                websocket_status(https_port, "evil.example", tls_host="evil.example")
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
