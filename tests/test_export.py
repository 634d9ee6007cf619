"""A model to take home (model.serving.export): every model's zip holds its files unchanged, its
card without the server's paths, the app's preprocessing and a predict.py that reads PNGs of
MNIST test digits right; a damaged model file is never packed. The slow test installs the
zip's requirements.txt in a fresh virtual environment (from the package index) and runs
predict.py there.

The zip sizes: ``pytest -s tests/test_export.py -k sizes``.
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model import MODEL_DIR
from model.serving.artifacts import DIGESTS_KEY, MODEL_FILES, ArtifactError, load_card, shipped_archs
from model.serving.export import (
    LITERT_PACKAGES,
    PREPROCESS,
    PREPROCESS_PACKAGES,
    pinned,
    shareable_card,
    take_home_zip,
    zip_file_name,
)

REPO = Path(__file__).resolve().parent.parent
ARCHS = shipped_archs(MODEL_DIR)
DIGITS = 3  # the first MNIST test digits: a 7, a 2 and a 1


def unzipped(arch: str, target: Path, model_dir: Path = MODEL_DIR) -> Path:
    """The zip of ``arch`` unpacked into ``target``; its one folder."""
    with zipfile.ZipFile(io.BytesIO(take_home_zip(arch, model_dir))) as archive:
        assert {name.split("/", 1)[0] for name in archive.namelist()} == {f"digitlab-{arch}"}
        archive.extractall(target)
    return target / f"digitlab-{arch}"


def digit_pictures(mnist, folder: Path) -> list[tuple[Path, int]]:
    """PNGs of the first MNIST test digits as a student's photo would come: 4x larger, dark ink
    on light paper."""
    folder.mkdir(parents=True, exist_ok=True)
    pictures = []
    for i in range(DIGITS):
        path = folder / f"test{i}.png"
        Image.fromarray(255 - mnist.test.images[i]).resize((112, 112), Image.Resampling.LANCZOS).save(path)
        pictures.append((path, int(mnist.test.labels[i])))
    return pictures


def read_with_predict(folder: Path, pictures: list[tuple[Path, int]], python: str = sys.executable) -> str:
    done = subprocess.run([python, "predict.py", *(str(p) for p, _ in pictures)], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def assert_read_right(output: str, pictures: list[tuple[Path, int]], right: bool = True) -> None:
    """Each picture's line and its ten probabilities, adding up to 1, the highest the digit it
    names; and (``right``) that digit the picture's."""
    for path, label in pictures:
        line = next(row for row in output.splitlines() if row.startswith(f"{path}: "))
        read = int(line.split(": ", 1)[1].split(" ", 1)[0])
        rows = output.split(f"{path}: ", 1)[1].splitlines()[1:11]
        probabilities = [float(row.split(":")[1].split("%")[0]) / 100 for row in rows]
        assert [row.strip().split(":")[0] for row in rows] == [str(d) for d in range(10)]
        assert sum(probabilities) == pytest.approx(1, abs=0.01) and int(np.argmax(probabilities)) == read
        assert read == label or not right, output


@pytest.mark.parametrize("arch", ARCHS)
def test_the_zip_holds_the_model_unchanged_and_what_runs_it(arch, tmp_path):
    folder = unzipped(arch, tmp_path)
    card = load_card(arch)
    models = [name for name in MODEL_FILES if (MODEL_DIR / arch / name).is_file()]
    expected = {*models, "card.json", "README.md", "predict.py", "preprocess.py", "requirements.txt"}
    if "model.tflite" not in models:
        expected |= {"scratch/__init__.py", "scratch/layers.py", "scratch/network.py"}
    found = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert found == expected
    for name in models:
        data = (folder / name).read_bytes()
        assert data == (MODEL_DIR / arch / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == card[DIGESTS_KEY][name]
    assert (folder / "preprocess.py").read_bytes() == PREPROCESS.read_bytes()
    assert json.loads((folder / "card.json").read_text()) == shareable_card(card)
    packages = PREPROCESS_PACKAGES + (LITERT_PACKAGES if "model.tflite" in models else ())
    assert (folder / "requirements.txt").read_text().split() == pinned(packages)
    readme = (folder / "README.md").read_text()
    assert f"{card['test_accuracy']:.2%}" in readme and "pip install -r requirements.txt" in readme
    for path in folder.rglob("*"):
        if path.suffix in (".json", ".md", ".txt"):
            assert str(REPO) not in path.read_text()
    # The same model always zips to the same bytes.
    assert take_home_zip(arch, MODEL_DIR) == take_home_zip(arch, MODEL_DIR)


@pytest.mark.parametrize("arch", ARCHS)
def test_predict_reads_pngs_of_test_digits_right(arch, tmp_path, mnist):
    folder = unzipped(arch, tmp_path / "zip")
    pictures = digit_pictures(mnist, tmp_path / "pictures")
    assert_read_right(read_with_predict(folder, pictures), pictures)


def test_predict_says_what_is_wrong_with_a_picture(tmp_path):
    folder = unzipped(ARCHS[0], tmp_path)
    blank, text = tmp_path / "blank.png", tmp_path / "notes.png"
    Image.new("L", (64, 64), 255).save(blank)
    text.write_text("not a picture")
    done = subprocess.run([sys.executable, "predict.py", str(blank), str(text), str(tmp_path / "gone.png")],
                          cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0] == f"{blank}: no digit found (the picture looks empty)"
    assert lines[1].startswith(f"{text}: ") and "image" in lines[1]
    assert lines[2] == f"{tmp_path / 'gone.png'}: cannot be read (No such file or directory)"
    assert "Traceback" not in done.stderr


def test_a_damaged_model_file_is_never_packed(tmp_path):
    arch = next(a for a in ARCHS if (MODEL_DIR / a / "model.tflite").is_file())
    shutil.copytree(MODEL_DIR / arch, tmp_path / arch)
    tflite = tmp_path / arch / "model.tflite"
    raw = bytearray(tflite.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    tflite.write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match="model.tflite is damaged"):
        take_home_zip(arch, tmp_path)


def test_the_card_travels_without_the_servers_paths():
    card = {"arch": "cnn_class", "data": {"source": "/srv/school/data/mnist", "checksums": {"a": "b"}},
            "command": "python -m model.classroom.finetune --arch cnn --model-dir /srv/school/model --out "
                       "/srv/school/data/models --progress /srv/school/data/finetune-progress.json",
            "class_data": {"database": "sqlite:////srv/school/data/class.sqlite3", "drawings": 40}}
    shared = shareable_card(card)
    assert "/srv" not in json.dumps(shared)
    assert shared["data"] == {"source": "mnist", "checksums": {"a": "b"}}
    assert shared["command"] == ("python -m model.classroom.finetune --arch cnn --model-dir model --out models "
                                 "--progress finetune-progress.json")
    assert shared["class_data"] == {"drawings": 40}
    assert card["data"]["source"] == "/srv/school/data/mnist"  # the model's own card is untouched


def test_sizes():
    """Each model's zip, for the record."""
    for arch in ARCHS:
        data = take_home_zip(arch, MODEL_DIR)
        print(f"{zip_file_name(arch)}: {len(data) / 2**20:.2f} MB ({len(data):,} bytes)")
        assert len(data) < 20 * 2**20


@pytest.mark.slow
def test_predict_runs_in_a_fresh_virtual_environment_with_only_the_listed_packages(tmp_path, mnist):
    """A student's computer: a new venv, ``pip install -r requirements.txt``, predict.py; first a
    LiteRT model's zip, then a numpy model's (whose packages are a subset) in the same venv."""
    keras_arch = next(a for a in ARCHS if (MODEL_DIR / a / "model.tflite").is_file())
    numpy_arch = next((a for a in ARCHS if not (MODEL_DIR / a / "model.tflite").is_file()), None)
    pictures = digit_pictures(mnist, tmp_path / "pictures")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    folder = unzipped(keras_arch, tmp_path / "zips")
    installed = subprocess.run([python, "-m", "pip", "install", "--quiet", "-r", "requirements.txt"], cwd=folder,
                               capture_output=True, text=True, timeout=1200)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    packages = subprocess.run([python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                              check=True).stdout
    assert "tensorflow" not in packages.lower() and "keras" not in packages.lower()
    output = read_with_predict(folder, pictures, python)
    print(f"\n--- {zip_file_name(keras_arch)} in a fresh venv ---\n{output}")
    assert_read_right(output, pictures)
    if numpy_arch is not None:
        folder = unzipped(numpy_arch, tmp_path / "zips")
        needs = set((folder / "requirements.txt").read_text().split())
        assert needs <= set(pinned(PREPROCESS_PACKAGES + LITERT_PACKAGES))
        output = read_with_predict(folder, pictures, python)
        print(f"--- {zip_file_name(numpy_arch)} in the same venv ---\n{output}")
        assert_read_right(output, pictures)
