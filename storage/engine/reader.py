"""A tether database opened for reading, synchronously: no event loop, no thread.

A command that asks one question (``tether ls``, ``search``, ``logs``) pays more for
starting asyncio and aiosqlite's worker thread than for the query itself. A ``Reader``
is one plain ``sqlite3`` connection that offers the reading half of ``Store``: the same
facets (``reader.sessions``, ``reader.runs``, ``reader.output``) and ``fetchall``,
``fetchone``, ``scalar``, so every reading function written for a ``Store`` (the
search engine, ``store.sessions.list``...) runs on it unchanged, with the same SQL and
the same row conversions. ``reader.run(coro)`` runs such a coroutine to its end right
here::

    from storage.engine.reader import open_reader

    with open_reader("sessions.db") as reader:
        sessions = reader.run(reader.sessions.list(limit=10))

That works because nothing a reading function awaits ever waits: every query answers
at once. ``run`` refuses a coroutine that awaits something else (a sleep, a lock, I/O of
an event loop) with a ``TypeError``; a bare ``yield`` (what ``asyncio.sleep(0)`` does, a
polite pause between chunks) simply continues. Writing is refused: the connection is
``query_only``, so anything that tries gets ``StoreReadOnly``; writes go through
``open_store``.

Opening checks what ``open_store`` checks (a whole SQLite file, not a newer schema, a
tether database) with the same typed errors. A file that does not exist yet, or has an
older schema, is first created or migrated by ``open_store`` itself (with its backup),
once; then it is read here.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Coroutine, Iterator

from storage.engine import compress
from storage.engine.opening import BUSY_TIMEOUT_MS, check_header, check_version
from storage.engine.sqlite_errors import translate
from storage.errors import StoreCorrupt, StoreError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, TypeVar

    from storage.engine.output import Output
    from storage.engine.queue import Queue
    from storage.engine.runs import Runs
    from storage.engine.sessions import Sessions

    T = TypeVar("T")


class Reader:
    """An open tether database, for reading only. ``with open_reader(path) as reader``."""

    def __init__(self, path: str, db: sqlite3.Connection) -> None:
        self.file = path  # the database's path, a plain string
        self.db = db
        compress.know(path)  # where compressed chunks' dictionaries are

    @property
    def path(self) -> Path:
        """The database's path (as ``Store.path``). Made when asked: a command that only
        reads never imports pathlib (~3 ms of ``tether search``, issue 18)."""
        from pathlib import Path

        return Path(self.file)

    # The facets of Store, each made (and its module imported) when first used.
    @functools.cached_property
    def sessions(self) -> Sessions:
        from storage.engine.sessions import Sessions

        return Sessions(self)  # type: ignore[arg-type]  # the reading half of a Store

    @functools.cached_property
    def runs(self) -> Runs:
        from storage.engine.runs import Runs

        return Runs(self)  # type: ignore[arg-type]

    @functools.cached_property
    def output(self) -> Output:
        from storage.engine.output import Output

        return Output(self)  # type: ignore[arg-type]

    @functools.cached_property
    def queue(self) -> Queue:
        from storage.engine.queue import Queue

        return Queue(self)  # type: ignore[arg-type]

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a reading coroutine (a facet's method, the search engine...) to its end
        and return its result."""
        return drive(coro)

    def iterate(self, agen: Any) -> Iterator[Any]:
        """The items of an async iterator of the facets (``output.iter_chunks``...)."""
        return drive_iter(agen)

    # -- what the facets use of a Store, for reading ------------------------------------
    async def fetchall(self, sql: str, params: Any = ()) -> list[Any]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise translate(e, self.file) from e

    async def fetchone(self, sql: str, params: Any = ()) -> Any:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def scalar(self, sql: str, params: Any = ()) -> Any:
        row = await self.fetchone(sql, params)
        return row[0] if row else None

    def status_and_socket(self, session_id: int) -> tuple[str, str | None] | None:
        """A session's status and the socket its latest run recorded, as plain values
        (None: no such session). No ``Session`` or ``Run`` is built: ``tether attach``'s
        fast start (runner/connect.py) cannot afford ``storage.models``."""
        try:
            return self.db.execute(
                "SELECT status, (SELECT socket FROM runs WHERE session_id = s.id "
                "ORDER BY number DESC LIMIT 1) FROM sessions s WHERE id = ?",
                (session_id,),
            ).fetchone()
        except sqlite3.Error as e:
            raise translate(e, self.file) from e

    def transaction(self) -> Any:
        raise TypeError("a Reader cannot write: open the database with open_store")

    async def data_version(self) -> int:
        """Changes whenever another connection commits."""
        return int(await self.scalar("PRAGMA data_version"))

    async def schema_version(self) -> int:
        return int(await self.scalar("PRAGMA user_version"))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end without an event loop. Bare yields (``asyncio.sleep(0)``)
    continue at once; anything else it awaits is refused (``TypeError``)."""
    try:
        while True:
            waited = coro.send(None)
            if waited is not None:
                raise TypeError(
                    f"{coro!r} waits for {waited!r}: only reading functions that never wait "
                    "can run on a Reader"
                )
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        coro.close()


def drive_iter(agen: Any) -> Iterator[Any]:
    """The items of an async iterator, without an event loop (see ``drive``)."""
    try:
        while True:
            try:
                yield drive(agen.__anext__())
            except StopAsyncIteration:
                return
    finally:
        drive(agen.aclose())


def open_reader(
    path: str | os.PathLike[str],
    *,
    create: bool = True,
    backup_dir: str | os.PathLike[str] | None = None,
) -> Reader:
    """Open the database at ``path`` for reading. Errors are those of ``open_store``
    (``StoreCorrupt``, ``SchemaTooNew``, ``MigrationFailed``...). A missing file
    (``create``) or an older schema is made current by ``open_store`` first."""
    path = os.path.expanduser(os.fspath(path))
    if os.path.exists(path) and not os.path.isdir(path):
        check_header(path)
        db = _connect(path)
        try:
            version, tables = _probe(db, path)
            check_version(path, version, tables, False)
            from storage.engine import schema

            if version == schema.SCHEMA_VERSION:
                return Reader(path, db)
        except BaseException:
            db.close()
            raise
        db.close()
    _prepare_with_store(path, create, backup_dir)
    db = _connect(path)
    try:
        _probe(db, path)
    except BaseException:
        db.close()
        raise
    return Reader(path, db)


def _connect(path: str) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error as e:
        raise translate(e, str(path)) from e
    try:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA query_only=ON")
    except sqlite3.Error as e:
        db.close()
        raise translate(e, str(path)) from e
    return db


def _probe(db: sqlite3.Connection, path: str) -> tuple[int, int]:
    """The schema version and how many objects the schema has; a damaged file fails
    here, as it does when ``open_store`` opens it."""
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        db.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.Error as e:
        typed = translate(e, str(path))
        if not isinstance(typed, StoreError):
            typed = StoreCorrupt(str(path), str(e))
        raise typed from e
    return int(version), int(tables)


def _prepare_with_store(path: str, create: bool, backup_dir: Any) -> None:
    """Create or migrate the file the way ``open_store`` does (rare: once per file and
    per upgrade), then close it."""
    import asyncio

    from storage.engine.store import open_store

    async def prepare() -> None:
        async with open_store(path, create=create, backup_dir=backup_dir):
            pass

    asyncio.run(prepare())
