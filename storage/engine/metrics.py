"""Metrics recorded as they happen: one row of ``metrics`` per sample (schema v5).

A sample is a named figure at a time, for one session or (``session_id`` None) for the
whole database. The names tether records:

- ``db_bytes``: the database and its WAL on disk (``os.stat``), at most once a minute
  (supervisors' upkeep, ``tether usage``, the usage screen);
- ``capture_rate``: bytes a second a running session captured since its previous sample
  (its supervisor's upkeep, once a minute, only while it writes);
- ``index_lag``: seconds the oldest output of a session not yet searchable has waited
  (the same upkeep);
- ``search_ms``: how long a search took (``tether search``, the search screen).

Recording costs one small insert. Reading is by name and time (``metrics_name_at``).
Samples older than ``KEEP_DAYS`` are pruned by ``prune`` (supervisors' upkeep).
``record_quietly`` is for commands that only read (``tether search`` opens a read-only
connection): a separate connection that never waits for a busy database, so a metric
is dropped rather than slowing the command.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable

from storage.frozen import Frozen
from storage.units import DAY

TYPE_CHECKING = False

if TYPE_CHECKING:
    from os import PathLike
    from pathlib import Path
    from typing import Any, Protocol

NAMES = ("db_bytes", "capture_rate", "index_lag", "search_ms")
KEEP_DAYS = 90
DB_EVERY = 55.0  # seconds: db_bytes is sampled at most about once a minute


if TYPE_CHECKING:

    class _Queries(Protocol):
        """What these functions use of a ``Store`` or a ``Reader``."""

        path: Path

        async def fetchall(self, sql: str, params: Any = ...) -> list[Any]: ...
        async def scalar(self, sql: str, params: Any = ...) -> Any: ...


class Sample(Frozen):
    __slots__ = ("at", "value", "session_id")

    at: float
    value: float
    session_id: int | None

    def __init__(self, at: float, value: float, session_id: int | None = None) -> None:
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "session_id", session_id)


async def record(
    store: Any, name: str, value: float, *, session_id: int | None = None, at: float | None = None
) -> None:
    """Record one sample (``store`` is a writable ``Store``)."""
    await record_many(store, [(name, value, session_id)], at=at)


async def record_many(
    store: Any, samples: Iterable[tuple[str, float, int | None]], *, at: float | None = None
) -> None:
    """Record several samples in one transaction."""
    rows = [(time.time() if at is None else at, n, sid, float(v)) for n, v, sid in samples]
    if not rows:
        return
    for row in rows:
        _check(row[1])
    async with store.transaction() as db:
        await db.executemany(
            "INSERT INTO metrics (at, name, session_id, value) VALUES (?, ?, ?, ?)", rows
        )


async def note(store: Any, name: str, value: float, *, session_id: int | None = None) -> bool:
    """``record``, for callers that must not fail because of a metric (a search): an
    error of the database is swallowed; False then."""
    from storage.errors import StoreError

    try:
        await record(store, name, value, session_id=session_id)
    except (StoreError, sqlite3.Error):
        return False
    return True


async def sample_db_bytes(store: Any, *, now: float | None = None) -> int | None:
    """Record ``db_bytes`` unless someone did less than ``DB_EVERY`` seconds ago; the
    bytes recorded, or None when it was not due."""
    now = time.time() if now is None else now
    last = await store.scalar("SELECT max(at) FROM metrics WHERE name = 'db_bytes'")
    if last is not None and now - last < DB_EVERY:
        return None
    from storage.quota import database_bytes  # (not for record_quietly: tether search)

    size = database_bytes(store.path)
    await record(store, "db_bytes", size, at=now)
    if last is None or int(last // 3600) != int(now // 3600):
        await prune(store, now=now)  # the first sample of an hour
    return size


class SessionMark(Frozen):
    """Where a session's counters stood at its previous sample."""

    __slots__ = ("at", "output_bytes")

    at: float
    output_bytes: int

    def __init__(self, at: float, output_bytes: int) -> None:
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "output_bytes", output_bytes)


async def sample_session(
    store: Any, session_id: int, previous: SessionMark | None, *, now: float | None = None
) -> SessionMark | None:
    """A running session's samples, taken by its supervisor about once a minute:
    ``capture_rate`` (bytes a second since ``previous``) and ``index_lag`` (how long
    its oldest output not yet searchable has waited, 0 when all is), both only when
    it wrote since ``previous`` or some output still waits; and ``db_bytes`` when due.
    Returns the mark for the next call (None: the session is gone)."""
    now = time.time() if now is None else now
    written = await store.scalar("SELECT output_bytes FROM sessions WHERE id = ?", (session_id,))
    if written is None:
        return None
    oldest = await store.scalar(
        "SELECT min(first_at) FROM output_chunks WHERE session_id = ? AND indexed = 0",
        (session_id,),
    )
    lag = max(0.0, now - oldest) if oldest is not None else 0.0
    samples: list[tuple[str, float, int | None]] = []
    if previous is not None and now > previous.at:
        grew = written - previous.output_bytes
        if grew > 0:
            samples.append(("capture_rate", grew / (now - previous.at), session_id))
        if grew > 0 or lag > 0:
            samples.append(("index_lag", lag, session_id))
    await record_many(store, samples, at=now)
    await sample_db_bytes(store, now=now)
    return SessionMark(now, int(written))


async def series(
    store: _Queries,
    name: str,
    *,
    since: float | None = None,
    session_id: int | None = None,
    limit: int = 100_000,
) -> list[Sample]:
    """The samples of ``name`` (of one session, when given) since a time, oldest first."""
    _check(name)
    sql = "SELECT id, at, value, session_id FROM metrics WHERE name = ? AND at >= ?"
    params: list[Any] = [name, since or 0.0]
    if session_id is not None:
        sql += " AND session_id = ?"
        params.append(session_id)
    # The newest ``limit``, returned oldest first.
    sql = f"SELECT * FROM ({sql} ORDER BY at DESC, id DESC LIMIT ?) ORDER BY at, id"
    params.append(limit)
    return [Sample(at, value, sid) for _, at, value, sid in await store.fetchall(sql, params)]


async def summary(store: _Queries, name: str, *, since: float) -> dict[str, float] | None:
    """Count, mean, max and the latest value of ``name`` since a time (None: none)."""
    _check(name)
    row = (
        await store.fetchall(
            "SELECT count(*), avg(value), max(value) FROM metrics WHERE name = ? AND at >= ?",
            (name, since),
        )
    )[0]
    if not row[0]:
        return None
    latest = await store.scalar(
        "SELECT value FROM metrics WHERE name = ? ORDER BY at DESC LIMIT 1", (name,)
    )
    return {"samples": row[0], "mean": row[1], "max": row[2], "latest": latest}


async def prune(store: Any, *, now: float | None = None, keep_days: float = KEEP_DAYS) -> int:
    """Delete samples older than ``keep_days``; how many went."""
    cutoff = (time.time() if now is None else now) - keep_days * DAY
    async with store.transaction() as db:
        cur = await db.execute("DELETE FROM metrics WHERE at < ?", (cutoff,))
        return cur.rowcount


_LEFT_OPEN: list[sqlite3.Connection] = []


def record_quietly(
    db: str | PathLike[str],
    name: str,
    value: float,
    *,
    session_id: int | None = None,
    close: bool = True,
) -> bool:
    """Record one sample on a connection of its own that never waits: for commands that
    read through a read-only connection. False when the database was busy (or could
    not be written): the sample is dropped, the command goes on. ``close=False`` leaves
    the connection open for a process that ends with ``os._exit`` next: closing the
    last connection would checkpoint the WAL (an fsync, then the WAL's unlink), which
    costs more than the sample; the next writer's checkpoint takes it instead."""
    _check(name)
    try:
        con = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=0, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        con.execute("PRAGMA synchronous=NORMAL")  # as the store's own connections
        con.execute(
            "INSERT INTO metrics (at, name, session_id, value) VALUES (?, ?, ?, ?)",
            (time.time(), name, session_id, float(value)),
        )
        return True
    except sqlite3.Error:
        return False
    finally:
        if close:
            con.close()
        else:
            _LEFT_OPEN.append(con)  # (a connection collected is a connection closed)


def _check(name: str) -> None:
    if name not in NAMES:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(NAMES)}")
