"""Records fewer commands need: where a run's processes are, what an append wrote, an
audit entry, an integrity report. ``storage.models`` exports them (and ``storage``):
they are made when first asked for, not when the models are imported, since building a
dataclass costs about half a millisecond and a one-query command (``tether search``,
``ls``) needs none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """Where a run's processes are, told safely: a pid means something only with the
    host and boot it belongs to, and only together with the process's start time
    (a pid alone may have been given to another process since)."""

    host: str
    boot: str
    supervisor_pid: int
    supervisor_start: int
    command_start: int | None = None
    socket: str | None = None


@dataclass(frozen=True, slots=True)
class AppendResult:
    first_line: int
    line_count: int
    chunks: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    session_id: int | None
    detail: Any


@dataclass(frozen=True, slots=True)
class IntegrityReport:
    ok: bool
    problems: tuple[str, ...] = field(default_factory=tuple)
