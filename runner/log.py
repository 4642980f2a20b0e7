"""The supervisors' own log: failures and trouble, never the command's output.

Supervisors have no terminal, so anything that goes wrong with them is written here
(beside the locks) and shown by ``tether doctor``. Each entry is written with one
``write`` call on an ``O_APPEND`` file, so entries of concurrent supervisors do not
interleave. An entry is a header line ``<time> <LEVEL> #<id> pid <pid>: <message>``
followed by indented lines (a traceback).
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from pathlib import Path

MAX_BYTES = 1024 * 1024  # then the log moves to supervisor.log.1 (one old file kept)


def write_entry(
    path: Path,
    message: str,
    *,
    session_id: int | None = None,
    level: str = "ERROR",
    exc: BaseException | None = None,
) -> None:
    """Append one entry; never raises (a supervisor must not die of logging)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())
    who = f"#{session_id} " if session_id is not None else ""
    text = f"{stamp} {level} {who}pid {os.getpid()}: {message.rstrip()}\n"
    if exc is not None:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        text += "".join(f"    {line}\n" for line in tb.rstrip("\n").split("\n"))
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):
            if path.stat().st_size > MAX_BYTES:
                os.replace(path, path.with_name(path.name + ".1"))
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, text.encode("utf-8", "replace"))
        finally:
            os.close(fd)


def read_entries(path: Path, limit: int = 20, levels: tuple[str, ...] = ("ERROR",)) -> list[str]:
    """The newest ``limit`` entries of the given levels, oldest first, each a string
    (header plus any indented lines)."""
    entries: list[str] = []
    for candidate in (path.with_name(path.name + ".1"), path):
        try:
            text = candidate.read_text("utf-8", "replace")
        except OSError:
            continue
        current: list[str] = []
        for line in text.splitlines():
            if line.startswith("    ") and current:
                current.append(line)
                continue
            if current:
                entries.append("\n".join(current))
            current = [line]
        if current:
            entries.append("\n".join(current))
    wanted = [e for e in entries if _level(e) in levels]
    return wanted[-limit:] if limit else []


def _level(entry: str) -> str:
    parts = entry.split(" ", 2)
    return parts[1] if len(parts) > 1 else ""
