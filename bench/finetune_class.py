"""Does fine-tuning on a class's drawings help? A synthetic class (tests/drawing.py: writers
with their own slant, width, pen and wobble, writing some digits in styles MNIST hardly has,
e.g. the continental 1) is imported through model.classroom.classdata into a fresh SQLite database;
``model.classroom.finetune`` trains the shipped model on it; the figures are its card's before/after
scores (held-out writers, MNIST test) and both models' accuracy on the other drawn test digits
(the plain DIGITS paths at many sizes, places and pens, which no writer of the class used).

    MNIST_DIR=... nice -n 10 .venv/bin/python bench/finetune_class.py            # into a temp folder
    MNIST_DIR=... nice -n 10 .venv/bin/python bench/finetune_class.py --out model --name cnn_class

PASS: held-out-writer accuracy up by at least 1 point, MNIST test down by at most 0.1 point.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from model import MODEL_DIR  # noqa: E402
from model.classroom import classdata  # noqa: E402
from model.classroom.finetune import finetune  # noqa: E402
from model.classroom.storage import Storage  # noqa: E402
from model.data.preprocess import canvas_to_mnist  # noqa: E402
from model.serving.inference import load_classifier  # noqa: E402
from tests.drawing import DIGITS, ONE_STROKE, class_drawings, digit_strokes, render  # noqa: E402

MIN_GAIN, MAX_MNIST_DROP = 0.01, 0.001


def plain_drawn_digits(seed: int = 7, per_digit: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """The hand-written DIGITS and ONE_STROKE paths, as the Draw page would read them, at random
    sizes, places and pens: the other drawn test digits."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for digit in range(10):
        for k in range(per_digit):
            scale = float(rng.uniform(0.25, 0.9))
            offset = tuple(float(v) for v in rng.uniform(0.02, 0.98 - scale, 2))
            strokes = digit_strokes(digit, scale, offset, one_stroke=bool(k % 2))
            image = canvas_to_mnist(render(strokes, width=int(rng.integers(8, 46))))
            if image is not None:
                images.append(image)
                labels.append(digit)
    return np.stack(images), np.array(labels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=40)
    parser.add_argument("--per-digit", type=int, default=4)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--arch", default="cnn")
    parser.add_argument("--name", default="cnn_class")
    parser.add_argument("--out", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--mnist-digits", type=int, default=None)
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    assert DIGITS and ONE_STROKE  # the plain paths the class did not use

    images, labels, sessions = class_drawings(args.writers, args.per_digit, seed=args.seed)
    print(f"class: {len(images)} drawings by {args.writers} synthetic writers")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/class.sqlite3"
        buffer = io.BytesIO()
        np.savez(buffer, images=images, labels=labels, sessions=sessions)
        storage = Storage(url)
        classdata.import_npz(storage, buffer.getvalue(), class_code="SYNTH")
        storage.close()
        out = args.out or Path(folder) / "models"
        extra = {k: v for k, v in (("epochs", args.epochs), ("mnist_digits", args.mnist_digits),
                                                ("learning_rate", args.learning_rate)) if v}
        card = finetune(url, args.arch, args.name, out=out, data_dir=args.data_dir, class_code="SYNTH", **extra)
        before, after = card["scores"]["before"], card["scores"]["after"]
        plain_x, plain_y = plain_drawn_digits()
        base = load_classifier(args.arch, MODEL_DIR).predict_proba(plain_x).argmax(1)
        tuned = load_classifier(args.name, out).predict_proba(plain_x).argmax(1)
        plain = {"before": float((base == plain_y).mean()), "after": float((tuned == plain_y).mean()), "n": len(plain_y)}
    print(json.dumps({"scores": card["scores"], "class_data": card["class_data"], "plain_drawn": plain,
                      "train_seconds": card["train_seconds"]}, indent=1))
    gain = after["held_out_class"] - before["held_out_class"]
    drop = before["mnist_test"] - after["mnist_test"]
    ok = gain >= MIN_GAIN and drop <= MAX_MNIST_DROP + 1e-9
    ones = (before["held_out_class_per_digit"][1], after["held_out_class_per_digit"][1])
    print(f"held-out writers {before['held_out_class']:.2%} -> {after['held_out_class']:.2%} ({gain * 100:+.1f} pp; "
          f"their 1s {ones[0]:.0%} -> {ones[1]:.0%}); blend {card['finetune']['blend']['mix']:.0%}; "
          f"MNIST test {before['mnist_test']:.2%} -> {after['mnist_test']:.2%} ({-drop * 100:+.2f} pp); "
          f"other drawn digits {plain['before']:.2%} -> {plain['after']:.2%} (n={plain['n']}); "
          f"{card['train_seconds'] / 60:.1f} min training -> {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
