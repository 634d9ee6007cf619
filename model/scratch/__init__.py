"""Digit Lab's from-scratch engine: the seed networks in plain numpy, forward and backward.

Read in this order: ``layers.py`` (each layer's forward and backward pass), ``optim.py``
(SGD, the schedule, the batch loader), ``network.py`` (layers in a list, saving, the bridge to
Keras), ``training.py`` (the recipes and the loop).

    python -m model.train --arch seed000_numpy --data-dir ../shared/mnist
"""
from model.scratch.layers import (
    Conv2D,
    Dense,
    Flatten,
    MaxPool2x2,
    ReLU,
    Standardize,
    softmax,
    softmax_cross_entropy,
)
from model.scratch.network import Network, build_network, fold_standardize, from_keras, load_network, to_keras
from model.scratch.optim import SGD, ExponentialSchedule, batches
from model.scratch.training import SCRATCH_RECIPES, ScratchRecipe, evaluate, fit, train_scratch

__all__ = [
    "SCRATCH_RECIPES",
    "SGD",
    "Conv2D",
    "Dense",
    "ExponentialSchedule",
    "Flatten",
    "MaxPool2x2",
    "Network",
    "ReLU",
    "ScratchRecipe",
    "Standardize",
    "batches",
    "build_network",
    "evaluate",
    "fit",
    "fold_standardize",
    "from_keras",
    "load_network",
    "softmax",
    "softmax_cross_entropy",
    "to_keras",
    "train_scratch",
]
