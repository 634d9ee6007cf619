"""Digit Lab's machine-learning core, grouped by what it serves:

    train.py     the one training run (``python -m model.train``)
    training/    what a run is made of: settings, networks, results, ensembles, the FCN search
    scratch/     the numpy networks, written without a deep-learning library
    data/        MNIST, and a drawing or a photo made into a 28x28 digit
    serving/     a trained model's folder read, checked and run for the pages
    explaining/  looking into a model: the Inside and Push it pages
    classroom/   a class's own drawings: the database, export and import, fine-tuning
    jobs/        the Train page's trainings in the background, one at a time, and their queue
    files.py     files several processes share: a lock, and JSON replaced atomically

The trained models' folders (``cnn/``, ``seed000_cnn/``, ...) and ``search/results.json`` sit
beside them. Nothing here imports Streamlit, and nothing imports TensorFlow at module import
time unless it needs it, so the diagnostics pages (which only read JSON) start fast.
"""
from __future__ import annotations

import os
from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parent
# What the app writes while it runs (a class's drawings, models trained from the browser), kept
# out of git: $DIGITLAB_DATA_DIR, else data/ beside model/.
DATA_DIR_ENV = "DIGITLAB_DATA_DIR"


def data_dir(environ: dict | None = None) -> Path:
    return Path((os.environ if environ is None else environ).get(DATA_DIR_ENV) or MODEL_DIR.parent / "data")
