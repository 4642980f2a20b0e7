"""Opening, migrating and guarding the database; the ``Store`` object.

One ``Store`` owns one aiosqlite connection. Writes go through ``transaction()``,
which serialises them on that connection and starts ``BEGIN IMMEDIATE`` so that
concurrent writers in other processes wait on the busy timeout instead of failing
with a lock upgrade error. SQLite errors that mean "disk full", "read-only" or
"corrupt" are translated into typed errors here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite

from storage.engine import schema
from storage.errors import (
    MigrationFailed,
    SchemaTooNew,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreReadOnly,
)
from storage.models import IntegrityReport, SearchHit

BUSY_TIMEOUT_MS = 30_000
RECLAIM_INCREMENTAL_MAX_PAGES = 50_000  # beyond this, incremental vacuum gets slow
SQLITE_MAGIC = b"SQLite format 3\x00"


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


def make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents, each 0700 (``mkdir(parents=True)``
    would give the parents the umask's default mode). Directories that already exist
    are left exactly as they are: they may be the user's (``--db /tmp/x.db``)."""
    missing = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for new in reversed(missing):
        new.mkdir(mode=0o700, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(new, 0o700)


def _check_header(path: Path) -> None:
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
        and path.stat().st_size < pages * page_size
        and not _wal_in_use(path)
    ):
        raise StoreCorrupt(
            str(path),
            f"the file is truncated: {path.stat().st_size} bytes, the header says "
            f"{pages * page_size}",
        )


def _wal_in_use(path: Path) -> bool:
    """A non-empty ``-wal`` file: another connection may be checkpointing, which writes
    page 1 (with the new size) before the pages that grow the file, so a short file is
    not proof of damage. SQLite reads page 1 from the WAL and is not confused."""
    try:
        return os.path.getsize(f"{path}-wal") > 0
    except OSError:
        return False


class ChangeWatcher:
    """Tells whether another connection committed since the last look (SQLite's
    ``data_version``): ``changed()`` is True the first time, then only after a commit
    by someone else. Writes through the watched store itself do not count."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._version: int | None = None

    async def changed(self) -> bool:
        version = await self._store.data_version()
        moved = version != self._version
        self._version = version
        return moved


class Store:
    """An open tether database. Use ``async with open_store(path) as store``."""

    def __init__(self, path: Path, db: aiosqlite.Connection, actor: str = "library") -> None:
        from storage.engine.audit import Audit, Settings
        from storage.engine.output import Output
        from storage.engine.runs import Runs
        from storage.engine.sessions import Sessions

        self.path = path
        self.db = db
        self.actor = actor  # recorded in the audit log: "cli", "tui", "runner", ...
        self._lock = asyncio.Lock()
        self.sessions = Sessions(self)
        self.runs = Runs(self)
        self.output = Output(self)
        self.settings = Settings(self)
        self.audit = Audit(self)

    # -- plumbing -----------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction, serialised on this connection, typed errors out."""
        async with self._lock:
            try:
                await self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise translate(e, str(self.path)) from e
            try:
                yield self.db
            except BaseException as e:
                with contextlib.suppress(sqlite3.Error):
                    await self.db.execute("ROLLBACK")
                if isinstance(e, sqlite3.Error):
                    raise translate(e, str(self.path)) from e
                raise
            else:
                try:
                    await self.db.execute("COMMIT")
                except sqlite3.Error as e:
                    with contextlib.suppress(sqlite3.Error):
                        await self.db.execute("ROLLBACK")
                    raise translate(e, str(self.path)) from e

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """A consistent read of several statements (a read transaction)."""
        async with self._lock:
            try:
                await self.db.execute("BEGIN")
                try:
                    yield self.db
                finally:
                    await self.db.execute("COMMIT")
            except sqlite3.Error as e:
                raise translate(e, str(self.path)) from e

    async def fetchall(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        try:
            return list(await self.db.execute_fetchall(sql, params))
        except sqlite3.Error as e:
            raise translate(e, str(self.path)) from e

    async def fetchone(self, sql: str, params: Any = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def scalar(self, sql: str, params: Any = ()) -> Any:
        row = await self.fetchone(sql, params)
        return row[0] if row else None

    # -- whole-database operations ------------------------------------------------
    async def check_writable(self) -> None:
        """Raise ``StoreReadOnly`` (or ``StoreFull``...) now if nothing could be saved.
        In WAL mode ``BEGIN IMMEDIATE`` succeeds even on a read-only file; only a page
        write tells, so write a row and roll it back."""
        async with self._lock:
            try:
                await self.db.execute("BEGIN IMMEDIATE")
                try:
                    await self.db.execute(
                        "INSERT OR REPLACE INTO settings (key, value, updated_at) "
                        "VALUES ('tether.write-probe', 'null', 0)"
                    )
                finally:
                    await self.db.execute("ROLLBACK")
            except sqlite3.Error as e:
                raise translate(e, str(self.path)) from e

    async def data_version(self) -> int:
        """Changes whenever another connection commits; cheap to poll."""
        return int(await self.scalar("PRAGMA data_version"))

    def changes(self) -> ChangeWatcher:
        """A watcher telling whether other processes committed since it last looked:
        ``await watcher.changed()``. Cheap enough to call many times a second."""
        return ChangeWatcher(self)

    async def tune(self, *, busy_timeout: float | None = None) -> None:
        """Adjust this connection for its user: ``busy_timeout`` is how many seconds a
        write waits for another process's lock before failing (a supervisor that
        must never drop output waits longer than the default)."""
        if busy_timeout is not None:
            if busy_timeout < 0:
                raise ValueError("busy_timeout cannot be negative")
            async with self._lock:
                try:
                    await self.db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
                except sqlite3.Error as e:
                    raise translate(e, str(self.path)) from e

    async def schema_version(self) -> int:
        return int(await self.scalar("PRAGMA user_version"))

    async def integrity_check(self) -> IntegrityReport:
        """SQLite's integrity check plus the full-text indexes' own checks."""
        problems: list[str] = []
        rows = await self.fetchall("PRAGMA integrity_check")
        problems += [r[0] for r in rows if r[0] != "ok"]
        for table in ("output_fts", "sessions_fts"):
            try:
                await self.db.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
            except sqlite3.Error as e:
                problems.append(f"{table}: {e}")
        orphans = await self.scalar(
            "SELECT count(*) FROM output_chunks c LEFT JOIN sessions s ON s.id = c.session_id "
            "WHERE s.id IS NULL"
        )
        if orphans:
            problems.append(f"{orphans} output chunks belong to no session")
        ghost = await self.scalar(
            "SELECT count(*) FROM output_fts_docsize d LEFT JOIN output_chunks c ON c.id = d.id "
            "WHERE c.id IS NULL"
        )
        if ghost:
            problems.append(f"{ghost} output index entries belong to no chunk")
        return IntegrityReport(ok=not problems, problems=tuple(problems))

    async def backup_to(
        self, dest: str | os.PathLike[str], *, pages: int = -1, replace: bool = True
    ) -> Path:
        """A consistent copy through SQLite's online backup API (safe while others
        write). The copy is created 0600.

        By default in one step: in WAL mode the copy's read transaction blocks no
        writer, while a backup in several steps starts over whenever another
        connection writes between two of them. With a session writing all the time,
        steps of 1 024 pages had not finished a 50 MB database after 30 s; one step
        took 0.2 s.

        The copy is made in a private directory beside ``dest`` and renamed into place
        once whole (``storage.files``): nobody else can read it or plant a file or link
        where it is written. ``replace=False`` raises ``FileExistsError`` rather than
        overwrite an existing ``dest``; a symlink at ``dest`` is replaced, not followed."""
        from storage.files import publish, staging_dir

        dest = Path(dest)
        make_private_dir(dest.parent)
        with staging_dir(dest.parent) as stage:
            tmp = stage / dest.name
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
            await self._copy_to(tmp, pages, dest)
            publish(tmp, dest, replace=replace)
        return dest

    async def _copy_to(self, tmp: Path, pages: int, dest: Path) -> None:
        def copy(src: sqlite3.Connection) -> None:
            target = sqlite3.connect(tmp)
            try:
                src.backup(target, pages=pages)
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()

        try:
            # The backup runs on our connection's own thread (aiosqlite's public API
            # gives no thread hop for a function), so use a second connection.
            def run() -> None:
                src = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
                try:
                    src.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                    copy(src)
                finally:
                    src.close()

            await asyncio.to_thread(run)
        except sqlite3.Error as e:
            raise translate(e, str(dest)) from e

    async def reclaim_space(self) -> None:
        """Give freed pages back to the file system (after purges).

        Incremental vacuum slows down more than linearly with the free list (0.8 s for
        33k free pages, 200 s for 330k, measured by bench/purge.py), so a large reclaim
        takes another way: VACUUM when less is live than free (its cost follows the
        live pages), else one commit in auto_vacuum=FULL mode (linear in free pages)."""
        async with self._lock:
            try:
                free = (await self.db.execute_fetchall("PRAGMA freelist_count"))[0][0]
                pages = (await self.db.execute_fetchall("PRAGMA page_count"))[0][0]
                vacuumed = False
                if free > pages - free:
                    try:
                        await self.db.execute_fetchall("VACUUM")
                        vacuumed = True
                    except sqlite3.OperationalError:
                        pass  # no room for the copy: fall back to the in-place ways
                if vacuumed or not free:
                    pass
                elif free > RECLAIM_INCREMENTAL_MAX_PAGES:
                    # Switching to FULL truncates every free page at once; the mode goes
                    # back right after (both keep the pointer map, so no VACUUM needed).
                    await self.db.execute_fetchall("PRAGMA auto_vacuum=FULL")
                    await self.db.execute_fetchall("PRAGMA auto_vacuum=INCREMENTAL")
                else:
                    # Step the pragma to the end: one step frees one page, and Python's
                    # execute() steps a statement without result columns only once;
                    # executescript() runs it to completion.
                    await self.db.executescript("PRAGMA incremental_vacuum;")
                await self.db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as e:
                raise translate(e, str(self.path)) from e

    async def search(
        self,
        text: str,
        *,
        limit: int = 50,
        session_id: int | None = None,
        include_deleted: bool = False,
    ) -> list[SearchHit]:
        """Lines of output holding every word of ``text``, newest first (plain words,
        not the query language). The query language is ``storage.query.parse`` with
        ``storage.engine.search.search``; both run on the same engine."""
        from storage.engine.search.words import search_output

        return await search_output(
            self, text, limit=limit, session_id=session_id, include_deleted=include_deleted
        )

    async def close(self) -> None:
        with contextlib.suppress(sqlite3.Error, ValueError):
            await self.db.execute("PRAGMA optimize")
        await self.db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


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


class _Opener:
    """``open_store(...)`` is both awaitable and an async context manager."""

    def __init__(self, coro_factory: Any) -> None:
        self._factory = coro_factory
        self._store: Store | None = None

    def __await__(self):  # type: ignore[no-untyped-def]
        return self._factory().__await__()

    async def __aenter__(self) -> Store:
        self._store = await self._factory()
        return self._store

    async def __aexit__(self, *exc: object) -> None:
        if self._store is not None:
            await self._store.close()


def open_store(
    path: str | os.PathLike[str],
    *,
    create: bool = True,
    backup_dir: str | os.PathLike[str] | None = None,
    actor: str = "library",
) -> _Opener:
    """Open (creating and migrating as needed) the database at ``path``.

    Raises ``StoreCorrupt`` for a file that is not a whole SQLite database,
    ``SchemaTooNew`` for a newer schema, ``MigrationFailed`` if an upgrade fails
    (the file is rolled back, the backup kept). Nothing is written to a file that is
    refused.
    """
    return _Opener(lambda: _open(Path(path), create, backup_dir, actor))


async def _open(path: Path, create: bool, backup_dir: Any, actor: str) -> Store:
    path = path.expanduser()
    created = False
    if path.exists():
        if path.is_dir():
            raise StoreCorrupt(str(path), "it is a directory")
        _check_header(path)
    elif not create:
        raise StoreCorrupt(str(path), "the file does not exist")
    else:
        make_private_dir(path.parent)
        if not await _create(path, backup_dir):
            _check_header(path)  # another process created it first

    try:
        db = await aiosqlite.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error as e:
        raise translate(e, str(path)) from e
    try:
        await _prepare(db, path, created, backup_dir)
    except BaseException:
        await db.close()
        raise
    return Store(path, db, actor)


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
    if version > target:
        raise SchemaTooNew(str(path), version, target)
    if version == 0 and tables[0][0] and not created:
        raise StoreCorrupt(str(path), "it is an SQLite database, but not a tether one")

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


async def _migrate(
    db: aiosqlite.Connection, path: Path, version: int, target: int, backup_dir: Any
) -> None:
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
