"""Reading the shipped artifacts in ``model/<arch>/``, with errors a page can show as they are.

Only JSON and the standard library here: the diagnostics pages import this and never pay for
TensorFlow.
"""
from __future__ import annotations

import json
from pathlib import Path

from model import MODEL_DIR

# The order the app lists models in: ours first, then the seeds.
PREFERRED_ORDER = (
    "cnn",
    "seed004_cnn",
    "seed002_cnn",
    "seed000_cnn",
    "seed000_numpy",
    "seed002_mlp",
    "seed003_fcn",
    "seed003_numpy",
)
MODEL_FILES = ("model.tflite", "model.keras", "weights.npz")


def train_command(arch: str = "cnn") -> str:
    """The command that (re)trains ``arch`` and writes its artifacts."""
    return f"python -m model.train --arch {arch} --data-dir $MNIST_DIR"


def retrain_hint(arch: str) -> str:
    return f"Regenerate it with: {train_command(arch)}"


class ArtifactError(RuntimeError):
    """An artifact is missing or unreadable; the message names the file and the fix."""

    def __init__(self, path: Path, problem: str, arch: str):
        self.path, self.problem, self.arch = Path(path), problem, arch
        super().__init__(f"{self.path} is {problem}. {retrain_hint(arch)}")


def shipped_archs(model_dir: Path = MODEL_DIR) -> list[str]:
    """Every folder of ``model_dir`` that holds a card, ours first."""
    found = {p.parent.name for p in Path(model_dir).glob("*/card.json") if not p.parent.name.startswith(".")}
    ordered = [a for a in PREFERRED_ORDER if a in found]
    return ordered + sorted(found - set(ordered))


def read_json(arch: str, name: str, model_dir: Path = MODEL_DIR) -> dict:
    path = Path(model_dir) / arch / name
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ArtifactError(path, "missing", arch) from None
    except OSError as e:
        raise ArtifactError(path, f"unreadable ({e.strerror})", arch) from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ArtifactError(path, f"corrupt (not valid JSON: {e.msg} at line {e.lineno})", arch) from e
    if not isinstance(data, dict):
        raise ArtifactError(path, "corrupt (not a JSON object)", arch)
    return data


def load_card(arch: str, model_dir: Path = MODEL_DIR) -> dict:
    return read_json(arch, "card.json", model_dir)


def load_history(arch: str, model_dir: Path = MODEL_DIR) -> dict:
    history = read_json(arch, "history.json", model_dir)
    if not isinstance(history.get("epochs"), list):
        raise ArtifactError(Path(model_dir) / arch / "history.json", "corrupt (no 'epochs' list)", arch)
    return history


def load_evaluation(arch: str, model_dir: Path = MODEL_DIR) -> dict:
    evaluation = read_json(arch, "evaluation.json", model_dir)
    matrix = evaluation.get("confusion_matrix")
    if not (isinstance(matrix, list) and len(matrix) == 10 and all(len(r) == 10 for r in matrix)):
        raise ArtifactError(
            Path(model_dir) / arch / "evaluation.json", "corrupt (no 10x10 confusion_matrix)", arch
        )
    return evaluation


def models_table(model_dir: Path = MODEL_DIR) -> list[dict]:
    """One row per shipped model, from the cards: the README's table (``python -m model.artifacts``)."""
    rows = []
    for arch in shipped_archs(model_dir):
        card = load_card(arch, model_dir)
        rows.append(
            {
                "model": arch,
                "layers": card.get("summary", ""),
                "test accuracy": card.get("test_accuracy"),
                "errors": card.get("test_errors"),
                "published": card.get("published_accuracy"),
                "params": card.get("params"),
                "epochs": card.get("epochs"),
                "training min": round(card.get("train_seconds", 0) / 60, 1),
                "inference ms": card.get("inference_ms"),
            }
        )
    return rows


def _markdown(rows: list[dict]) -> str:
    header = ["model", "layers", "test accuracy", "errors / 10,000", "seed's published", "params", "epochs",
              "training min", "ms a digit"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for r in rows:
        published = f"{r['published']:.2%}" if r["published"] else "—"
        latency = f"{r['inference ms']:.2f}" if r["inference ms"] else "—"
        lines.append(
            f"| `{r['model']}` | {r['layers']} | {r['test accuracy']:.2%} | {r['errors']} | {published} | "
            f"{r['params']:,} | {r['epochs']} | {r['training min']} | {latency} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(_markdown(models_table()))
