"""Classifying 28x28 digits fast, with whichever runtime a shipped model has.

    classifier = load_classifier("cnn")
    classifier.predict_proba(images)  # (N, 28, 28) float32 in [0, 1] -> (N, 10)

``model.predict`` pays tens of milliseconds of overhead on every call (bench/latency.py), so the
Draw page never uses it. Keras models run through their LiteRT export (well under a
millisecond, and no TensorFlow import, which saves seconds of cold start); the numpy networks
run their own forward pass; a Keras model without an export falls back to a compiled
``tf.function``.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from model import MODEL_DIR
from model.scratch import load_network
from model.serving import native_stderr
from model.serving.artifacts import ArtifactError, load_card, retrain_hint, short_path, verify_weights
from model.training.results import compiled_forward


class ClassifierError(RuntimeError):
    """The model could not be loaded; the message names the file (never by its absolute path)
    and the fix."""


@dataclass
class Classifier:
    arch: str
    runtime: str  # "litert", "numpy" or "keras"
    card: dict
    _forward: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    # Why a faster model file of the same model was passed over (damaged, unloadable).
    problems: tuple[str, ...] = ()

    @property
    def test_accuracy(self) -> float | None:
        return self.card.get("test_accuracy")

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        if x.shape[1:] != (28, 28):
            raise ValueError(f"expected images of shape (N, 28, 28), got {x.shape}")
        return self._forward(np.ascontiguousarray(x))


def litert_interpreter(path: Path | None = None, content: bytes | None = None):
    """A LiteRT interpreter on one thread for a ``.tflite`` file or its bytes, tensors allocated."""
    from ai_edge_litert.interpreter import Interpreter

    with native_stderr.captured():  # its XNNPACK delegate announces itself on stderr
        interpreter = Interpreter(model_path=None if path is None else str(path), model_content=content,
                                  num_threads=1)
        interpreter.allocate_tensors()
    return interpreter


def batched_forward(interpreter) -> Callable[[np.ndarray], np.ndarray]:
    """``x[N, 28, 28] -> output[N, ...]`` through ``interpreter``, for any batch size N."""
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    # One interpreter is shared by every browser session; it is not thread-safe, and a call
    # takes well under a millisecond, so a lock costs less than a copy per session would.
    lock = threading.Lock()
    batch = [1]

    def forward(x: np.ndarray) -> np.ndarray:
        x = x.reshape(len(x), 28, 28, 1)
        with lock:
            if batch[0] != len(x):
                interpreter.resize_tensor_input(input_index, list(x.shape))
                interpreter.allocate_tensors()
                batch[0] = len(x)
            interpreter.set_tensor(input_index, x)
            interpreter.invoke()
            return interpreter.get_tensor(output_index).copy()

    return forward


def _litert_forward(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    return batched_forward(litert_interpreter(path))


def _keras_forward(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    import keras

    return compiled_forward(keras.models.load_model(path, safe_mode=True, compile=False))


def _numpy_forward(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    network = load_network(path)
    return network.predict_proba


RUNTIMES = {  # tried in this order
    "litert": ("model.tflite", _litert_forward),
    "numpy": ("weights.npz", _numpy_forward),
    "keras": ("model.keras", _keras_forward),
}


def load_forward(
    folder: Path, arch: str, runtime: str = "auto", card: dict | None = None, problems: list | None = None
) -> tuple[str, Callable[[np.ndarray], np.ndarray]]:
    """The fastest runtime ``folder`` has a working model file for, loaded and warmed up.

    With a ``card``, each file must first have the SHA-256 the card records. A file that fails
    that or fails to load is passed over for the next runtime (a damaged ``model.tflite`` for
    the ``model.keras`` beside it); why goes into ``problems``."""
    names = list(RUNTIMES) if runtime == "auto" else [runtime]
    regenerate = retrain_hint(arch)
    failures = []
    for name in names:
        filename, make_forward = RUNTIMES[name]
        path = Path(folder) / filename
        if not path.is_file():
            continue
        try:
            if card is not None:
                verify_weights(path, card, arch)
            forward = make_forward(path)
            warm = forward(np.zeros((1, 28, 28), np.float32))
        except ArtifactError as e:
            failures.append(f"{short_path(path)} is {e.problem}")
            continue
        except Exception as e:  # a corrupt file fails in many library-specific ways
            # Only the error's type: library messages carry the file's absolute path.
            failures.append(f"{short_path(path)} could not be loaded ({type(e).__name__})")
            continue
        if warm.shape != (1, 10) or not np.isfinite(warm).all():
            failures.append(f"{short_path(path)} does not output 10 probabilities")
            continue
        if problems is not None:
            problems.extend(failures)
        return name, forward
    if failures:
        raise ClassifierError(f"The model {arch} cannot be used: {'; '.join(failures)}. {regenerate}")
    files = ", ".join(RUNTIMES[n][0] for n in names)
    raise ClassifierError(f"{short_path(Path(folder))} has no model file ({files}). {regenerate}")


def load_classifier(arch: str = "cnn", model_dir: Path = MODEL_DIR, runtime: str = "auto") -> Classifier:
    """Load a shipped model with the fastest runtime it has whose file matches its card's
    SHA-256, warmed up; ``problems`` says which faster files were damaged."""
    try:
        card = load_card(arch, model_dir)
    except ArtifactError as e:
        raise ClassifierError(str(e)) from e
    problems: list[str] = []
    name, forward = load_forward(Path(model_dir) / arch, arch, runtime, card=card, problems=problems)
    return Classifier(arch, name, card, forward, tuple(problems))


def time_calls(fn: Callable[[], object], n: int, warmup: int = 10) -> list[float]:
    """Milliseconds of each of ``n`` calls of ``fn`` (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        fn()
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        fn()
        out.append((clock() - t0) / 1e6)
    return out


def inference_ms(
    forward: Callable[[np.ndarray], np.ndarray], image: np.ndarray, calls: int = 300
) -> float:
    """Median milliseconds ``forward`` takes for one 28x28 ``image``, as the Draw page calls it;
    the cards record it."""
    x = np.ascontiguousarray(np.asarray(image, np.float32).reshape(1, 28, 28))
    return float(np.median(time_calls(lambda: forward(x), calls, warmup=20)))
