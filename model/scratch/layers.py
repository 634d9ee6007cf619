"""The layers of the scratch engine, each a forward pass and its backward pass.

Every layer keeps what its backward pass needs from the last ``forward`` call, so calls go
strictly in pairs: ``y = layer.forward(x)``, then ``dx = layer.backward(dy)``, where ``dy``
is d(loss)/d(y) and ``dx`` is d(loss)/d(x). Layers with weights also fill ``layer.grads``
with d(loss)/d(weight), one entry per entry of ``layer.params``.

Tensors are NHWC (batch, height, width, channels) and weights use Keras's layouts, a conv
kernel (kh, kw, in_channels, out_channels) and a dense kernel (inputs, outputs), so weights
move 1:1 between these layers and the matching Keras model.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def glorot_uniform(rng: np.random.Generator, shape: tuple, fan_in: int, fan_out: int, dtype) -> np.ndarray:
    # Keras's default initialiser, so a fresh scratch network starts like a fresh Keras one.
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


class Layer:
    """A layer without weights; subclasses with weights fill ``params`` and ``grads``."""

    type = "Layer"

    def __init__(self, name: str):
        self.name = name
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape  # per example, without the batch dimension

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError


class Standardize(Layer):
    """(x - mean) / std with fixed constants, used only while training.

    Pixels in [0, 1] are all positive with mean 0.13, so every first-layer gradient pushes
    all weights the same way and SGD zig-zags; centred, unit-variance inputs let it take
    far larger steps. After training, ``fold_standardize`` moves the shift and scale into
    the next layer's weights, so the shipped network takes [0, 1] pixels like the Keras one.
    """

    type = "Standardize"

    def __init__(self, name: str, mean: float, std: float):
        super().__init__(name)
        self.mean, self.std = mean, std

    def forward(self, x):
        return (x - self.mean) / self.std

    def backward(self, dy):
        return dy / self.std


class Conv2D(Layer):
    """A 'valid' convolution with stride 1, as one matrix product (im2col).

    Forward: every kh x kw x C patch of the input becomes one row of a matrix ``cols``; the
    convolution is then ``cols @ kernel`` followed by a reshape back to an image.
    """

    type = "Conv2D"

    def __init__(
        self, name: str, in_channels: int, filters: int, size: int, rng, dtype=np.float32, input_grad=True
    ):
        super().__init__(name)
        shape = (size, size, in_channels, filters)
        fan_in, fan_out = size * size * in_channels, size * size * filters
        self.params = {
            "kernel": glorot_uniform(rng, shape, fan_in, fan_out, dtype),
            "bias": np.zeros(filters, dtype),
        }
        # The first layer's input is the image itself, whose gradient nobody needs, and
        # computing it would cost as much as the rest of the backward pass.
        self.input_grad = input_grad

    def output_shape(self, input_shape):
        h, w, _ = input_shape
        kh, kw, _, filters = self.params["kernel"].shape
        return (h - kh + 1, w - kw + 1, filters)

    def forward(self, x):
        kh, kw, c, filters = self.params["kernel"].shape
        # (N, OH, OW, C, kh, kw): a strided view onto x, no copy yet.
        windows = sliding_window_view(x, (kh, kw), axis=(1, 2))
        # Put each patch in the kernel's (kh, kw, C) order so both flatten the same way;
        # this reshape is where the patches are copied out, once.
        n, oh, ow = windows.shape[:3]
        cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, kh * kw * c)
        self.cols, self.x_shape = cols, x.shape
        y = cols @ self.params["kernel"].reshape(kh * kw * c, filters)
        y += self.params["bias"]  # in place: this output is the largest array of the network
        return y.reshape(n, oh, ow, filters)

    def backward(self, dy):
        kh, kw, c, filters = self.params["kernel"].shape
        n, oh, ow, _ = dy.shape
        dy_rows = dy.reshape(n * oh * ow, filters)
        # Each output pixel was (its patch) . kernel, so the kernel's gradient sums
        # patch x dy over every output pixel of every image: one matrix product.
        self.grads["kernel"] = (self.cols.T @ dy_rows).reshape(kh, kw, c, filters)
        self.grads["bias"] = dy_rows.sum(axis=0)
        if not self.input_grad:
            return None
        # Gradient for every patch entry, then col2im: scatter each patch back to where it
        # was read from. Patches overlap, so contributions add up. The loop runs over the
        # kh*kw kernel offsets (9 for 3x3), never over pixels or images.
        dcols = dy_rows @ self.params["kernel"].reshape(kh * kw * c, filters).T
        dcols = dcols.reshape(n, oh, ow, kh, kw, c)
        dx = np.zeros(self.x_shape, dtype=dy.dtype)
        for i in range(kh):
            for j in range(kw):
                dx[:, i : i + oh, j : j + ow, :] += dcols[:, :, :, i, j, :]
        return dx


class Dense(Layer):
    """y = x @ kernel + bias, for x of shape (N, inputs)."""

    type = "Dense"

    def __init__(self, name: str, inputs: int, outputs: int, rng, dtype=np.float32):
        super().__init__(name)
        self.params = {
            "kernel": glorot_uniform(rng, (inputs, outputs), inputs, outputs, dtype),
            "bias": np.zeros(outputs, dtype),
        }

    def output_shape(self, input_shape):
        return (self.params["kernel"].shape[1],)

    def forward(self, x):
        self.x = x
        return x @ self.params["kernel"] + self.params["bias"]

    def backward(self, dy):
        self.grads["kernel"] = self.x.T @ dy
        self.grads["bias"] = dy.sum(axis=0)
        return dy @ self.params["kernel"].T


class ReLU(Layer):
    type = "ReLU"

    def forward(self, x):
        self.positive = x > 0
        return np.maximum(x, 0)

    def backward(self, dy):
        # The gradient passes where the input was positive and stops elsewhere (at exactly
        # 0 too, as in TensorFlow).
        return dy * self.positive


class MaxPool2x2(Layer):
    """2x2 max-pooling with stride 2, as two passes: the max of column pairs, then of row pairs.

    Each pass remembers which of its two inputs won, so the backward pass can send each
    output's gradient to the one pixel it came from. On a tie the first (left, top) input
    wins, which is TensorFlow's choice too; ties are common (a blank background gives four
    equal values), and sending the gradient to all four would count it four times.
    """

    type = "MaxPool2x2"

    def output_shape(self, input_shape):
        h, w, c = input_shape
        return (h // 2, w // 2, c)

    def forward(self, x):
        # Keras drops an odd last row or column; our networks never have one, so rather
        # than carry that bookkeeping we refuse it.
        if x.shape[1] % 2 or x.shape[2] % 2:
            raise ValueError(f"MaxPool2x2 needs an even height and width, got {x.shape[1:3]}")
        left, right = x[:, :, 0::2], x[:, :, 1::2]
        self.right_won = right > left  # strict, so a tie goes to the left
        pairs = np.maximum(left, right)
        top, bottom = pairs[:, 0::2], pairs[:, 1::2]
        self.bottom_won = bottom > top
        return np.maximum(top, bottom)

    def backward(self, dy):
        # Undo the two passes in reverse order. In each, the winner of every pair gets the
        # gradient and the loser 0, written straight into alternate rows (then columns).
        n, h, w, c = dy.shape
        dpairs = np.empty((n, 2 * h, w, c), dy.dtype)
        np.multiply(dy, ~self.bottom_won, out=dpairs[:, 0::2])
        np.multiply(dy, self.bottom_won, out=dpairs[:, 1::2])
        dx = np.empty((n, 2 * h, 2 * w, c), dy.dtype)
        np.multiply(dpairs, ~self.right_won, out=dx[:, :, 0::2])
        np.multiply(dpairs, self.right_won, out=dx[:, :, 1::2])
        return dx


class Flatten(Layer):
    """(N, H, W, C) -> (N, H*W*C) in NHWC order, the order Keras's Flatten uses."""

    type = "Flatten"

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dy):
        return dy.reshape(self.x_shape)


def softmax(logits: np.ndarray) -> np.ndarray:
    # Subtracting the row maximum changes nothing mathematically and keeps exp() finite.
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) against integer labels, and d(loss)/d(logits).

    Softmax and cross-entropy are fused because their joint gradient is simply
    (probabilities - one_hot) / N, which is both cheaper and more accurate than chaining
    the two Jacobians.
    """
    n = len(labels)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), labels].mean()
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), labels] -= 1
    return float(loss), dlogits / n
