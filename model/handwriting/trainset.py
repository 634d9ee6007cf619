"""The pen-domain drawings a network for the canvas trains on, and the writers it never sees.

    drawings = pen_drawings(train_split, pen_samples, seed=0)   # Drawings(images, labels, kinds)

Three kinds, every one drawn on a 400 px canvas by ``model.handwriting.canvas`` (random size,
place and pen) and read by the app's own ``canvas_to_mnist``, so a network learns the images the
Draw page really makes:

- ``mnist-redrawn``: each MNIST training digit's centre line, warped (affine and elastic) and
  drawn with a round pen (``model.handwriting.redraw``): 55,000 writers' shapes, a canvas's pen;
- ``styles``: the named styles of ``model.handwriting.styles`` (continental 1s, crossed 7s,
  slashed zeros...), which MNIST's writers hardly used;
- ``pen``: real pen-drawn digits from public stroke data (``model.handwriting.sources``), only
  from writers outside the benchmark (``is_benchmark_writer``).

Drawing is about 7 ms a digit, so the set is built in worker processes and cached in the data
folder, keyed by what went in.
"""
from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model import data_dir
from model.handwriting import sources
from model.handwriting.canvas import draw_like_a_student
from model.handwriting.redraw import centre_lines, warp
from model.handwriting.styles import STYLES, Hand
from model.data.preprocess import canvas_to_mnist

KINDS = ("mnist-redrawn", "styles", "pen")
STYLE_DRAWINGS = 600  # per style
VALIDATION_DRAWINGS = 3000  # of MNIST's validation digits, also drawn with a pen to pick the epoch
PEN_REPEATS = 3  # each real training sample, drawn at this many sizes, places and pens
# The share of each source's writers kept for the benchmark only. UCI's pendigits file is that
# set's own writer-independent test half, so all of it; UNIPEN's 268 writers are split.
BENCHMARK_SHARE = {"uci_pendigits": 1.0, "unipen_1a": 0.5}
CACHE_VERSION = 2  # 2: strokes smoothed the way Fabric paints them


@dataclass
class Drawings:
    images: np.ndarray  # (N, 28, 28) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64
    kinds: np.ndarray  # (N,) str, one of KINDS

    def __len__(self) -> int:
        return len(self.labels)


def is_benchmark_writer(source: str, writer: str) -> bool:
    """Whether a writer belongs to the benchmark (never to training): a fixed choice from a hash
    of the writer id (unique across sources), so every run and every machine agrees."""
    digest = hashlib.sha256(writer.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2 ** 32 < BENCHMARK_SHARE.get(source, 0.5)


def ink_key(sample) -> str:
    """The same ink gives the same key: UNIPEN repeats 486 samples, some under two writer ids."""
    return hashlib.sha256(b"".join(np.ascontiguousarray(s, np.float32).tobytes() for s in sample.strokes)).hexdigest()


def split_writers(samples: list) -> tuple[list, list]:
    """(training, benchmark) samples: by writer, and no training sample with ink the benchmark has."""
    benchmark = [s for s in samples if is_benchmark_writer(s.source, s.writer)]
    seen = {ink_key(s) for s in benchmark}
    training = [s for s in samples if not is_benchmark_writer(s.source, s.writer) and ink_key(s) not in seen]
    return training, benchmark


def _read(pixels: np.ndarray) -> np.ndarray | None:
    image = canvas_to_mnist(pixels)
    return None if image is None else image.astype(np.float32)


def _redrawn(job: tuple[np.ndarray, np.ndarray, int]) -> tuple[np.ndarray, np.ndarray]:
    images, labels, seed = job
    rng = np.random.default_rng(seed)
    out, kept = [], []
    for image, label in zip(images, labels):
        strokes = warp(centre_lines(image / 255.0), rng)
        if not strokes:
            continue
        drawn = _read(draw_like_a_student(strokes, rng)[0])
        if drawn is not None:
            out.append(drawn)
            kept.append(label)
    return np.stack(out), np.array(kept, np.int64)


def _styled(job: tuple[str, int, int]) -> tuple[np.ndarray, np.ndarray]:
    name, count, seed = job
    style = STYLES[name]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        drawn = _read(draw_like_a_student(style.draw(rng, Hand.random(rng)), rng)[0])
        if drawn is not None:
            out.append(drawn)
    return np.stack(out), np.full(len(out), style.digit, np.int64)


def _pen(job: tuple[list, int, int]) -> tuple[np.ndarray, np.ndarray]:
    samples, repeats, seed = job
    rng = np.random.default_rng(seed)
    out, kept = [], []
    for sample in samples:
        for _ in range(repeats):
            drawn = _read(draw_like_a_student(sample.strokes, rng)[0])
            if drawn is not None:
                out.append(drawn)
                kept.append(sample.label)
    if not out:
        return np.zeros((0, 28, 28), np.float32), np.zeros(0, np.int64)
    return np.stack(out), np.array(kept, np.int64)


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def pen_drawings(mnist_images: np.ndarray, mnist_labels: np.ndarray, pen_samples: list, seed: int = 0,
                 style_drawings: int = STYLE_DRAWINGS, pen_repeats: int = PEN_REPEATS,
                 workers: int | None = None) -> Drawings:
    """All three kinds for training. ``pen_samples``: ``model.handwriting.sources.Sample``s of
    training writers only (the caller leaves the benchmark's out)."""
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    jobs_redrawn = [(mnist_images[s], mnist_labels[s], seed * 1_000_003 + k)
                    for k, s in enumerate(_chunks(len(mnist_labels), 2000))]
    jobs_styles = [(name, style_drawings, seed * 7919 + k) for k, name in enumerate(STYLES)]
    jobs_pen = [(pen_samples[s], pen_repeats, seed * 104_729 + k)
                for k, s in enumerate(_chunks(len(pen_samples), 500))]
    parts: list[tuple[str, tuple[np.ndarray, np.ndarray]]] = []
    with ProcessPoolExecutor(workers) as pool:
        parts += [("mnist-redrawn", r) for r in pool.map(_redrawn, jobs_redrawn)]
        parts += [("styles", r) for r in pool.map(_styled, jobs_styles)]
        parts += [("pen", r) for r in pool.map(_pen, jobs_pen)]
    parts = [(kind, (x, y)) for kind, (x, y) in parts if len(y)]
    return Drawings(np.concatenate([x for _, (x, _) in parts]),
                    np.concatenate([y for _, (_, y) in parts]),
                    np.concatenate([np.full(len(y), kind) for kind, (_, y) in parts]))


def cached(path: Path, build) -> Drawings:
    """``build()``'s drawings, kept in ``path`` (an .npz) for the next run."""
    if path.is_file():
        with np.load(path, allow_pickle=False) as f:
            return Drawings(f["images"], f["labels"], f["kinds"])
    drawings = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez_compressed(partial, images=drawings.images, labels=drawings.labels, kinds=drawings.kinds)
    partial.replace(path)
    return drawings


def cache_key(*parts) -> str:
    return hashlib.sha256(repr((CACHE_VERSION, *parts)).encode()).hexdigest()[:16]


def training_pen_samples(pen_dir: Path | None) -> tuple[list, dict]:
    """Every available source's digits by training writers, and what was used (for the card)."""
    samples, used = [], {}
    for name in sources.SOURCES:
        try:
            kept, _benchmark = split_writers(sources.load_strokes(name, pen_dir))
        except sources.PenDataError as e:
            print(f"note: {name} not used: {e}", file=sys.stderr)
            continue
        if kept:
            samples += kept
            used[name] = {"samples": len(kept), "writers": len({s.writer for s in kept}),
                          "licence": sources.SOURCES[name].licence}
    return samples, used


def drawings_for_run(train, val, mnist_checksums: dict, pen_dir: Path | None, seed: int,
                     limit: int | None = None) -> tuple[Drawings, Drawings, dict]:
    """A training run's pen drawings (from MNIST's ``train`` split, the styles and the training
    writers) and its validation drawings (``val`` redrawn, the styles from other seeds), cached in
    the data folder; and which pen sources went in. ``limit``: a smoke run's few drawings."""
    pen_samples, used = training_pen_samples(pen_dir)
    style_drawings, validation_drawings = STYLE_DRAWINGS, VALIDATION_DRAWINGS
    if limit:
        pen_samples, style_drawings, validation_drawings = pen_samples[:limit], 5, limit
    key = cache_key(mnist_checksums, seed, limit, sorted((n, u["samples"]) for n, u in used.items()))
    folder = data_dir() / "pen"
    drawings = cached(folder / f"trainset-{key}.npz",
                      lambda: pen_drawings(train.images, train.labels, pen_samples, seed=seed,
                                           style_drawings=style_drawings))
    val_drawn = cached(folder / f"valset-{key}.npz",
                       lambda: pen_drawings(val.images[:validation_drawings], val.labels[:validation_drawings],
                                            [], seed=seed + 1, style_drawings=max(5, style_drawings // 15)))
    return drawings, val_drawn, used
