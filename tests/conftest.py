"""Shared fixtures: the real MNIST data, which tests may skip without only outside CI."""
from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest

from model.data.mnist import MnistError, load_mnist
from tests.browser import launch_chromium


def mnist_folder() -> str:
    """Where the tests look for MNIST: $MNIST_DIR, else the shared folder beside the checkout."""
    return os.environ.get("MNIST_DIR") or "../shared/mnist"


def require_mnist():
    """The verified MNIST set; outside CI a missing MNIST_DIR skips, in CI it fails."""
    try:
        return load_mnist(mnist_folder())
    except MnistError as e:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have MNIST (set MNIST_DIR): {e}")
        pytest.skip(f"needs MNIST: set MNIST_DIR to the folder of the four IDX files ({e})")


@pytest.fixture(scope="session")
def mnist():
    return require_mnist()


@pytest.fixture(scope="session")
def mnist_dir(mnist) -> str:
    return mnist.source


@pytest.fixture(scope="session")
def app_url():
    """One server of the app as shipped, shared by every browser test module that needs nothing
    else of it (no other models, data folder or settings): starting and warming a server costs
    several seconds a module. Each test still opens its own pages, so its own sessions."""
    from tests.browser import streamlit_server

    with streamlit_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for one test module (its pages and contexts are the module's own)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser
        with contextlib.suppress(Exception):
            browser.close()


@pytest.fixture(scope="session")
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)
