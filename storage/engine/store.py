"""The ``Store`` object: one open tether database, and ``open_store`` to get one.

One ``Store`` owns one aiosqlite connection. Writes go through ``transaction()``,
which serialises them on that connection and starts ``BEGIN IMMEDIATE`` so that
concurrent writers in other processes wait on the busy timeout instead of failing
with a lock upgrade error. SQLite errors come out typed (``storage.engine.sqlite_errors``).
How a file is checked, created and migrated before there is a ``Store`` is
``storage.engine.opening``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite

from storage.engine import compress
from storage.engine.opening import BUSY_TIMEOUT_MS, connect, make_private_dir
from storage.engine.sqlite_errors import translate
from storage.errors import StoreCorrupt
from storage.models import IntegrityReport, SearchHit

# Rows that must not exist (integrity_check): a count of them, and what they are.
_CONSISTENCY = (
    (
        "SELECT count(*) FROM output_chunks c LEFT JOIN sessions s ON s.id = c.session_id "
        "WHERE s.id IS NULL",
        "output chunks belong to no session",
    ),
    (
        "SELECT count(*) FROM output_words_docsize d LEFT JOIN output_chunks c ON c.id = d.id "
        "WHERE c.id IS NULL",
        "output index entries belong to no chunk",
    ),
)
RECLAIM_INCREMENTAL_MAX_PAGES = 50_000  # beyond this, incremental vacuum gets slow


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
        compress.know(path)  # where compressed chunks' dictionaries are
        from storage.engine.audit import Audit, Settings
        from storage.engine.output import Output
        from storage.engine.queue import Queue
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
        self.queue = Queue(self)

    # -- plumbing -----------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction, serialised on this connection, typed errors out."""
        async with self._lock:
            try:
                await self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise translate(e, str(self.path)) from e
            except asyncio.CancelledError:
                # Cancelled while the BEGIN ran on the connection's thread: it may have
                # begun, and a transaction left open breaks every later one.
                with contextlib.suppress(sqlite3.Error):
                    await asyncio.shield(self.db.execute("ROLLBACK"))
                raise
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
        try:
            rows = await self.fetchall("PRAGMA integrity_check")
        except StoreCorrupt as e:  # damage the check itself cannot read past
            rows = [(str(e),)]
        problems += [r[0] for r in rows if r[0] != "ok"]
        for table in ("output_words", "output_fts", "sessions_fts"):
            try:
                await self.db.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
            except sqlite3.Error as e:
                problems.append(f"{table}: {e}")
        for sql, what in _CONSISTENCY:
            try:
                n = await self.scalar(sql)
            except StoreCorrupt as e:  # damage reached while looking
                problems.append(str(e))
                break
            if n:
                problems.append(f"{n} {what}")
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
        # Only a connection that wrote refreshes the planner's statistics: PRAGMA
        # optimize re-analyzes tables this connection merely queried (small ones
        # misjudged as grown), rewriting sqlite_stat1 with the same figures, so a
        # reader (a re-import that skips everything, ls) would write to the file.
        with contextlib.suppress(sqlite3.Error, ValueError):
            if self.db.total_changes:
                await self.db.execute("PRAGMA optimize")
        await self.db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


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
    return Store(path, await connect(path, create, backup_dir), actor)
