"""Public on-line (pen-stroke) handwriting of the digits 0-9 by writers outside MNIST.

    samples = load_strokes("unipen_1a")        # 15,953 digits by 268 writers
    samples = load_strokes("uci_pendigits")    # 3,498 digits by 14 writers

Every source becomes a list of :class:`Sample`: the digit, a writer id that is unique across
sources (split by it, never by sample), and the strokes as float32 ``(n, 2)`` arrays of pen-down
points in the source's own units, with y pointing down like a canvas. Pen-up (hover) movement is
dropped. Nothing here rescales or centres: a renderer decides that. Units differ between sources
and between UNIPEN's sites, and one site (``aga``) samples y finer than x (979.3 against 856.7
points per inch), so its digits come out about 14% taller than written unless rescaled.

Sources (details, licences and checksums in ``docs/pen-data.md``):

- ``unipen_1a``: category 1a (isolated digits) of the UNIPEN ``train_r01_v07`` release (1999),
  268 writers from 17 contributing sites. Zenodo, https://doi.org/10.5281/zenodo.1195803,
  CC BY 4.0 (the CD-ROM's own notice of 1999 says research use only, no commercial distribution).
  Copied from the ``original`` branch of github.com/GreenCappuccino/train_r01_v07: the 634 files
  of ``data/1a`` and the 761 files they ``.INCLUDE`` from ``include/``, paths kept, plus the
  CD-ROM's ``CDROM-README``. ``SHA256SUMS`` (pinned below) lists every one of them.
- ``uci_pendigits``: the writer-independent test half of UCI "Pen-Based Recognition of
  Handwritten Digits" (E. Alpaydin, F. Alimoglu), ``pendigits-orig.tes.Z`` as UCI ships it
  (Unix ``compress``), 14 writers. CC BY 4.0. The training half (``pendigits-orig.tra.Z``, 30
  more writers) is in no mirror reachable here; add it to ``SOURCES`` with its checksum once had.

Getting the files: put each source's files in ``<pen dir>/<source name>/`` with the paths shown
in ``SOURCES`` (and, for UNIPEN, in its ``SHA256SUMS``). The pen dir is ``$DIGITLAB_PEN_DIR``,
else ``../shared/pen`` beside the checkout. Every file's SHA-256 is checked before anything is
parsed; a missing or different file raises :class:`PenDataError` naming it and where it belongs.
``python -m model.handwriting.sources --check`` reports each source.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
PEN_DIR_ENV = "DIGITLAB_PEN_DIR"
DEFAULT_PEN_DIR = REPO_ROOT.parent / "shared" / "pen"

# A file of this name, once its own checksum is right, vouches for every file it lists
# (``sha256sum`` format). UNIPEN comes as 1,395 files; pinning them one by one here would bury
# the code, and this still checks every byte and names the file that is wrong.
MANIFEST_NAME = "SHA256SUMS"

DIGITS = "0123456789"


class PenDataError(ValueError):
    """A source's files are missing, different from the published ones, or unreadable."""


@dataclass(frozen=True)
class PenSource:
    name: str
    url: str  # where the data is published
    licence: str
    writers: int  # distinct writers in the files we read
    files: dict[str, str]  # path inside the source's folder -> SHA-256
    citation: str


# eq=False: the strokes are numpy arrays, which have no single truth value, so samples compare
# (and hash) by identity.
@dataclass(frozen=True, eq=False)
class Sample:
    label: int  # 0-9
    writer: str  # "<source>:<writer in that source>", unique across sources
    strokes: list[np.ndarray]  # pen-down strokes, float32 (n, 2), x right, y down
    source: str


SOURCES: dict[str, PenSource] = {
    source.name: source
    for source in (
        PenSource(
            name="unipen_1a",
            url="https://doi.org/10.5281/zenodo.1195803",
            licence="CC BY 4.0 (Zenodo record); the 1999 CD-ROM notice: research use only, "
            "no commercial distribution",
            writers=268,
            files={MANIFEST_NAME: "ff3386476594e20c9997f913a75509b3e51ab8206b6d1bc84f0c6ef394218f3d"},
            citation="I. Guyon, L. Schomaker, R. Plamondon, M. Liberman, S. Janet. UNIPEN project of "
            "on-line data exchange and recognizer benchmarks. ICPR 1994, pp. 29-33. "
            "Unipen Consortium (1999), Unipen data set of on-line (vectorial) handwriting - "
            "train_r01_v07, Zenodo, https://doi.org/10.5281/zenodo.1195803",
        ),
        PenSource(
            name="uci_pendigits",
            url="https://archive.ics.uci.edu/dataset/81/pen+based+recognition+of+handwritten+digits",
            licence="CC BY 4.0",
            writers=14,
            files={
                "pendigits-orig.tes.Z": "55ff1032e789eae273d0a4a1831dd61a2418f36ec5c0647457aa767b36d65960",
            },
            citation="E. Alpaydin, F. Alimoglu (1996). Pen-Based Recognition of Handwritten Digits "
            "[Dataset]. UCI Machine Learning Repository. https://doi.org/10.24432/C5MG6K",
        ),
    )
}

# Which way y grows was measured, not assumed: the digits 2, 3, 5 and 7 are started at their top
# by nearly every writer, yet their first point lies in the bottom half of the box as stored, for
# all 17 UNIPEN 1a sites (UNIPEN measures guide lines from the bottom too) and for the UCI tablet
# (its 500 x 500 box counts y from the bottom). tests/test_handwriting_sources.py keeps checking it
# per site after the flip.
UNIPEN_Y_UP = True
PENDIGITS_Y_UP = True


def pen_dir(folder: str | os.PathLike | None = None) -> Path:
    """The folder holding one sub-folder per source: the argument, $DIGITLAB_PEN_DIR, ../shared/pen."""
    if folder is not None:
        return Path(folder)
    return Path(os.environ.get(PEN_DIR_ENV) or DEFAULT_PEN_DIR)


def source_info(name: str) -> PenSource:
    try:
        return SOURCES[name]
    except KeyError:
        raise PenDataError(f"no pen source {name!r}; known: {', '.join(sorted(SOURCES))}") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_file(source: PenSource, root: Path, relative: str, expected: str) -> None:
    path = root / relative
    where = (
        f"put the {source.name} files in {root} (the pen folder comes from ${PEN_DIR_ENV}, else "
        f"{DEFAULT_PEN_DIR}); they are published at {source.url}, see docs/pen-data.md"
    )
    if not path.is_file():
        raise PenDataError(f"{source.name}: missing {relative} (expected at {path}); {where}")
    actual = _sha256(path)
    if actual != expected:
        raise PenDataError(
            f"{source.name}: {relative} at {path} is not the published file "
            f"(SHA-256 {actual}, expected {expected}); {where}"
        )


def _read_manifest(path: Path) -> dict[str, str]:
    listed = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        digest, _, relative = line.partition("  ")
        if len(digest) != 64 or not relative:
            raise PenDataError(f"{path}: line {number} is not '<sha256>  <path>'")
        listed[relative] = digest
    return listed


def verify_files(name: str, folder: str | os.PathLike | None = None) -> dict[str, str]:
    """Check every file of a source; returns {path: sha256} of all files checked."""
    source = source_info(name)
    root = pen_dir(folder) / name
    checked = {}
    for relative, expected in source.files.items():
        _check_file(source, root, relative, expected)
        checked[relative] = expected
        if Path(relative).name == MANIFEST_NAME:
            base = Path(relative).parent
            for listed, digest in _read_manifest(root / relative).items():
                _check_file(source, root, str(base / listed), digest)
                checked[str(base / listed)] = digest
    return checked


def load_strokes(name: str, folder: str | os.PathLike | None = None) -> list[Sample]:
    """Every digit sample of a source, after checking its files (see the module docstring)."""
    return _load(name, folder).samples


@dataclass(frozen=True)
class _Loaded:
    samples: list[Sample]
    dropped: int  # labelled digits whose delineation names no pen-down ink
    files_checked: int


def _load(name: str, folder: str | os.PathLike | None) -> _Loaded:
    checked = verify_files(name, folder)
    root = pen_dir(folder) / name
    if name == "unipen_1a":
        # Read only what was just checked, so a stray file in the folder can't slip in.
        verified = frozenset((root / relative).resolve() for relative in checked)
        samples, dropped = _load_unipen_1a(root, verified)
    elif name == "uci_pendigits":
        samples, dropped = _load_pendigits(root)
    else:
        raise PenDataError(f"no reader for pen source {name!r}")
    return _Loaded(samples, dropped, len(checked))


# ---------------------------------------------------------------------------------------------
# UNIPEN 1.0 format (Guyon 1994; the definition is unipen.def in the uptools distribution).
#
# A file is a sequence of entries, each a line starting with ".KEYWORD" plus the lines up to the
# next keyword. .PEN_DOWN / .PEN_UP entries hold samples laid out as .COORD says. .SEGMENT names
# its ink by "delineation": component numbers, counting every non-empty .PEN_DOWN and .PEN_UP
# from 0 in the order read (includes expanded in place), restarting at each file and .START_SET;
# "A:M-B:N" cuts components at points, "," joins pieces.

_KEYWORD = re.compile(r"^\.([A-Z_]+)(?=[ \t\r\n]|$)", re.M)
_SEGMENT = re.compile(r'^\s*(\S+)\s+(\S+)(?:\s+(\S+))?(?:\s+"((?:[^"\\]|\\.)*)")?')
_MAX_INCLUDE_DEPTH = 8


@dataclass
class _Component:
    pen_down: bool
    samples: str  # the numbers as text, converted only if a segment uses them
    stride: int  # numbers per sample
    x_column: int
    y_column: int
    writer: str | None

    def points(self, where: str) -> np.ndarray:
        numbers = np.array(self.samples.split(), dtype=np.float64)
        if numbers.size % self.stride:
            raise PenDataError(
                f"{where}: a pen component has {numbers.size} numbers, not a multiple of {self.stride}"
            )
        table = numbers.reshape(-1, self.stride)
        return table[:, [self.x_column, self.y_column]].astype(np.float32)


@dataclass
class _Segment:
    delineation: str
    label: str | None
    components: list[_Component]  # those of the set the segment belongs to
    comment: str | None = None  # the .COMMENT right after it (pendigits keeps its writer there)


def _entries(
    text: str, path: Path, include_dirs: tuple[Path, ...], verified: frozenset[Path], depth: int = 0
):
    """(keyword, body) of UNIPEN text in order; .INCLUDE files are expanded where they stand
    (they must be among the verified files), or skipped when no include folder is given."""
    starts = [m.start() for m in _KEYWORD.finditer(text)]
    for i, start in enumerate(starts):
        chunk = text[start : starts[i + 1] if i + 1 < len(starts) else len(text)]
        keyword = chunk.split(None, 1)[0]  # the match guarantees the chunk starts with it
        body = chunk[len(keyword) :]
        if keyword != ".INCLUDE":
            yield keyword, body
            continue
        if not include_dirs:
            continue
        name = body.split()[0] if body.split() else ""
        if depth >= _MAX_INCLUDE_DEPTH:
            raise PenDataError(f"{path}: .INCLUDE {name} nests deeper than {_MAX_INCLUDE_DEPTH}")
        # Most sites name includes from the include/ root, a few relative to the including file.
        for candidate in [folder / name for folder in include_dirs] + [path.parent / name]:
            if candidate.is_file():
                candidate = candidate.resolve()
                if candidate not in verified:
                    raise PenDataError(f"{path}: .INCLUDE {name} is not among the checked files")
                # 1990s files: bytes, not always valid UTF-8; only ASCII matters here.
                included = candidate.read_text(encoding="latin-1")
                yield from _entries(included, candidate, include_dirs, verified, depth + 1)
                break
        else:
            raise PenDataError(f"{path}: .INCLUDE {name} is not under {include_dirs[0]}")


def _parse_unipen(
    text: str, path: Path, include_dirs: tuple[Path, ...] = (), verified: frozenset[Path] = frozenset()
) -> list[_Segment]:
    components: list[_Component] = []
    segments: list[_Segment] = []
    stride, x_column, y_column = 2, 0, 1
    writer = None
    previous_keyword = None
    for keyword, body in _entries(text, path, include_dirs, verified):
        if keyword in (".PEN_DOWN", ".PEN_UP"):
            if body.split():  # empty pen streams are not counted (unipen.def)
                components.append(
                    _Component(keyword == ".PEN_DOWN", body, stride, x_column, y_column, writer)
                )
        elif keyword == ".SEGMENT":
            match = _SEGMENT.match(body)
            if not match:
                raise PenDataError(f"{path}: unreadable .SEGMENT {body.strip()}")
            segments.append(_Segment(match.group(2), match.group(4), components))
        elif keyword == ".COMMENT" and previous_keyword == ".SEGMENT":
            segments[-1].comment = body.strip()
        elif keyword == ".COORD":
            names = body.split()
            if "X" not in names or "Y" not in names:
                raise PenDataError(f"{path}: .COORD {' '.join(names)} lacks X or Y")
            stride, x_column, y_column = len(names), names.index("X"), names.index("Y")
        elif keyword == ".WRITER_ID":
            writer = body.strip().split("\n", 1)[0].strip() or None
        elif keyword == ".START_SET":
            components = []
        previous_keyword = keyword
    return segments


def _delineation_pieces(text: str, where: str) -> list[tuple[int, int | None, int, int | None]]:
    """'1:40-3,5' -> [(1, 40, 3, None), (5, None, 5, None)]: (first, from point, last, to point)."""
    pieces = []
    for item in text.split(","):
        match = re.fullmatch(r"(\d+)(?::(\d+))?(?:-(\d+)(?::(\d+))?)?", item)
        if not match or (match.group(2) is not None and match.group(3) is None):
            raise PenDataError(f"{where}: delineation {text!r} is not of the form A[:M]-B[:N],C")
        first, first_point, last, last_point = match.groups()
        last = first if last is None else last
        pieces.append((
            int(first),
            None if first_point is None else int(first_point),
            int(last),
            None if last_point is None else int(last_point),
        ))
    return pieces


def _segment_strokes(segment: _Segment, where: str) -> list[np.ndarray] | None:
    """The pen-down strokes a segment names; None when it points past the components read."""
    strokes = []
    for first, first_point, last, last_point in _delineation_pieces(segment.delineation, where):
        if last >= len(segment.components) or first > last:
            return None
        for number in range(first, last + 1):
            component = segment.components[number]
            if not component.pen_down:
                continue  # hover between strokes: not ink
            points = component.points(where)
            start = first_point if number == first and first_point is not None else 0
            stop = last_point + 1 if number == last and last_point is not None else len(points)
            if stop > start:
                strokes.append(points[start:stop])
    return strokes


def _y_down(strokes: list[np.ndarray], y_up: bool) -> list[np.ndarray]:
    # Negating keeps the source's units; only the direction is promised, not the origin.
    if not y_up:
        return strokes
    flipped = []
    for stroke in strokes:
        stroke = stroke.copy()
        stroke[:, 1] *= -1
        flipped.append(stroke)
    return flipped


def _digit(label: str | None) -> int | None:
    return int(label) if label is not None and len(label) == 1 and label in DIGITS else None


def _load_unipen_1a(root: Path, verified: frozenset[Path]) -> tuple[list[Sample], int]:
    include_dirs = (root.resolve() / "include",)
    data_dir = root.resolve() / "data" / "1a"
    samples, dropped = [], 0
    for path in sorted(path for path in verified if path.is_relative_to(data_dir)):
        site = path.relative_to(data_dir).parts[0]  # the contributing site, e.g. "apb"
        where = str(path.relative_to(root.resolve()))
        text = path.read_text(encoding="latin-1")
        for segment in _parse_unipen(text, path, include_dirs, verified):
            if _digit(segment.label) is None:
                continue
            strokes = _segment_strokes(segment, where)
            if not strokes:
                dropped += 1
                continue
            first = segment.components[_delineation_pieces(segment.delineation, where)[0][0]]
            if first.writer is None:
                raise PenDataError(f"{where}: a digit's ink has no .WRITER_ID before it")
            samples.append(Sample(
                label=_digit(segment.label),
                writer=f"unipen_1a:{site}/{first.writer}",
                strokes=_y_down(strokes, UNIPEN_Y_UP),
                source="unipen_1a",
            ))
    return samples, dropped


def _load_pendigits(root: Path) -> tuple[list[Sample], int]:
    samples, dropped = [], 0
    for relative in SOURCES["uci_pendigits"].files:
        compressed = root / relative
        half = relative.split(".")[1]  # "tra" or "tes": their writers are different people
        text = _uncompress_z(compressed.read_bytes(), str(compressed)).decode("ascii")
        # No include folder: the files .INCLUDE a "dene.doc" that UCI never published; it only
        # documents the recording.
        for segment in _parse_unipen(text, compressed):
            if _digit(segment.label) is None:
                continue
            # ".COMMENT <digit> <writer> <sample>" follows every segment in these files.
            fields = (segment.comment or "").split()
            if len(fields) < 2 or fields[0] != segment.label:
                raise PenDataError(
                    f"{compressed}: segment {segment.delineation} lacks its '<digit> <writer>' comment"
                )
            strokes = _segment_strokes(segment, str(compressed))
            if not strokes:
                dropped += 1
                continue
            samples.append(Sample(
                label=_digit(segment.label),
                writer=f"uci_pendigits:{half}-{int(fields[1]):02d}",
                strokes=_y_down(strokes, PENDIGITS_Y_UP),
                source="uci_pendigits",
            ))
    return samples, dropped


# ---------------------------------------------------------------------------------------------
# Unix `compress` (.Z, LZW), which UCI still ships pendigits in and Python's library can't read.


def _uncompress_z(data: bytes, where: str) -> bytes:
    if len(data) < 3 or data[:2] != b"\x1f\x9d":
        raise PenDataError(f"{where}: not a Unix compress (.Z) file")
    max_bits = data[2] & 0x1F
    block_mode = bool(data[2] & 0x80)
    if not 9 <= max_bits <= 16:
        raise PenDataError(f"{where}: .Z code width {max_bits} is not 9..16")
    body = data[3:] + b"\0\0\0"  # room to read the last code three bytes at a time
    total_bits = (len(data) - 3) * 8
    clear_code, table_limit = 256, 1 << max_bits
    table = [bytes([i]) for i in range(256)] + ([b""] if block_mode else [])
    bits, next_code = 9, len(table)
    width_limit = (1 << bits) - 1
    position = group_start = 0
    previous: bytes | None = None
    out = bytearray()

    def skip_to_group_end(position: int, group_start: int, bits: int) -> int:
        # compress reads codes `bits` bytes (8 codes) at a time and throws the rest of that block
        # away when the width changes or the table is cleared; decoding must skip the same bits.
        group = bits * 8
        return group_start + -(-(position - group_start) // group) * group

    while True:
        if next_code > width_limit and bits < max_bits:
            position = group_start = skip_to_group_end(position, group_start, bits)
            bits += 1
            width_limit = table_limit if bits == max_bits else (1 << bits) - 1
            continue
        if position + bits > total_bits:
            break
        byte = position >> 3
        code = (int.from_bytes(body[byte : byte + 3], "little") >> (position & 7)) & ((1 << bits) - 1)
        position += bits
        if previous is None:
            if code >= 256:
                raise PenDataError(f"{where}: corrupt .Z data (first code {code})")
            previous = table[code]
            out += previous
            continue
        if block_mode and code == clear_code:
            del table[257:]
            next_code = 256  # the code after a clear makes a throw-away entry, as compress does
            position = group_start = skip_to_group_end(position, group_start, bits)
            bits, width_limit = 9, (1 << 9) - 1
            continue
        if code < len(table) and code != next_code:
            entry = table[code]
        elif code == next_code:
            entry = previous + previous[:1]
        else:
            raise PenDataError(f"{where}: corrupt .Z data (code {code} before it was defined)")
        out += entry
        if next_code < table_limit:
            if next_code < len(table):
                table[next_code] = previous + entry[:1]
            else:
                table.append(previous + entry[:1])
            next_code += 1
        previous = entry
    return bytes(out)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.handwriting.sources",
        description="Check the public pen-stroke digit sources and count what they hold.",
    )
    parser.add_argument("--check", action="store_true", help="verify and read every source")
    parser.add_argument("--dir", help=f"the pen folder (default ${PEN_DIR_ENV}, else {DEFAULT_PEN_DIR})")
    parser.add_argument("sources", nargs="*", help=f"which (default all: {', '.join(SOURCES)})")
    args = parser.parse_args(argv)
    if not args.check:
        parser.print_help()
        return 2
    failures = 0
    for name in args.sources or SOURCES:
        root = pen_dir(args.dir) / name
        print(f"{name}  ({root})")
        try:
            loaded = _load(name, args.dir)
        except PenDataError as e:
            failures += 1
            print(f"  NOT OK: {e}")
            continue
        samples = loaded.samples
        per_digit = Counter(sample.label for sample in samples)
        print(f"  files ok: all {loaded.files_checked} match their SHA-256")
        print(f"  samples: {len(samples)}   writers: {len({sample.writer for sample in samples})}"
              f"   dropped (no pen-down ink): {loaded.dropped}")
        print("  per digit: " + "  ".join(f"{digit}:{per_digit[digit]}" for digit in range(10)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
