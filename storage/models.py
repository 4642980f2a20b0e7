"""The plain frozen records that the storage layer takes and returns (``storage.frozen``:
frozen dataclasses' behaviour without importing ``dataclasses``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from storage.frozen import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from storage.records import (  # noqa: F401  (what __getattr__ gives, for type checkers)
        AppendResult,
        AuditEntry,
        IntegrityReport,
        ProcessIdentity,
    )

STATUSES = ("pending", "running", "paused", "succeeded", "failed", "stopped", "lost")
STREAMS = ("stdout", "stderr", "system", "input")

ACTIVE = frozenset({"pending", "running", "paused"})
ENDED = frozenset({"succeeded", "failed", "stopped", "lost"})
LIVE = frozenset({"running", "paused"})  # a supervisor should hold the lock
# A running session's attention: output flowing, quiet, or waiting for an answer.
ATTENTION = ("working", "idle", "needs_you")

# old status -> statuses it may become. Ended sessions may start again (resume).
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"running", "failed", "stopped", "lost"}),
    "running": frozenset({"paused", "succeeded", "failed", "stopped", "lost"}),
    "paused": frozenset({"running", "succeeded", "failed", "stopped", "lost"}),
    "succeeded": frozenset({"pending", "running"}),
    "failed": frozenset({"pending", "running"}),
    "stopped": frozenset({"pending", "running"}),
    "lost": frozenset({"pending", "running"}),
}


# Shells whose ``-c LINE`` reads a line of shell: such an argv is shown as the line.
SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "fish"})


def shell_line(argv: tuple[str, ...] | list[str]) -> str | None:
    """The line of ``[shell, "-c", line]`` (a known shell, by its file name), else None."""
    if len(argv) == 3 and argv[1] == "-c" and argv[0].rsplit("/", 1)[-1] in SHELLS:
        return argv[2]
    return None


class Session(Frozen):
    __slots__ = (
        "id",
        "uid",
        "name",
        "argv",
        "cwd",
        "env",
        "mode",
        "status",
        "exit_code",
        "signal",
        "pid",
        "created_at",
        "updated_at",
        "started_at",
        "ended_at",
        "notes",
        "context",
        "pinned",
        "deleted_at",
        "origin",
        "resume_argv",
        "run_count",
        "output_bytes",
        "output_lines",
        "last_output_at",
        "tags",
        "run_started_at",
        "agent_kind",
        "agent_session_id",
        "attention",
        "attention_since",
    )

    id: int
    uid: str
    name: str
    argv: tuple[str, ...]
    cwd: str
    env: dict[str, str] | None
    mode: str
    status: str
    exit_code: int | None
    signal: int | None
    pid: int | None
    created_at: float
    updated_at: float
    started_at: float | None
    ended_at: float | None
    notes: str
    context: Any
    pinned: bool
    deleted_at: float | None
    origin: str
    resume_argv: tuple[str, ...] | None
    run_count: int
    output_bytes: int
    output_lines: int
    last_output_at: float | None
    tags: tuple[str, ...]
    # When the latest run started (``started_at`` is the first run's): durations are
    # per run, so a session resumed a week later does not read as a week long.
    run_started_at: float | None
    # A coding agent's session (agents/): its kind and the agent's own session id.
    agent_kind: str | None
    agent_session_id: str | None
    # While running: working, idle or needs_you (runner/attention.py), and since when.
    attention: str | None
    attention_since: float | None

    def __init__(
        self,
        id: int,
        uid: str,
        name: str,
        argv: tuple[str, ...],
        cwd: str,
        env: dict[str, str] | None,
        mode: str,
        status: str,
        exit_code: int | None,
        signal: int | None,
        pid: int | None,
        created_at: float,
        updated_at: float,
        started_at: float | None,
        ended_at: float | None,
        notes: str,
        context: Any,
        pinned: bool,
        deleted_at: float | None,
        origin: str,
        resume_argv: tuple[str, ...] | None,
        run_count: int,
        output_bytes: int,
        output_lines: int,
        last_output_at: float | None,
        tags: tuple[str, ...] = (),
        run_started_at: float | None = None,
        agent_kind: str | None = None,
        agent_session_id: str | None = None,
        attention: str | None = None,
        attention_since: float | None = None,
    ) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "uid", uid)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "argv", argv)
        object.__setattr__(self, "cwd", cwd)
        object.__setattr__(self, "env", env)
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "exit_code", exit_code)
        object.__setattr__(self, "signal", signal)
        object.__setattr__(self, "pid", pid)
        object.__setattr__(self, "created_at", created_at)
        object.__setattr__(self, "updated_at", updated_at)
        object.__setattr__(self, "started_at", started_at)
        object.__setattr__(self, "ended_at", ended_at)
        object.__setattr__(self, "notes", notes)
        object.__setattr__(self, "context", context)
        object.__setattr__(self, "pinned", pinned)
        object.__setattr__(self, "deleted_at", deleted_at)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "resume_argv", resume_argv)
        object.__setattr__(self, "run_count", run_count)
        object.__setattr__(self, "output_bytes", output_bytes)
        object.__setattr__(self, "output_lines", output_lines)
        object.__setattr__(self, "last_output_at", last_output_at)
        object.__setattr__(self, "tags", tags)
        object.__setattr__(self, "run_started_at", run_started_at)
        object.__setattr__(self, "agent_kind", agent_kind)
        object.__setattr__(self, "agent_session_id", agent_session_id)
        object.__setattr__(self, "attention", attention)
        object.__setattr__(self, "attention_since", attention_since)

    @property
    def label(self) -> str:
        """What to call the session in messages: its name, else its command."""
        return self.name or self.command

    @property
    def command(self) -> str:
        """The command as the user wrote it: a shell line (``[shell, "-c", line]``, as
        the TUI's new-session box and ``tether run -c`` start them) is the line itself,
        any other argv is quoted for a shell."""
        line = shell_line(self.argv)
        if line is not None:
            return line
        from storage.text import shell_join

        return shell_join(self.argv)

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def live(self) -> bool:
        return self.status in LIVE

    @property
    def trashed(self) -> bool:
        return self.deleted_at is not None

    def duration(self, now: float) -> float | None:
        """How long the latest run took, or has been running at ``now`` (None: never
        started). The total over every run is ``total_duration`` of ``store.runs.list``."""
        start = self.run_started_at if self.run_started_at is not None else self.started_at
        if start is None:
            return None
        return max(0.0, (self.ended_at if self.ended_at is not None else now) - start)

    def to_json(self, *, reveal: bool = False) -> dict[str, Any]:
        """A JSON-ready dict (for `--json` output). Env values that look secret are
        masked (``storage.masking``) unless ``reveal``."""
        from copy import deepcopy  # what dataclasses.asdict does, without dataclasses

        from storage.masking import shown_env

        d = {name: deepcopy(getattr(self, name)) for name in self.__slots__}
        d["env"] = shown_env(self.env, reveal=reveal)
        d["argv"] = list(self.argv)
        d["tags"] = list(self.tags)
        d["resume_argv"] = list(self.resume_argv) if self.resume_argv is not None else None
        kind, native = d.pop("agent_kind"), d.pop("agent_session_id")
        d["agent"] = {"kind": kind, "session_id": native} if kind else None
        if self.status != "running":
            d["attention"] = d["attention_since"] = None
        return d


SESSION_COLUMNS = (
    "id, uid, name, argv, cwd, env, mode, status, exit_code, signal, pid, created_at, "
    "updated_at, started_at, ended_at, notes, context, pinned, deleted_at, origin, "
    "resume_argv, run_count, output_bytes, output_lines, last_output_at, agent_kind, "
    "agent_session_id, attention, attention_since"
)
SESSION_WIDTH = 29  # how many columns SESSION_COLUMNS names


def session_from_row(
    row: sqlite3.Row | tuple,
    tags: tuple[str, ...] = (),
    run_started_at: float | None = None,
) -> Session:
    (
        sid,
        uid,
        name,
        argv,
        cwd,
        env,
        mode,
        status,
        exit_code,
        sig,
        pid,
        created,
        updated,
        started,
        ended,
        notes,
        context,
        pinned,
        deleted,
        origin,
        resume_argv,
        run_count,
        out_bytes,
        out_lines,
        last_out,
        agent_kind,
        agent_session_id,
        attention,
        attention_since,
    ) = tuple(row)[:SESSION_WIDTH]
    return Session(
        id=sid,
        uid=uid,
        name=name,
        argv=tuple(json.loads(argv)),
        cwd=cwd,
        env=json.loads(env) if env else None,
        mode=mode,
        status=status,
        exit_code=exit_code,
        signal=sig,
        pid=pid,
        created_at=created,
        updated_at=updated,
        started_at=started,
        ended_at=ended,
        notes=notes,
        context=json.loads(context) if context is not None else None,
        pinned=bool(pinned),
        deleted_at=deleted,
        origin=origin,
        resume_argv=tuple(json.loads(resume_argv)) if resume_argv else None,
        run_count=run_count,
        output_bytes=out_bytes,
        output_lines=out_lines,
        last_output_at=last_out,
        tags=tags,
        run_started_at=run_started_at,
        agent_kind=agent_kind,
        agent_session_id=agent_session_id,
        attention=attention,
        attention_since=attention_since,
    )


class Run(Frozen):
    __slots__ = (
        "session_id",
        "number",
        "argv",
        "pid",
        "started_at",
        "ended_at",
        "exit_code",
        "signal",
        "status",
        "first_line",
        "supervisor",
        "host",
        "boot",
        "supervisor_pid",
        "supervisor_start",
        "command_start",
        "lease",
        "lease_until",
        "socket",
    )

    session_id: int
    number: int
    argv: tuple[str, ...]
    pid: int | None
    started_at: float
    ended_at: float | None
    exit_code: int | None
    signal: int | None
    status: str | None
    first_line: int
    # Who supervises the run (schema v3), so that others can tell whether it still
    # lives without a path someone could delete: ``supervisor`` is "tether" or an
    # embedding program's name (None: nobody said, so nobody judges it).
    supervisor: str | None
    host: str | None
    boot: str | None  # "<boot id> <pid namespace>": where the pids below mean something
    supervisor_pid: int | None
    supervisor_start: int | None  # clock ticks after boot (/proc/PID/stat field 22)
    command_start: int | None  # the same for the command (``pid``)
    lease: float | None  # seconds an embedder's renewal is good for
    lease_until: float | None  # after this, without a renewal, the run is lost
    socket: str | None  # the supervisor's control socket

    def __init__(
        self,
        session_id: int,
        number: int,
        argv: tuple[str, ...],
        pid: int | None,
        started_at: float,
        ended_at: float | None,
        exit_code: int | None,
        signal: int | None,
        status: str | None,
        first_line: int,
        supervisor: str | None = None,
        host: str | None = None,
        boot: str | None = None,
        supervisor_pid: int | None = None,
        supervisor_start: int | None = None,
        command_start: int | None = None,
        lease: float | None = None,
        lease_until: float | None = None,
        socket: str | None = None,
    ) -> None:
        object.__setattr__(self, "session_id", session_id)
        object.__setattr__(self, "number", number)
        object.__setattr__(self, "argv", argv)
        object.__setattr__(self, "pid", pid)
        object.__setattr__(self, "started_at", started_at)
        object.__setattr__(self, "ended_at", ended_at)
        object.__setattr__(self, "exit_code", exit_code)
        object.__setattr__(self, "signal", signal)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "first_line", first_line)
        object.__setattr__(self, "supervisor", supervisor)
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "boot", boot)
        object.__setattr__(self, "supervisor_pid", supervisor_pid)
        object.__setattr__(self, "supervisor_start", supervisor_start)
        object.__setattr__(self, "command_start", command_start)
        object.__setattr__(self, "lease", lease)
        object.__setattr__(self, "lease_until", lease_until)
        object.__setattr__(self, "socket", socket)

    def duration(self, now: float) -> float:
        return max(0.0, (self.ended_at if self.ended_at is not None else now) - self.started_at)


def total_duration(runs: Iterable[Run], now: float) -> float:
    """The time spent running over all ``runs`` (a live one counts up to ``now``)."""
    return sum(r.duration(now) for r in runs)


class Line(Frozen):
    """One line of output. ``number`` is 0-based and global within the session."""

    __slots__ = ("session_id", "number", "stream", "at", "run", "raw", "terminated")

    session_id: int
    number: int
    stream: str
    at: float
    run: int
    raw: bytes  # without the newline
    terminated: bool  # False for a line the command has not finished (yet)

    def __init__(
        self,
        session_id: int,
        number: int,
        stream: str,
        at: float,
        run: int,
        raw: bytes,
        terminated: bool,
    ) -> None:
        object.__setattr__(self, "session_id", session_id)
        object.__setattr__(self, "number", number)
        object.__setattr__(self, "stream", stream)
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "run", run)
        object.__setattr__(self, "raw", raw)
        object.__setattr__(self, "terminated", terminated)

    @property
    def text(self) -> str:
        """Decoded text with ANSI sequences kept."""
        return self.raw.decode("utf-8", "replace")

    @property
    def plain(self) -> str:
        """Decoded text without escape sequences or control characters."""
        from storage.text import plain

        return plain(self.text)


class OutputChunk(Frozen):
    """A stored chunk: whole lines of one stream (the last may be unterminated)."""

    __slots__ = (
        "id",
        "session_id",
        "run",
        "stream",
        "first_line",
        "line_count",
        "open_end",
        "first_at",
        "last_at",
        "data",
    )

    id: int
    session_id: int
    run: int
    stream: str
    first_line: int
    line_count: int
    open_end: bool
    first_at: float
    last_at: float
    data: bytes

    def __init__(
        self,
        id: int,
        session_id: int,
        run: int,
        stream: str,
        first_line: int,
        line_count: int,
        open_end: bool,
        first_at: float,
        last_at: float,
        data: bytes,
    ) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "session_id", session_id)
        object.__setattr__(self, "run", run)
        object.__setattr__(self, "stream", stream)
        object.__setattr__(self, "first_line", first_line)
        object.__setattr__(self, "line_count", line_count)
        object.__setattr__(self, "open_end", open_end)
        object.__setattr__(self, "first_at", first_at)
        object.__setattr__(self, "last_at", last_at)
        object.__setattr__(self, "data", data)


def chunk_lines(chunk: OutputChunk) -> list[Line]:
    """The lines of a chunk, numbered."""
    parts = chunk.data.split(b"\n")
    if not chunk.open_end:
        parts.pop()  # the empty tail after the final newline
    last = len(parts) - 1
    return [
        Line(
            chunk.session_id,
            chunk.first_line + i,
            chunk.stream,
            chunk.first_at,
            chunk.run,
            raw,
            not (chunk.open_end and i == last),
        )
        for i, raw in enumerate(parts)
    ]


CHUNK_FIELDS = (
    "id",
    "session_id",
    "run",
    "stream",
    "first_line",
    "line_count",
    "open_end",
    "first_at",
    "last_at",
    "data",
    "plain_size",  # data is compressed when set (storage/engine/compress.py)
)
# The columns of ``output_chunks`` that make an ``OutputChunk``, in ``CHUNK_FIELDS`` order.
CHUNK_COLUMNS = ", ".join(CHUNK_FIELDS)


def chunk_columns(alias: str = "") -> str:
    """``CHUNK_COLUMNS`` for a SELECT, each prefixed with ``alias.`` when given."""
    return ", ".join(f"{alias}.{f}" for f in CHUNK_FIELDS) if alias else CHUNK_COLUMNS


def chunk_from_row(row: sqlite3.Row | tuple) -> OutputChunk:
    """The ``OutputChunk`` of a row selected with ``CHUNK_COLUMNS`` (the one place a
    chunk row becomes a chunk): fields are matched to columns by name; compressed data
    comes back as it was written."""
    from storage.engine.compress import plain

    fields = dict(zip(CHUNK_FIELDS, row, strict=True))
    fields["open_end"] = bool(fields["open_end"])
    fields["data"] = plain(fields["data"], fields.pop("plain_size"))
    return OutputChunk(**fields)


class SearchHit(Frozen):
    __slots__ = ("session_id", "line", "stream", "at", "text", "spans", "chunk_id", "row")

    session_id: int
    line: int  # 0-based line number
    stream: str
    at: float
    text: str  # the plain line
    spans: tuple[tuple[int, int], ...]  # highlight positions in ``text``
    chunk_id: int
    row: int | None  # a rendered hit's row of the transcript (0-based); else None

    def __init__(
        self,
        session_id: int,
        line: int,
        stream: str,
        at: float,
        text: str,
        spans: tuple[tuple[int, int], ...],
        chunk_id: int,
        row: int | None = None,
    ) -> None:
        object.__setattr__(self, "session_id", session_id)
        object.__setattr__(self, "line", line)
        object.__setattr__(self, "stream", stream)
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "spans", spans)
        object.__setattr__(self, "chunk_id", chunk_id)
        object.__setattr__(self, "row", row)

    def snippet(self, width: int = 120) -> tuple[str, tuple[tuple[int, int], ...]]:
        """The line cut to ``width`` around the first match, with shifted spans."""
        if len(self.text) <= width or not self.spans:
            return self.text[:width], tuple(s for s in self.spans if s[1] <= width)
        start = max(0, self.spans[0][0] - width // 3)
        end = start + width
        prefix = "…" if start else ""
        cut = prefix + self.text[start:end] + ("…" if end < len(self.text) else "")
        shift = len(prefix) - start
        spans = tuple((a + shift, b + shift) for a, b in self.spans if a >= start and b <= end)
        return cut, spans


# Records that only some commands use live in storage.records, imported when one is
# first asked for (PEP 562): a one-query command (tether search, ls) needs none of these.
_RECORDS = frozenset({"ProcessIdentity", "AppendResult", "AuditEntry", "IntegrityReport"})


def __getattr__(name: str) -> Any:
    if name in _RECORDS:
        from storage import records

        value = getattr(records, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'storage.models' has no attribute {name!r}")
