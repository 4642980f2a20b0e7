"""The store of this home: the database ``home.paths`` points at, opened the way the
command line and the app both open it (migration backups in ``paths.backups``, changes
audited under the caller's name)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from home.paths import Paths


def open_store(paths: Paths, *, actor: str):  # type: ignore[no-untyped-def]
    """``async with open_store(paths, actor="cli") as store`` (or ``await`` it).

    Creates tether's missing directories first (0700). ``actor`` ("cli", "tui") is who
    the audit log says made each change."""
    from storage import open_store as open_database

    paths.ensure()
    return open_database(paths.db, backup_dir=paths.backups, actor=actor)


def open_reader(paths: Paths):  # type: ignore[no-untyped-def]
    """``with open_reader(paths) as reader``: the same database for reading only, with
    no event loop (``storage.engine.reader``). Creates tether's missing directories
    first, and the database (or migrates it) the way ``open_store`` does."""
    from storage.engine.reader import open_reader as open_database

    paths.ensure()
    return open_database(paths.db_str, backup_dir=paths.backups_str)
