"""Search every session's output and metadata with the query language.

    results = await search(store, parse("error tag:ml since:2d"), limit=50)
    for group in results.groups:      # by session, newest first
        group.session, group.count, group.exact
        for hit in group.hits:        # SearchHit: line, stream, at, text, spans
            hit.snippet(80)
    more = await search(store, query, page=results.next_page)

How it works: FTS5 finds candidate chunks (newest first by chunk id, which grows with
time, or by bm25 with ``rank=True``), joined in SQL with the session and line filters;
``search_lines.ChunkScanner`` then finds the matching lines of each chunk. Chunks not
indexed yet (the supervisor indexes within seconds) are scanned directly, up to
``UNINDEXED_SCAN_BYTES``; any rest is reported in ``unindexed_bytes``. Hits come only
from rows joined to live chunks and sessions, so a purged session leaves no ghost.

Counts per session are lines matched; counting reads every candidate chunk of the
sessions on the page, up to ``COUNT_BYTES`` per page. Past that a count is a lower
bound (``exact`` is False).

Ranking: FTS5 scores (bm25) every candidate chunk before it can sort, which for a
word in every chunk of 1 GB takes about a second. So at most ``RANK_CANDIDATES``
matching chunks, the newest, are ranked (``rank_limited`` says when the cap applied).
Chunks not indexed yet are not ranked.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from storage.engine.search.filters import chunk_where, session_where
from storage.engine.search.lines import ChunkScanner, LineMatch
from storage.errors import StoreError
from storage.models import SearchHit, Session
from storage.query import And, Not, Or, Phrase, Query, QueryError, Term, Word
from storage.query.match import Span, fts_match, line_matcher
from storage.text import plain

if TYPE_CHECKING:
    from storage.engine.store import Store

UNINDEXED_SCAN_BYTES = 16 * 1024 * 1024
RANK_CANDIDATES = 3000  # at most this many matching chunks (the newest) are ranked
COUNT_BYTES = 4 * 1024 * 1024
_META = "c.id, c.session_id, c.run, c.stream, c.first_line, c.open_end, c.first_at"
_BATCHES = (4, 16, 64, 256)  # chunks per candidate query: the first page rarely needs more
_RANK_WINDOW = 256  # ranked chunks read by the first query of a page
_RANGE_SESSIONS = 4  # above this many sessions on a page, count them in one query


@dataclass(frozen=True, slots=True)
class MetaMatch:
    """A metadata field of a session that holds a searched word."""

    field: str  # name, command, cwd, tags, notes
    text: str
    spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class SessionHits:
    """The hits of one session. ``count`` is the number of matching output lines in the
    whole session (not only this page): exact, or a lower bound when ``exact`` is False."""

    session: Session
    hits: tuple[SearchHit, ...]
    count: int | None  # None when output was not searched (``in:meta``, no text)
    exact: bool
    meta: tuple[MetaMatch, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchResults:
    query: Query
    groups: tuple[SessionHits, ...]
    next_page: str | None  # pass to ``search(page=...)`` for more; None: no more
    ranked: bool
    sessions_only: bool  # the query had no text: the groups list matching sessions
    unindexed_bytes: int = 0  # output too new to be searched yet
    hits: tuple[SearchHit, ...] = ()  # every hit of the page, in order (not grouped)
    rank_limited: bool = False  # ranked among the newest RANK_CANDIDATES matching chunks


@dataclass
class _Chunk:
    id: int
    session_id: int
    run: int
    stream: str
    first_line: int
    open_end: bool
    at: float
    data: bytes | None = None


def _chunk(row: Any) -> _Chunk:
    cid, sid, run, stream, first, open_end, at = tuple(row)[:7]
    data = bytes(row[7]) if len(row) > 7 and row[7] is not None else None
    return _Chunk(cid, sid, run, stream, first, bool(open_end), at, data)


class _Search:
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
        self.match = fts_match(query, exclusions=False)
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
        self.rank_match = self.match  # what bm25 scores (phrases loosened into words)
        self.rank_within: set[int] | None = None  # chunks holding the phrases, if any

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
            await asyncio.sleep(0)  # let a UI handle keys between chunks (and cancel us)
        return found

    async def load_unindexed(self, before: int) -> None:
        if self.match is None or not self.scan_unindexed:
            return  # every chunk is read directly anyway, or only the index is asked
        # No ORDER BY or id range here: those would steer SQLite away from the partial
        # index of unindexed chunks into a scan of the whole table.
        rows = await self.rows(
            f"SELECT {_META}, length(c.data) FROM output_chunks c WHERE c.indexed = 0 "
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

    async def fill(self, chunks: list[_Chunk]) -> list[_Chunk]:
        """Load the data of chunks that lack it; drop chunks deleted meanwhile."""
        missing = [c.id for c in chunks if c.data is None and c.id not in self.scanned]
        if missing:
            rows = await self.rows(
                f"SELECT id, data FROM output_chunks WHERE id IN ({','.join('?' * len(missing))})",
                missing,
            )
            data = {r[0]: bytes(r[1]) for r in rows}
            for c in chunks:
                if c.data is None:
                    c.data = data.get(c.id)
        return [c for c in chunks if c.data is not None or c.id in self.scanned]

    async def newest(self, before: int):  # -> AsyncIterator[_Chunk]
        """Candidate chunks, newest first, with their data."""
        if self.match is None:
            sql = (
                f"SELECT {_META}, c.data FROM output_chunks c WHERE c.id < ? AND "
                f"{self.filters} ORDER BY c.id DESC LIMIT ?"
            )
            head: list[Any] = []
        else:
            sql = (
                f"SELECT {_META}, c.data FROM output_fts f CROSS JOIN output_chunks c "
                f"ON c.id = f.rowid WHERE output_fts MATCH ? AND f.rowid < ? AND "
                f"{self.filters} ORDER BY f.rowid DESC LIMIT ?"
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
            f"SELECT {_META} FROM output_fts f CROSS JOIN output_chunks c ON c.id = f.rowid "
            f"WHERE output_fts MATCH ? AND f.rowid >= ? AND {self.filters} "
            f"ORDER BY f.rank LIMIT ? OFFSET ?"
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
        marks = ",".join("?" * len(session_ids))
        cols = f"{_META}, length(c.data)"
        if self.match is None:
            rows = await self.rows(
                f"SELECT {cols} FROM output_chunks c WHERE c.session_id IN ({marks}) "
                f"AND {self.filters}",
                [*session_ids, *self.params],
            )
        elif len(session_ids) > _RANGE_SESSIONS:
            # Many sessions on one page: the words are rare, reading all their rows is cheap.
            rows = await self.rows(
                f"SELECT {cols} FROM output_fts f CROSS JOIN output_chunks c ON c.id = f.rowid "
                f"WHERE output_fts MATCH ? AND c.session_id IN ({marks}) AND {self.filters}",
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
                    f"SELECT {cols} FROM output_fts f CROSS JOIN output_chunks c "
                    f"ON c.id = f.rowid WHERE output_fts MATCH ? AND f.rowid BETWEEN ? AND ? "
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
                size = sizes.get(c.id, 0)
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
                await asyncio.sleep(0)
            out[sid] = (total, exact)
        return out


def _words_only(query: Query) -> str | None:
    """The FTS5 MATCH of the query with each phrase loosened into its words (all of
    them, anywhere in the chunk): the same chunks or more, and cheap to rank."""

    def loosen(term: Term) -> Term:
        if isinstance(term, Phrase):
            toks = term.tokens
            words = [Word(t, prefix=term.prefix and i == len(toks) - 1) for i, t in enumerate(toks)]
            return words[0] if len(words) == 1 else And(tuple(words))
        if isinstance(term, Not):
            return term
        if isinstance(term, Word):
            return term
        return type(term)(tuple(loosen(t) for t in term.terms))

    return fts_match(replace(query, terms=tuple(loosen(t) for t in query.terms)), exclusions=False)


def _parse_page(page: str | None, kind: str) -> tuple[int, ...] | None:
    if not page:
        return None
    try:
        tag, *numbers = page.split(":")
        if tag != kind or len(numbers) not in (2, 3):
            raise ValueError
        return tuple(int(n) for n in numbers)
    except ValueError:
        raise ValueError(f"bad page cursor {page!r} (it comes from a previous search)") from None


async def search(
    store: Store,
    query: Query,
    *,
    limit: int = 50,
    page: str | None = None,
    rank: bool = False,
    counts: bool = True,
    session_id: int | None = None,
    include_deleted: bool = False,
    unindexed: bool = True,
) -> SearchResults:
    """Up to ``limit`` hits for ``query``, grouped by session (see the module doc).

    ``page`` is ``next_page`` of the previous results. ``rank`` orders by relevance
    (FTS5 bm25 over chunks, then lines with more matches first) instead of newest
    first. ``session_id`` searches the output of that session only;
    ``include_deleted`` searches sessions in the trash too (for output hits);
    ``unindexed=False`` searches only what is indexed (no direct scan of new output).
    Raises ``QueryError`` (never a raw SQLite error) when the index refuses the query."""
    limit = max(1, limit)
    if not query.has_text:
        return await _list_sessions(store, query, limit, page)
    s = _Search(
        store, query, session_id=session_id, include_deleted=include_deleted, unindexed=unindexed
    )
    ranked = rank and s.match is not None
    hits: list[SearchHit] = []
    next_page: str | None = None
    if query.scope != "meta":
        if ranked:
            hits, next_page = await _ranked_hits(s, limit, _parse_page(page, "r"))
        else:
            hits, next_page = await _newest_hits(s, limit, _parse_page(page, "n"))
    meta: dict[int, tuple[MetaMatch, ...]] = {}
    # Metadata matches come on the first page. A query of only exclusions (-debug) would
    # "match" nearly every session's metadata: only with in:meta is that asked for.
    if page is None and (query.scope == "meta" or (query.scope == "all" and s.match)):
        meta = await _meta_matches(store, query, limit)
    order: list[int] = []
    for h in hits:
        if h.session_id not in order:
            order.append(h.session_id)
    sessions = {
        x.id: x for x in await store.sessions.list(ids=order + list(meta), include_deleted=True)
    }
    # A session of the page may have been purged meanwhile: drop its hits.
    hits = [h for h in hits if h.session_id in sessions]
    order = [sid for sid in order if sid in sessions]
    meta_only = [sid for sid in meta if sid not in order and sid in sessions]
    counted: dict[int, tuple[int, bool]] = {}
    if counts and query.scope != "meta":
        counted = await s.count(order + meta_only, COUNT_BYTES)
    if not ranked:
        # Sessions found only by their metadata go by their last activity among the rest.
        newest = {sid: max(h.at for h in hits if h.session_id == sid) for sid in order}
        for sid in meta_only:
            x = sessions[sid]
            newest[sid] = x.last_output_at or x.updated_at
        order = sorted(order + meta_only, key=lambda sid: -newest[sid])
    else:
        order = meta_only + order
    groups = []
    for sid in order:
        group_hits = tuple(h for h in hits if h.session_id == sid)
        if query.scope == "meta":
            count, exact = None, True
        else:
            count, exact = counted.get(sid, (len(group_hits), False))
        groups.append(SessionHits(sessions[sid], group_hits, count, exact, meta.get(sid, ())))
    return SearchResults(
        query,
        tuple(groups),
        next_page,
        ranked,
        False,
        s.unindexed_rest,
        tuple(hits),
        rank_limited=ranked and s.rank_floor > 0,
    )


async def count_hits(
    store: Store, query: Query, session_ids: list[int], *, budget: int | None = None
) -> dict[int, tuple[int, bool]]:
    """Matching output lines per session: ``{id: (count, exact)}``, reading at most
    ``budget`` bytes (default ``COUNT_BYTES``) of chunks, the first sessions first. For a
    UI that shows ``search(..., counts=False)`` at once and the counts a moment later."""
    if not query.has_text or query.scope == "meta":
        return {}
    return await _Search(store, query).count(
        list(session_ids), COUNT_BYTES if budget is None else budget
    )


async def _newest_hits(
    s: _Search, limit: int, cursor: tuple[int, int] | None
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


async def _ranked_hits(
    s: _Search, limit: int, cursor: tuple[int, ...] | None
) -> tuple[list[SearchHit], str | None]:
    # bm25 of a phrase first counts the chunks holding it in the whole index (a slow
    # positional scan when its words are common), so phrases are scored as their
    # words, among the chunks that hold the phrases.
    s.rank_match = _words_only(s.query) or s.match
    if cursor is not None and len(cursor) == 3:
        offset, skip, s.rank_floor = cursor
    else:
        offset, skip = cursor or (0, 0)
        # Scoring is the costly part, done for every candidate: past RANK_CANDIDATES
        # matching chunks, only the newest that many are ranked.
        row = await s.rows(
            "SELECT rowid FROM output_fts WHERE output_fts MATCH ? "
            "ORDER BY rowid DESC LIMIT 1 OFFSET ?",
            [s.rank_match, RANK_CANDIDATES],
        )
        s.rank_floor = row[0][0] + 1 if row else 0
    if s.rank_match != s.match:
        rows = await s.rows(
            "SELECT rowid FROM output_fts WHERE output_fts MATCH ? AND rowid >= ?",
            [s.match, s.rank_floor],
        )
        s.rank_within = {r[0] for r in rows}
    hits: list[SearchHit] = []
    async for position, chunk in s.ranked(offset):
        found = sorted(await s.lines(chunk), key=lambda m: (-len(m.spans), -m.index))
        start = skip if position == offset else 0
        for taken, m in enumerate(found[start:], start + 1):
            if len(hits) == limit:
                return hits, f"r:{position}:{taken - 1}:{s.rank_floor}"
            hits.append(s.hit(chunk, m))
    return hits, None


async def _meta_matches(store: Store, query: Query, limit: int) -> dict[int, tuple[MetaMatch, ...]]:
    from storage.engine.search.filters import filter_session_ids

    ids = (await filter_session_ids(store, query, order="active"))[:limit]
    if not ids:
        return {}
    # Highlight every searched word in each field (the row matched as a whole).
    words = tuple(_positive_terms(query.terms))
    matcher = (
        line_matcher(replace(query, terms=(Or(words) if len(words) > 1 else words[0],)))
        if words
        else None
    )
    rows = await store.fetchall(
        f"SELECT rowid, name, command, cwd, tags, notes FROM sessions_fts "
        f"WHERE rowid IN ({','.join('?' * len(ids))})",
        ids,
    )
    fields = ("name", "command", "cwd", "tags", "notes")
    out: dict[int, tuple[MetaMatch, ...]] = {sid: () for sid in ids}
    for row in rows:
        found = []
        for name, raw in zip(fields, row[1:], strict=True):
            value = plain(raw) if raw else raw  # names may hold escapes: never show them
            if value and matcher is not None:
                spans = [sp for sp in matcher(value) if sp != (0, 0)]
                if spans:
                    found.append(MetaMatch(name, value, tuple(spans)))
        out[row[0]] = tuple(found)
    return out


def _positive_terms(terms) -> list:  # the words and phrases that are searched for
    out = []
    for t in terms:
        if isinstance(t, Word | Phrase):
            out.append(t)
        elif isinstance(t, Not):
            continue
        else:
            out += _positive_terms(t.terms)
    return out


async def _list_sessions(store: Store, query: Query, limit: int, page: str | None) -> SearchResults:
    from storage.engine.search.filters import filter_session_ids

    offset = _parse_page(page, "s")[0] if page else 0
    ids = await filter_session_ids(store, query, order="active")
    chosen = ids[offset : offset + limit]
    found = {x.id: x for x in await store.sessions.list(ids=chosen, include_deleted=True)}
    groups = tuple(SessionHits(found[i], (), None, True) for i in chosen if i in found)
    more = f"s:{offset + limit}:0" if len(ids) > offset + limit else None
    return SearchResults(query, groups, more, False, True)
