"""Training machinery: the learning-rate schedule, SGD with weight decay, the batch loader."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np


@dataclass(frozen=True)
class ExponentialSchedule:
    """lr(t) = lr0 * alpha ** floor(t / T): the rate is multiplied by alpha every T steps.

    Keras's ExponentialDecay(lr0, T, alpha, staircase=True), which seed 003 used.
    """

    lr0: float
    alpha: float = 1.0
    every: int = 1  # T, in optimiser steps (batches), not epochs

    def __call__(self, step: int) -> float:
        return self.lr0 * self.alpha ** (step // self.every)

    def describe(self) -> str:
        if self.alpha == 1.0:
            return f"{self.lr0:g}"
        return f"{self.lr0:g} x{self.alpha:g} every {self.every} steps"


@dataclass
class SGD:
    """Stochastic gradient descent with L2 weight decay and optional momentum.

    For every weight w with gradient g, at step t with learning rate lr = schedule(t):

        g = g + weight_decay * w          (kernels only: decaying biases buys nothing)
        v = momentum * v - lr * g         (v starts at 0; with momentum 0, v = -lr * g)
        w = w + v
    """

    schedule: ExponentialSchedule
    momentum: float = 0.0
    weight_decay: float = 0.0
    step_count: int = 0
    velocity: dict = field(default_factory=dict)  # (layer name, param name) -> v

    @property
    def learning_rate(self) -> float:
        return self.schedule(self.step_count)

    def step(self, layers) -> None:
        lr = self.learning_rate
        for layer in layers:
            for name, w in layer.params.items():
                g = layer.grads[name]
                if self.weight_decay and name == "kernel":
                    g = g + self.weight_decay * w
                if self.momentum:
                    v = self.velocity.setdefault((layer.name, name), np.zeros_like(w))
                    v *= self.momentum
                    v -= lr * g
                    w += v  # in place, so the layer sees the new value
                else:
                    w -= lr * g
        self.step_count += 1

    def describe(self) -> str:
        parts = [f"lr={self.schedule.describe()}"]
        if self.momentum:
            parts.append(f"momentum={self.momentum:g}")
        if self.weight_decay:
            parts.append(f"weight_decay={self.weight_decay:g} (L2, kernels)")
        return f"SGD({', '.join(parts)})"


def batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Indices of one epoch in a fresh random order, ``batch_size`` at a time.

    The last batch is smaller when ``batch_size`` does not divide ``n``; every example is
    seen exactly once per epoch.
    """
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]
