"""Opening a database file: from a path to a ready connection.

A file that is not a whole SQLite database is refused before anything is written
(``check_header``); a new database is made in a private file and published in one
step; an older schema is migrated in one transaction, after a copy of the file is
kept beside it (or in ``backup_dir``); then the connection switches to WAL. The
``Store`` object around the connection is ``storage.engine.store``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time

from storage.engine import schema
from storage.engine.sqlite_errors import translate
from storage.errors import (
    MigrationFailed,
    SchemaTooNew,
    StoreCorrupt,
    StoreError,
    StoreReadOnly,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path  # (not at run time: ``tether search`` never imports pathlib)
    from typing import Any

    import aiosqlite  # imported where a connection is made: readers never need it

BUSY_TIMEOUT_MS = 30_000
SQLITE_MAGIC = b"SQLite format 3\x00"


def make_private_dir(path: str | os.PathLike[str]) -> None:
    """Create ``path`` and any missing parents, each 0700 (``mkdir(parents=True)``
    would give the parents the umask's default mode). Directories that already exist
    are left exactly as they are: they may be the user's (``--db /tmp/x.db``)."""
    where = os.fspath(path)
    missing = []
    while not os.path.exists(where):
        missing.append(where)
        parent = os.path.dirname(where)
        if parent == where or not parent:
            break
        where = parent
    for new in reversed(missing):
        try:
            os.mkdir(new, 0o700)
        except FileExistsError:  # made meanwhile: fine if a directory
            if not os.path.isdir(new):
                raise
        with contextlib.suppress(OSError):
            os.chmod(new, 0o700)


def check_header(path: str | os.PathLike[str]) -> None:
    """Refuse, without writing, a file that is not a whole SQLite database."""
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except PermissionError as e:
        raise StoreReadOnly(str(path), f"cannot read it: {e.strerror}") from None
    if len(header) == 0:
        raise StoreCorrupt(str(path), "the file is empty")
    if not header.startswith(SQLITE_MAGIC):
        raise StoreCorrupt(str(path), "it is not an SQLite database")
    if len(header) < 100:
        raise StoreCorrupt(str(path), "the file is truncated")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    change_counter = int.from_bytes(header[24:28], "big")
    pages = int.from_bytes(header[28:32], "big")
    valid_for = int.from_bytes(header[92:96], "big")
    if page_size < 512 or page_size & (page_size - 1):
        raise StoreCorrupt(str(path), "its header is damaged")
    if (
        valid_for == change_counter
        and pages
        and os.stat(path).st_size < pages * page_size
        and not _wal_in_use(path)
    ):
        raise StoreCorrupt(
            str(path),
            f"the file is truncated: {os.stat(path).st_size} bytes, the header says "
            f"{pages * page_size}",
        )


def _wal_in_use(path: str | os.PathLike[str]) -> bool:
    """A non-empty ``-wal`` file: another connection may be checkpointing, which writes
    page 1 (with the new size) before the pages that grow the file, so a short file is
    not proof of damage. SQLite reads page 1 from the WAL and is not confused."""
    try:
        return os.path.getsize(f"{path}-wal") > 0
    except OSError:
        return False


def _new_backup_file(path: Path, version: int) -> Path:
    """Create (exclusively, 0600) and return an empty file for a pre-migration backup.
    The pid keeps processes opening an old database at the same second apart; the
    counter keeps apart two attempts of one process (a failed upgrade, then another)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        extra = f".{n}" if n else ""
        candidate = path.with_name(f"{path.stem}.v{version}-{stamp}-{os.getpid()}{extra}.bak.db")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"no free backup file name beside {path}")


async def connect(path: Path, create: bool, backup_dir: Any) -> aiosqlite.Connection:
    """A connection to the database at ``path`` (already expanded), ready to use: the
    file checked (or created), migrated to the current schema, in WAL mode."""
    created = False
    if path.exists():
        if path.is_dir():
            raise StoreCorrupt(str(path), "it is a directory")
        check_header(path)
    elif not create:
        raise StoreCorrupt(str(path), "the file does not exist")
    else:
        make_private_dir(path.parent)
        if not await _create(path, backup_dir):
            check_header(path)  # another process created it first

    import aiosqlite

    try:
        db = await aiosqlite.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error as e:
        raise translate(e, str(path)) from e
    try:
        await _prepare(db, path, created, backup_dir)
    except BaseException:
        await db.close()
        raise
    return db


async def _create(path: Path, backup_dir: Any) -> bool:
    """Make a new database in a private file and publish it under ``path`` in one step
    (a hard link), so that a process opening ``path`` at the same moment never finds
    an empty or half-made file. False when another process published one first."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(path):x}.new")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except PermissionError as e:
        raise StoreReadOnly(str(path), e.strerror or "permission denied") from None
    except OSError as e:
        raise translate(sqlite3.OperationalError(str(e)), str(path)) from None
    import aiosqlite

    try:
        try:
            db = await aiosqlite.connect(f"file:{tmp}?mode=rw", uri=True, isolation_level=None)
        except sqlite3.Error as e:
            raise translate(e, str(path)) from e
        try:
            await _prepare(db, tmp, True, backup_dir)
        finally:
            await db.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(f"{tmp}{suffix}")


async def _prepare(db: aiosqlite.Connection, path: Path, created: bool, backup_dir: Any) -> None:
    try:
        await db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        version = (await (await db.execute("PRAGMA user_version")).fetchone())[0]
        # Touch the schema so a damaged file fails here, before anything is written.
        await db.execute_fetchall("SELECT name FROM sqlite_master LIMIT 1")
        tables = await db.execute_fetchall("SELECT count(*) FROM sqlite_master")
    except sqlite3.Error as e:
        # A read-only place is not damage: keep that error's own type.
        typed = translate(e, str(path))
        if not isinstance(typed, StoreError):
            typed = StoreCorrupt(str(path), str(e))
        raise typed from e
    target = schema.SCHEMA_VERSION  # looked up at call time: tests add steps
    check_version(path, version, tables[0][0], created)
    if version < target:
        # Migrate before switching to WAL: a failed upgrade must leave the file exactly
        # as it was, and changing the journal mode rewrites the header.
        await _migrate(db, path, version, target, backup_dir)
    try:
        mode = (await (await db.execute("PRAGMA journal_mode=WAL")).fetchone())[0]
        if mode.lower() != "wal":
            raise StoreReadOnly(str(path), f"could not switch to WAL mode (got {mode})")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as e:
        raise translate(e, str(path)) from e


def check_version(path: str | os.PathLike[str], version: int, tables: int, created: bool) -> None:
    """Refuse a newer schema, or an SQLite file that is not a tether database (schema
    version 0 with tables in it, not one just created)."""
    target = schema.SCHEMA_VERSION
    if version > target:
        raise SchemaTooNew(str(path), version, target)
    if version == 0 and tables and not created:
        raise StoreCorrupt(str(path), "it is an SQLite database, but not a tether one")


async def _migrate(
    db: aiosqlite.Connection, path: Path, version: int, target: int, backup_dir: Any
) -> None:
    from pathlib import Path

    backup: Path | None = None
    try:
        if version == 0:
            await db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # only before any table
        else:
            target_dir = Path(backup_dir) if backup_dir else path.parent
            make_private_dir(target_dir)
            src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                src.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                backup = _new_backup_file(target_dir / path.name, version)
                dst = sqlite3.connect(backup)
                src.backup(dst)
                dst.close()
            finally:
                src.close()
    except sqlite3.Error as e:
        raise translate(e, str(path)) from e
    try:
        await db.execute("BEGIN IMMEDIATE")
        # Another process may have migrated while we waited for the write lock.
        current = (await (await db.execute("PRAGMA user_version")).fetchone())[0]
        if current > target:
            await db.execute("ROLLBACK")
            raise SchemaTooNew(str(path), current, target)
        for step in range(current, target):
            for statement in schema.MIGRATIONS[step]:
                await db.execute(statement)
        await db.execute(f"PRAGMA user_version={target}")
        await db.execute("COMMIT")
    except sqlite3.Error as e:
        with contextlib.suppress(sqlite3.Error):
            await db.execute("ROLLBACK")
        raise MigrationFailed(str(path), str(backup) if backup else None, str(e)) from e
