"""A network is a list of layers; this file builds the two seed networks and saves/loads them.

    network = build_network("seed000_numpy", seed=0)
    network.predict_proba(images)          # (N, 28, 28) float in [0, 1] -> (N, 10)
    network.save("model/seed000_numpy")    # weights.npz, architecture name included
    network = load_network("model/seed000_numpy/weights.npz")
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from model.scratch.layers import (
    Conv2D,
    Dense,
    Flatten,
    Layer,
    MaxPool2x2,
    ReLU,
    Standardize,
    softmax,
    softmax_cross_entropy,
)

INPUT_SHAPE = (28, 28, 1)  # NHWC, one grey channel
# Mean and standard deviation of MNIST's training pixels (in [0, 1]), the usual constants.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class Network:
    """Layers applied in order; the last layer outputs logits (softmax is in the loss)."""

    def __init__(self, arch: str, layers: list[Layer], dtype=np.float32, config: dict | None = None):
        self.arch, self.layers, self.dtype = arch, layers, np.dtype(dtype)
        self.config = config or {}  # the builder's keyword arguments (e.g. hidden=1024)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dlogits: np.ndarray) -> None:
        grad = dlogits
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
            if grad is None:  # the layer said nothing below it needs a gradient
                break

    def loss_and_grads(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
        """One forward and backward pass on images in [0, 1]; fills every layer's ``grads``.

        Returns (mean loss, logits). The training loop does the same, batch by batch.
        """
        logits = self.forward(as_input(images, self.dtype))
        loss, dlogits = softmax_cross_entropy(logits, labels)
        self.backward(dlogits)
        return loss, logits

    def predict_proba(self, images: np.ndarray, batch_size: int = 2000) -> np.ndarray:
        """(N, 28, 28) in [0, 1] -> (N, 10) probabilities, in slices to bound memory."""
        images = np.asarray(images)
        slices = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
        out = [softmax(self.forward(as_input(s, self.dtype))) for s in slices]
        return np.concatenate(out) if out else np.zeros((0, 10), self.dtype)

    @property
    def trainable(self) -> list[Layer]:
        return [layer for layer in self.layers if layer.params]

    @property
    def params(self) -> int:
        return sum(w.size for layer in self.layers for w in layer.params.values())

    def layer_table(self) -> list[dict]:
        """The rows card.json shows: name, type, output shape (no batch dimension), params."""
        shape = INPUT_SHAPE
        rows = [{"name": "image", "type": "Input", "output_shape": list(shape), "params": 0}]
        for layer in self.layers:
            shape = layer.output_shape(shape)
            rows.append(
                {
                    "name": layer.name,
                    "type": layer.type,
                    "output_shape": list(shape),
                    "params": int(sum(w.size for w in layer.params.values())),
                }
            )
        rows.append({"name": "probabilities", "type": "Softmax", "output_shape": [10], "params": 0})
        return rows

    # Weights as one flat list, [kernel, bias, kernel, bias, ...] in layer order: exactly
    # what keras.Model.get_weights() returns for the matching Keras model.
    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for layer in self.trainable for w in layer.params.values()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        slots = [(layer, name) for layer in self.trainable for name in layer.params]
        if len(weights) != len(slots):
            raise ValueError(f"{self.arch} has {len(slots)} weight arrays, got {len(weights)}")
        for (layer, name), w in zip(slots, weights):
            if tuple(w.shape) != layer.params[name].shape:
                raise ValueError(
                    f"{self.arch} {layer.name}.{name}: expected shape {layer.params[name].shape}, "
                    f"got {tuple(w.shape)}"
                )
            layer.params[name] = np.array(w, dtype=self.dtype)

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / "weights.npz"
        arrays = {f"{layer.name}.{name}": w for layer in self.trainable for name, w in layer.params.items()}
        # The architecture and its builder's arguments travel with the weights so
        # load_network can rebuild the right layers; plain strings and ints (no pickles)
        # keep the file loadable with allow_pickle=False.
        config = {f"config.{k}": np.array(v) for k, v in self.config.items()}
        np.savez(path, arch=np.array(self.arch), **config, **arrays)
        return path


def as_input(images: np.ndarray, dtype) -> np.ndarray:
    """(N, 28, 28) or (N, 28, 28, 1) -> NHWC (N, 28, 28, 1) in ``dtype``."""
    images = np.asarray(images)
    return images.reshape(len(images), *INPUT_SHAPE).astype(dtype, copy=False)


def build_seed000(seed: int = 0, dtype=np.float32, standardize: bool = False) -> Network:
    """Seed 000's CNN: conv 28 filters 3x3 (valid) + ReLU, 2x2 max-pool, dense 128 + ReLU, dense 10.

    ``standardize`` puts a Standardize layer in front, for training; see fold_standardize.
    """
    rng = np.random.default_rng(seed)
    layers = [Standardize("standardize", MNIST_MEAN, MNIST_STD)] if standardize else []
    layers += [
        Conv2D("conv2d", 1, 28, 3, rng, dtype, input_grad=False),
        # Pool, then ReLU: the same function as Keras's ReLU-then-pool (ReLU never changes
        # which of four values is largest), with the ReLU on a quarter of the values.
        MaxPool2x2("max_pooling2d"),
        ReLU("relu"),
        Flatten("flatten"),
        Dense("dense", 13 * 13 * 28, 128, rng, dtype),
        ReLU("dense_relu"),
        Dense("logits", 128, 10, rng, dtype),
    ]
    return Network("seed000_numpy", layers, dtype, config={"standardize": standardize})


def build_seed003(seed: int = 0, dtype=np.float32, hidden: int = 1024) -> Network:
    """Seed 003's fully connected network: 784 -> hidden (1024) + ReLU -> 10."""
    rng = np.random.default_rng(seed)
    layers = [
        Flatten("flatten"),
        Dense("dense", 28 * 28, hidden, rng, dtype),
        ReLU("dense_relu"),
        Dense("logits", hidden, 10, rng, dtype),
    ]
    return Network("seed003_numpy", layers, dtype, config={"hidden": hidden})


BUILDERS = {"seed000_numpy": build_seed000, "seed003_numpy": build_seed003}

# The Keras model each scratch network mirrors, layer for layer (model/training/networks.py).
KERAS_TWINS = {"seed000_numpy": "build_seed000_cnn", "seed003_numpy": "build_seed003_fcn"}


def build_network(arch: str, seed: int = 0, dtype=np.float32, **kwargs) -> Network:
    if arch not in BUILDERS:
        raise ValueError(f"unknown scratch architecture {arch!r}; choose from {', '.join(BUILDERS)}")
    return BUILDERS[arch](seed, dtype, **kwargs)


def fold_standardize(network: Network) -> Network:
    """The same function with the leading Standardize layer folded into the layer after it.

    That layer computes x' @ W + b with x' = (x - mean) / std, which equals
    x @ (W / std) + (b - mean / std * sum of W over its inputs). Exact only because our
    Conv2D never pads: padding with 0 would, standardised, have been padding with
    -mean / std, and the fold would change the border outputs.

    The returned network takes over ``network``'s layers; use only the returned one.
    """
    standardize, first = network.layers[0], network.layers[1]
    if not isinstance(standardize, Standardize) or not isinstance(first, (Conv2D, Dense)):
        raise ValueError(f"{network.arch} does not start with Standardize then a Conv2D or Dense")
    kernel, bias = first.params["kernel"], first.params["bias"]
    input_axes = tuple(range(kernel.ndim - 1))  # all but the output axis
    config = {**network.config, "standardize": False}
    folded = Network(network.arch, network.layers[1:], network.dtype, config)
    first.params = {
        "kernel": (kernel / standardize.std).astype(network.dtype),
        "bias": (bias - standardize.mean / standardize.std * kernel.sum(input_axes)).astype(network.dtype),
    }
    return folded


def load_network(path: str | Path, dtype=np.float32) -> Network:
    """Rebuild the network a ``weights.npz`` was saved from, with its weights."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as npz:
        arch = str(npz["arch"])
        kwargs = {k.removeprefix("config."): npz[k].item() for k in npz.files if k.startswith("config.")}
        network = build_network(arch, dtype=dtype, **kwargs)
        keys = [f"{layer.name}.{name}" for layer in network.trainable for name in layer.params]
        missing = [k for k in keys if k not in npz.files]
        if missing:
            raise ValueError(f"{path}: no {', '.join(missing)} for {arch}")
        network.set_weights([npz[k] for k in keys])
    return network


# --------------------------------------------------------------------------- Keras bridge


def to_keras(network: Network):
    """The matching Keras model (model/training/networks.py) holding this network's weights."""
    import model.training.networks

    keras_model = getattr(model.training.networks, KERAS_TWINS[network.arch])()
    keras_model.set_weights([w.astype(np.float32) for w in network.get_weights()])
    return keras_model


def from_keras(keras_model, arch: str, dtype=np.float32) -> Network:
    """A scratch network holding a (matching) Keras model's weights."""
    weights = keras_model.get_weights()
    kwargs = {"hidden": weights[0].shape[1]} if arch == "seed003_numpy" else {}
    network = build_network(arch, dtype=dtype, **kwargs)
    network.set_weights(weights)
    return network
