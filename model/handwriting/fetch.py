"""Fetch the public pen data into the pen folder, the way ``model.handwriting.sources`` reads it.

    python -m model.handwriting.fetch                      # from GitHub, into $DIGITLAB_PEN_DIR
    python -m model.handwriting.fetch --to DIR
    python -m model.handwriting.fetch --git unipen_1a=CLONE --git uci_pendigits=CLONE   # offline

Both sources come from GitHub mirrors at pinned commits (docs/pen-data.md says why these): UNIPEN
1a's 634 digit files and every file they ``.INCLUDE`` (found by reading them, 761 in all), plus
the CD-ROM notice; UCI pendigits' test half. ``--git`` reads the same commits from a local clone
(``git show``) where the machine has no internet. Each source is written into a temporary folder,
checked with the same SHA-256s the loader checks (for UNIPEN: the manifest written here must hash
to the pinned one, so every byte is the published one), and only then renamed into place.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from model.handwriting import sources

TIMEOUT_SECONDS = 30  # for the connection and for each read
MAX_FILE_BYTES = 8 << 20  # the largest UNIPEN file is about 1 MB


@dataclass(frozen=True)
class Mirror:
    repo: str  # owner/name on GitHub
    commit: str
    files: tuple[tuple[str, str, str], ...]  # (commit, path in the repo, path in the source's folder)
    crawl: str | None = None  # a folder whose files are taken with everything they .INCLUDE


MIRRORS = {
    "unipen_1a": Mirror(
        repo="GreenCappuccino/train_r01_v07",
        commit="9d718483eb1fc0f8460044b7fe9f1efe4d941a19",  # branch `original`: the Zenodo files
        files=(("98b7425a032992b06e075c811542512c21577d2f", "CDROM-README", "CDROM-README"),),
        crawl="data/1a",
    ),
    "uci_pendigits": Mirror(
        repo="accord-net/framework",
        commit="1ab0cc0ba55bcc3d46f20e7bbe7224b58cd01854",
        files=(("1ab0cc0ba55bcc3d46f20e7bbe7224b58cd01854",
                "Unit Tests/Accord.Tests.IO/Resources/pendigits-orig.tes.Z", "pendigits-orig.tes.Z"),),
    ),
}
_INCLUDE = re.compile(rb"(?:^|\s)\.INCLUDE\s+(\S+)")


class Reader:
    """Files of one mirror at given commits: from GitHub over HTTPS, or from a local clone."""

    def __init__(self, mirror: Mirror, clone: Path | None):
        self.mirror, self.clone = mirror, clone

    def read(self, commit: str, path: str) -> bytes:
        if self.clone is not None:
            done = subprocess.run(["git", "-C", str(self.clone), "show", f"{commit}:{path}"], capture_output=True)
            if done.returncode:
                raise sources.PenDataError(f"{path} is not in {self.clone} at {commit}")
            return done.stdout
        url = f"https://raw.githubusercontent.com/{self.mirror.repo}/{commit}/{urllib.parse.quote(path)}"
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            data = response.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise sources.PenDataError(f"{url} is larger than {MAX_FILE_BYTES} bytes")
        return data

    def listing(self) -> set[str]:
        """Every file at the mirror's commit."""
        if self.clone is not None:
            done = subprocess.run(["git", "-C", str(self.clone), "ls-tree", "-r", "--name-only", self.mirror.commit],
                                  capture_output=True, text=True)
            if done.returncode:
                raise sources.PenDataError(f"{self.clone} has no commit {self.mirror.commit}")
            return set(done.stdout.splitlines())
        url = f"https://api.github.com/repos/{self.mirror.repo}/git/trees/{self.mirror.commit}?recursive=1"
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            tree = json.loads(response.read(MAX_FILE_BYTES))
        return {entry["path"] for entry in tree["tree"] if entry["type"] == "blob"}


def _crawl(reader: Reader, folder: str, out: Path) -> None:
    """Write every file under ``folder`` and, transitively, every file one of them .INCLUDEs
    (named from include/ or relative to the including file: the loader tries both)."""
    present = reader.listing()
    todo, seen = sorted(p for p in present if p.startswith(folder + "/")), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        data = reader.read(reader.mirror.commit, path)
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_bytes(data)
        for match in _INCLUDE.finditer(data):
            name = match.group(1).decode("latin-1")
            for candidate in (posixpath.normpath("include/" + name),
                              posixpath.normpath(posixpath.join(posixpath.dirname(path), name))):
                if candidate in present:
                    todo.append(candidate)
                    break


def fetch_source(name: str, pen_dir: Path, clone: Path | None = None) -> Path:
    """Fetch one source into ``pen_dir/name``, replacing what is there only once every file checks out."""
    mirror = MIRRORS[name]
    reader = Reader(mirror, clone)
    pen_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fetching-", dir=pen_dir))
    try:
        folder = staging / name
        folder.mkdir()
        for commit, path, target in mirror.files:
            (folder / target).write_bytes(reader.read(commit, path))
        if mirror.crawl:
            _crawl(reader, mirror.crawl, folder)
            files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
            (folder / sources.MANIFEST_NAME).write_text("".join(
                f"{hashlib.sha256((folder / f).read_bytes()).hexdigest()}  {f}\n" for f in files))
        sources.verify_files(name, staging)
        final = pen_dir / name
        if final.exists():
            shutil.rmtree(final)
        folder.rename(final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fetch the public pen data (docs/pen-data.md).")
    parser.add_argument("--to", type=Path, default=None,
                        help=f"the pen folder (default ${sources.PEN_DIR_ENV}, else {sources.DEFAULT_PEN_DIR})")
    parser.add_argument("--git", action="append", default=[], metavar="SOURCE=CLONE",
                        help="read SOURCE from a local clone of its mirror instead of GitHub")
    parser.add_argument("sources", nargs="*", help=f"which (default all: {', '.join(MIRRORS)})")
    args = parser.parse_args(argv)
    clones = dict(item.split("=", 1) for item in args.git)
    unknown = [n for n in [*args.sources, *clones] if n not in MIRRORS]
    if unknown:
        parser.error(f"unknown source {unknown[0]!r}; known: {', '.join(MIRRORS)}")
    pen_dir = sources.pen_dir(args.to)
    status = 0
    for name in args.sources or list(MIRRORS):
        clone = Path(clones[name]) if name in clones else None
        try:
            where = fetch_source(name, pen_dir, clone)
        except (sources.PenDataError, OSError) as e:
            print(f"{name}: not fetched: {e}", file=sys.stderr)
            status = 1
            continue
        print(f"{name}: {sum(1 for p in where.rglob('*') if p.is_file())} files checked -> {where}")
    return status


if __name__ == "__main__":
    sys.exit(main())
