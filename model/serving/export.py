"""A model to take home: one zip with the model's files, its card, and a small program that reads
a picture of a digit the way the app reads an upload, with exactly the pinned packages it needs.

    data = take_home_zip("cnn", MODEL_DIR)      # the bytes of digitlab-cnn.zip

Inside ``digitlab-<name>/``: the model files (``model.tflite`` and ``model.keras``, or for the
numpy networks ``weights.npz`` and the numpy engine they run on, ``scratch/``), ``card.json``
(without the server's paths), ``predict.py`` (``take_home/predict.py``), the app's own
``preprocess.py`` copied as it is, ``requirements.txt`` and a ``README.md`` saying how to run it.
``predict.py`` runs the LiteRT file, so the packages it needs do not include TensorFlow. Every
model file is checked against the SHA-256 on its card first: a damaged file is never packed. No
Streamlit here: the Models page only offers the bytes.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path
from string import Template

from model import MODEL_DIR
from model.serving.artifacts import MODEL_FILES, REPO_DIR, ArtifactError, load_card, verify_weights

TAKE_HOME = Path(__file__).resolve().parent / "take_home"
PREPROCESS = MODEL_DIR / "data" / "preprocess.py"
SCRATCH = MODEL_DIR / "scratch"
REQUIREMENTS = REPO_DIR / "requirements.txt"
# What preprocess.py imports, and what runs each kind of model file.
PREPROCESS_PACKAGES = ("numpy", "pillow", "scipy", "opencv-python-headless")
LITERT_PACKAGES = ("ai-edge-litert",)
KERAS_PACKAGES = ("keras", "tensorflow-cpu")  # only named in the README, for model.keras
# The numpy engine's two modules a network needs to run (its training code stays home).
SCRATCH_MODULES = ("layers.py", "network.py")
SCRATCH_IMPORT = "from model.scratch.layers import"
FILE_WORDS = {
    "model.tflite": "the model, for LiteRT: what `predict.py` runs",
    "model.keras": "the same model for Keras 3, to look inside it or train it further",
    "weights.npz": "the model's weights, for the numpy engine in `scratch/`: what `predict.py` runs",
    "card.json": "how it was made: layers, training settings, scores, the MNIST files' checksums",
    "predict.py": "reads pictures of digits and prints the ten probabilities",
    "preprocess.py": "Digit Lab's preprocessing: a photo of a digit made into 28x28 pixels like MNIST's",
    "scratch/": "Digit Lab's numpy engine, the network's layers written without a deep-learning library",
    "requirements.txt": "the Python packages `predict.py` needs, at the versions Digit Lab uses",
}


def zip_file_name(arch: str) -> str:
    return f"digitlab-{arch}.zip"


def pinned(packages: tuple[str, ...]) -> list[str]:
    """The app's own pins (``requirements.txt``) of ``packages``, in that order."""
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if "==" in requirement:
            name = re.split(r"[\[=<>~! ]", requirement, maxsplit=1)[0].lower()
            pins[name] = requirement
    missing = [name for name in packages if name not in pins]
    if missing:
        raise RuntimeError(f"requirements.txt pins no {', '.join(missing)}")
    return [pins[name] for name in packages]


def _path_free(text: str) -> str:
    """``text`` with every absolute path cut to its last part: a card travels, the server's
    folders stay home."""
    return " ".join(Path(word).name if word.startswith("/") else word for word in text.split(" "))


def shareable_card(card: dict) -> dict:
    """The card as it goes into the zip: the same, less where things were on the server."""
    shared = json.loads(json.dumps(card))
    if isinstance(shared.get("data"), dict) and isinstance(shared["data"].get("source"), str):
        shared["data"]["source"] = _path_free(shared["data"]["source"])
    if isinstance(shared.get("command"), str):
        shared["command"] = _path_free(shared["command"])
    if isinstance(shared.get("class_data"), dict):
        shared["class_data"].pop("database", None)  # the class database's address
    return shared


def _made(card: dict) -> str:
    date = str(card.get("date", ""))[:10]
    if card.get("tuned_on"):
        made = f"{(card.get('base') or {}).get('arch', 'a model')} fine-tuned on {card['tuned_on']}"
    elif card.get("trained_here"):
        made = str(card.get("source", "trained on the Train page"))
    else:
        source = str(card.get("source") or "Digit Lab")
        made = "one of the models that come with it" + ("" if source == "Digit Lab" else f", from {source}")
    return f"{made}, on {date}" if date else made


def _runtime_words(files: list[str]) -> str:
    if "model.tflite" in files:
        keras, tensorflow = pinned(KERAS_PACKAGES)
        return ("`predict.py` runs `model.tflite` on LiteRT (`ai-edge-litert`), Google's runtime for small "
                "devices, so it needs no TensorFlow. `model.keras` is the same network for Keras 3: "
                f"`keras.models.load_model(\"model.keras\")`, with `{keras}` and `{tensorflow}` installed. "
                "Both take digits as float32 arrays of shape (N, 28, 28, 1), 0 to 1, and give ten "
                "probabilities per digit. (LiteRT says `INFO: Created TensorFlow Lite XNNPACK delegate for "
                "CPU.` as it starts: that is as it should be.)")
    return ("This network is written in plain numpy, without a deep-learning library: `scratch/` holds "
            "Digit Lab's own layers, and `predict.py` rebuilds the network from `weights.npz` with them "
            "(`scratch.network.load_network`). It has no `model.tflite` or `model.keras`; its Keras twin "
            "of the same shape is in Digit Lab's `model/training/networks.py`.")


def take_home_files(arch: str, model_dir: Path = MODEL_DIR, title: str | None = None,
                    about: str | None = None) -> dict[str, bytes]:
    """What goes into the zip of ``model_dir/arch``, by path inside its folder. ArtifactError
    for a missing card, no model file, or a model file that fails its card's checksum."""
    folder = Path(model_dir) / arch
    card = load_card(arch, model_dir)
    models = [name for name in MODEL_FILES if (folder / name).is_file()]
    if not models:
        raise ArtifactError(folder, "without a model file", arch)
    for name in models:
        verify_weights(folder / name, card, arch)
    files = {name: (folder / name).read_bytes() for name in models}
    packages = PREPROCESS_PACKAGES
    if "model.tflite" not in models:
        if "weights.npz" not in models:
            raise ArtifactError(folder / "model.tflite", "missing (predict.py runs the LiteRT file)", arch)
        network = (SCRATCH / "network.py").read_text()
        if network.count(SCRATCH_IMPORT) != 1:
            raise RuntimeError(f"model/scratch/network.py no longer imports its layers with {SCRATCH_IMPORT!r}")
        files["scratch/__init__.py"] = b'"""Digit Lab\'s numpy engine: the layers and the network."""\n'
        files["scratch/layers.py"] = (SCRATCH / "layers.py").read_bytes()
        files["scratch/network.py"] = network.replace(SCRATCH_IMPORT, "from scratch.layers import").encode()
    else:
        packages = PREPROCESS_PACKAGES + LITERT_PACKAGES
    files["card.json"] = (json.dumps(shareable_card(card), indent=1) + "\n").encode()
    files["predict.py"] = (TAKE_HOME / "predict.py").read_bytes()
    files["preprocess.py"] = PREPROCESS.read_bytes()
    files["requirements.txt"] = ("\n".join(pinned(packages)) + "\n").encode()
    listed = [name for name in (*models, "card.json", "predict.py", "preprocess.py", "scratch/", "requirements.txt")
              if name in files or (name == "scratch/" and "scratch/network.py" in files)]
    accuracy = card.get("test_accuracy")
    summary = card.get("summary", "")
    files["README.md"] = Template((TAKE_HOME / "README.md").read_text()).substitute(
        title=f"{title or arch}: a Digit Lab model",
        about=(f"{about} " if about else "") + f"Its layers: {summary} ({card.get('params', 0):,} learned numbers).",
        accuracy=f"{accuracy:.2%}" if isinstance(accuracy, (int, float)) else "an unmeasured share",
        errors=card.get("test_errors", "?"),
        made=_made(card),
        files="\n".join(f"| `{name}` | {FILE_WORDS[name]} |" for name in listed),
        runtime=_runtime_words(models),
    ).encode()
    return files


def _zip_time(card_date: object) -> tuple[int, int, int, int, int, int]:
    """Every entry dated when the model was made: the same model always zips the same."""
    try:
        when = dt.datetime.fromisoformat(str(card_date))
    except ValueError:
        return (1980, 1, 1, 0, 0, 0)
    return when.timetuple()[:6] if when.year >= 1980 else (1980, 1, 1, 0, 0, 0)


def take_home_zip(arch: str, model_dir: Path = MODEL_DIR, title: str | None = None,
                  about: str | None = None) -> bytes:
    """The zip of ``model_dir/arch`` to take home (see the module's docstring)."""
    files = take_home_files(arch, model_dir, title, about)
    stamp = _zip_time(json.loads(files["card.json"]).get("date"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in sorted(files):
            entry = zipfile.ZipInfo(f"digitlab-{arch}/{name}", date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, files[name])
    return buffer.getvalue()
