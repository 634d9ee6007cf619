"""Reading the shipped artifacts in ``model/<arch>/``, with errors a page can show as they are.

Only JSON and the standard library here: the diagnostics pages import this and never pay for
TensorFlow.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
from pathlib import Path
from typing import Callable, Generic, TypeVar

from model import MODEL_DIR

# The order the app lists models in: ours first, then the seeds.
PREFERRED_ORDER = (
    "cnn",
    "cnn_blend",
    "cnn_pen",
    "seed004_cnn",
    "seed002_cnn",
    "seed000_cnn",
    "seed000_numpy",
    "seed002_mlp",
    "seed003_fcn",
    "seed003_numpy",
)
MODEL_FILES = ("model.tflite", "model.keras", "weights.npz")
# The card's table of SHA-256 digests of the model files beside it.
DIGESTS_KEY = "sha256"
# What a model folder may be called; a name a client sends is checked against it (and against
# the shipped models) before it is ever joined to a path.
ARCH_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
REPO_DIR = MODEL_DIR.parent
T = TypeVar("T")


def short_path(path: Path) -> str:
    """A path as a message may show it: relative to the repository (``model/cnn/model.tflite``),
    or for artifacts kept elsewhere just ``<arch>/<file>``; never the server's absolute path."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(REPO_DIR))
    except (ValueError, OSError):
        return str(Path(path.parent.name, path.name))


class PerModel(Generic[T]):
    """What ``build(arch, model_dir)`` makes from a model's folder, built once per process and
    shared by every session (pages ask on every rerun); ``forget`` it once the files change."""

    def __init__(self, build: Callable[[str, Path], T]):
        self._build, self._built, self._lock = build, {}, threading.Lock()

    def __call__(self, arch: str, model_dir: Path = MODEL_DIR) -> T:
        key = (arch, Path(model_dir))
        with self._lock:
            if key not in self._built:
                self._built[key] = self._build(arch, Path(model_dir))
            return self._built[key]

    def forget(self, arch: str, model_dir: Path = MODEL_DIR) -> None:
        with self._lock:
            self._built.pop((arch, Path(model_dir)), None)


def train_command(arch: str = "cnn") -> str:
    """The command that (re)trains ``arch`` and writes its artifacts."""
    return f"python -m model.train --arch {arch}"


def features_command(arch: str = "cnn") -> str:
    """The command that (re)makes ``arch``'s not-a-digit statistics and map from its own features."""
    return f"python -m model.explaining.derived --arch {arch}"


def retrain_hint(arch: str) -> str:
    return f"Regenerate it with: {train_command(arch)}"


class ArtifactError(RuntimeError):
    """An artifact is missing or unreadable; the message names the file and the fix."""

    def __init__(self, path: Path, problem: str, arch: str):
        self.path, self.problem, self.arch = Path(path), problem, arch
        super().__init__(f"{short_path(self.path)} is {problem}. {retrain_hint(arch)}")


def is_arch_name(arch: object) -> bool:
    """Whether ``arch`` could name a model folder (no separators, no dots, not empty)."""
    return isinstance(arch, str) and ARCH_NAME.fullmatch(arch) is not None


def is_known_arch(arch: object, model_dir: Path = MODEL_DIR) -> bool:
    """Whether ``arch`` is one of the models ``model_dir`` ships. The only file access is the
    listing of ``model_dir``: the name itself never reaches the filesystem."""
    return is_arch_name(arch) and arch in shipped_archs(model_dir)


def shipped_archs(model_dir: Path = MODEL_DIR) -> list[str]:
    """Every folder of ``model_dir`` that holds a card, ours first."""
    found = {p.parent.name for p in Path(model_dir).glob("*/card.json") if not p.parent.name.startswith(".")}
    ordered = [a for a in PREFERRED_ORDER if a in found]
    return ordered + sorted(found - set(ordered))


def read_json(arch: str, name: str, model_dir: Path = MODEL_DIR) -> dict:
    if not is_arch_name(arch):
        raise ArtifactError(Path("unknown", name), "not read: that is not the name of a model", "<model>")
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


# --------------------------------------------------------------------------- integrity

_digest_cache: dict[str, tuple[int, int, str]] = {}
_digest_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """The file's SHA-256, computed once per version of the file (its mtime and size)."""
    path = Path(path)
    stat = path.stat()
    key, stamp = str(path.resolve()), (stat.st_mtime_ns, stat.st_size)
    cached = _digest_cache.get(key)
    if cached is not None and cached[:2] == stamp:
        return cached[2]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    with _digest_lock:
        _digest_cache[key] = (*stamp, digest.hexdigest())
    return digest.hexdigest()


def weights_digests(folder: Path) -> dict[str, str]:
    """The SHA-256 of each model file in ``folder``, as the card records them."""
    return {name: file_sha256(Path(folder) / name) for name in MODEL_FILES if (Path(folder) / name).is_file()}


def verify_weights(path: Path, card: dict, arch: str) -> None:
    """Raise :class:`ArtifactError` unless the model file ``path`` has the SHA-256 its card
    records. A card that records no digests vouches for nothing and checks nothing."""
    digests = card.get(DIGESTS_KEY)
    if digests is None:
        return
    expected = digests.get(Path(path).name) if isinstance(digests, dict) else None
    if expected is None:
        raise ArtifactError(path, "not vouched for by its card (no SHA-256 recorded for it)", arch)
    if file_sha256(path) != expected:
        raise ArtifactError(path, "damaged (its SHA-256 does not match the one on its card)", arch)


def damaged_files(arch: str, model_dir: Path = MODEL_DIR) -> dict[str, str]:
    """``{file: problem}`` for each model file of a shipped ``arch`` that fails its card's check."""
    folder = Path(model_dir) / arch
    card = load_card(arch, model_dir)
    problems = {}
    for name in MODEL_FILES:
        path = folder / name
        if not path.is_file():
            continue
        try:
            verify_weights(path, card, arch)
        except (ArtifactError, OSError) as e:
            problems[name] = getattr(e, "problem", "unreadable")
    return problems


def is_usable(arch: str, model_dir: Path = MODEL_DIR) -> bool:
    """Whether at least one model file of ``arch`` passes its card's check."""
    folder = Path(model_dir) / arch
    present = [name for name in MODEL_FILES if (folder / name).is_file()]
    return bool(present) and len(damaged_files(arch, model_dir)) < len(present)


def record_digests(arch: str, model_dir: Path = MODEL_DIR) -> dict[str, str]:
    """Write the SHA-256 of ``arch``'s model files onto its card (the card is rewritten in its
    own layout); returns them."""
    path = Path(model_dir) / arch / "card.json"
    card = load_card(arch, model_dir)
    card[DIGESTS_KEY] = weights_digests(path.parent)
    path.write_text(json.dumps(card, indent=1) + "\n")
    return card[DIGESTS_KEY]


def models_table(model_dir: Path = MODEL_DIR) -> list[dict]:
    """One row per shipped model, from the cards: the README's table (``python -m model.serving.artifacts``)."""
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The shipped models' table, or their cards' digests.")
    parser.add_argument("--record-digests", action="store_true",
                        help="write the SHA-256 of each model's files onto its card")
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    args = parser.parse_args(argv)
    if args.record_digests:
        for arch in shipped_archs(args.model_dir):
            digests = record_digests(arch, args.model_dir)
            print(arch, " ".join(f"{name}={digest[:12]}" for name, digest in digests.items()))
    else:
        print(_markdown(models_table(args.model_dir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
