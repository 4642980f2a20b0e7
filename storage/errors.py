"""Typed storage errors. Each message says what happened and what the user can do."""

from __future__ import annotations

from collections.abc import Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    from storage.models import Session


class StoreError(Exception):
    """Base class of every error the storage layer raises on purpose."""


class SessionNotFound(StoreError, LookupError):
    def __init__(self, session_id: int | str) -> None:
        self.session_id = session_id
        super().__init__(
            f"no session #{session_id}"
            if isinstance(session_id, int)
            else f"no session matches {session_id!r}"
        )


class AmbiguousSession(SessionNotFound):
    """A uid prefix that matches several sessions; ``candidates`` are (some of) them,
    oldest first, and ``more`` says whether others match too."""

    def __init__(self, prefix: str, candidates: Sequence[Session], more: bool = False) -> None:
        from storage.text import terminal_safe

        self.prefix, self.candidates, self.more = prefix, tuple(candidates), more
        self.session_id = prefix
        listed = "".join(
            f"\n  #{s.id}  {s.uid}  "
            + terminal_safe(f"{s.name}  {s.command}" if s.name else s.command, keep_colour=False)
            .replace("\n", " ")
            .strip()
            for s in self.candidates
        )
        many = f"more than {len(self.candidates)}" if more else str(len(self.candidates))
        # Not SessionNotFound.__init__: its message would say nothing matched.
        Exception.__init__(
            self,
            f"{prefix!r} matches several sessions ({many}); give more of the uid, or the #id:"
            f"{listed}",
        )


class IllegalTransition(StoreError, ValueError):
    def __init__(self, session_id: int, old: str, new: str) -> None:
        self.session_id, self.old, self.new = session_id, old, new
        super().__init__(f"session #{session_id} is {old}; it cannot become {new}")


class RunSuperseded(StoreError):
    """A run's end (or lease renewal) came from a supervisor whose run is no longer the
    session's current live one (it was judged lost, or resumed meanwhile)."""

    def __init__(self, session_id: int, run: int, current: int, status: str) -> None:
        self.session_id, self.run, self.current, self.status = session_id, run, current, status
        super().__init__(
            f"session #{session_id}'s run {run} is over (the session is {status}, at run "
            f"{current}); nothing was recorded for it"
        )


class SchemaTooNew(StoreError):
    def __init__(self, path: str, found: int, supported: int) -> None:
        self.path, self.found, self.supported = path, found, supported
        super().__init__(
            f"{path} has schema version {found}, but this tether understands up to "
            f"{supported}. Upgrade tether to open it; the file was not changed."
        )


class StoreCorrupt(StoreError):
    def __init__(self, path: str, detail: str) -> None:
        self.path, self.detail = path, detail
        super().__init__(
            f"{path} is not a usable tether database ({detail}). The file was not changed. "
            f"Restore a backup (`tether restore-backup`), or move the file away to start fresh."
        )


class MigrationFailed(StoreError):
    def __init__(self, path: str, backup: str | None, detail: str) -> None:
        self.path, self.backup, self.detail = path, backup, detail
        super().__init__(
            f"migrating {path} failed ({detail}); it was rolled back and left as it was"
            + (f"; a backup is kept at {backup}" if backup else "")
        )


class StoreReadOnly(StoreError):
    def __init__(self, path: str, detail: str) -> None:
        self.path, self.detail = path, detail
        super().__init__(
            f"{path} cannot be written ({detail}). Check its permissions and free space."
        )


class StoreFull(StoreError):
    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"the disk holding {path} is full; nothing was written. Free some space and retry."
        )


class StoreBusy(StoreError):
    """Another process held the database's write lock for longer than this connection
    waits (its busy timeout): nothing was written; trying again later may work."""

    def __init__(self, path: str, detail: str = "database is locked") -> None:
        self.path, self.detail = path, detail
        super().__init__(
            f"the database {path} is busy ({detail}): another process kept it locked "
            "for longer than tether waits; nothing was changed. Try again in a moment."
        )


class ImportRejected(StoreError, ValueError):
    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)
