"""A shipped Keras model (``model.keras``) read and run in numpy, forward and back to its input.

Integrated gradients need the gradient of a class's score with respect to the pixels, which
LiteRT cannot give. TensorFlow could, but importing it also imports Keras, and Streamlit then
calls ``keras.backend.clear_session()`` (a full garbage collection, about half a second with
TensorFlow loaded: bench/README.md) after *every* script run of every page: each stroke on the
Draw page would pay it. So the model is read from the archive itself (its ``config.json`` and the weights in
``model.weights.h5``) and the few layer kinds the shipped models use are run here:

    network = KerasNumpy.load(Path("model/cnn/model.keras"))
    network.predict_proba(images)              # (N, 28, 28) -> (N, 10)
    network.log_odds_gradient(images, targets) # d(log-odds of targets) / d(images)

Supported: InputLayer, Conv2D (any kernel, stride, "valid"/"same"), BatchNormalization
(inference), Activation / activations "relu", "linear", "softmax", MaxPooling2D, Dropout,
Flatten, Dense. Anything else raises ``UnsupportedModel``.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class UnsupportedModel(ValueError):
    """The model has a layer this module does not run."""


def read_layers(path: Path) -> list[dict]:
    """The layer list of a ``.keras`` archive (class name + config) from its JSON, no Keras."""
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    return [{"class_name": layer["class_name"], **layer["config"]} for layer in config["config"]["layers"]]


def _snake_case(name: str) -> str:
    # Keras's own rule (keras.src.utils.naming.to_snake_case): "MaxPooling2D" -> "max_pooling2d".
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def read_weights(path: Path, layers: list[dict]) -> dict[str, list[np.ndarray]]:
    """Each layer's weight arrays (by its name in ``layers``), in Keras's order, from the
    archive's ``model.weights.h5``. The file names a layer after its class, numbered in order
    ("dense", "dense_1", ...), not by the name in the config."""
    import h5py

    with zipfile.ZipFile(path) as archive:
        data = archive.read("model.weights.h5")
    weights: dict[str, list[np.ndarray]] = {}
    seen: dict[str, int] = {}
    with h5py.File(io.BytesIO(data), "r") as h5:
        for layer in layers:
            kind = _snake_case(layer["class_name"])
            count = seen.get(kind, 0)
            seen[kind] = count + 1
            key = kind if count == 0 else f"{kind}_{count}"
            found = h5["layers"].get(key, {}).get("vars") if key in h5["layers"] else None
            if found is not None and len(found):
                weights[layer["name"]] = [np.asarray(found[str(i)], np.float32) for i in range(len(found))]
    return weights


def _same_padding(length: int, kernel: int, stride: int) -> tuple[int, int]:
    # TensorFlow's "same": the output is ceil(length / stride); the odd pixel goes at the end.
    out = -(-length // stride)
    total = max((out - 1) * stride + kernel - length, 0)
    return total // 2, total - total // 2


@dataclass
class _Step:
    kind: str
    config: dict
    weights: list[np.ndarray] = field(default_factory=list)


class KerasNumpy:
    def __init__(self, steps: list[_Step]):
        self.steps = steps

    @classmethod
    def load(cls, path: Path) -> "KerasNumpy":
        layers = read_layers(Path(path))
        weights = read_weights(Path(path), layers)
        steps = []
        for layer in layers:
            kind = layer["class_name"]
            if kind == "InputLayer" or kind == "Dropout":
                continue
            if kind not in ("Conv2D", "BatchNormalization", "Activation", "MaxPooling2D", "Flatten", "Dense"):
                raise UnsupportedModel(f"{path} has a {kind} layer, which only Keras runs")
            activation = layer.get("activation", "linear")
            if kind in ("Conv2D", "Dense", "Activation") and activation not in ("relu", "linear", "softmax"):
                raise UnsupportedModel(f"{path} uses the activation {activation!r}")
            step = _Step(kind, layer, weights.get(layer["name"], []))
            if kind in ("Conv2D", "Dense", "BatchNormalization") and not step.weights:
                raise UnsupportedModel(f"{path} has no weights for its layer {layer['name']}")
            steps.append(step)
        return cls(steps)

    def with_weights(self, change) -> "KerasNumpy":
        """A copy whose every weight array is ``change(array)``."""
        return KerasNumpy([_Step(s.kind, s.config, [np.asarray(change(w), np.float32) for w in s.weights])
                           for s in self.steps])

    # ----------------------------------------------------------------------- forward

    def _run(self, x: np.ndarray, keep: bool):
        """The logits (before a final softmax) and, with ``keep``, what backward needs."""
        tape = []
        last = len(self.steps) - 1
        for i, step in enumerate(self.steps):
            c = step.config
            memo = None
            if step.kind == "Conv2D":
                x, memo = self._conv(x, step)
            elif step.kind == "BatchNormalization":
                scale, shift = self._bn(step)
                x = x * scale + shift
                memo = scale
            elif step.kind == "MaxPooling2D":
                x, memo = self._pool(x, c)
            elif step.kind == "Flatten":
                memo = x.shape
                x = x.reshape(len(x), -1)
            elif step.kind == "Dense":
                memo = x
                x = x @ step.weights[0] + (step.weights[1] if c.get("use_bias", True) else 0)
            activation = c.get("activation", "linear") if step.kind in ("Conv2D", "Dense", "Activation") else "linear"
            relu_mask = None
            if activation == "relu":
                relu_mask = x > 0
                x = np.where(relu_mask, x, 0).astype(np.float32)
            elif activation == "softmax" and i != last:
                raise UnsupportedModel("a softmax before the last layer")
            if keep:
                tape.append((memo, relu_mask))
        return x, tape

    def logits(self, images: np.ndarray) -> np.ndarray:
        return self._run(np.asarray(images, np.float32).reshape(-1, 28, 28, 1), keep=False)[0]

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        z = self.logits(images).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    # ----------------------------------------------------------------------- backward

    def log_odds_gradient(self, images: np.ndarray, targets) -> np.ndarray:
        """For each image, the gradient with respect to its pixels (N, 28, 28) of its target's
        log-odds, log p(target) - log p(not target) = z_t - logsumexp of the other logits.
        ``targets``: one per image (N,), or rows of them (T, N) for T gradients per image from
        one forward pass, (T, N, 28, 28)."""
        x = np.asarray(images, np.float32).reshape(-1, 28, 28, 1)
        targets = np.asarray(targets, int)
        rows_of_targets = np.broadcast_to(targets, targets.shape[:-1] + (len(x),)).reshape(-1, len(x))
        z, tape = self._run(x, keep=True)
        out = np.stack([self._back(z, tape, row) for row in rows_of_targets])
        return out.reshape(targets.shape[:-1] + out.shape[1:]) if targets.ndim > 1 else out[0]

    def _back(self, z: np.ndarray, tape: list, targets: np.ndarray) -> np.ndarray:
        z = z.astype(np.float64)
        rows = np.arange(len(z))
        others = z.copy()
        others[rows, targets] = -np.inf
        others -= others.max(axis=1, keepdims=True)
        weights = np.exp(others)
        weights /= weights.sum(axis=1, keepdims=True)
        dz = -weights
        dz[rows, targets] = 1.0
        dy = dz.astype(np.float32)
        for step, (memo, relu_mask) in zip(reversed(self.steps), reversed(tape)):
            if relu_mask is not None:
                dy = dy * relu_mask
            if step.kind == "Conv2D":
                dy = self._conv_back(dy, step, memo)
            elif step.kind == "BatchNormalization":
                dy = dy * memo
            elif step.kind == "MaxPooling2D":
                dy = self._pool_back(dy, memo)
            elif step.kind == "Flatten":
                dy = dy.reshape(memo)
            elif step.kind == "Dense":
                dy = dy @ step.weights[0].T
        return dy[..., 0]

    # ----------------------------------------------------------------------- layers

    @staticmethod
    def _bn(step: _Step) -> tuple[np.ndarray, np.ndarray]:
        c, w = step.config, list(step.weights)
        gamma = w.pop(0) if c.get("scale", True) else 1.0
        beta = w.pop(0) if c.get("center", True) else 0.0
        mean, variance = w[0], w[1]
        scale = (gamma / np.sqrt(variance + c.get("epsilon", 1e-3))).astype(np.float32)
        return scale, (beta - mean * scale).astype(np.float32)

    @staticmethod
    def _correlate(x: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
        """A valid cross-correlation, (n, h, w, in) with (kh, kw, in, out): a sum over the
        kernel's offsets of one matrix product each (no im2col copy, which cost more here)."""
        kh, kw, cin, cout = kernel.shape
        n = len(x)
        ho = (x.shape[1] - kh) // stride + 1
        wo = (x.shape[2] - kw) // stride + 1
        y = np.zeros((n, ho, wo, cout), np.float32)
        for i in range(kh):
            for j in range(kw):
                window = x[:, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride]
                # One input channel: a broadcast product beats a matrix product with K = 1.
                y += window * kernel[i, j, 0] if cin == 1 else window @ kernel[i, j]
        return y

    @classmethod
    def _conv(cls, x: np.ndarray, step: _Step):
        c = step.config
        kernel = step.weights[0]  # (kh, kw, in, out)
        kh, kw = kernel.shape[:2]
        stride = int(c["strides"][0])
        n, height, width, _ = x.shape
        if c["padding"] == "same":
            (top, bottom), (left, right) = _same_padding(height, kh, stride), _same_padding(width, kw, stride)
            x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
        else:
            top = left = 0
        y = cls._correlate(x, kernel, stride)
        if c.get("use_bias", True):
            y += step.weights[1]
        return y, (x.shape, top, left, height, width)

    @classmethod
    def _conv_back(cls, dy: np.ndarray, step: _Step, memo) -> np.ndarray:
        # The gradient of a correlation with respect to its input is the "full" correlation
        # of the output's gradient with the kernel turned 180 degrees and its channels swapped.
        padded_shape, top, left, height, width = memo
        kernel = step.weights[0]
        kh, kw = kernel.shape[:2]
        stride = int(step.config["strides"][0])
        n, ho, wo, cout = dy.shape
        rows, cols = padded_shape[1], padded_shape[2]
        if stride > 1:  # spread out, most of the gradient would be zeros: add each offset's share
            dx = np.zeros(padded_shape, np.float32)
            for i in range(kh):
                for j in range(kw):
                    dx[:, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride] += dy @ kernel[i, j].T
            return dx[:, top : top + height, left : left + width]
        spread = np.zeros((n, rows + kh - 1, cols + kw - 1, cout), np.float32)
        spread[:, kh - 1 : kh - 1 + stride * (ho - 1) + 1 : stride,
               kw - 1 : kw - 1 + stride * (wo - 1) + 1 : stride] = dy
        turned = np.ascontiguousarray(kernel[::-1, ::-1].transpose(0, 1, 3, 2))
        dx = cls._correlate(spread, turned, 1)
        return dx[:, top : top + height, left : left + width]

    @staticmethod
    def _pool(x: np.ndarray, c: dict):
        size = int(c["pool_size"][0])
        stride = int((c.get("strides") or c["pool_size"])[0])
        if c.get("padding", "valid") != "valid":
            raise UnsupportedModel("max pooling with 'same' padding")
        windows = sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]
        n, ho, wo, ch = windows.shape[:4]
        flat = windows.reshape(n, ho, wo, ch, size * size)
        winner = flat.argmax(axis=-1)
        return np.take_along_axis(flat, winner[..., None], -1)[..., 0], (x.shape, winner, size, stride)

    @staticmethod
    def _pool_back(dy: np.ndarray, memo) -> np.ndarray:
        shape, winner, size, stride = memo
        n, ho, wo, ch = dy.shape
        dx = np.zeros(shape, np.float32)
        wr, wc = np.divmod(winner, size)
        rows = (np.arange(ho) * stride)[None, :, None, None] + wr
        cols = (np.arange(wo) * stride)[None, None, :, None] + wc
        batch = np.arange(n)[:, None, None, None]
        channel = np.arange(ch)[None, None, None, :]
        np.add.at(dx, (np.broadcast_to(batch, dy.shape), rows, cols, np.broadcast_to(channel, dy.shape)), dy)
        return dx
