"""Digit Lab's machine-learning core: data, preprocessing, networks, training, inference.

Nothing in this package imports Streamlit, and nothing imports TensorFlow at module import
time unless it needs it, so the diagnostics pages (which only read JSON) start fast.
"""
import os
from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parent
# What the app writes while it runs (a class's drawings, models trained from the browser), kept
# out of git: $DIGITLAB_DATA_DIR, else data/ beside model/.
DATA_DIR_ENV = "DIGITLAB_DATA_DIR"


def data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or MODEL_DIR.parent / "data")
