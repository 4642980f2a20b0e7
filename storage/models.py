"""Plain frozen dataclasses that the storage layer takes and returns."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


@dataclass(frozen=True, slots=True)
class Session:
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
    tags: tuple[str, ...] = ()
    # When the latest run started (``started_at`` is the first run's): durations are
    # per run, so a session resumed a week later does not read as a week long.
    run_started_at: float | None = None
    # A coding agent's session (agents/): its kind and the agent's own session id.
    agent_kind: str | None = None
    agent_session_id: str | None = None
    # While running: working, idle or needs_you (runner/attention.py), and since when.
    attention: str | None = None
    attention_since: float | None = None

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
        import shlex

        return shlex.join(self.argv)

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
        from dataclasses import asdict

        from storage.masking import shown_env

        d = asdict(self)
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


@dataclass(frozen=True, slots=True)
class Run:
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
    supervisor: str | None = None
    host: str | None = None
    boot: str | None = None  # "<boot id> <pid namespace>": where the pids below mean something
    supervisor_pid: int | None = None
    supervisor_start: int | None = None  # clock ticks after boot (/proc/PID/stat field 22)
    command_start: int | None = None  # the same for the command (``pid``)
    lease: float | None = None  # seconds an embedder's renewal is good for
    lease_until: float | None = None  # after this, without a renewal, the run is lost
    socket: str | None = None  # the supervisor's control socket

    def duration(self, now: float) -> float:
        return max(0.0, (self.ended_at if self.ended_at is not None else now) - self.started_at)


def total_duration(runs: Iterable[Run], now: float) -> float:
    """The time spent running over all ``runs`` (a live one counts up to ``now``)."""
    return sum(r.duration(now) for r in runs)


@dataclass(frozen=True, slots=True)
class Line:
    """One line of output. ``number`` is 0-based and global within the session."""

    session_id: int
    number: int
    stream: str
    at: float
    run: int
    raw: bytes  # without the newline
    terminated: bool  # False for a line the command has not finished (yet)

    @property
    def text(self) -> str:
        """Decoded text with ANSI sequences kept."""
        return self.raw.decode("utf-8", "replace")

    @property
    def plain(self) -> str:
        """Decoded text without escape sequences or control characters."""
        from storage.text import plain

        return plain(self.text)


@dataclass(frozen=True, slots=True)
class OutputChunk:
    """A stored chunk: whole lines of one stream (the last may be unterminated)."""

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


@dataclass(frozen=True, slots=True)
class SearchHit:
    session_id: int
    line: int  # 0-based line number
    stream: str
    at: float
    text: str  # the plain line
    spans: tuple[tuple[int, int], ...]  # highlight positions in ``text``
    chunk_id: int
    row: int | None = None  # a rendered hit's row of the transcript (0-based); else None

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


# Records that only some commands use live in storage.records and are made when first
# asked for (PEP 562): building a dataclass costs about half a millisecond, and a
# one-query command (tether search, ls) needs none of these.
_RECORDS = frozenset({"ProcessIdentity", "AppendResult", "AuditEntry", "IntegrityReport"})


def __getattr__(name: str) -> Any:
    if name in _RECORDS:
        from storage import records

        value = getattr(records, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'storage.models' has no attribute {name!r}")
