"""Purging many sessions fast, then giving the space back.

``store.sessions.purge`` removes sessions one transaction each, sending every indexed
chunk's text back to the contentless output index so it can delete the entry. That
re-tokenising is most of the cost (about 20 MB/s here, measured by
``bench/purge.py``). When the output that stays is smaller than the output that goes,
it is cheaper to empty the output index and index what stays again; this module
does that in one transaction, so a crash leaves either everything or nothing purged
and the index always matches the chunks.

Both ways keep the promise an interrupted purge must keep: every session is either
whole (rows, chunks, index entries) or gone. In the same transaction the session's
audit entries are scrubbed of what may hold secrets (``storage.engine.audit``), and its
``purge`` entry records its uid, runs and output size.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage.engine import output_index
from storage.engine.audit import scrub_in_tx
from storage.engine.forget import forget_terms
from storage.engine.sessions import _audit, purge_in_tx

if TYPE_CHECKING:
    import aiosqlite

    from storage.engine.store import Store

# Rebuild the output index when what stays is at most this many times what goes (one
# chunk re-indexed costs about half of one chunk deleted from a contentless index) ...
REBUILD_RATIO = 2.0
# ... and small enough that the single transaction stays short (writers wait on it).
REBUILD_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PurgeProgress:
    """How far a purge is. ``phase`` is ``purge``, ``index`` (re-indexing what stays)
    or ``reclaim`` (giving the space back)."""

    phase: str
    sessions_done: int
    sessions_total: int
    bytes_done: int
    bytes_total: int

    @property
    def fraction(self) -> float:
        if self.bytes_total:
            return min(1.0, self.bytes_done / self.bytes_total)
        return self.sessions_done / self.sessions_total if self.sessions_total else 1.0


@dataclass(frozen=True, slots=True)
class PurgeResult:
    purged: tuple[int, ...]  # ids actually removed (others were already gone)
    bytes: int  # output bytes removed
    strategy: str  # "rebuild" or "per-chunk"
    size_before: int  # database + WAL bytes on disk
    size_after: int
    seconds: float


ProgressFn = Callable[[PurgeProgress], Any]


def db_size(store: Store) -> int:
    """Bytes the database takes on disk: the file and its WAL."""
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            total += (store.path.parent / (store.path.name + suffix)).stat().st_size
    return total


async def purge_sessions(
    store: Store,
    ids: Iterable[int],
    *,
    details: Mapping[int, Any] | None = None,
    progress: ProgressFn | None = None,
    reclaim: bool = True,
    strategy: str | None = None,
) -> PurgeResult:
    """Delete sessions for good (rows, runs, tags, output, index entries) and, with
    ``reclaim``, shrink the file. ``details`` maps a session id to what its audit entry
    records (the cleanup reason). ``strategy`` forces ``"rebuild"`` or ``"per-chunk"``
    (for benchmarks and tests); by default the cheaper one is chosen."""
    started = time.perf_counter()
    ids = list(dict.fromkeys(ids))
    size_before = db_size(store)
    sizes = await _sizes(store, ids)
    ids = [i for i in ids if i in sizes]
    purge_bytes = sum(sizes.values())
    total_bytes = int(await store.scalar("SELECT coalesce(sum(output_bytes), 0) FROM sessions"))
    stay = total_bytes - purge_bytes
    if strategy is None:
        rebuild = bool(ids) and stay <= REBUILD_MAX_BYTES and stay <= purge_bytes * REBUILD_RATIO
        strategy = "rebuild" if rebuild else "per-chunk"
    elif strategy not in ("rebuild", "per-chunk"):
        raise ValueError(f"unknown purge strategy {strategy!r}")
    details = details or {}

    def report(phase: str, n: int, done: int, total: int) -> None:
        if progress is not None:
            progress(PurgeProgress(phase, n, len(ids), done, total))

    # Without this, a SQLite built with SECURE_DELETE (Debian's is) writes zeros over
    # every freed page, doubling the I/O; the pages are given back right after anyway.
    was = (await store.db.execute_fetchall("PRAGMA secure_delete"))[0][0]
    await store.db.execute_fetchall("PRAGMA secure_delete=FAST")
    purged: list[int] = []
    try:
        if strategy == "rebuild":
            purged = await _purge_rebuild(store, ids, sizes, details, stay, report)
        else:
            purged = await _purge_each(store, ids, sizes, details, report)
    finally:
        with contextlib.suppress(sqlite3.Error, ValueError):
            await store.db.execute_fetchall(f"PRAGMA secure_delete={int(was)}")
    removed = sum(sizes[i] for i in purged)
    if purged:
        await forget_terms(store, output=strategy == "per-chunk" and removed > 0)
    if reclaim:
        report("reclaim", len(purged), removed, purge_bytes)
        await store.reclaim_space()
    return PurgeResult(
        tuple(purged),
        removed,
        strategy,
        size_before,
        db_size(store),
        time.perf_counter() - started,
    )


async def _sizes(store: Store, ids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        rows = await store.fetchall(
            f"SELECT id, output_bytes FROM sessions WHERE id IN ({','.join('?' * len(part))})",
            part,
        )
        out.update({r[0]: r[1] for r in rows})
    return out


async def _purge_each(
    store: Store,
    ids: list[int],
    sizes: dict[int, int],
    details: Mapping[int, Any],
    report: Callable[[str, int, int, int], None],
) -> list[int]:
    """One transaction per session: each chunk's text goes back to the index."""
    purged: list[int] = []
    done = 0
    total = sum(sizes.values())
    for n, sid in enumerate(ids, 1):
        async with store.transaction() as db:
            if await _purge_one(db, store.actor, sid, details.get(sid)):
                purged.append(sid)
        done += sizes[sid]
        report("purge", n, done, total)
    return purged


async def _purge_rebuild(
    store: Store,
    ids: list[int],
    sizes: dict[int, int],
    details: Mapping[int, Any],
    stay: int,
    report: Callable[[str, int, int, int], None],
) -> list[int]:
    """One transaction: empty the output index, delete the sessions, index what stays."""
    purged: list[int] = []
    purge_bytes = sum(sizes.values())
    # Progress counts deleting as a tenth of the work and re-indexing as the rest,
    # roughly what they cost.
    total = purge_bytes // 10 + stay
    async with store.transaction() as db:
        await output_index.clear(db)
        done = 0
        for n, sid in enumerate(ids, 1):
            if await _purge_one(db, store.actor, sid, details.get(sid), index=False):
                purged.append(sid)
            done += sizes[sid] // 10
            report("purge", n, done, total)
        await _reindex_all(db, lambda b: report("index", len(ids), done + b, total))
    return purged


async def _purge_one(
    db: aiosqlite.Connection, actor: str, sid: int, detail: Any, *, index: bool = True
) -> bool:
    """Scrub session ``sid``'s audit entries, delete it, and record its ``purge`` entry
    (``detail``, the cleanup's reason, beside its uid, runs and output size)."""
    summary = await scrub_in_tx(db, sid)
    if summary is None or not await purge_in_tx(db, sid, index=index):
        return False
    extra = detail if isinstance(detail, dict) else {} if detail is None else {"detail": detail}
    await _audit(db, actor, "purge", sid, {**summary, **extra})
    return True


async def _reindex_all(db: aiosqlite.Connection, progress: Callable[[int], None]) -> None:
    """Put every chunk marked indexed back into the (empty) output index."""
    await output_index.reindex_all(db, progress)
