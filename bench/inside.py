"""The Inside page: are its saliency maps faithful, and is the page fast on a new drawing?

    MNIST_DIR=... .venv/bin/python bench/inside.py [--arch cnn] [--n 500] [--drawings 15]

(1) Faithfulness (the deletion test). On ``--n`` MNIST test digits, per method: the mean fall
    of the predicted class's probability when the 10% of ink pixels with the highest saliency
    are set to 0, against the mean fall for a random 10% of ink pixels (mean of 4 draws). Target:
    ratio >= 4 for every method.
(2) Sanity check (Adebayo et al. 2018, full randomisation): the same, with each map computed on
    a copy of the model whose every weight array is shuffled (the trained model still judges
    the deletions). A method whose maps depend on what the model learnt loses its
    faithfulness: target, the shuffled maps' top 10% costs at most a third of what the trained
    maps' top 10% costs. Their ratio to a random 10% is printed too; it stays above 1, since
    erasing any clump of ink (the maps are smooth) hurts more than scattered pixels. Also
    Adebayo's similarity: the Spearman rank correlation of each digit's two maps on its ink.
(3) Server time of the whole Inside page on a new drawing: ``app.py`` on the Inside page run
    headless (Streamlit's AppTest) with ``--drawings`` different drawings in the session, each
    a fresh one (nothing cached), after one warm-up drawing (TensorFlow loaded). Median and max
    of the script's run time. Target: median <= 300 ms. Also each part's own time, by calling
    model/explaining/explain.py as the page does.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from threadpoolctl import threadpool_limits  # noqa: E402

from model import MODEL_DIR  # noqa: E402
from model.explaining import explain  # noqa: E402

TARGET_RATIO = 4.0
SHUFFLED_KEEPS_AT_MOST = 1 / 3
TARGET_PAGE_MS = 300.0


def faithfulness(arch: str, images: np.ndarray, shuffled: bool = False, seed: int = 0) -> dict[str, dict]:
    """Per method: mean drop with the map's top 10%, with a random 10%, their ratio, and the
    maps themselves."""
    judge = explain._predictor(arch, str(MODEL_DIR))
    predicted = judge(images).argmax(axis=1)
    if shuffled:
        model = explain.shuffled_weights(explain.gradient_network(arch), seed=seed)

        def predict(x):
            with threadpool_limits(1):
                return model.predict_proba(x)

    out = {}
    for method in explain.SALIENCY_METHODS:
        if method == "integrated_gradients" and not explain.has_gradients(arch):
            continue
        started = time.perf_counter()
        if not shuffled:
            maps = np.stack([explain.saliency(arch, x, int(t), method) for x, t in zip(images, predicted)])
        elif method == "occlusion":
            maps = np.concatenate([explain.occlusion_maps(predict, x, [int(t)]) for x, t in zip(images, predicted)])
        else:
            maps = np.concatenate([explain.integrated_gradients_maps(model, x, [int(t)]) for x, t in zip(images, predicted)])
        seconds = time.perf_counter() - started
        salient, random = explain.deletion_drops(judge, images, maps)
        out[method] = dict(salient=float(salient.mean()), random=float(random.mean()),
                           ratio=float(salient.mean() / max(random.mean(), 1e-12)),
                           ms_per_digit=1000 * seconds / len(images), maps=maps)
    return out


def rank_similarity(maps_a: np.ndarray, maps_b: np.ndarray, images: np.ndarray) -> float:
    """Mean Spearman rank correlation of two maps of each digit over its ink pixels."""
    from scipy.stats import spearmanr

    values = []
    for a, b, image in zip(maps_a, maps_b, images):
        ink = image > 0
        values.append(spearmanr(a[ink], b[ink]).statistic)
    return float(np.nanmean(values))


def new_drawings(count: int) -> list[np.ndarray]:
    """Different drawings on the Draw page's 400x400 canvas: every digit, pens and sizes."""
    from tests.drawing import render

    rng = np.random.default_rng(7)
    drawings = []
    for k in range(count):
        scale = float(rng.uniform(0.3, 0.8))
        offset = tuple(float(v) for v in rng.uniform(0.02, 0.98 - scale, 2))
        drawings.append(render(k % 10, width=int(rng.choice([12, 22, 34])), scale=scale, offset=offset))
    return drawings


def page_times(arch: str, drawings: list[np.ndarray]) -> list[float]:
    """Milliseconds of the Inside page's script run for each drawing (after a warm-up one)."""
    import streamlit.testing.v1.app_test as app_test
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    from model.data.preprocess import canvas_to_mnist

    class RoutedPagesManager(PagesManager):
        # As after one real run of app.py: no detour through the old pages/ mode.
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    original, app_test.PagesManager = app_test.PagesManager, RoutedPagesManager
    try:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
        at.session_state["arch"] = arch
        at.switch_page("pages/inside.py")
        times = []
        for k, rgba in enumerate(drawings):
            at.session_state["drawing"] = {"rgba": rgba, "image": canvas_to_mnist(rgba)}
            started = time.perf_counter()
            at.run()
            elapsed = 1000 * (time.perf_counter() - started)
            if at.exception or at.error:
                raise SystemExit(f"the Inside page failed: {[e.value for e in (*at.exception, *at.error)]}")
            if k > 0:
                times.append(elapsed)
        return times
    finally:
        app_test.PagesManager = original


def part_times(arch: str, drawings: list[np.ndarray]) -> dict[str, float]:
    """Median milliseconds of each computation the page makes for a new drawing."""
    from model.data.preprocess import canvas_to_mnist

    parts: dict[str, list[float]] = {}

    def timed(name, fn):
        started = time.perf_counter()
        result = fn()
        parts.setdefault(name, []).append(1000 * (time.perf_counter() - started))
        return result

    for rgba in drawings:
        image = canvas_to_mnist(rgba)
        p = timed("predict", lambda: explain.predict_proba(arch, image)[0])
        targets = [int(t) for t in np.argsort(p)[::-1][:2]]
        timed("pipeline_steps", lambda: explain.pipeline_steps(rgba))
        timed("feature_maps", lambda: explain.feature_maps(arch, image))
        timed("occlusion (2 digits)", lambda: explain.saliencies(arch, image, targets, "occlusion"))
        if explain.has_gradients(arch):
            timed("integrated gradients (2 digits)",
                  lambda: explain.saliencies(arch, image, targets, "integrated_gradients"))
    return {name: float(np.median(values[1:] or values)) for name, values in parts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="cnn")
    parser.add_argument("--n", type=int, default=500, help="MNIST test digits for the deletion test")
    parser.add_argument("--drawings", type=int, default=15, help="new drawings timed on the page")
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DIR"))
    parser.add_argument("--skip-faithfulness", action="store_true")
    args = parser.parse_args(argv)
    failed = False

    if not args.skip_faithfulness:
        from model.data.mnist import load_mnist, unit_pixels

        images = unit_pixels(load_mnist(args.data_dir).test.images[: args.n])
        print(f"Faithfulness of {args.arch}'s saliency on {len(images)} MNIST test digits "
              "(deleting 10% of the ink: fall of the predicted class's probability)")
        trained = faithfulness(args.arch, images)
        for method, r in trained.items():
            ok = r["ratio"] >= TARGET_RATIO
            failed |= not ok
            print(f"  trained model     {method:21s} top-10% {r['salient']:.4f}  random {r['random']:.4f}  "
                  f"ratio {r['ratio']:5.1f} (target >= {TARGET_RATIO:g}) {'PASS' if ok else 'FAIL'}  "
                  f"[{r['ms_per_digit']:.0f} ms/digit]")
        print("Sanity check: the same maps computed on the model with its weights shuffled")
        for method, r in faithfulness(args.arch, images, shuffled=True).items():
            kept = r["salient"] / trained[method]["salient"]
            ok = kept <= SHUFFLED_KEEPS_AT_MOST
            failed |= not ok
            similarity = rank_similarity(trained[method]["maps"], r["maps"], images)
            print(f"  shuffled weights  {method:21s} top-10% {r['salient']:.4f}  random {r['random']:.4f}  "
                  f"ratio {r['ratio']:5.1f}; keeps {kept:.0%} of the trained maps' effect "
                  f"(target <= {SHUFFLED_KEEPS_AT_MOST:.0%}) {'PASS' if ok else 'FAIL'}; "
                  f"rank correlation with the trained maps {similarity:+.2f}")

    drawings = new_drawings(args.drawings + 1)
    parts = part_times(args.arch, drawings)
    print(f"Each part for a new drawing ({args.arch}, median ms over {len(drawings) - 1}):")
    for name, ms in parts.items():
        print(f"  {name:34s} {ms:7.1f}")
    times = page_times(args.arch, new_drawings(args.drawings + 1)[::-1])
    median = float(np.median(times))
    ok = median <= TARGET_PAGE_MS
    failed |= not ok
    print(f"Whole Inside page, new drawing (AppTest script run, {len(times)} drawings): median {median:.0f} ms, "
          f"max {max(times):.0f} ms (target median <= {TARGET_PAGE_MS:.0f}) {'PASS' if ok else 'FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
