"""Hostile input for the guards from bytes to pixels: the files and canvas payloads that broke
the app before, and byte mutations of valid images.

    from tests.hostile import hostile_files, canvas_payloads, mutations, fuzz

``hostile_files()`` are uploads (name -> bytes); ``canvas_payloads()`` are what a student with
devtools can make the canvas send (name -> data URL); ``fuzz()`` runs both guards over them and
over generated mutations, and says what each case came to.
"""
from __future__ import annotations

import base64
import io
import resource
import struct
import time
import zlib

import numpy as np
from PIL import Image, PngImagePlugin

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CANVAS_SIDE = 400  # the Draw page's


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def digit_picture(side: int = 64) -> Image.Image:
    """A dark 7 on light paper, drawn with Pillow: a valid image to mutate."""
    from PIL import ImageDraw

    image = Image.new("L", (side, side), 235)
    draw = ImageDraw.Draw(image)
    draw.line([(side * 0.2, side * 0.2), (side * 0.8, side * 0.2), (side * 0.45, side * 0.85)], fill=20,
              width=max(2, side // 10))
    return image


def truncated_ihdr_png() -> bytes:
    """A PNG whose IHDR chunk says it is 12 bytes long, not 13 (Pillow: "Truncated IHDR chunk")."""
    header = struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)[:12]
    pixels = png_chunk(b"IDAT", zlib.compress(b"\0" * 9 * 8))
    return PNG_SIGNATURE + png_chunk(b"IHDR", header) + pixels + png_chunk(b"tEXt", b"k\0v") + png_chunk(b"IEND", b"")


def inflating_chunk_png(kind: bytes) -> bytes:
    """A small valid PNG with an iCCP or zTXt chunk that inflates past Pillow's text limit
    ("Decompressed data too large for PngImagePlugin.MAX_TEXT_CHUNK")."""
    png = encode(Image.new("L", (8, 8), 255), "PNG")
    bomb = zlib.compress(b"\0" * (PngImagePlugin.MAX_TEXT_CHUNK + 4096), 9)
    return png[:33] + png_chunk(kind, b"name\0\0" + bomb) + png[33:]


def invalid_tiff() -> bytes:
    """A TIFF whose RowsPerStrip is 0 (Pillow: "tile cannot extend outside image")."""
    data = bytearray(encode(Image.new("L", (8, 8), 255), "TIFF"))
    offset = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[offset : offset + 2])[0]):
        entry = offset + 2 + 12 * i
        if struct.unpack("<H", data[entry : entry + 2])[0] == 278:  # RowsPerStrip
            data[entry + 2 : entry + 12] = struct.pack("<HII", 4, 1, 0)
    return bytes(data)


def hostile_files() -> dict[str, bytes]:
    return {
        "truncated-ihdr.png": truncated_ihdr_png(),
        "iccp-inflates.png": inflating_chunk_png(b"iCCP"),
        "ztxt-inflates.png": inflating_chunk_png(b"zTXt"),
        "invalid-dimensions.tif": invalid_tiff(),
    }


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def blank_png(width: int, height: int, bit_depth: int = 8) -> bytes:
    """A black greyscale PNG of any size, compressed row by row: a huge one costs nothing to
    make, so the memory a test measures is what reading it costs."""
    row = b"\0" * (1 + (width * bit_depth + 7) // 8)
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return PNG_SIGNATURE + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")


def canvas_payloads() -> dict[str, str]:
    """The four forged canvas payloads: too short, not base64, and two huge drawings (41 and
    81 megapixels, each a few hundred KB of base64 at most)."""
    return {
        "short": "data:image/png;base64,AAAA",
        "not-base64": "data:image/png,hello",
        "41-megapixels": data_url(blank_png(6400, 6400)),
        "81-megapixels": data_url(blank_png(9000, 9000, bit_depth=1)),
    }


def valid_images() -> dict[str, bytes]:
    picture = digit_picture()
    return {
        "png": encode(picture, "PNG"),
        "rgba.png": encode(picture.convert("RGBA"), "PNG"),
        "jpeg": encode(picture, "JPEG", quality=85),
        "gif": encode(picture, "GIF"),
        "bmp": encode(picture, "BMP"),
        "tiff": encode(picture, "TIFF"),
        "webp": encode(picture, "WEBP"),
    }


def valid_canvas_png() -> bytes:
    canvas = Image.new("RGBA", (CANVAS_SIDE, CANVAS_SIDE), (0, 0, 0, 255))
    canvas.paste(digit_picture(240).point(lambda v: 255 - v).convert("RGBA"), (80, 80))
    return encode(canvas, "PNG")


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One random mutation, of the kinds a fuzzer makes: flipped bytes, interesting values at
    random places, a cut, a duplicated or deleted slice."""
    out = bytearray(data)
    kind = rng.integers(6)
    if kind == 0:
        for at in rng.integers(len(out), size=rng.integers(1, 9)):
            out[at] ^= 1 << int(rng.integers(8))
    elif kind == 1:
        for at in rng.integers(max(1, len(out) - 4), size=rng.integers(1, 4)):
            value = [0, 0xFF, 0x7F, 0x80, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF][rng.integers(7)]
            out[at : at + 4] = struct.pack(">I", value)
    elif kind == 2:
        out = out[: rng.integers(1, len(out))]
    elif kind == 3:
        start = int(rng.integers(len(out)))
        out[start:start] = out[start : start + int(rng.integers(1, 64))]
    elif kind == 4:
        start = int(rng.integers(len(out)))
        del out[start : start + int(rng.integers(1, 64))]
    else:
        at = int(rng.integers(len(out)))
        out[at:at] = rng.integers(256, size=int(rng.integers(1, 32)), dtype=np.uint8).tobytes()
    return bytes(out)


def mutations(cases: int, seed: int = 20261129):
    """``cases`` (name, "upload" or "canvas", payload) mutations of valid images and of a
    canvas PNG, the same ones every run."""
    rng = np.random.default_rng(seed)
    sources = valid_images()
    canvas = valid_canvas_png()
    names = sorted(sources)
    for i in range(cases):
        if i % 4 == 3:
            yield f"canvas mutation {i}", "canvas", data_url(mutate(canvas, rng))
        else:
            name = names[i % len(names)]
            yield f"{name} mutation {i}", "upload", mutate(sources[name], rng)


def _rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fuzz(cases: int = 400, seconds: float = 20.0) -> dict:
    """Every hostile file, canvas payload and ``cases`` mutations through ``upload_to_mnist``
    and the canvas reader (``canvas_payload_to_rgba`` then ``read_canvas``), stopping after
    ``seconds``. Returns counts of what each came to, any case that ended in another
    exception (with its error), and the process's peak RSS before and after."""
    from model.data.preprocess import ImageError, canvas_payload_to_rgba, read_canvas, upload_to_mnist

    def upload(data):
        out = upload_to_mnist(data)
        assert out is None or (out.shape == (28, 28) and out.dtype == np.float32)
        return "digit" if out is not None else "no digit"

    def canvas(payload):
        rgba = canvas_payload_to_rgba(payload, CANVAS_SIDE, CANVAS_SIDE)
        reading = read_canvas(rgba)
        return "digit" if reading.image is not None else reading.problem

    named = [(name, "upload", data) for name, data in hostile_files().items()]
    named += [(name, "canvas", payload) for name, payload in canvas_payloads().items()]
    cases_to_run = [*named, *mutations(cases)]
    # Warm every code path once on valid input, so the peak measured is the input's doing.
    for data in valid_images().values():
        upload(data)
    canvas(data_url(valid_canvas_png()))
    before = _rss_peak_mb()
    outcomes: dict[str, int] = {}
    named_outcomes: dict[str, str] = {}
    messages: set[str] = set()
    escaped: list[str] = []
    started, done = time.monotonic(), 0
    for name, path, payload in cases_to_run:
        if done >= len(named) and time.monotonic() - started > seconds:
            break
        try:
            outcome = (upload if path == "upload" else canvas)(payload)
        except ImageError as error:
            outcome = "message"
            messages.add(str(error))
        except Exception as error:  # noqa: BLE001 - what the test looks for
            outcome = "escaped"
            escaped.append(f"{name}: {type(error).__name__}: {error}")
        if done < len(named):
            named_outcomes[name] = outcome
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        done += 1
    return {"cases": done, "outcomes": outcomes, "named": named_outcomes, "messages": sorted(messages),
            "escaped": escaped, "peak_before_mb": before, "peak_after_mb": _rss_peak_mb(),
            "seconds": time.monotonic() - started}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(fuzz(*[float(a) if "." in a else int(a) for a in sys.argv[1:]]), indent=1))
