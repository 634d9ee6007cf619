"""A class's drawings as one ``.npz`` file, to share a class set or load it into another
installation; the one module that reads and writes that format.

    python -m model.classroom.classdata export FILE.npz [--db URL] [--class-code C]
    python -m model.classroom.classdata import FILE.npz [--db URL] [--class-code C]

Arrays (N drawings):

| name | dtype, shape | required on import |
| --- | --- | --- |
| ``images`` | float32 (N, 28, 28), in [0, 1]: what the model read | yes |
| ``labels`` | int64 (N,), 0-9: what the student said it was | yes |
| ``sessions`` | str (N,): anonymous writer ids | yes |
| ``predicted`` | int64 (N,), 0-9, -1 unknown | no |
| ``model`` | str (N,): the model that predicted | no |
| ``created_at`` | datetime64[s] (N,), UTC | no |
| ``class_codes`` | str (N,), "" for none | no |

Files are read with ``allow_pickle=False`` and every array is checked (names, shapes, dtypes,
values, sizes) before any of it is used; a bad file raises ``ClassDataError`` saying what is
wrong, and stores nothing.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from model.classroom.storage import Answer, Answers, Storage, StorageError, database_url, valid_class_code

REQUIRED = ("images", "labels", "sessions")
OPTIONAL = ("predicted", "model", "created_at", "class_codes")
MAX_DRAWINGS = 100_000
MAX_ARRAY_BYTES = MAX_DRAWINGS * 28 * 28 * 8  # float64 images at the limit: 627 MB
MAX_TEXT = 64


class ClassDataError(ValueError):
    """A class-data file cannot be used; the message says why, in plain words."""


def to_arrays(answers: Answers) -> dict[str, np.ndarray]:
    return {
        "images": answers.images.astype(np.float32),
        "labels": answers.labels.astype(np.int64),
        "sessions": answers.sessions.astype(str),
        "predicted": answers.predicted.astype(np.int64),
        "model": answers.models.astype(str),
        "created_at": answers.created_at.astype("datetime64[s]"),
        "class_codes": answers.class_codes.astype(str),
    }


def write_npz(target: str | Path | BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    np.savez_compressed(target, **arrays)


def export_bytes(answers: Answers) -> bytes:
    buffer = io.BytesIO()
    write_npz(buffer, to_arrays(answers))
    return buffer.getvalue()


def _text_array(value: np.ndarray, name: str, n: int) -> np.ndarray:
    if value.dtype.kind not in "US":
        raise ClassDataError(f"'{name}' must be text, not {value.dtype}")
    if value.shape != (n,):
        raise ClassDataError(f"'{name}' must have one entry per image ({n}), not shape {value.shape}")
    text = value.astype(str)
    if n and max(len(s) for s in text) > MAX_TEXT:
        raise ClassDataError(f"'{name}' has entries longer than {MAX_TEXT} characters")
    return text


def read_npz(source: str | Path | bytes | BinaryIO) -> dict[str, np.ndarray]:
    """The checked arrays of a class-data file (path, bytes or file object)."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        archive = np.load(source, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ClassDataError(f"not a readable .npz file ({type(e).__name__})") from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ClassDataError("a single array, not an .npz file of named arrays")
    with archive:
        missing = [name for name in REQUIRED if name not in archive.files]
        if missing:
            raise ClassDataError(
                f"the file has no {', '.join(missing)} array (it needs {', '.join(REQUIRED)})")
        for name in archive.files:
            if name in REQUIRED + OPTIONAL and archive.zip.getinfo(f"{name}.npy").file_size > MAX_ARRAY_BYTES:
                raise ClassDataError(f"'{name}' is too large (at most {MAX_DRAWINGS:,} drawings)")
        try:
            raw = {name: archive[name] for name in REQUIRED + OPTIONAL if name in archive.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise ClassDataError(f"an array in the file cannot be read ({type(e).__name__}: {e})") from e
    images = raw["images"]
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ClassDataError(f"'images' must have shape (N, 28, 28), not {images.shape}")
    if images.dtype.kind != "f":
        raise ClassDataError(f"'images' must be floating point in [0, 1], not {images.dtype}")
    n = len(images)
    if n == 0 or n > MAX_DRAWINGS:
        raise ClassDataError(f"the file must hold 1 to {MAX_DRAWINGS:,} drawings, not {n:,}")
    images = images.astype(np.float32)
    if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise ClassDataError("'images' must hold numbers in [0, 1] only")
    labels = raw["labels"]
    if labels.dtype.kind not in "iu" or labels.shape != (n,):
        raise ClassDataError(f"'labels' must be {n} integers, not {labels.dtype} of shape {labels.shape}")
    if labels.min() < 0 or labels.max() > 9:
        raise ClassDataError("'labels' must be digits 0-9")
    out = {"images": images, "labels": labels.astype(np.int64),
           "sessions": _text_array(raw["sessions"], "sessions", n)}
    if (out["sessions"] == "").any():
        raise ClassDataError("'sessions' must not have empty entries")
    if "predicted" in raw:
        predicted = raw["predicted"]
        if predicted.dtype.kind not in "iu" or predicted.shape != (n,):
            raise ClassDataError(
                f"'predicted' must be {n} integers, not {predicted.dtype} of shape {predicted.shape}")
        if predicted.min() < -1 or predicted.max() > 9:
            raise ClassDataError("'predicted' must be digits 0-9 (or -1 for unknown)")
        out["predicted"] = predicted.astype(np.int64)
    if "model" in raw:
        out["model"] = _text_array(raw["model"], "model", n)
    if "class_codes" in raw:
        codes = _text_array(raw["class_codes"], "class_codes", n)
        try:
            for code in set(codes.tolist()):
                valid_class_code(code)
        except ValueError as e:
            raise ClassDataError(f"'class_codes': {e}") from e
        out["class_codes"] = codes
    if "created_at" in raw:
        created = raw["created_at"]
        if created.shape != (n,):
            raise ClassDataError(
                f"'created_at' must have one entry per image ({n}), not shape {created.shape}")
        try:
            out["created_at"] = created.astype("datetime64[s]")
        except (ValueError, TypeError) as e:
            raise ClassDataError("'created_at' must be dates and times (datetime64 or ISO text)") from e
        if np.isnat(out["created_at"]).any():
            raise ClassDataError("'created_at' has missing dates")
    return out


def to_answers(arrays: dict[str, np.ndarray], class_code: str | None = None) -> list[Answer]:
    """Answers to store from checked arrays; ``class_code`` (if given) replaces the file's."""
    code = valid_class_code(class_code)
    out = []
    for i in range(len(arrays["images"])):
        predicted = int(arrays["predicted"][i]) if "predicted" in arrays else -1
        created = None
        if "created_at" in arrays:
            created = arrays["created_at"][i].astype(dt.datetime).replace(tzinfo=dt.timezone.utc)
        file_code = arrays["class_codes"][i] if "class_codes" in arrays else ""
        out.append(Answer(
            image=arrays["images"][i],
            label=int(arrays["labels"][i]),
            session=str(arrays["sessions"][i]),
            predicted=None if predicted < 0 else predicted,
            model=(str(arrays["model"][i]) or None) if "model" in arrays else None,
            class_code=code if code is not None else (file_code or None),
            created_at=created,
        ))
    return out


def import_npz(storage: Storage, source, class_code: str | None = None) -> int:
    """Check a class-data file and store all its drawings in one transaction; returns how many."""
    return storage.add_many(to_answers(read_npz(source), class_code))


def export_npz(storage: Storage, target, class_code: str | None = None) -> int:
    answers = storage.answers(class_code=class_code)
    write_npz(target, to_arrays(answers))
    return len(answers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export or import a class's drawings as .npz.")
    parser.add_argument("action", choices=("export", "import"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--db", default=None,
                        help="database URL (default: $DIGITLAB_DB, else the app's SQLite file)")
    parser.add_argument("--class-code", default=None,
                        help="export: only this class; import: give every drawing this class code")
    args = parser.parse_args(argv)
    try:
        storage = Storage(args.db or database_url())
        if args.action == "export":
            n = export_npz(storage, args.file, args.class_code)
            print(f"exported {n} drawings to {args.file}")
        else:
            n = import_npz(storage, args.file, args.class_code)
            print(f"imported {n} drawings from {args.file}")
    except (ClassDataError, StorageError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
