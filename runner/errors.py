"""Typed errors of the runner. Each message says what happened and what to do."""

from __future__ import annotations

import sqlite3

from storage import StoreBusy, StoreCorrupt, StoreFull, StoreReadOnly

# What writing to the database can raise that a supervisor survives (it retries).
DB_ERRORS = (StoreBusy, StoreFull, StoreReadOnly, StoreCorrupt, sqlite3.DatabaseError)


def short_reason(exc: BaseException) -> str:
    """A database error in a few words, for a log line or a system line."""
    if isinstance(exc, StoreFull):
        return "the disk is full"
    if isinstance(exc, StoreReadOnly):
        return "it is read-only"
    if isinstance(exc, StoreBusy):
        return exc.detail  # SQLite's own words: "database is locked"
    return str(exc) or type(exc).__name__


class RunnerError(Exception):
    """Base class of every error the runner raises on purpose."""


class SupervisorGone(RunnerError):
    """The session's supervisor is not there any more (killed, crashed, rebooted), or
    its control socket is stale."""

    def __init__(self, session_id: int, detail: str = "") -> None:
        self.session_id = session_id
        super().__init__(
            f"session #{session_id}'s supervisor is gone"
            + (f" ({detail})" if detail else "")
            + "; the session is marked lost and its output so far is kept. "
            f"`tether resume {session_id}` starts it again."
        )


class NotRunning(RunnerError):
    """A control request for a session that has no running command."""

    def __init__(self, session_id: int, status: str, action: str) -> None:
        self.session_id, self.status, self.action = session_id, status, action
        super().__init__(f"cannot {action} session #{session_id}: it is {status}, not running")


class NotResumable(RunnerError):
    """``resume`` (or ``launch``) of a session that cannot start a new run now."""

    def __init__(self, session_id: int, message: str) -> None:
        self.session_id = session_id
        super().__init__(message)


class NeedsConfirmation(RunnerError):
    """An imported session's command must be confirmed by the user before it runs."""

    def __init__(self, session_id: int, command: str) -> None:
        self.session_id, self.command = session_id, command
        super().__init__(
            f"session #{session_id} was imported; tether does not run an imported command "
            f"without confirmation. It would run: {command}"
        )


class ControlError(RunnerError):
    """The supervisor refused or could not carry out a request."""


class UnsafeRuntimeDir(RunnerError):
    """A directory for locks or sockets exists but is not private to this user."""

    def __init__(self, path: str, detail: str) -> None:
        self.path = path
        super().__init__(
            f"{path} is not a private directory ({detail}); tether will not put its control "
            f"sockets there. Remove it or fix its owner and mode (0700)."
        )


class NotQueueable(RunnerError):
    """A session that cannot wait in the queue (runner/queue.py) for the reason given."""
