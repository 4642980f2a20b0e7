"""Output bytes as chunk rows: how an append becomes rows of ``output_chunks``.

Output is stored in chunks of at most ``CHUNK_BYTES``, cut after a newline where
possible (else at a UTF-8 boundary, so a 50 MB line becomes many bounded chunks).
Line numbers are 0-based and global within a session across streams and runs. When
the newest chunk ends in an unterminated line of the same stream, the next append
continues that line instead of starting a new one, so a prompt written in two
pieces is still one line.

``append_in_tx`` is the append path, run inside the caller's write transaction (by
``store.output``, the run and session facets, and the importer); ``split_chunks`` and
``count_lines`` are the cutting rules it follows, for whoever checks chunks.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence

from storage.engine import compress, output_index
from storage.engine.index_merge import merge_for_write
from storage.errors import SessionNotFound
from storage.models import STREAMS, AppendResult
from storage.text import index_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import aiosqlite

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
    "plain_size",
)
_ID, _LINES, _OPEN, _FIRST_AT, _LAST_AT, _INDEXED, _DATA, _PLAIN_SIZE = (
    _ROW_FIELDS.index(f)
    for f in (
        "id",
        "line_count",
        "open_end",
        "first_at",
        "last_at",
        "indexed",
        "data",
        "plain_size",
    )
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
            # A chunk whose last line is complete never changes again: it is stored
            # compressed (storage/engine/compress.py). An open one stays plain.
            dict_id = await compress.newest_dict(self.db)
            for row in self.rows:
                if not row[_OPEN]:
                    row[_DATA], row[_PLAIN_SIZE] = compress.pack(row[_DATA], dict_id)
            await self.db.executemany(_INSERT_SQL, self.rows)
        if self.fts:
            await output_index.add(self.db, self.fts.items())
            self.indexed += sum(map(len, self.fts.values()))
        self.rows, self.where, self.fts, self.size = [], {}, {}, 0


_CURSOR_SQL = (
    "SELECT s.output_lines, s.run_count, c.id, c.stream, c.run, c.open_end, length(c.data), "
    "c.indexed, c.line_count, CASE WHEN c.open_end THEN c.data END, c.first_at, "
    "(SELECT max(id) FROM output_chunks), s.mode FROM sessions s LEFT JOIN output_chunks c "
    "ON c.id = "
    "(SELECT id FROM output_chunks WHERE session_id = s.id ORDER BY first_line DESC LIMIT 1) "
    "WHERE s.id = ?"
)
# An open last piece bigger than this keeps its finished lines apart from the open one,
# so that continuing the line rewrites (and re-indexes) only that line, not the chunk.
TAIL_SPLIT = 4096


async def append_in_tx(
    db: aiosqlite.Connection, records: Iterable[Record], *, index: bool, touch: bool = True
) -> dict[int, AppendResult]:
    """Append records inside the caller's write transaction. The sessions' counters
    always follow; ``touch=False`` leaves their ``updated_at`` as it is (its index is
    then not rewritten: a supervisor writing often bumps it every few seconds)."""
    cursors: dict[int, _SessionCursor] = {}
    batch = _Batch(db)
    counts: dict[int, int] = {}
    next_id = None
    now = time.time()
    idx = output_index.IN_WORDS if index else output_index.NOT_INDEXED
    pty: dict[int, bool] = {}
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
            pty.setdefault(session_id, found[0][12] == "pty")
            if next_id is None:
                next_id = (found[0][11] or 0) + 1
        # A pty session's stdout is searched through its rendered transcript, never
        # indexed itself (storage/engine/output_index.py).
        screen = index and stream == "stdout" and pty[session_id]
        rec_idx = output_index.IN_SCREEN if screen else idx
        rec_text = index and not screen
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
                    + [first_at, at, rec_idx, piece, None],
                    index_text(piece) if rec_text else None,
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
            cur.last_indexed, cur.last_data, cur.last_first_at = rec_idx, piece, at
            cur.next_line = next_line
            counts[session_id] = counts.get(session_id, 0) + made
    await batch.flush()
    if index:
        await merge_for_write(db, batch.indexed)
    results = {}
    for sid, cur in cursors.items():
        await db.execute(
            "UPDATE sessions SET output_lines = ?, output_bytes = output_bytes + ?, "
            "last_output_at = ?"
            + (", updated_at = max(updated_at, ?) WHERE id = ?" if touch else " WHERE id = ?"),
            (cur.next_line, cur.bytes, cur.last_at, *((cur.last_at,) if touch else ()), sid),
        )
        first = cur.first_line if cur.first_line is not None else cur.next_line
        results[sid] = AppendResult(first, cur.next_line - first, counts.get(sid, 0))
    return results


async def _replace_index(
    db: aiosqlite.Connection, cur: _SessionCursor, old: bytes, new: bytes
) -> None:
    # The index is contentless: removing an entry means repeating its text, to the table
    # it is in (an open chunk from before schema v9 may still be in the old one).
    await output_index.remove(db, [(cur.last_id, cur.last_indexed, old, None)])
    await output_index.add(db, [(cur.last_id, index_text(new))])
    cur.last_indexed = output_index.IN_WORDS


async def _sealed(db: aiosqlite.Connection, data: bytes) -> tuple[bytes, int | None]:
    """What to store for a chunk that just got its last line complete: compressed."""
    return compress.pack(data, await compress.newest_dict(db))


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
        if row[_INDEXED] == output_index.IN_WORDS:
            batch.fts[row[_ID]] = index_text(row[_DATA])
    else:
        # Concatenate in Python: SQLite's || would turn the blob into text.
        # (The newest chunk of a session, while open, is never compressed.)
        old = cur.last_data
        if cur.last_indexed in output_index.TABLES:
            await _replace_index(db, cur, old, old + head)
        stored, size = (old + head, None) if open_end else await _sealed(db, old + head)
        await db.execute(
            "UPDATE output_chunks SET data = ?, plain_size = ?, open_end = ?, last_at = ?, "
            "indexed = ? WHERE id = ?",
            (stored, size, open_end, at, cur.last_indexed, cur.last_id),
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
        if row[_INDEXED] == output_index.IN_WORDS:
            batch.fts[row[_ID]] = index_text(keep)
    else:
        if cur.last_indexed in output_index.TABLES:
            await _replace_index(db, cur, data, keep)
        stored, size = await _sealed(db, keep)
        await db.execute(
            "UPDATE output_chunks SET data = ?, plain_size = ?, open_end = 0, "
            "line_count = line_count - 1, indexed = ? WHERE id = ?",
            (stored, size, cur.last_indexed, cur.last_id),
        )
    return tail, first_at
