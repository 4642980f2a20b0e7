"""Search every session's output and metadata with the query language.

    results = await search(store, parse("error tag:ml since:2d"), limit=50)
    for group in results.groups:      # by session, newest first
        group.session, group.count, group.exact
        for hit in group.hits:        # SearchHit: line, stream, at, text, spans
            hit.snippet(80)
    more = await search(store, query, page=results.next_page)

The output hits come from ``storage.engine.search.hits`` (candidate chunks from the
index, paging, ranking, counting); this module makes the page: hits grouped by session,
with the sessions whose metadata matches, or only the matching sessions when the query
has no text.

Counts per session are lines matched; counting reads every candidate chunk of the
sessions on the page, up to ``COUNT_BYTES`` per page. Past that a count is a lower
bound (``exact`` is False).
"""

from __future__ import annotations

from storage.engine.search.hits import OutputSearch
from storage.engine.search.rendered import RAW_SHADOWED, RenderedSearch, merged_hits
from storage.engine.search.transcripts import TranscriptSearch
from storage.frozen import Frozen, replace
from storage.models import SearchHit, Session
from storage.query import Not, Or, Phrase, Query, Word
from storage.query.match import Span, line_matcher
from storage.text import plain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from storage.engine.store import Store

COUNT_BYTES = 4 * 1024 * 1024


class MetaMatch(Frozen):
    """A metadata field of a session that holds a searched word."""

    __slots__ = ("field", "text", "spans")

    field: str  # name, command, cwd, tags, notes
    text: str
    spans: tuple[Span, ...]

    def __init__(self, field: str, text: str, spans: tuple[Span, ...]) -> None:
        object.__setattr__(self, "field", field)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "spans", spans)


class SessionHits(Frozen):
    """The hits of one session. ``count`` is the number of matching output lines in the
    whole session (not only this page): exact, or a lower bound when ``exact`` is False."""

    __slots__ = ("session", "hits", "count", "exact", "meta")

    session: Session
    hits: tuple[SearchHit, ...]
    count: int | None  # None when output was not searched (``in:meta``, no text)
    exact: bool
    meta: tuple[MetaMatch, ...]

    def __init__(
        self,
        session: Session,
        hits: tuple[SearchHit, ...],
        count: int | None,
        exact: bool,
        meta: tuple[MetaMatch, ...] = (),
    ) -> None:
        object.__setattr__(self, "session", session)
        object.__setattr__(self, "hits", hits)
        object.__setattr__(self, "count", count)
        object.__setattr__(self, "exact", exact)
        object.__setattr__(self, "meta", meta)


class SearchResults(Frozen):
    __slots__ = (
        "query",
        "groups",
        "next_page",
        "ranked",
        "sessions_only",
        "unindexed_bytes",
        "hits",
        "rank_limited",
    )

    query: Query
    groups: tuple[SessionHits, ...]
    next_page: str | None  # pass to ``search(page=...)`` for more; None: no more
    ranked: bool
    sessions_only: bool  # the query had no text: the groups list matching sessions
    unindexed_bytes: int  # output too new to be searched yet
    hits: tuple[SearchHit, ...]  # every hit of the page, in order (not grouped)
    rank_limited: bool  # ranked among the newest RANK_CANDIDATES matching chunks

    def __init__(
        self,
        query: Query,
        groups: tuple[SessionHits, ...],
        next_page: str | None,
        ranked: bool,
        sessions_only: bool,
        unindexed_bytes: int = 0,
        hits: tuple[SearchHit, ...] = (),
        rank_limited: bool = False,
    ) -> None:
        object.__setattr__(self, "query", query)
        object.__setattr__(self, "groups", groups)
        object.__setattr__(self, "next_page", next_page)
        object.__setattr__(self, "ranked", ranked)
        object.__setattr__(self, "sessions_only", sessions_only)
        object.__setattr__(self, "unindexed_bytes", unindexed_bytes)
        object.__setattr__(self, "hits", hits)
        object.__setattr__(self, "rank_limited", rank_limited)


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
    s = OutputSearch(
        store, query, session_id=session_id, include_deleted=include_deleted, unindexed=unindexed
    )
    ranked = rank and s.match is not None
    # Terminal sessions with stored screens: their rendered transcript, not their raw
    # stdout (storage/engine/search/rendered.py).
    s.filters += f" AND {RAW_SHADOWED}"
    # And agent sessions' conversations (storage/engine/search/transcripts.py).
    others = [
        RenderedSearch(store, query, session_id=session_id, include_deleted=include_deleted),
        TranscriptSearch(store, query, session_id=session_id, include_deleted=include_deleted),
    ]
    hits: list[SearchHit] = []
    next_page: str | None = None
    if query.scope != "meta":
        hits, next_page = await merged_hits(s, others, limit, page, ranked=ranked)
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
        counted = await _counts(s, others, order + meta_only, COUNT_BYTES)
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
    s = OutputSearch(store, query)
    s.filters += f" AND {RAW_SHADOWED}"
    budget = COUNT_BYTES if budget is None else budget
    others = [RenderedSearch(store, query), TranscriptSearch(store, query)]
    return await _counts(s, others, list(session_ids), budget)


async def _counts(
    s: OutputSearch, others: list[RenderedSearch], session_ids: list[int], budget: int
) -> dict[int, tuple[int, bool]]:
    """Matching lines per session: of the output, the rendered transcripts and the
    agent conversations."""
    counted = await s.count(session_ids, budget)
    for other in others:
        for sid, n in (await other.count(session_ids)).items():
            total, exact = counted.get(sid, (0, True))
            counted[sid] = (total + n, exact)
    return counted


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
