"""Fine-tuning on a class's drawings (model/classroom/finetune.py): the writer split, and a short real run
that writes a loadable model with its base, data and before/after scores on the card."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest

from model.classroom import classdata
from model.classroom.finetune import FinetuneError, finetune, split_by_writer
from model.classroom.storage import Storage
from model.serving.inference import load_classifier
from tests.browser import REPO
from tests.drawing import class_drawings


@pytest.fixture(scope="module")
def class_set():
    return class_drawings(writers=6, per_digit=1, seed=11)


def _database(path, arrays) -> str:
    url = f"sqlite:///{path}"
    buffer = io.BytesIO()
    np.savez(buffer, images=arrays[0], labels=arrays[1], sessions=arrays[2])
    storage = Storage(url)
    classdata.import_npz(storage, buffer.getvalue())
    storage.close()
    return url


def test_the_held_out_writers_are_a_fixed_share_and_on_one_side_only(tmp_path, class_set):
    storage = Storage(_database(tmp_path / "c.sqlite3", class_set))
    answers = storage.answers()
    split = split_by_writer(answers, 0.3)
    assert len(split.held_out_sessions) == 2 and len(split.train_sessions) == 4
    assert not set(split.train.sessions.tolist()) & set(split.held_out.sessions.tolist())
    assert len(split.train) + len(split.held_out) == len(answers)
    # The choice depends on the writers only, not on the order of the drawings.
    reversed_answers = type(answers)(**{k: v[::-1] for k, v in vars(answers).items()})
    assert split_by_writer(reversed_answers, 0.3).held_out_sessions == split.held_out_sessions
    one_writer = type(answers)(**{k: v[answers.sessions == answers.sessions[0]] for k, v in vars(answers).items()})
    with pytest.raises(FinetuneError, match="at least 2 writers"):
        split_by_writer(one_writer)
    storage.close()


@pytest.mark.slow
@pytest.mark.mnist
def test_a_short_finetune_writes_a_model_with_both_scores(tmp_path, class_set, mnist_dir):
    url = _database(tmp_path / "c.sqlite3", class_set)
    out = tmp_path / "models"
    card = finetune(url, "cnn", "cnn_test_class", out=out, data_dir=mnist_dir, epochs=1, mnist_digits=300,
                    test_limit=500, check_digits=0)
    folder = out / "cnn_test_class"
    for name in ("model.keras", "model.tflite", "card.json", "history.json", "evaluation.json"):
        assert (folder / name).is_file(), name
    saved = json.loads((folder / "card.json").read_text())
    assert saved["base"]["arch"] == "cnn" and "tuned_on" in saved
    assert saved["class_data"]["drawings"] == len(class_set[0]) and saved["class_data"]["held_out_writers"] == 2
    for when in ("before", "after"):
        for what in ("mnist_test", "held_out_class"):
            assert 0.5 < saved["scores"][when][what] <= 1.0
    assert saved["test_accuracy"] == card["scores"]["after"]["mnist_test"]
    blend = saved["finetune"]["blend"]
    assert blend["mnist_check_digits"] == 5000 and blend["mix"] == blend["tried"][-1]["mix"]
    assert json.loads((folder / "evaluation.json").read_text())["n"] == 500
    assert len(json.loads((folder / "history.json").read_text())["epochs"]) == 1
    classifier = load_classifier("cnn_test_class", out)
    assert classifier.runtime == "litert"
    assert classifier.predict_proba(class_set[0][:5]).shape == (5, 10)


def test_bad_requests_are_plain_messages(tmp_path, class_set):
    url = _database(tmp_path / "c.sqlite3", class_set)
    with pytest.raises(FinetuneError, match="its own name"):
        finetune(url, "cnn", "cnn", out=tmp_path)
    with pytest.raises(FinetuneError, match="lower-case"):
        finetune(url, "cnn", "../evil", out=tmp_path)
    (tmp_path / "seed000_cnn").mkdir()
    (tmp_path / "seed000_cnn" / "card.json").write_text('{"arch": "seed000_cnn"}')
    with pytest.raises(FinetuneError, match="another name"):
        finetune(url, "cnn", "seed000_cnn", out=tmp_path)
    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    progress = tmp_path / "progress.json"
    done = subprocess.run([sys.executable, "-m", "model.classroom.finetune", "--db", empty, "--name", "x_class",
                           "--out", str(tmp_path), "--progress", str(progress)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "at least 20 drawings" in done.stderr and "Traceback" not in done.stderr
    assert json.loads(progress.read_text())["state"] == "failed"
