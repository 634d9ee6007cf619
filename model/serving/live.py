"""What the Draw page's browser needs to read a drawing itself while the pen moves: LiteRT.js's
runtime (built by ``make js`` into ``static/live-<hash>/``, committed, so serving needs only
Python) and the model's own ``.tflite``, published gzipped into ``static/models/`` under the
SHA-256 of its bytes. Streamlit serves ``static/`` at ``/app/static/``
(``server.enableStaticServing``).

Every served file is named by its content, so a browser may keep it for good (it fetches them
with ``cache: "force-cache"``), and every large one is stored gzipped and served as it is
(``application/gzip``, which Streamlit's gzip middleware leaves alone; the browser unpacks it
with ``DecompressionStream``): thirty students opening the page cost the server no compression.
No Streamlit here.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.serving.artifacts import DIGESTS_KEY, REPO_DIR

STATIC_DIR = REPO_DIR / "static"
STATIC_URL = "app/static"  # where Streamlit serves STATIC_DIR, below the app's base URL
RUNTIME_PREFIX = "live-"
MODELS = "models"  # static/models/: written by the app, kept out of git
TFLITE = "model.tflite"


@dataclass(frozen=True)
class LiveFiles:
    """Paths below the static URL: the runtime's folder (ends in "/") and the gzipped model."""

    runtime: str
    model: str


def runtime_folder(static_dir: Path = STATIC_DIR) -> str | None:
    """The built runtime's folder name (``live-<hash>``), or ``None`` if there is none whole."""
    try:  # the folders' own times change when a file in them is added or removed
        stamp = tuple((p.name, p.stat().st_mtime_ns) for p in Path(static_dir).glob(f"{RUNTIME_PREFIX}*"))
    except OSError:
        return None
    return _runtime_folder(str(static_dir), stamp)


@functools.lru_cache(maxsize=8)
def _runtime_folder(static_dir: str, stamp: tuple) -> str | None:
    # Read once per state of the folder: every stroke's rerun asks.
    for folder in sorted(Path(static_dir).glob(f"{RUNTIME_PREFIX}*")):
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
        except (OSError, ValueError):
            continue
        if manifest.get("folder") == folder.name and all((folder / n).is_file() for n in manifest.get("files", {})):
            return folder.name
    return None


def batch_of_one(tflite: bytes) -> bytes:
    """The same model with every tensor's unknown batch size (-1 in its shape signature) set to
    1: LiteRT.js cannot resize a model's input, and exported models take a batch of any size.
    The shapes LiteRT already plans with (``shape``) are 1 there; weights and operators are the
    same bytes. Each -1 is overwritten in place, so the file keeps its size and layout."""
    from ai_edge_litert import schema_py_generated as schema  # flatbuffers only, no runtime

    data = bytearray(tflite)
    model = schema.Model.GetRootAsModel(data, 0)
    for g in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(g)
        for t in range(subgraph.TensorsLength()):
            # A numpy view into `data` itself (flatbuffers' GetVectorAsNumpy), so this writes the file.
            signature = subgraph.Tensors(t).ShapeSignatureAsNumpy()
            if isinstance(signature, np.ndarray):
                signature[signature == -1] = 1
    return bytes(data)


@functools.lru_cache(maxsize=64)
def _published(path: str, size: int, mtime_ns: int, expected: str | None, static_dir: str) -> str | None:
    data = Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if expected is not None and digest != expected:
        return None  # not the file the card vouches for: the server did not run it either
    name = f"{MODELS}/{digest[:24]}-b1.tflite.gz"
    target = Path(static_dir) / name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed: a browser never gets half a file.
        with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".tmp", delete=False) as out:
            out.write(gzip.compress(batch_of_one(data), compresslevel=9, mtime=0))
        os.chmod(out.name, 0o644)  # a proxy serving static/ itself must be able to read it
        os.replace(out.name, target)
    return name


def live_files(model_folder: Path, card: dict, static_dir: Path = STATIC_DIR) -> LiveFiles | None:
    """The files for reading live with the ``.tflite`` in ``model_folder`` (checked against the
    SHA-256 on ``card``); ``None`` when there is no runtime build, no ``.tflite`` (the numpy
    models) or it fails its checksum, or it cannot be published."""
    runtime = runtime_folder(static_dir)
    path = Path(model_folder) / TFLITE
    if runtime is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    digests = card.get(DIGESTS_KEY)
    expected = digests.get(TFLITE) if isinstance(digests, dict) else None
    try:
        model = _published(str(path), stat.st_size, stat.st_mtime_ns, expected, str(static_dir))
    except OSError:
        return None
    return None if model is None else LiveFiles(f"{runtime}/", model)
