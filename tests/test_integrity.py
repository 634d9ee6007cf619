"""Model files checked against their cards: a damaged one is named (never by its absolute
path) and passed over for the other format of the same model or the next model, and a model
name from a client is checked against the shipped models before it touches the filesystem."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from model import MODEL_DIR
from model.serving import artifacts
from model.serving.inference import ClassifierError, load_classifier

ARCHS = artifacts.shipped_archs(MODEL_DIR)
pytestmark = pytest.mark.skipif("cnn" not in ARCHS, reason="no shipped cnn")


def copy_model(arch: str, folder: Path) -> Path:
    shutil.copytree(MODEL_DIR / arch, folder / arch)
    return folder / arch


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_every_shipped_card_vouches_for_its_model_files():
    for arch in ARCHS:
        card = artifacts.load_card(arch)
        present = {name for name in artifacts.MODEL_FILES if (MODEL_DIR / arch / name).is_file()}
        assert present and set(card[artifacts.DIGESTS_KEY]) == present, arch
        assert card[artifacts.DIGESTS_KEY] == artifacts.weights_digests(MODEL_DIR / arch), arch
        assert artifacts.damaged_files(arch) == {} and artifacts.is_usable(arch)


def test_recording_digests_changes_only_the_digests(tmp_path):
    folder = copy_model("seed000_numpy", tmp_path)
    card = json.loads((folder / "card.json").read_text())
    del card["sha256"]
    (folder / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    assert artifacts.main(["--record-digests", "--model-dir", str(tmp_path)]) == 0
    assert (folder / "card.json").read_text() == (MODEL_DIR / "seed000_numpy" / "card.json").read_text()


def test_a_damaged_tflite_falls_back_to_the_keras_file_and_is_named(tmp_path):
    folder = copy_model("cnn", tmp_path)
    truncate(folder / "model.tflite")
    assert artifacts.damaged_files("cnn", tmp_path) == {
        "model.tflite": "damaged (its SHA-256 does not match the one on its card)"
    }
    assert artifacts.is_usable("cnn", tmp_path)  # its model.keras is intact

    classifier = load_classifier("cnn", tmp_path)
    assert classifier.runtime == "keras"
    assert classifier.problems == ("cnn/model.tflite is damaged (its SHA-256 does not match the one on its card)",)
    reference = load_classifier("cnn")
    digits = np.random.default_rng(0).random((4, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(classifier.predict_proba(digits), reference.predict_proba(digits), atol=1e-5)

    # A card from before digests vouches for nothing: a broken file is caught by loading it.
    card = json.loads((folder / "card.json").read_text())
    del card["sha256"]
    (folder / "card.json").write_text(json.dumps(card))
    (folder / "model.tflite").write_bytes(b"\x00garbage" * 100)
    classifier = load_classifier("cnn", tmp_path)
    assert classifier.runtime == "keras"
    assert classifier.problems == ("cnn/model.tflite could not be loaded (ValueError)",)


def test_a_model_with_every_file_damaged_cannot_be_used(tmp_path):
    folder = copy_model("seed002_cnn", tmp_path)
    for name in ("model.tflite", "model.keras"):
        truncate(folder / name)
    assert not artifacts.is_usable("seed002_cnn", tmp_path)
    with pytest.raises(ClassifierError) as caught:
        load_classifier("seed002_cnn", tmp_path)
    message = str(caught.value)
    assert message.startswith("The model seed002_cnn cannot be used: seed002_cnn/model.tflite is damaged")
    assert "seed002_cnn/model.keras is damaged" in message
    assert str(tmp_path) not in message and "python -m model.train --arch seed002_cnn" in message


def test_an_unknown_name_never_reaches_the_filesystem(tmp_path, monkeypatch):
    outside = tmp_path / "x"
    outside.mkdir()
    (outside / "card.json").write_text(json.dumps({"test_accuracy": 0.5}))
    opened: list[str] = []
    watching = [True]

    def audit(event, args):
        if watching[0] and event == "open" and isinstance(args[0], (str, bytes, Path)):
            opened.append(str(args[0]))

    sys.addaudithook(audit)  # cannot be removed; it stops recording at the end of the test
    try:
        from pages import common_artifacts, common_models

        hostile = [f"../../../{outside}", str(outside), "cnn/../seed000_cnn", "..", "", "cnn\x00", None, 3]
        for name in hostile:
            assert not artifacts.is_known_arch(name)
            assert not common_artifacts.is_known_arch(name)
            assert common_models.arch_label(name) == "(not a shipped model)"
        with pytest.raises(artifacts.ArtifactError, match="not the name of a model"):
            artifacts.load_card(f"../../../{outside}")
        with pytest.raises(ClassifierError, match="not the name of a model"):
            load_classifier(str(outside))
        for name in (f"../../../{outside}", "not_a_model"):
            with pytest.raises(artifacts.ArtifactError, match="not a shipped model"):
                common_artifacts.load_history(name)
    finally:
        watching[0] = False
    assert not [p for p in opened if p.endswith(("card.json", "history.json")) or str(outside) in p], opened
    assert artifacts.is_known_arch("cnn")
    assert common_models.arch_label("cnn").startswith(f"{common_models.friendly_name('cnn')} — ")


def test_the_draw_page_serves_the_next_good_model_when_one_cannot_be_used(tmp_path, monkeypatch):
    from pages import common_artifacts, common_models

    broken = copy_model("seed002_cnn", tmp_path)
    for name in ("model.tflite", "model.keras"):
        truncate(broken / name)
    copy_model("seed000_numpy", tmp_path)
    monkeypatch.setenv(common_artifacts.MODEL_DIR_ENV, str(tmp_path))
    assert common_artifacts.shipped_archs() == ["seed002_cnn", "seed000_numpy"]
    damaged = f"{common_models.friendly_name('seed002_cnn')} (damaged, cannot be used)"
    assert common_models.arch_label("seed002_cnn") == damaged
    assert common_models.default_arch(common_artifacts.shipped_archs()) == "seed000_numpy"
    classifier = common_models.serving_classifier("seed002_cnn")
    assert (classifier.arch, classifier.runtime) == ("seed000_numpy", "numpy")
    # Repaired: the next load sees the new files (the cache is keyed on their mtime and size).
    for name in ("model.tflite", "model.keras"):
        shutil.copy(MODEL_DIR / "seed002_cnn" / name, broken / name)
    assert common_models.arch_label("seed002_cnn").startswith(f"{common_models.friendly_name('seed002_cnn')} — ")
    assert common_models.serving_classifier("seed002_cnn").arch == "seed002_cnn"
