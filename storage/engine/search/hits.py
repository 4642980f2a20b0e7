"""The output side of a search: the chunks that may hold a query's words, and the
hits in them, a page at a time, newest first or ranked; and counts of matching lines.

How it works: FTS5 finds candidate chunks (newest first by chunk id, which grows with
time, or by bm25 with ``rank=True``), joined in SQL with the session and line filters;
``lines.ChunkScanner`` then finds the matching lines of each chunk. Chunks not
indexed yet (the supervisor indexes within seconds) are scanned directly, up to
``UNINDEXED_SCAN_BYTES``; any rest is reported in ``unindexed_bytes``. Hits come only
from rows joined to live chunks and sessions, so a purged session leaves no ghost.

Counts per session are lines matched, read from every candidate chunk of the
sessions asked about, up to a budget of bytes; past it a count is a lower bound.

Ranking: FTS5 scores (bm25) every candidate chunk before it can sort, which for a
word in every chunk of 1 GB takes about a second. So at most ``RANK_CANDIDATES``
matching chunks, the newest, are ranked (``rank_limited`` says when the cap applied).
Chunks not indexed yet are not ranked.

``storage.engine.search.core`` puts these hits on a results page beside the metadata
matches, grouped by session.
"""

from __future__ import annotations

import sqlite3
import types

from storage.engine.compress import plain
from storage.engine.output_index import IN_LEGACY, fts_words, legacy_range
from storage.engine.search.filters import chunk_where, session_where
from storage.engine.search.lines import ChunkScanner, LineMatch
from storage.errors import StoreError
from storage.models import SearchHit
from storage.query import Query, QueryError
from storage.query.match import fts_match

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from storage.engine.store import Store

UNINDEXED_SCAN_BYTES = 16 * 1024 * 1024
UNPAIRED_LISTED = 4096  # chunks without word pairs found through their words, at most
RANK_CANDIDATES = 3000  # at most this many matching chunks (the newest) are ranked
_META = "c.id, c.session_id, c.run, c.stream, c.first_line, c.open_end, c.first_at"
_BATCHES = (4, 16, 64, 256)  # chunks per candidate query: the first page rarely needs more
_RANK_WINDOW = 256  # ranked chunks read by the first query of a page
_RANGE_SESSIONS = 4  # above this many sessions on a page, count them in one query


@types.coroutine
def _pause() -> Any:
    """What ``asyncio.sleep(0)`` does (a bare yield: the event loop runs others, then
    us) without importing asyncio, which a one-query command need not start
    (``storage.engine.reader`` runs searches with no event loop)."""
    yield


class _Chunk:
    """A candidate chunk; ``data`` is filled in when it is read (``fill``); ``size``, its
    plain bytes, when known. (A plain class: a dataclass costs a one-query command
    ~0.5 ms to build, storage/frozen.py.)"""

    __slots__ = (
        "id",
        "session_id",
        "run",
        "stream",
        "first_line",
        "open_end",
        "at",
        "data",
        "size",
    )

    def __init__(
        self,
        id: int,
        session_id: int,
        run: int,
        stream: str,
        first_line: int,
        open_end: bool,
        at: float,
        data: bytes | None = None,
    ) -> None:
        self.id = id
        self.session_id = session_id
        self.run = run
        self.stream = stream
        self.first_line = first_line
        self.open_end = open_end
        self.at = at
        self.data = data
        self.size = 0


def _chunk(row: Any) -> _Chunk:
    """A candidate from ``_META`` (then optionally ``c.data, c.plain_size``)."""
    cid, sid, run, stream, first, open_end, at = tuple(row)[:7]
    data = plain(row[7], row[8]) if len(row) > 8 and row[7] is not None else None
    return _Chunk(cid, sid, run, stream, first, bool(open_end), at, data)


def unpaired_sql(filters: str) -> str:
    """The ``unpaired`` chunks that a MATCH of words finds. The words drive it, and the
    list is a filter: ``+f.rowid`` keeps SQLite from handing the list's ids to FTS5 as
    rowid constraints, which ran the MATCH once per id (194 000 ids: minutes)."""
    return (
        f"SELECT {_META}, coalesce(c.plain_size, length(c.data)) FROM output_words f "
        f"CROSS JOIN output_chunks c ON c.id = f.rowid WHERE output_words MATCH ? "
        f"AND +f.rowid IN (SELECT id FROM unpaired) AND {filters}"
    )


class OutputSearch:
    """One query's search of the output: candidate chunks, their matching lines, counts."""

    def __init__(
        self,
        store: Store,
        query: Query,
        *,
        session_id: int | None = None,
        include_deleted: bool = False,
        unindexed: bool = True,
    ) -> None:
        self.store, self.query = store, query
        self.scan_unindexed = unindexed
        self.words = fts_words(query)  # phrases as words: checked in the lines
        self.match = fts_words(query, pairs=True)  # ... or as word pairs (v18 chunks)
        self.scanner = ChunkScanner(query)
        cw, cp = chunk_where(query)
        sw, sp = session_where(query, include_deleted=include_deleted)
        self.filters = f"{cw} AND c.session_id IN (SELECT s.id FROM sessions s WHERE {sw})"
        self.params = cp + sp
        if session_id is not None:
            self.filters += " AND c.session_id = ?"
            self.params.append(session_id)
        self.scanned: dict[int, list[LineMatch]] = {}
        self.unindexed: list[_Chunk] = []
        self.unindexed_rest = 0
        self.rank_floor = 0  # ranked: only chunks from this id on are ranked
        self.rank_match = self.words  # what bm25 scores (phrases loosened into words)
        self.rank_within: set[int] | None = None  # chunks holding the phrases, if any
        self.unpaired_loaded = False
        self.unpaired_found: list[_Chunk] = []

    async def rows(self, sql: str, params: Any) -> list[Any]:
        try:
            return await self.store.fetchall(sql, params)
        except StoreError:
            raise
        except sqlite3.Error as e:
            text = self.query.text
            raise QueryError(
                f"the search index cannot run this query ({e})", 0, len(text), text
            ) from None

    async def lines(self, chunk: _Chunk) -> list[LineMatch]:
        found = self.scanned.get(chunk.id)
        if found is None:
            assert chunk.data is not None
            found = self.scanned[chunk.id] = self.scanner.scan(chunk.data, chunk.open_end)
            await _pause()  # let a UI handle keys between chunks (and cancel us)
        return found

    async def load_unindexed(self, before: int) -> None:
        if self.match is None:
            return  # every chunk is read directly anyway
        if self.scan_unindexed:  # (else only the index is asked)
            await self.load_new(before)
        await self.load_legacy(before)
        self.unindexed.sort(key=lambda c: -c.id)
        await self.load_unpaired(before)

    async def load_new(self, before: int) -> None:
        """Chunks not indexed yet, newest first, up to ``UNINDEXED_SCAN_BYTES``."""
        # No ORDER BY or id range here: those would steer SQLite away from the partial
        # index of unindexed chunks into a scan of the whole table.
        rows = await self.rows(
            f"SELECT {_META}, coalesce(c.plain_size, length(c.data)) FROM output_chunks c "
            f"WHERE c.indexed = 0 "
            f"AND {self.filters}",
            self.params,
        )
        rows = sorted((r for r in rows if r[0] < before), key=lambda r: -r[0])
        budget = UNINDEXED_SCAN_BYTES
        for row in rows:
            if row[7] <= budget:
                budget -= row[7]
                self.unindexed.append(_chunk(row[:7]))
            else:
                self.unindexed_rest += row[7]

    async def load_legacy(self, before: int) -> None:
        """Chunks from before schema v9 that the upkeep step has not moved to the new
        index yet are found through the old one, and then read like unindexed chunks."""
        legacy = await legacy_range(self.store)
        if legacy is None:
            return
        rows = await self.rows(
            f"SELECT {_META} FROM output_fts f CROSS JOIN output_chunks c ON c.id = f.rowid "
            f"WHERE output_fts MATCH ? AND f.rowid >= ? AND f.rowid < ? AND c.indexed = "
            f"{IN_LEGACY} AND {self.filters}",
            [fts_match(self.query, exclusions=False), *legacy, *self.params],
        )
        self.unindexed += [_chunk(r) for r in rows if r[0] < before]

    async def load_unpaired(self, before: int = 2**62) -> None:
        """Indexed chunks that have no word pairs yet (``output_index.pairs_step``), when
        the query asks for pairs: found through their words (``unpaired_found``), then
        read like unindexed chunks. Once per search. Past ``UNPAIRED_LISTED`` of them
        (a database just upgraded to v18, a big import) the whole search asks for the
        words instead, as before v18, rather than list them all first."""
        if self.match == self.words or self.unpaired_loaded:
            return
        self.unpaired_loaded = True
        rows = await self.rows(
            "SELECT count(*) FROM (SELECT 1 FROM unpaired LIMIT ?)", [UNPAIRED_LISTED + 1]
        )
        if rows[0][0] > UNPAIRED_LISTED:
            self.match = self.words
            return
        if not rows[0][0]:
            return
        rows = await self.rows(unpaired_sql(self.filters), [self.words, *self.params])
        for r in rows:
            self.unpaired_found.append(_chunk(r[:7]))
            self.unpaired_found[-1].size = r[7]  # (counts charge it to their budget)
        self.unindexed += [c for c in self.unpaired_found if c.id < before]
        self.unindexed.sort(key=lambda c: -c.id)

    async def fill(self, chunks: list[_Chunk]) -> list[_Chunk]:
        """Load the data of chunks that lack it; drop chunks deleted meanwhile."""
        missing = [c.id for c in chunks if c.data is None and c.id not in self.scanned]
        if missing:
            rows = await self.rows(
                f"SELECT id, data, plain_size FROM output_chunks "
                f"WHERE id IN ({','.join('?' * len(missing))})",
                missing,
            )
            data = {r[0]: plain(r[1], r[2]) for r in rows}
            for c in chunks:
                if c.data is None:
                    c.data = data.get(c.id)
        return [c for c in chunks if c.data is not None or c.id in self.scanned]

    async def newest(self, before: int):  # -> AsyncIterator[_Chunk]
        """Candidate chunks, newest first, with their data."""
        if self.match is None:
            sql = (
                f"SELECT {_META}, c.data, c.plain_size FROM output_chunks c WHERE c.id < ? AND "
                f"{self.filters} ORDER BY c.id DESC LIMIT ?"
            )
            head: list[Any] = []
        else:
            sql = (
                f"SELECT {_META}, c.data, c.plain_size FROM output_words f "
                f"CROSS JOIN output_chunks c ON c.id = f.rowid WHERE output_words MATCH ? "
                f"AND f.rowid < ? AND {self.filters} ORDER BY f.rowid DESC LIMIT ?"
            )
            head = [self.match]
        pending = list(self.unindexed)
        seen: set[int] = set()

        async def extras(upto: int):  # unindexed chunks newer than ``upto``, with data
            while pending and pending[0].id > upto:
                extra = pending.pop(0)
                if extra.id not in seen:
                    seen.add(extra.id)
                    for c in await self.fill([extra]):
                        yield c

        step = 0
        while True:
            size = _BATCHES[min(step, len(_BATCHES) - 1)]
            step += 1
            batch = [_chunk(r) for r in await self.rows(sql, [*head, before, *self.params, size])]
            for c in batch:
                async for extra in extras(c.id):
                    yield extra
                if c.id not in seen:
                    seen.add(c.id)
                    yield c
            if len(batch) < size:
                break
            before = batch[-1].id
        async for extra in extras(-1):
            yield extra

    async def ranked(self, offset: int):  # -> AsyncIterator[tuple[int, _Chunk]]
        """Candidate chunks by bm25, best first, with their rank position.

        FTS5 scores every matching chunk to sort them, whatever the LIMIT, so the order
        is read in as few queries as possible: a window that covers a page, then all
        the rest; the data is then read a few chunks at a time."""
        sql = (
            f"SELECT {_META} FROM output_words f CROSS JOIN output_chunks c ON c.id = f.rowid "
            f"WHERE output_words MATCH ? AND f.rowid >= ? AND {self.filters} "
            f"ORDER BY f.rank, f.rowid DESC LIMIT ? OFFSET ?"
        )
        window = _RANK_WINDOW
        while True:
            params = [self.rank_match, self.rank_floor, *self.params, window, offset]
            rows = await self.rows(sql, params)
            metas = [_chunk(r) for r in rows]
            for start in range(0, len(metas), _BATCHES[1]):
                part = metas[start : start + _BATCHES[1]]
                position = {c.id: offset + start + i for i, c in enumerate(part)}
                if self.rank_within is not None:  # the words, but not the phrase
                    part = [c for c in part if c.id in self.rank_within]
                for c in await self.fill(part):
                    yield position[c.id], c
            if window < 0 or len(metas) < window:
                return
            offset += window
            window = -1  # everything that is left

    def hit(self, chunk: _Chunk, m: LineMatch) -> SearchHit:
        return SearchHit(
            chunk.session_id,
            chunk.first_line + m.index,
            chunk.stream,
            chunk.at,
            m.text,
            m.spans,
            chunk.id,
        )

    async def count(self, session_ids: list[int], budget: int) -> dict[int, tuple[int, bool]]:
        """Matching lines per session: (count, exact)."""
        if not session_ids:
            return {}
        await self.load_unpaired()  # (a search for counts alone has not yet)
        marks = ",".join("?" * len(session_ids))
        cols = f"{_META}, coalesce(c.plain_size, length(c.data))"  # the budget is plain bytes
        if self.match is None:
            rows = await self.rows(
                f"SELECT {cols} FROM output_chunks c WHERE c.session_id IN ({marks}) "
                f"AND {self.filters}",
                [*session_ids, *self.params],
            )
        elif len(session_ids) > _RANGE_SESSIONS:
            # Many sessions on one page: the words are rare, reading all their rows is cheap.
            rows = await self.rows(
                f"SELECT {cols} FROM output_words f CROSS JOIN output_chunks c ON c.id = f.rowid "
                f"WHERE output_words MATCH ? AND c.session_id IN ({marks}) AND {self.filters}",
                [self.match, *session_ids, *self.params],
            )
        else:
            # Few sessions: perhaps common words. Read only each session's range of ids.
            spans = await self.rows(
                f"SELECT session_id, min(id), max(id) FROM output_chunks "
                f"WHERE session_id IN ({marks}) GROUP BY session_id",
                session_ids,
            )
            rows = []
            for sid, low, high in spans:
                rows += await self.rows(
                    f"SELECT {cols} FROM output_words f CROSS JOIN output_chunks c "
                    f"ON c.id = f.rowid WHERE output_words MATCH ? AND f.rowid BETWEEN ? AND ? "
                    f"AND c.session_id = ? AND {self.filters}",
                    [self.match, low, high, sid, *self.params],
                )
        found: dict[int, list[Any]] = {sid: [] for sid in session_ids}
        for r in rows:
            found[r[1]].append(r)
        out: dict[int, tuple[int, bool]] = {}
        for sid in session_ids:  # page order: the budget goes to the first sessions
            sizes = {r[0]: r[7] for r in found[sid]}
            chunks = [_chunk(r[:7]) for r in found[sid]]
            chunks += [c for c in self.unindexed if c.session_id == sid and c.id not in sizes]
            total, exact, todo = 0, True, []
            for c in chunks:
                size = sizes.get(c.id, c.size)
                if c.id in self.scanned:
                    total += len(self.scanned[c.id])
                elif size <= budget:
                    budget -= size
                    todo.append(c)
                else:
                    exact = False
            for c in await self.fill(todo):
                if c.id in self.scanned:
                    total += len(self.scanned[c.id])
                    continue
                assert c.data is not None
                total += self.scanner.count(c.data, c.open_end)
                c.data = None  # counted chunks are not kept
                await _pause()
            out[sid] = (total, exact)
        return out


async def newest_hits(
    s: OutputSearch, limit: int, cursor: tuple[int, int] | None
) -> tuple[list[SearchHit], str | None]:
    before = cursor[0] + 1 if cursor else 2**62
    await s.load_unindexed(before)
    hits: list[SearchHit] = []
    async for chunk in s.newest(before):
        for m in reversed(await s.lines(chunk)):
            h = s.hit(chunk, m)
            if cursor and chunk.id == cursor[0] and h.line >= cursor[1]:
                continue
            if len(hits) == limit:
                last = hits[-1]
                return hits, f"n:{last.chunk_id}:{last.line}"
            hits.append(h)
    return hits, None


async def ranked_hits(
    s: OutputSearch, limit: int, cursor: tuple[int, ...] | None
) -> tuple[list[SearchHit], str | None]:
    # bm25 of a phrase first counts the chunks holding it in the whole index (a slow
    # positional scan when its words are common), so phrases are scored as their
    # words, among the chunks that may hold the phrases (their word pairs).
    s.rank_match = s.words  # (its phrases as words: fts_words)
    await s.load_unpaired()  # (may settle on the words alone: then no pairs either)
    if cursor is not None and len(cursor) == 3:
        offset, skip, s.rank_floor = cursor
    else:
        offset, skip = cursor or (0, 0)
        # Scoring is the costly part, done for every candidate: past RANK_CANDIDATES
        # matching chunks, only the newest that many are ranked.
        row = await s.rows(
            "SELECT rowid FROM output_words WHERE output_words MATCH ? "
            "ORDER BY rowid DESC LIMIT 1 OFFSET ?",
            [s.rank_match, RANK_CANDIDATES],
        )
        s.rank_floor = row[0][0] + 1 if row else 0
    if s.rank_match != s.match:
        rows = await s.rows(
            "SELECT rowid FROM output_words WHERE output_words MATCH ? AND rowid >= ?",
            [s.match, s.rank_floor],
        )
        s.rank_within = {r[0] for r in rows}
        s.rank_within.update(c.id for c in s.unpaired_found)  # (through their words)
    hits: list[SearchHit] = []
    async for position, chunk in s.ranked(offset):
        found = sorted(await s.lines(chunk), key=lambda m: (-len(m.spans), -m.index))
        start = skip if position == offset else 0
        for taken, m in enumerate(found[start:], start + 1):
            if len(hits) == limit:
                return hits, f"r:{position}:{taken - 1}:{s.rank_floor}"
            hits.append(s.hit(chunk, m))
    return hits, None
