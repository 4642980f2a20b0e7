"""``store.output``: append output bytes, read lines back by number, index for search.

How appended bytes become chunk rows (line-aligned cuts, continuing an open line) is
``storage.engine.chunks``; this facet is the API over it: appending in a transaction,
indexing what was stored unindexed, and reading lines and chunks back.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Sequence

from storage.engine import compress
from storage.engine.chunks import CHUNK_BYTES, Record, append_in_tx
from storage.engine.index_merge import (
    SEGMENT_GUARD,
    SEGMENTS_SQL,
    STEP_PAGES,
    merge_for_write,
    merge_step,
    segment_count,
)
from storage.engine.output_index import (
    UPKEEP_EVERY,
    drop_raw_step,
    give_back_pages,
    index_and_pack,
    upkeep_step,
)
from storage.errors import SessionNotFound
from storage.models import (
    CHUNK_COLUMNS,
    AppendResult,
    Line,
    OutputChunk,
    chunk_from_row,
    chunk_lines,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from storage.engine.store import Store
    from storage.query.find import Finder


class Output:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._upkeep_at = 0.0  # monotonic time of the next upkeep step
        self._transcripts_packed = 0  # screens.pack_step: transcript chunks passed

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
        self, records: Iterable[Record], *, index: bool = True, touch: bool = True
    ) -> dict[int, AppendResult]:
        """Append many records (possibly of several sessions) in one transaction.
        ``touch=False`` updates the sessions' counters but not their ``updated_at``
        (for a writer that bumps it itself now and then: it saves a page a write)."""
        records = list(records)
        if not records:
            return {}
        async with self._store.transaction() as db:
            return await append_in_tx(db, records, index=index, touch=touch)

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
                "SELECT id, data, plain_size, open_end, session_id FROM output_chunks "
                f"WHERE {where} ORDER BY id",
                params,
            )
            rows, size = [], 0
            while size < max_bytes:
                # Whole chunks are up to CHUNK_BYTES: fetch about what is still wanted.
                batch = await cursor.fetchmany(min(64, (max_bytes - size) // CHUNK_BYTES + 1))
                if not batch:
                    break
                rows += batch
                size += sum(r[2] or len(r[1]) for r in batch)
            await cursor.close()
            if rows:
                await index_and_pack(db, rows)
                if merge or await segment_count(db) > SEGMENT_GUARD:
                    await merge_for_write(db, size)
        if not rows:  # caught up: a moment for upkeep
            await self.upkeep_when_due()
        elif compress.note_indexed(size) and await compress.train_due(self._store):
            await compress.train(self._store)  # (outside the indexing transaction)
        return len(rows)

    async def upkeep(self) -> bool:
        """One short step of keeping the output lean at rest: train a compression
        dictionary when due, upgrade chunks from before schema v9 (compress them, move
        them to the new index), drop the index entries of pty sessions' stdout from
        before v15 once their transcript is built, compress transcript chunks stored
        before v16, give free pages back. True while there is more to do. A writer that
        has caught up calls it now and then (``index_pending``)."""
        from storage.engine import screens

        more = await upkeep_step(self._store)
        more = await drop_raw_step(self._store) or more
        packed = await screens.pack_step(self._store, self._transcripts_packed)
        if packed is not None:
            self._transcripts_packed, more = packed, True
        return await give_back_pages(self._store) or more

    async def upkeep_when_due(self) -> None:
        now = time.monotonic()
        if now < self._upkeep_at:
            return
        self._upkeep_at = now + (0.0 if await self.upkeep() else UPKEEP_EVERY)

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
                "SELECT coalesce(sum(coalesce(plain_size, length(data))), 0) FROM output_chunks "
                f"WHERE {where}",
                params,
            )
        )

    async def unindexed_backlog(self) -> tuple[int, float | None]:
        """All sessions' output not yet searchable: its bytes, and when the oldest of
        it was written (``first_at`` of the oldest such chunk; None when there is none)."""
        row = await self._store.fetchone(
            "SELECT coalesce(sum(coalesce(plain_size, length(data))), 0), min(first_at) "
            "FROM output_chunks WHERE indexed = 0"
        )
        return (int(row[0]), row[1]) if row else (0, None)

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
        from storage.engine.find import find_line  # the query language: only when asked
        from storage.query.find import Finder

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
