"""What the Draw page's browser is served for live predictions (model/serving/live.py): the
committed runtime build, and the model's own .tflite with a batch of one, gzipped under the
hash of its bytes; never a file that fails its card's checksum."""
from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pytest

from model import MODEL_DIR
from model.serving.artifacts import load_card
from model.serving.inference import litert_interpreter
from model.serving.live import STATIC_DIR, batch_of_one, live_files, runtime_folder


def test_the_committed_runtime_build_is_whole():
    folder = runtime_folder()
    assert folder is not None and folder.startswith("live-")
    manifest = json.loads((STATIC_DIR / folder / "manifest.json").read_text())
    assert set(manifest["files"]) == {"live.js", "litert_wasm_internal.js", "litert_wasm_internal.wasm.gz",
                                      "litert_wasm_compat_internal.js", "litert_wasm_compat_internal.wasm.gz"}


def test_a_partial_build_is_not_served(tmp_path):
    shutil.copytree(STATIC_DIR / runtime_folder(), tmp_path / runtime_folder())
    assert runtime_folder(tmp_path) == runtime_folder()
    (tmp_path / runtime_folder() / "live.js").unlink()
    assert runtime_folder(tmp_path) is None


def test_batch_of_one_gives_the_same_probabilities():
    raw = (MODEL_DIR / "cnn" / "model.tflite").read_bytes()
    one = batch_of_one(raw)
    assert len(one) == len(raw) and one != raw
    x = np.random.default_rng(28).random((1, 28, 28, 1), np.float32)
    outputs = []
    for model in (raw, one):
        interpreter = litert_interpreter(content=model)
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    assert np.array_equal(outputs[0], outputs[1])
    assert list(litert_interpreter(content=one).get_input_details()[0]["shape_signature"]) == [1, 28, 28, 1]


def test_the_model_is_published_gzipped_under_its_hash(tmp_path):
    shutil.copytree(STATIC_DIR / runtime_folder(), tmp_path / runtime_folder())
    files = live_files(MODEL_DIR / "cnn", load_card("cnn"), tmp_path)
    assert files is not None and files.runtime == runtime_folder() + "/"
    served = tmp_path / files.model
    raw = (MODEL_DIR / "cnn" / "model.tflite").read_bytes()
    assert gzip.decompress(served.read_bytes()) == batch_of_one(raw)
    assert not list(served.parent.glob("*.tmp"))


def test_no_live_model_without_a_tflite_or_with_a_damaged_one(tmp_path):
    shutil.copytree(STATIC_DIR / runtime_folder(), tmp_path / runtime_folder())
    numpy = next((a for a in ("seed000_numpy", "seed003_numpy") if (MODEL_DIR / a).is_dir()), None)
    if numpy is None:
        pytest.skip("no numpy model shipped")
    assert live_files(MODEL_DIR / numpy, load_card(numpy), tmp_path) is None
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    data = bytearray((MODEL_DIR / "cnn" / "model.tflite").read_bytes())
    data[-100] ^= 0xFF
    (damaged / "model.tflite").write_bytes(bytes(data))
    assert live_files(damaged, load_card("cnn"), tmp_path) is None
