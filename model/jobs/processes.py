"""Whether a training's process still runs: liveness comes from its process id (and its start
time, so a later process given the same id is not taken for it), never from what its progress
file last said. A job this server started is reaped as soon as it is seen to have ended, so it
never lingers as a zombie."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

JOB_MODULE = "model.jobs.runner"  # what a Train-page job runs: python -m JOB_MODULE

_children: dict[int, subprocess.Popen] = {}  # jobs this process started, reaped when they end


def remember(process: subprocess.Popen) -> None:
    """Keep a job this process started, to reap it once it has ended."""
    _children[process.pid] = process


def _exists(pid: int) -> bool:
    """Whether there is a process ``pid`` (ended ones not reaped yet included), ours or not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, someone else's
    return True


def process_alive(pid: object) -> bool:
    """Whether ``pid`` is a running job process (not ended, not a zombie, not a reused id)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _children.pop(pid, None)
        return False
    if not _exists(pid):
        return False
    proc = Path("/proc") / str(pid)
    if proc.is_dir():
        try:
            if proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return False
            command = proc.joinpath("cmdline").read_bytes()
            # Empty for a moment while the process is still starting (its exec under way).
            return not command or JOB_MODULE.encode() in command
        except (OSError, IndexError):
            return False
    return True


def process_started(pid: object) -> int | None:
    """When process ``pid`` started (clock ticks since boot), to tell it from a later process
    given the same id; None when there is no such live process or no /proc to ask."""
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        fields_after_name = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields_after_name[0] == "Z":
        return None
    try:
        return int(fields_after_name[19])
    except (IndexError, ValueError):
        return None


def process_running(pid: object, started: object = None) -> bool:
    """Whether process ``pid`` still runs and is the one that started at ``started`` (from
    :func:`process_started`; any start when not an int): not ended, not a zombie, not a later
    process given the same id. For a process whatever its command (a job's server, a fine-tune)."""
    if not isinstance(pid, int) or pid <= 0 or not _exists(pid):
        return False
    if not Path("/proc").is_dir():
        return True
    now = process_started(pid)
    return now is not None and (not isinstance(started, int) or now == started)
