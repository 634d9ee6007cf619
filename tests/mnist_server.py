"""A real web server on 127.0.0.1 serving the MNIST files, for the download tests: as they are,
slowly (so that a test can watch the progress bar and press Get MNIST again while it runs), with
one file's bytes changed (its checksum must refuse it), or hanging up part-way through a file.

    with MnistServer(mnist_dir, slow_file="train-images-idx3-ubyte.gz") as server:
        download_mnist(folder, server.url)
        server.requests   # the file names asked for, in order
"""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHUNK = 64 * 1024


class MnistServer:
    """``wrong``: that file is served with some of its bytes changed (same size); ``cut``: that
    file's response promises the whole file and stops half-way; ``slow_file``: that file is
    sent at ``bytes_per_second``."""

    def __init__(self, folder: str | Path, wrong: str | None = None, cut: str | None = None,
                 slow_file: str | None = None, bytes_per_second: int = 2_000_000):
        self.folder, self.wrong, self.cut = Path(folder), wrong, cut
        self.slow_file, self.bytes_per_second = slow_file, bytes_per_second
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/mnist/"

    def _handler(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                name = self.path.rsplit("/", 1)[-1]
                with outer._lock:
                    outer.requests.append(name)
                path = outer.folder / name
                if not self.path.startswith("/mnist/") or "/" in name or not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                if name == outer.wrong:
                    body = body[:1000] + bytes(b ^ 0xFF for b in body[1000:1100]) + body[1100:]
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name == outer.cut:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True  # hangs up with half the promised bytes sent
                    return
                pause = CHUNK / outer.bytes_per_second if name == outer.slow_file else 0.0
                for start in range(0, len(body), CHUNK):
                    self.wfile.write(body[start:start + CHUNK])
                    if pause:
                        time.sleep(pause)

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self) -> MnistServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
