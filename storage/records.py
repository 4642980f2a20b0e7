"""Records fewer commands need: where a run's processes are, what an append wrote, an
audit entry, an integrity report. ``storage.models`` exports them (and ``storage``):
this module is imported when one is first asked for, not with the models: a one-query
command (``tether search``, ``ls``) needs none of them. (``storage.frozen`` records, as
the models.)
"""

from __future__ import annotations

from storage.frozen import Frozen

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any


class ProcessIdentity(Frozen):
    """Where a run's processes are, told safely: a pid means something only with the
    host and boot it belongs to, and only together with the process's start time
    (a pid alone may have been given to another process since)."""

    __slots__ = ("host", "boot", "supervisor_pid", "supervisor_start", "command_start", "socket")

    host: str
    boot: str
    supervisor_pid: int
    supervisor_start: int
    command_start: int | None
    socket: str | None

    def __init__(
        self,
        host: str,
        boot: str,
        supervisor_pid: int,
        supervisor_start: int,
        command_start: int | None = None,
        socket: str | None = None,
    ) -> None:
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "boot", boot)
        object.__setattr__(self, "supervisor_pid", supervisor_pid)
        object.__setattr__(self, "supervisor_start", supervisor_start)
        object.__setattr__(self, "command_start", command_start)
        object.__setattr__(self, "socket", socket)


class AppendResult(Frozen):
    __slots__ = ("first_line", "line_count", "chunks")

    first_line: int
    line_count: int
    chunks: int

    def __init__(self, first_line: int, line_count: int, chunks: int) -> None:
        object.__setattr__(self, "first_line", first_line)
        object.__setattr__(self, "line_count", line_count)
        object.__setattr__(self, "chunks", chunks)


class AuditEntry(Frozen):
    __slots__ = ("id", "at", "actor", "action", "session_id", "detail")

    id: int
    at: float
    actor: str
    action: str
    session_id: int | None
    detail: Any

    def __init__(
        self,
        id: int,
        at: float,
        actor: str,
        action: str,
        session_id: int | None,
        detail: Any,
    ) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "actor", actor)
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "session_id", session_id)
        object.__setattr__(self, "detail", detail)


class IntegrityReport(Frozen):
    __slots__ = ("ok", "problems")
    _FACTORIES = {"problems": tuple}

    ok: bool
    problems: tuple[str, ...]

    def __init__(self, ok: bool, problems: tuple[str, ...] | None = None) -> None:
        object.__setattr__(self, "ok", ok)
        object.__setattr__(self, "problems", tuple() if problems is None else problems)
