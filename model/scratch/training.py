"""The two seed recipes and the training loop that runs them.

    python -m model.train --arch seed000_numpy --data-dir ../shared/mnist
"""
from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from model.data.mnist import Split, unit_pixels
from model.scratch.layers import softmax_cross_entropy
from model.scratch.network import MNIST_MEAN, MNIST_STD, Network, build_network, fold_standardize
from model.scratch.optim import SGD, ExponentialSchedule, batches
from model.training.results import TrainResult, epoch_rank


@dataclass(frozen=True)
class ScratchRecipe:
    """How one scratch network is trained (all the knobs in one visible place)."""

    summary: str
    epochs: int
    batch_size: int
    learning_rate: float
    decay_rate: float = 1.0  # lr = learning_rate * decay_rate ** floor(step / decay_steps)
    decay_steps: int = 1
    momentum: float = 0.0
    weight_decay: float = 0.0
    published_accuracy: float | None = None  # the seed project's own test accuracy
    source: str = ""
    network: dict = field(default_factory=dict)  # extra builder arguments, e.g. hidden size

    def optimizer(self) -> SGD:
        schedule = ExponentialSchedule(self.learning_rate, self.decay_rate, self.decay_steps)
        return SGD(schedule, momentum=self.momentum, weight_decay=self.weight_decay)


SCRATCH_RECIPES: dict[str, ScratchRecipe] = {
    # The seed's own budget: 2 epochs of batch 1024, i.e. only 108 weight updates. On raw
    # [0, 1] pixels no SGD setting we tried passed ~96% validation accuracy in 108 steps;
    # standardised inputs (folded away after training) and momentum 0.9 reach ~97.5%. The
    # rate is halved twice, every third of the run, to settle into the minimum it found.
    "seed000_numpy": ScratchRecipe(
        summary="conv 28x3x3, max-pool, dense 128 (numpy, im2col)",
        epochs=2,
        batch_size=1024,
        learning_rate=0.2,
        decay_rate=0.5,
        decay_steps=36,  # a third of the 2 x 54 steps
        momentum=0.9,
        published_accuracy=0.9727,
        source="seed 000 (numpy CNN)",
        network={"standardize": True},
    ),
    # Seed 003's optimiser exactly: plain SGD, lr 0.5 halved every 500 steps, weight decay 1e-5.
    # It reaches ~97.5%, not the seed's 93%. The recipe is not the culprit (lr 0.5 held
    # constant still gives 97.0% after 2 epochs); weights drawn from N(0, 1) instead of
    # Glorot's fan-scaled range reproduce 93.0%, so we suspect the seed's initialisation.
    "seed003_numpy": ScratchRecipe(
        summary="dense 1024, SGD lr 0.5 x0.5/500 steps, wd 1e-5 (numpy)",
        epochs=8,  # as the Keras twin seed003_fcn, for a like-for-like comparison
        batch_size=64,
        learning_rate=0.5,
        decay_rate=0.5,
        decay_steps=500,
        weight_decay=1e-5,
        published_accuracy=0.93,
        source="seed 003 (numpy FCN)",
        network={"hidden": 1024},
    ),
}


def evaluate(network: Network, split: Split, batch_size: int = 2500) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the network on a whole split."""
    total_loss, correct = 0.0, 0
    for start in range(0, len(split), batch_size):
        images = split.images[start : start + batch_size]
        labels = split.labels[start : start + batch_size].astype(np.int64)
        logits = network.forward(network_input(network, images))
        loss, _ = softmax_cross_entropy(logits, labels)
        total_loss += loss * len(labels)
        correct += int((logits.argmax(axis=1) == labels).sum())
    return total_loss / len(split), correct / len(split)


def network_input(network: Network, images: np.ndarray) -> np.ndarray:
    return unit_pixels(images, network.dtype).reshape(len(images), 28, 28, 1)


def fit(
    network: Network,
    optimizer: SGD,
    train: Split,
    val: Split,
    epochs: int,
    batch_size: int,
    seed: int,
    log=None,
    blas_threads: int | None = 1,
) -> tuple[list[dict], int]:
    """Train in place; keep the weights of the best validation epoch. Returns (history, best_epoch)."""
    _keep_freed_memory()
    # Our matrix products are thin (e.g. 692,224 x 9 times 9 x 28) and memory-bound: on a few
    # busy cores OpenBLAS's threads mostly wait for each other, and one thread trains faster
    # than two (bench/train_speed.py). None leaves OpenBLAS's own choice.
    with threadpool_limits(blas_threads, user_api="blas"):
        return _fit(network, optimizer, train, val, epochs, batch_size, seed, log)


def _keep_freed_memory() -> None:
    """Let glibc reuse big freed blocks instead of handing them back to the kernel.

    A seed000 step allocates and frees ~300 MB of temporaries, in blocks of up to 77 MB.
    By default glibc hands blocks that large straight back to the kernel, which must then
    zero fresh pages for the next step, a sizeable share of each step. Raising the two
    thresholds to 1 GB keeps the blocks for reuse; memory use stays at its peak.
    Linux/glibc only; elsewhere (or if refused) nothing changes.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # mallopt parameter numbers from <malloc.h>
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, 1 << 30)


def _fit(network, optimizer, train, val, epochs, batch_size, seed, log):
    rng = np.random.default_rng(seed)  # its own stream, so the shuffles do not depend on the init
    history, best_key, best_weights, best_epoch = [], None, None, 0
    labels_all = train.labels.astype(np.int64)
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        total_loss, correct = 0.0, 0
        for idx in batches(len(train), batch_size, rng):
            labels = labels_all[idx]
            logits = network.forward(network_input(network, train.images[idx]))
            loss, dlogits = softmax_cross_entropy(logits, labels)
            network.backward(dlogits)
            optimizer.step(network.trainable)
            # Like Keras, the epoch's training numbers are averages over its batches, taken
            # while the weights were still moving.
            total_loss += loss * len(idx)
            correct += int((logits.argmax(axis=1) == labels).sum())
        val_loss, val_accuracy = evaluate(network, val)
        row = {
            "epoch": epoch,
            "loss": total_loss / len(train),
            "accuracy": correct / len(train),
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            "learning_rate": optimizer.learning_rate,  # the rate the next step would use, as Keras logs it
            "seconds": round(time.perf_counter() - started, 3),
        }
        history.append(row)
        if log:
            log(row)
        key = epoch_rank(row)
        if best_key is None or key > best_key:
            best_key, best_epoch, best_weights = key, epoch, network.get_weights()
    network.set_weights(best_weights)
    return history, best_epoch


def _print_row(row: dict) -> None:
    print(
        f"epoch {row['epoch']}: loss {row['loss']:.4f} accuracy {row['accuracy']:.4f} "
        f"val_loss {row['val_loss']:.4f} val_accuracy {row['val_accuracy']:.4f} "
        f"lr {row['learning_rate']:.3g} ({row['seconds']:.1f} s)",
        flush=True,
    )


def train_scratch(arch: str, train: Split, val: Split, epochs: int, batch_size: int, seed: int):
    """Train a scratch network with its recipe; what model.train needs to write artifacts."""
    recipe = SCRATCH_RECIPES[arch]
    network = build_network(arch, seed=seed, dtype=np.float32, **recipe.network)
    optimizer = recipe.optimizer()
    history, best_epoch = fit(network, optimizer, train, val, epochs, batch_size, seed, log=_print_row)
    extras = {"augment": False, "steps": optimizer.step_count}
    if network.config.get("standardize"):
        network = fold_standardize(network)
        extras["input_standardization"] = (
            f"(x - {MNIST_MEAN}) / {MNIST_STD} while training, folded into {network.layers[0].name}'s weights"
        )
    return TrainResult(
        history=history,
        best_epoch=best_epoch,
        layers=network.layer_table(),
        params=network.params,
        predict_proba=network.predict_proba,
        save=network.save,
        optimizer=optimizer.describe(),
        framework=f"numpy {np.__version__} (Digit Lab scratch engine)",
        extras=extras,
    )
