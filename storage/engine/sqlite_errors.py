"""SQLite's errors as tether's typed errors: ``translate`` is the one place that
decides what "disk full", "read-only" and "corrupt" look like.
"""

from __future__ import annotations

import sqlite3

from storage.errors import StoreBusy, StoreCorrupt, StoreError, StoreFull, StoreReadOnly

_WRITE_REFUSED = {
    getattr(sqlite3, name, -1)
    for name in (
        "SQLITE_IOERR_WRITE",
        "SQLITE_IOERR_FSYNC",
        "SQLITE_IOERR_TRUNCATE",
        "SQLITE_IOERR_SHMSIZE",  # the -shm file could not grow (quota, size limit, full)
        "SQLITE_IOERR_SHMOPEN",
    )
}


def translate(exc: BaseException, path: str) -> BaseException:
    """Map a raw SQLite error to a typed one a user can act on."""
    if isinstance(exc, StoreError) or not isinstance(exc, sqlite3.Error):
        return exc
    msg = str(exc).lower()
    # Busy after the busy timeout (or at once where SQLite cannot wait): not damage.
    code = getattr(exc, "sqlite_errorcode", None)
    if (code is not None and code & 0xFF in (5, 6)) or "database is locked" in msg:
        return StoreBusy(path, str(exc))  # SQLITE_BUSY, SQLITE_LOCKED and their kinds
    if "disk is full" in msg or "database or disk is full" in msg:
        return StoreFull(path)
    # A write the system refused (quota, file-size limit, a full disk seen as EIO) is
    # "cannot be written", not damage: the file is as it was before the write.
    if getattr(exc, "sqlite_errorcode", None) in _WRITE_REFUSED:
        return StoreReadOnly(path, "a write was refused: disk full, quota or file-size limit")
    if "readonly" in msg or "read-only" in msg or "unable to open" in msg:
        return StoreReadOnly(path, str(exc))
    if "malformed" in msg or "not a database" in msg or "disk i/o" in msg or "corrupt" in msg:
        return StoreCorrupt(path, str(exc))
    return exc
