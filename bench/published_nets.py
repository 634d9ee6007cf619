"""What training the published 99.7-99.8% single networks would cost on this machine.

    .venv/bin/python bench/published_nets.py [--steps 15]

The target for `cnn` is 99.70% on the MNIST test set. Among the single networks published above
that are Byerly, Kalganova and Dear's M3 and M5 ("No routing needed between capsules", 2021):
plain stacks of unpadded convolutions with batch normalisation and no pooling. Their published
training code (github.com/AdamByerly/BMCNNwHFCs) runs each network 300 epochs and asks for a
GPU. This times one training step (a batch of 128, forward and backward, Adam) of networks
of their size against our `cnn`, in the same process, and scales the ratio by the seconds a
`cnn` epoch took in its shipped training run (``model/cnn/history.json``, augmentation and
validation included). Their capsule heads are replaced by a dense layer: cheaper, if anything.
It also times each network's LiteRT export on one digit, as the Draw page would run it (issue
3's budget for preprocessing plus the model is 2 ms); ``--no-inference`` skips that.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from model import MODEL_DIR  # noqa: E402

BATCH = 128
PUBLISHED_EPOCHS = 300
# (kernel, channels per layer): M3 is ten 3x3 layers of 32-176 channels, M5 five 5x5 of 32-160.
PUBLISHED = {
    "M3 (10 conv 3x3)": (3, tuple(range(32, 177, 16))),
    "M5 (5 conv 5x5)": (5, (32, 64, 96, 128, 160)),
}


def build_plain_stack(kernel: int, channels: tuple[int, ...], name: str):
    import keras
    from keras import layers

    x = inputs = keras.Input(shape=(28, 28, 1))
    for filters in channels:
        x = layers.Conv2D(filters, kernel, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
    outputs = layers.Dense(10, activation="softmax")(layers.Flatten()(x))
    return keras.Model(inputs, outputs, name=name)


def seconds_per_step(model, steps: int, warmup: int = 3) -> float:
    import numpy as np

    from model.serving.inference import time_calls

    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, BATCH)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    # The warm-up calls trace the step and make its first allocations.
    return statistics.median(time_calls(lambda: model.train_on_batch(x, y), steps, warmup)) / 1000


def litert_ms(model) -> float:
    """Median milliseconds of one digit through ``model``'s LiteRT export, loaded as the Draw page
    loads a shipped model (weights untrained: the cost does not depend on them)."""
    import contextlib
    import io
    import tempfile

    import numpy as np

    from model.serving.inference import inference_ms, load_forward
    from model.training.results import export_litert

    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        export_litert(model, Path(folder) / "model.tflite")  # Keras prints the exported signature
        _, forward = load_forward(Path(folder), model.name, runtime="litert")
        return inference_ms(forward, np.zeros((28, 28), np.float32), calls=300)


def measure(steps: int = 15, warmup: int = 3, inference: bool = True,
            history_path: Path = MODEL_DIR / "cnn" / "history.json") -> list[dict]:
    from model.training.networks import build_cnn

    epochs = json.loads(Path(history_path).read_text())["epochs"]
    cnn_epoch_seconds = statistics.median(e["seconds"] for e in epochs)
    models = {"cnn (ours)": build_cnn()}
    models.update({name: build_plain_stack(k, c, name.split()[0]) for name, (k, c) in PUBLISHED.items()})
    step = {name: seconds_per_step(model, steps, warmup) for name, model in models.items()}
    base = step["cnn (ours)"]
    rows = []
    for name, model in models.items():
        epoch_minutes = step[name] / base * cnn_epoch_seconds / 60
        rows.append({"network": name, "params": model.count_params(), "step_ms": step[name] * 1000,
                     "ratio": step[name] / base, "epoch_minutes": epoch_minutes,
                     "published_run_hours": epoch_minutes * PUBLISHED_EPOCHS / 60,
                     "litert_ms": litert_ms(model) if inference else None})
    return rows


def report(rows: list[dict]) -> str:
    lines = [f"{'network':18s} {'params':>10s} {'ms a step':>10s} {'x cnn':>6s} {'min an epoch':>13s} "
             f"{'h for ' + str(PUBLISHED_EPOCHS) + ' epochs':>16s} {'LiteRT ms a digit':>18s}"]
    for r in rows:
        litert = "-" if r["litert_ms"] is None else f"{r['litert_ms']:.2f}"
        lines.append(f"{r['network']:18s} {r['params']:>10,d} {r['step_ms']:10.1f} {r['ratio']:6.1f} "
                     f"{r['epoch_minutes']:13.1f} {r['published_run_hours']:16.1f} {litert:>18s}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15, help="timed training steps per network (default 15)")
    parser.add_argument("--no-inference", action="store_true", help="skip the LiteRT timing")
    args = parser.parse_args(argv)
    print(report(measure(args.steps, inference=not args.no_inference)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
