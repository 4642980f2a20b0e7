"""``store.output``: append output bytes, read lines back by number, index for search.

Output is stored in chunks of at most ``CHUNK_BYTES``, cut after a newline where
possible (else at a UTF-8 boundary, so a 50 MB line becomes many bounded chunks).
Line numbers are 0-based and global within a session across streams and runs. When
the newest chunk ends in an unterminated line of the same stream, the next append
continues that line instead of starting a new one, so a prompt written in two
pieces is still one line.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from storage.engine.find import find_line
from storage.engine.index_merge import (
    SEGMENT_GUARD,
    SEGMENTS_SQL,
    STEP_PAGES,
    merge_for_write,
    merge_step,
    segment_count,
)
from storage.errors import SessionNotFound
from storage.models import (
    CHUNK_COLUMNS,
    STREAMS,
    AppendResult,
    Line,
    OutputChunk,
    chunk_from_row,
    chunk_lines,
)
from storage.query.find import Finder
from storage.text import index_text

if TYPE_CHECKING:
    import aiosqlite

    from storage.engine.store import Store

CHUNK_BYTES = 64 * 1024
# New rows wait in memory until about this many bytes, then go to SQLite (still in the
# same transaction): one huge append never sits in memory twice.
FLUSH_BYTES = 2 * CHUNK_BYTES
Record = tuple[int, str, bytes, "float | None"]  # session id, stream, data, at

# A new chunk row waits in a ``_Batch`` as a list in this column order; its fields are
# read and changed through the positions named below, never through bare numbers.
_ROW_FIELDS = (
    "id",
    "session_id",
    "run",
    "stream",
    "first_line",
    "line_count",
    "open_end",
    "first_at",
    "last_at",
    "indexed",
    "data",
)
_ID, _LINES, _OPEN, _FIRST_AT, _LAST_AT, _INDEXED, _DATA = (
    _ROW_FIELDS.index(f)
    for f in ("id", "line_count", "open_end", "first_at", "last_at", "indexed", "data")
)
_INSERT_SQL = (
    f"INSERT INTO output_chunks ({', '.join(_ROW_FIELDS)}) "
    f"VALUES ({','.join('?' * len(_ROW_FIELDS))})"
)


def split_chunks(data: bytes, limit: int = CHUNK_BYTES) -> list[bytes]:
    """Cut ``data`` into pieces of at most ``limit`` bytes: after a newline when one
    is in reach, else at a UTF-8 character boundary. Joining the pieces gives ``data``."""
    return list(iter_split(data, limit))


def iter_split(
    data: bytes, limit: int = CHUNK_BYTES, *, start: int = 0, first: int | None = None
) -> Iterator[bytes]:
    """``split_chunks`` of ``data[start:]`` one piece at a time (a huge input is never
    copied whole). The first piece holds at most ``first`` bytes when given."""
    n = len(data)
    room = limit if first is None else max(1, first)
    while n - start > room:
        end = start + room
        nl = data.rfind(b"\n", start, end)
        if nl >= 0:
            cut = nl + 1
        else:
            cut = end
            while cut > max(start + 1, end - 3) and (data[cut] & 0xC0) == 0x80:
                cut -= 1
        yield data[start:cut]
        start = cut
        room = limit
    if start < n:
        yield data[start:]


def count_lines(piece: bytes) -> int:
    return piece.count(b"\n") + (0 if piece.endswith(b"\n") else 1)


class _SessionCursor:
    __slots__ = (
        "next_line",
        "run",
        "last_id",
        "last_stream",
        "last_run",
        "last_open",
        "last_len",
        "last_indexed",
        "last_lines",
        "last_data",
        "last_first_at",
        "bytes",
        "last_at",
        "first_line",
    )

    def __init__(self, row: Sequence[Any]) -> None:
        # output_lines, run_count, then the newest chunk (all NULL when there is none)
        self.next_line, self.run = row[0], row[1]
        self.first_line: int | None = None
        self.bytes = 0
        self.last_at: float | None = None
        (
            self.last_id,
            self.last_stream,
            self.last_run,
            self.last_open,
            self.last_len,
            self.last_indexed,
            self.last_lines,
            self.last_data,  # only when the chunk is open: the one we may continue
            self.last_first_at,
        ) = row[2:11]
        self.last_open = self.last_open or 0


class _Batch:
    """New chunk rows and their index text, written to SQLite every ``FLUSH_BYTES``."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self.rows: list[list[Any]] = []
        self.where: dict[int, int] = {}  # chunk id -> position in rows
        self.fts: dict[int, str] = {}  # chunk id -> index text
        self.size = 0
        self.indexed = 0  # bytes of text indexed so far

    def add(self, row: list[Any], text: str | None) -> None:
        self.where[row[_ID]] = len(self.rows)
        self.rows.append(row)
        if text is not None:
            self.fts[row[_ID]] = text
        self.size += len(row[_DATA])

    def pending(self, chunk_id: int) -> list[Any] | None:
        at = self.where.get(chunk_id)
        return None if at is None else self.rows[at]

    async def flush(self) -> None:
        if self.rows:
            await self.db.executemany(_INSERT_SQL, self.rows)
        if self.fts:
            await self.db.executemany(
                "INSERT INTO output_fts (rowid, text) VALUES (?, ?)", self.fts.items()
            )
            self.indexed += sum(map(len, self.fts.values()))
        self.rows, self.where, self.fts, self.size = [], {}, {}, 0


_CURSOR_SQL = (
    "SELECT s.output_lines, s.run_count, c.id, c.stream, c.run, c.open_end, length(c.data), "
    "c.indexed, c.line_count, CASE WHEN c.open_end THEN c.data END, c.first_at, "
    "(SELECT max(id) FROM output_chunks) FROM sessions s LEFT JOIN output_chunks c ON c.id = "
    "(SELECT id FROM output_chunks WHERE session_id = s.id ORDER BY first_line DESC LIMIT 1) "
    "WHERE s.id = ?"
)
# An open last piece bigger than this keeps its finished lines apart from the open one,
# so that continuing the line rewrites (and re-indexes) only that line, not the chunk.
TAIL_SPLIT = 4096


async def append_in_tx(
    db: aiosqlite.Connection, records: Iterable[Record], *, index: bool
) -> dict[int, AppendResult]:
    """Append records inside the caller's write transaction."""
    cursors: dict[int, _SessionCursor] = {}
    batch = _Batch(db)
    counts: dict[int, int] = {}
    next_id = None
    now = time.time()
    idx = int(index)
    for session_id, stream, data, at in records:
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}; expected one of {', '.join(STREAMS)}")
        if not data:
            continue
        at = now if at is None else at
        cur = cursors.get(session_id)
        if cur is None:
            # One round trip: the session's counters, its newest chunk, the next id.
            found = await db.execute_fetchall(_CURSOR_SQL, (session_id,))
            if not found:
                raise SessionNotFound(session_id)
            cur = cursors[session_id] = _SessionCursor(found[0])
            if next_id is None:
                next_id = (found[0][11] or 0) + 1
        cur.bytes += len(data)
        cur.last_at = at
        offset, prefix, first_room, first_at = 0, b"", None, at
        if cur.last_open and cur.last_stream == stream and cur.last_run == cur.run:
            nl = data.find(b"\n")
            need = len(data) if nl < 0 else nl + 1
            if cur.last_len + need > CHUNK_BYTES and cur.last_lines > 1:
                # The open line does not fit in the rest of its chunk. Move it to a new
                # chunk rather than cut it where this chunk happens to be full: a line
                # is only ever cut for being longer than a whole chunk.
                prefix, first_at = await _detach_open_line(db, cur, batch)
                first_room = CHUNK_BYTES - len(prefix)
                cur.next_line -= 1
            elif cur.last_len < CHUNK_BYTES:
                # Continue the unterminated line of the newest chunk.
                offset = min(need, CHUNK_BYTES - cur.last_len)
                if cur.first_line is None:
                    cur.first_line = cur.next_line - 1
                await _extend_chunk(db, cur, data[:offset], at, batch)
        if offset or first_room is not None or len(data) > CHUNK_BYTES:
            wholes: Iterable[bytes] = iter_split(data, start=offset, first=first_room)
        else:
            wholes = (data,)  # the common case: the record is one piece
        # The loop below runs once per chunk made; it keeps to locals for speed.
        run, next_line, made, piece, lines, open_end = cur.run, cur.next_line, 0, b"", 0, False
        for whole in wholes:
            if prefix:
                whole, prefix = prefix + whole, b""
            parts: tuple[bytes, ...] = (whole,)
            if len(whole) > TAIL_SPLIT and whole[-1] != 10:
                nl = whole.rfind(b"\n")
                if nl >= 0:  # (only the last piece of a record can hold one here)
                    parts = (whole[: nl + 1], whole[nl + 1 :])
            for piece in parts:
                open_end = piece[-1] != 10
                lines = piece.count(b"\n") + open_end
                batch.add(
                    [next_id, session_id, run, stream, next_line, lines, int(open_end)]
                    + [first_at, at, idx, piece],
                    index_text(piece) if index else None,
                )
                first_at = at
                if cur.first_line is None:
                    cur.first_line = next_line
                next_line += lines
                next_id += 1
                made += 1
            if batch.size >= FLUSH_BYTES:
                await batch.flush()
        if made:
            cur.last_id, cur.last_stream, cur.last_run = next_id - 1, stream, run
            cur.last_open, cur.last_len, cur.last_lines = int(open_end), len(piece), lines
            cur.last_indexed, cur.last_data, cur.last_first_at = idx, piece, at
            cur.next_line = next_line
            counts[session_id] = counts.get(session_id, 0) + made
    await batch.flush()
    if index:
        await merge_for_write(db, batch.indexed)
    results = {}
    for sid, cur in cursors.items():
        await db.execute(
            "UPDATE sessions SET output_lines = ?, output_bytes = output_bytes + ?, "
            "last_output_at = ?, updated_at = max(updated_at, ?) WHERE id = ?",
            (cur.next_line, cur.bytes, cur.last_at, cur.last_at, sid),
        )
        first = cur.first_line if cur.first_line is not None else cur.next_line
        results[sid] = AppendResult(first, cur.next_line - first, counts.get(sid, 0))
    return results


async def _replace_index(db: aiosqlite.Connection, chunk_id: int, old: bytes, new: bytes) -> None:
    # The index is contentless: removing an entry means repeating its text.
    await db.execute(
        "INSERT INTO output_fts (output_fts, rowid, text) VALUES ('delete', ?, ?)",
        (chunk_id, index_text(old)),
    )
    await db.execute(
        "INSERT INTO output_fts (rowid, text) VALUES (?, ?)", (chunk_id, index_text(new))
    )


async def _extend_chunk(
    db: aiosqlite.Connection, cur: _SessionCursor, head: bytes, at: float, batch: _Batch
) -> None:
    open_end = int(not head.endswith(b"\n"))
    row = batch.pending(cur.last_id)
    if row is not None:
        # The chunk is still in this batch: grow it in memory.
        row[_DATA] += head
        row[_OPEN], row[_LAST_AT] = open_end, at
        batch.size += len(head)
        if row[_INDEXED]:
            batch.fts[row[_ID]] = index_text(row[_DATA])
    else:
        # Concatenate in Python: SQLite's || would turn the blob into text.
        old = cur.last_data
        if cur.last_indexed:
            await _replace_index(db, cur.last_id, old, old + head)
        await db.execute(
            "UPDATE output_chunks SET data = ?, open_end = ?, last_at = ? WHERE id = ?",
            (old + head, open_end, at, cur.last_id),
        )
    cur.last_data = row[_DATA] if row is not None else cur.last_data + head
    cur.last_open = open_end
    cur.last_len += len(head)


async def _detach_open_line(
    db: aiosqlite.Connection, cur: _SessionCursor, batch: _Batch
) -> tuple[bytes, float]:
    """Take the unterminated last line out of the newest chunk (which holds other
    lines before it). Returns its bytes and the chunk's first timestamp."""
    row = batch.pending(cur.last_id)
    if row is not None:
        data, first_at = row[_DATA], row[_FIRST_AT]
    else:
        data, first_at = cur.last_data, cur.last_first_at
    cut = data.rfind(b"\n") + 1
    keep, tail = data[:cut], data[cut:]
    if row is not None:
        row[_LINES] -= 1
        row[_OPEN], row[_DATA] = 0, keep
        batch.size -= len(tail)
        if row[_INDEXED]:
            batch.fts[row[_ID]] = index_text(keep)
    else:
        if cur.last_indexed:
            await _replace_index(db, cur.last_id, data, keep)
        await db.execute(
            "UPDATE output_chunks SET data = ?, open_end = 0, line_count = line_count - 1 "
            "WHERE id = ?",
            (keep, cur.last_id),
        )
    return tail, first_at


class Output:
    def __init__(self, store: Store) -> None:
        self._store = store

    # -- writing ------------------------------------------------------------------------
    async def append(
        self,
        session_id: int,
        stream: str,
        data: bytes,
        at: float | None = None,
        *,
        index: bool = True,
    ) -> AppendResult:
        """Store ``data`` (any bytes) as output of ``stream``. Lines are split at ``\\n``;
        a trailing piece without one stays open and the next append continues it.
        With ``index=False`` the text becomes searchable only after ``index_pending``."""
        res = await self.append_many([(session_id, stream, data, at)], index=index)
        return res.get(session_id, AppendResult(await self.line_count(session_id), 0, 0))

    async def append_many(
        self, records: Iterable[Record], *, index: bool = True
    ) -> dict[int, AppendResult]:
        """Append many records (possibly of several sessions) in one transaction."""
        records = list(records)
        if not records:
            return {}
        async with self._store.transaction() as db:
            return await append_in_tx(db, records, index=index)

    async def system(self, session_id: int, text: str, at: float | None = None) -> AppendResult:
        """Add a line of tether's own (``system`` stream): started, stopped, lost..."""
        return await self.append(session_id, "system", text.rstrip("\n").encode() + b"\n", at)

    async def index_pending(
        self,
        session_id: int | None = None,
        *,
        max_bytes: int = 8 * 1024 * 1024,
        merge: bool = True,
    ) -> int:
        """Index chunks stored with ``index=False``, oldest first, up to about
        ``max_bytes`` per call. Returns how many chunks were indexed (0 = caught up).

        ``merge=False`` leaves merging the index's segments for later (``tidy_index``):
        a backlog becomes searchable about twice as fast. Past ``SEGMENT_GUARD``
        segments it merges anyway (storage/engine/index_merge.py)."""
        where = "indexed = 0" + (" AND session_id = ?" if session_id is not None else "")
        params: tuple[Any, ...] = (session_id,) if session_id is not None else ()
        async with self._store.transaction() as db:
            cursor = await db.execute(
                f"SELECT id, data FROM output_chunks WHERE {where} ORDER BY id", params
            )
            rows, size = [], 0
            while size < max_bytes:
                # Whole chunks are up to CHUNK_BYTES: fetch about what is still wanted.
                batch = await cursor.fetchmany(min(64, (max_bytes - size) // CHUNK_BYTES + 1))
                if not batch:
                    break
                rows += batch
                size += sum(len(d) for _, d in batch)
            await cursor.close()
            if not rows:
                return 0
            await db.executemany(
                "INSERT INTO output_fts (rowid, text) VALUES (?, ?)",
                [(cid, index_text(data)) for cid, data in rows],
            )
            await db.executemany(
                "UPDATE output_chunks SET indexed = 1 WHERE id = ?", [(cid,) for cid, _ in rows]
            )
            if merge or await segment_count(db) > SEGMENT_GUARD:
                await merge_for_write(db, size)
            return len(rows)

    async def tidy_index(self, pages: int = STEP_PAGES) -> bool:
        """One short transaction of merging the output index's segments (about
        ``pages`` pages written). True while there is more to merge: call it again when
        there is time. Searches find the same either way; merged, they are faster."""
        async with self._store.transaction() as db:
            return await merge_step(db, pages)

    async def index_segments(self) -> int:
        """How many segments the output index is in (merged down by ``tidy_index``)."""
        return int(await self._store.scalar(SEGMENTS_SQL))

    async def unindexed_bytes(self, session_id: int | None = None) -> int:
        where = "indexed = 0" + (" AND session_id = ?" if session_id is not None else "")
        params = (session_id,) if session_id is not None else ()
        return int(
            await self._store.scalar(
                f"SELECT coalesce(sum(length(data)), 0) FROM output_chunks WHERE {where}", params
            )
        )

    # -- reading ------------------------------------------------------------------------
    async def line_count(self, session_id: int) -> int:
        """How many lines the session has (an unterminated last line counts)."""
        n = await self._store.scalar(
            "SELECT output_lines FROM sessions WHERE id = ?", (session_id,)
        )
        if n is None:
            raise SessionNotFound(session_id)
        return int(n)

    async def chunks(
        self, session_id: int, start: int, stop: int, stream: str | None = None
    ) -> list[OutputChunk]:
        """The chunks holding lines ``start`` to ``stop - 1``."""
        extra, params = "", [session_id, session_id, start, stop]
        if stream is not None:
            extra = " AND stream = ?"
            params.append(stream)
        rows = await self._store.fetchall(
            f"SELECT {CHUNK_COLUMNS} FROM output_chunks WHERE session_id = ? AND first_line >= "
            f"(SELECT coalesce(max(first_line), 0) FROM output_chunks WHERE session_id = ? "
            f"AND first_line <= ?) AND first_line < ?{extra} ORDER BY first_line",
            params,
        )
        return [chunk_from_row(r) for r in rows]

    async def read_lines(
        self, session_id: int, start: int, stop: int, stream: str | None = None
    ) -> list[Line]:
        """Lines numbered ``start`` to ``stop - 1`` (like a slice), in order. With
        ``stream``, only that stream's lines in the range (numbers stay global)."""
        if stop <= start:
            return []
        out: list[Line] = []
        for chunk in await self.chunks(session_id, max(0, start), stop, stream):
            if chunk.first_line >= start and chunk.first_line + chunk.line_count <= stop:
                out += chunk_lines(chunk)
            else:
                out += [ln for ln in chunk_lines(chunk) if start <= ln.number < stop]
        return out

    async def tail(self, session_id: int, n: int, stream: str | None = None) -> list[Line]:
        """The last ``n`` lines."""
        count = await self.line_count(session_id)
        if stream is None:
            return await self.read_lines(session_id, max(0, count - n), count)
        out: list[Line] = []
        stop = count
        while stop > 0 and len(out) < n:
            start = max(0, stop - max(n * 4, 1000))
            out = await self.read_lines(session_id, start, stop, stream) + out
            stop = start
        return out[-n:] if n else []

    async def since(self, session_id: int, after_line: int, limit: int = 10_000) -> list[Line]:
        """Lines numbered after ``after_line`` (pass -1 for all), at most ``limit``. A
        line returned with ``terminated=False`` may still grow: ask again from before it."""
        return await self.read_lines(session_id, after_line + 1, after_line + 1 + limit)

    async def iter_chunks(
        self, session_id: int, *, stream: str | None = None, batch: int = 64
    ) -> AsyncIterator[OutputChunk]:
        """Every chunk of a session in order, fetched a batch at a time (for export:
        memory stays bounded whatever the session's size)."""
        after = -1
        extra = " AND stream = ?" if stream else ""
        while True:
            params: list[Any] = [session_id, after]
            if stream:
                params.append(stream)
            rows = await self._store.fetchall(
                f"SELECT {CHUNK_COLUMNS} FROM output_chunks WHERE session_id = ? AND "
                f"first_line > ?{extra} ORDER BY first_line LIMIT {batch}",
                params,
            )
            if not rows:
                return
            chunks = [chunk_from_row(r) for r in rows]
            if chunks[-1].open_end:
                # An open last chunk may be the session's newest, which a writer can
                # extend or split before the next query: read it again with the next
                # page (or end with it), else the line it ends with comes out torn.
                if len(chunks) == 1:
                    yield chunks[0]
                    return
                chunks = chunks[:-1]
            for chunk in chunks:
                yield chunk
            after = chunks[-1].first_line

    async def find_line(
        self,
        session_id: int,
        words: str | Sequence[str] | Finder,
        start: int,
        *,
        forward: bool = True,
    ) -> int | None:
        """The number of the first line at or after ``start`` (``forward``), or at or
        before it, whose plain text holds one of ``words`` (a string is one phrase; smart
        case: any capital makes case count, see ``storage.query.find``). ``None`` when
        no line does. Reaches every line of the session, not only recent ones."""
        finder = words if isinstance(words, Finder) else Finder.of(words)
        if finder is None:
            return None
        return await find_line(self._store, session_id, finder, start, forward=forward)

    async def iter_lines(
        self, session_id: int, *, stream: str | None = None
    ) -> AsyncIterator[Line]:
        async for chunk in self.iter_chunks(session_id, stream=stream):
            for line in chunk_lines(chunk):
                yield line

    async def read_bytes(self, session_id: int, stream: str | None = None) -> bytes:
        """All raw output of a stream (or all streams interleaved) as one bytes object.
        For tests and small sessions; use ``iter_chunks`` for large ones."""
        return b"".join([c.data async for c in self.iter_chunks(session_id, stream=stream)])
