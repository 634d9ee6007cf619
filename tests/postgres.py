"""A throwaway PostgreSQL server for tests and benchmarks: the OS package's binaries, a fresh
cluster in a temporary folder, a free port, trust authentication on 127.0.0.1 only.

    from tests.postgres import postgres_server, PostgresUnavailable

    with postgres_server() as url:      # postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
        ...

``initdb`` and ``pg_ctl`` refuse to run as root: as root, the cluster's folder is given to the
unprivileged ``nobody`` and the binaries run through ``runuser``.
"""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from tests.browser import free_port

PG_BIN_ENV = "DIGITLAB_PG_BIN"
UNPRIVILEGED_USER = "nobody"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started here; the message says precisely why."""


def pg_bin() -> Path | None:
    """The folder of ``initdb``/``pg_ctl``: ``$DIGITLAB_PG_BIN``, else the newest
    ``/usr/lib/postgresql/*/bin``, else wherever ``initdb`` is on PATH."""
    candidates = [os.environ.get(PG_BIN_ENV)] if os.environ.get(PG_BIN_ENV) else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for folder in candidates:
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def _runner() -> list[str]:
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root, and there is no runuser to run initdb as a normal user")
    return [runuser, "-u", UNPRIVILEGED_USER, "--"]


def _run(command: list[str], what: str, timeout: float = 120) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PostgresUnavailable(f"{what} failed: {e}") from e
    if done.returncode != 0:
        raise PostgresUnavailable(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-800:]}")


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a PostgreSQL cluster; yield its SQLAlchemy URL; stop it and delete it."""
    binaries = pg_bin()
    if binaries is None:
        raise PostgresUnavailable(
            f"no PostgreSQL binaries: none in /usr/lib/postgresql/*/bin or on PATH (set {PG_BIN_ENV})")
    runner = _runner()
    root = Path(tempfile.mkdtemp(prefix="digitlab-pg-"))
    cluster, sockets = root / "data", root / "run"
    sockets.mkdir()
    if runner:
        import pwd

        user = pwd.getpwnam(UNPRIVILEGED_USER)
        for path in (root, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
    port = free_port()
    started = False
    try:
        _run([*runner, str(binaries / "initdb"), "-D", str(cluster), "-U", "postgres", "--auth=trust",
              "--encoding=UTF8", "--no-sync"], "initdb")
        options = (f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=120 -c shared_buffers=32MB")
        _run([*runner, str(binaries / "pg_ctl"), "-D", str(cluster), "-o", options, "-l",
              str(root / "server.log"), "-w", "-t", "60", "start"], "pg_ctl start")
        started = True
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            with contextlib.suppress(PostgresUnavailable):
                _run([*runner, str(binaries / "pg_ctl"), "-D", str(cluster), "-m", "fast", "-w", "stop"],
                     "pg_ctl stop", timeout=60)
        shutil.rmtree(root, ignore_errors=True)
