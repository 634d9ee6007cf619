"""What hostile input costs the server: peak memory of an upload, and the canvas payload's
decoding time, guarded against the canvas component's own.

    .venv/bin/python bench/hostile.py [--n 300]

(1) Uploads: each case runs ``model.data.preprocess.upload_to_mnist`` in a fresh process and reports
its peak RSS above the RSS it had just before (``ru_maxrss``; the image file is made in an
earlier process, so only reading it is counted). Cases: a 36-megapixel PNG and JPEG (a phone
photo's size), a 12-megapixel PNG (the largest non-JPEG accepted), a 48-megapixel JPEG.
(2) The canvas: ``canvas_payload_to_rgba`` (length, header and size checked, text chunks
dropped) against what ``CanvasResult.image_data`` does (decode whatever PNG arrives), on the
Draw page's 400x400 canvas holding a drawn 3 (medians of ``--n`` calls, three rounds).
Targets: no accepted upload over 100 MB of peak; the guarded decode no slower than the
component's (within the noise).
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

UPLOAD_PEAK_TARGET_MB = 100
CASES = [("png", 7000, 5143), ("jpeg", 7000, 5143), ("png", 4000, 3000), ("jpeg", 8000, 6000)]

_MAKE = """
import sys
import numpy as np
from PIL import Image
Image.MAX_IMAGE_PIXELS = None
kind, w, h, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
y, x = np.ogrid[0:h, 0:w]
pixels = ((x // 50 + y // 50) % 2 * 200 + 30).astype(np.uint8)
Image.fromarray(pixels).convert("RGB").save(path, "JPEG" if kind == "jpeg" else "PNG", quality=80)
"""

_READ = """
import json, resource, sys
import psutil
from model.data.preprocess import ImageError, upload_to_mnist
data = open(sys.argv[1], "rb").read()
now = psutil.Process().memory_info().rss / 2**20
try:
    outcome = "digit" if upload_to_mnist(data) is not None else "no digit"
except ImageError as error:
    outcome = "refused: " + str(error)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"outcome": outcome, "peak_mb": max(0.0, peak - now), "file_mb": len(data) / 1e6}))
"""


def upload_peaks() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind, width, height in CASES:
            path = str(Path(folder) / f"{width}x{height}.{kind}")
            subprocess.run([sys.executable, "-c", _MAKE, kind, str(width), str(height), path], check=True)
            out = subprocess.run([sys.executable, "-c", _READ, path], cwd=REPO, check=True,
                                 capture_output=True, text=True).stdout
            rows.append({"case": f"{kind} {width}x{height} ({width * height / 1e6:.0f} MP)", **json.loads(out)})
    return rows


def canvas_timings(n: int) -> list[tuple[float, float]]:
    from PIL import Image

    from bench.latency import page_drawing
    from model.data.preprocess import canvas_payload_to_rgba
    from model.serving.inference import time_calls

    buffer = io.BytesIO()
    Image.fromarray(page_drawing()).save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()

    def component():  # streamlit_drawable_canvas's CanvasResult.image_data
        _, encoded = url.split(";base64,", 1)
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))

    assert (component() == canvas_payload_to_rgba(url, 400, 400)).all()
    return [
        (float(np.median(time_calls(component, n))),
         float(np.median(time_calls(lambda: canvas_payload_to_rgba(url, 400, 400), n))))
        for _ in range(3)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="calls per timing round (default 300)")
    args = parser.parse_args(argv)
    failed = False
    print("(1) uploads: peak RSS above the process's RSS before reading")
    for row in upload_peaks():
        accepted = not row["outcome"].startswith("refused")
        over = accepted and row["peak_mb"] > UPLOAD_PEAK_TARGET_MB
        failed |= over
        print(f"  {row['case']:<28} {row['file_mb']:5.1f} MB file  peak +{row['peak_mb']:6.1f} MB  "
              f"{row['outcome'][:70]}{'  FAIL' if over else ''}")
    print("(2) the Draw page's canvas payload, 400x400: median ms a decode")
    for component, guarded in canvas_timings(args.n):
        print(f"  component's image_data {component:.3f} ms   canvas_payload_to_rgba {guarded:.3f} ms")
    print("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
