"""Digit Lab's machine-learning core: data, preprocessing, networks, training, inference.

Nothing in this package imports Streamlit, and nothing imports TensorFlow at module import
time unless it needs it, so the diagnostics pages (which only read JSON) start fast.
"""
from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parent
