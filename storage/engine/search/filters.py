"""A query's filters as SQL over sessions and output chunks.

Time filters mean different things for a session and for a line:

- a *session* matches ``since:``/``until:`` when it was active during the window: it
  was created before the window ends and had not ended before the window starts (a
  session still going has not ended);
- a *line* matches when its timestamp (the time its chunk of output was captured,
  which is when the line was written, to within about 100 ms) is in the window.

``exit:`` matches sessions that ended with one of those codes; ``exit:!0`` matches
sessions that ended any other way: another code, a signal, stopped or lost.

Context filters (``ctx.model:opus``, ``ctx.tokens>5``, ``has:ctx.thread``; meanings in
``storage.query.context``) read the context key table (``storage.engine.context_keys``),
not the JSON text.

Text terms on their own (``filter_session_ids``, and ``in:meta``) match the metadata
index: name, command, cwd, tags and notes.

Every matching id (the session list's filter: ``matching_session_ids``) is fetched as one
JSON array rather than a row per session: with 50 000 ids, building the rows cost more
than finding them (``bench/cases/context_filters.py``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet

from storage.engine.context_keys import LOOKUP_COST, context_sql, members_sql
from storage.frozen import Frozen, replace
from storage.models import ENDED
from storage.query import Not, Or, Query, QueryError, Word
from storage.query.match import fts_match

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from storage.engine.store import Store
    from storage.models import Session
    from storage.query.terms import ContextFilter

_BATCH = 500
ORDERS = {
    "newest": "s.created_at DESC, s.id DESC",
    "active": "coalesce(s.last_output_at, s.updated_at) DESC, s.id DESC",
}


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def session_where(
    query: Query,
    *,
    meta_text: bool = False,
    include_deleted: bool = False,
    plan: Mapping[ContextFilter, str] | None = None,
) -> tuple[str, list[Any]]:
    """An SQL condition on ``sessions s`` for the query's session filters. With
    ``meta_text``, the text terms must also match the session's metadata. With
    ``include_deleted``, sessions in the trash and out of it both match. ``plan`` says how
    to run each context filter (``context_plan``)."""
    where: list[str] = []
    params: list[Any] = []
    if not include_deleted:
        where.append("s.deleted_at IS NOT NULL" if query.trashed else "s.deleted_at IS NULL")
    if query.statuses is not None:
        if query.statuses:
            where.append(f"s.status IN ({','.join('?' * len(query.statuses))})")
            params += sorted(query.statuses)
        else:  # e.g. status:failed -is:failed
            where.append("0")
    for group in query.tags:
        where.append(
            "EXISTS (SELECT 1 FROM session_tags t WHERE t.session_id = s.id "
            f"AND lower(t.tag) IN ({','.join('?' * len(group))}))"
        )
        params += sorted(t.lower() for t in group)
    if query.exclude_tags:
        where.append(
            "NOT EXISTS (SELECT 1 FROM session_tags t WHERE t.session_id = s.id "
            f"AND lower(t.tag) IN ({','.join('?' * len(query.exclude_tags))}))"
        )
        params += sorted(t.lower() for t in query.exclude_tags)
    if query.name is not None:
        where.append("s.name LIKE ? ESCAPE '\\'")
        params.append(_like(query.name))
    if query.cmd is not None:
        # The command as shown (shlex-joined argv) is kept in the metadata index.
        where.append("s.id IN (SELECT rowid FROM sessions_fts WHERE command LIKE ? ESCAPE '\\')")
        params.append(_like(query.cmd))
    if query.cwd is not None:
        prefix = query.cwd.rstrip("/") or "/"
        if prefix == "/":
            where.append("substr(s.cwd, 1, 1) = '/'")
        else:
            where.append("(s.cwd = ? OR substr(s.cwd, 1, ?) = ?)")
            params += [prefix, len(prefix) + 1, prefix + "/"]
    if query.exit_codes is not None:
        where.append(f"s.exit_code IN ({','.join('?' * len(query.exit_codes))})")
        params += sorted(query.exit_codes)
    if query.exit_not:
        ended = ",".join(f"'{s}'" for s in sorted(ENDED))
        where.append(
            f"s.status IN ({ended}) AND (s.exit_code IS NULL OR "
            f"s.exit_code NOT IN ({','.join('?' * len(query.exit_not))}))"
        )
        params += sorted(query.exit_not)
    if query.pinned is not None:
        where.append("s.pinned = ?")
        params.append(int(query.pinned))
    if query.until is not None:
        where.append("s.created_at <= ?")
        params.append(query.until)
    if query.since is not None:
        where.append("(s.ended_at IS NULL OR s.ended_at >= ?)")
        params.append(query.since)
    for condition in query.context:
        sql, args = context_sql(condition, how=(plan or {}).get(condition))
        where.append(sql)
        params += args
    if meta_text and query.terms:
        match = fts_match(query)
        if match is not None:
            where.append("s.id IN (SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH ?)")
            params.append(match)
        else:  # only exclusions: sessions whose metadata has none of them
            where.append("s.id NOT IN (SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH ?)")
            params.append(_exclusions(query))
    return " AND ".join(where) or "1", params


def _exclusions(query: Query) -> str:
    """For a query of only exclusions (``-a -b``): a MATCH for rows holding any of them."""
    excluded = tuple(t.term for t in query.terms if isinstance(t, Not))
    term = excluded[0] if len(excluded) == 1 else Or(excluded)
    return fts_match(replace(query, terms=(term,))) or '""'


def chunk_where(query: Query) -> tuple[str, list[Any]]:
    """An SQL condition on ``output_chunks c`` for the line-level filters (stream, time)."""
    where: list[str] = []
    params: list[Any] = []
    if query.streams is not None:
        if query.streams:
            where.append(f"c.stream IN ({','.join('?' * len(query.streams))})")
            params += sorted(query.streams)
        else:
            where.append("0")
    if query.since is not None:
        where.append("c.first_at >= ?")
        params.append(query.since)
    if query.until is not None:
        where.append("c.first_at <= ?")
        params.append(query.until)
    return " AND ".join(where) or "1", params


def as_typing(query: Query) -> Query:
    """The query as it reads while the user is still typing its last word: that word
    becomes a prefix (``buil`` finds ``build``)."""
    if not query.terms or not query.text[-1:].isalnum():
        return query
    last = query.terms[-1]
    if isinstance(last, Word) and not last.prefix:
        return replace(query, terms=(*query.terms[:-1], Word(last.text, prefix=True)))
    return query


async def filter_session_ids(
    store: Store,
    query: Query,
    *,
    order: str = "newest",
    typing: bool = False,
    include_deleted: bool = False,
    limit: int | None = None,
) -> list[int]:
    """Ids of the sessions whose filters and metadata (name, command, cwd, tags, notes)
    match ``query``, newest first. Output is not searched: this is the session list's
    ``/`` filter. ``typing`` treats the last word as a prefix; ``include_deleted`` takes
    sessions in the trash and out of it; ``limit``: at most that many. Raises
    ``QueryError`` for a query the index refuses (never a raw SQLite error). ``order=""``:
    in no particular order."""
    if typing:
        query = as_typing(query)
    plan = await context_plan(store, query, limit) if order == "newest" else {}
    where, params = session_where(query, meta_text=True, include_deleted=include_deleted, plan=plan)
    order_sql = ORDERS[order] if order else ""
    sessions = "sessions s"
    if "lookup" in plan.values():
        # Few sessions match: look them up by id and sort those, never walk every live
        # session newest first (bench/cases/context_filters.py). NOT INDEXED leaves
        # SQLite only the rowid: with its statistics (PRAGMA optimize) it chose to walk
        # the live sessions to test a one-session list, 12 ms instead of 0.01.
        sessions = "sessions s NOT INDEXED"
    if query.streams is not None:
        cw, cp = chunk_where(replace(query, since=None, until=None))
        where += f" AND EXISTS (SELECT 1 FROM output_chunks c WHERE c.session_id = s.id AND {cw})"
        params += cp
    sql = f"SELECT s.id FROM {sessions} WHERE {where}"
    if order_sql:
        sql += f" ORDER BY {order_sql}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(max(0, limit))
    return await fetch_ids(store, query, sql, params)


class Matches(Frozen):
    """The live sessions a query matches, for a list that holds the live sessions
    already (the TUI's): ``ids``, or with ``but``, every live session except ``ids``.
    ``in`` answers for the id of a live session."""

    __slots__ = ("ids", "but")

    ids: AbstractSet[int]
    but: bool

    def __init__(self, ids: AbstractSet[int], but: bool = False) -> None:
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "but", but)

    def __contains__(self, sid: object) -> bool:
        return (sid in self.ids) != self.but

    def keep(self, ordered: Iterable[int]) -> list[int]:
        """The ids of live sessions ``ordered`` that match, in their order (one set
        test each, not a call of ``in``)."""
        ids = self.ids
        if self.but:
            return [i for i in ordered if i not in ids]
        return [i for i in ordered if i in ids]

    def with_id(self, sid: int) -> Matches:
        """These matches and session ``sid`` too."""
        return Matches(self.ids - {sid} if self.but else self.ids | {sid}, self.but)


async def matching_session_ids(store: Store, query: Query, *, typing: bool = False) -> Matches:
    """The live sessions ``filter_session_ids`` gives, as ``Matches``: what the session
    list's filter asks (it keeps its own order). A query of context filters alone is
    answered from the key table's member index (``session_context_member``, schema v13)
    with set operations, never walking the sessions: the matches of each filter, less
    those of the negated ones and the sessions in the trash; with negated filters alone,
    every live session but their matches (a list of the live sessions is not fetched)."""
    if typing:
        query = as_typing(query)
    only_context = replace(query, text="", context=(), scope="all") == Query()
    if not (query.context and only_context):
        return Matches(set(await filter_session_ids(store, query, order="")))
    found: set[int] | None = None
    for f in query.context:
        if not f.negated:
            found = _and(found, await _members(store, query, f))
    unwanted: set[int] = set()
    for f in query.context:
        if f.negated and (found is None or found):
            unwanted.update(await _members(store, query, f))
    if found is None:
        return Matches(unwanted, but=True)
    if found:
        trashed = "SELECT id FROM sessions WHERE deleted_at IS NOT NULL"
        unwanted.update(await fetch_ids(store, query, trashed, []))
        found.difference_update(unwanted)
    return Matches(found)


def _and(found: set[int] | None, more: list[int]) -> set[int]:
    return set(more) if found is None else found.intersection(more)


async def _members(store: Store, query: Query, f: ContextFilter) -> list[int]:
    """The sessions whose context holds what ``f`` asks (``negated`` aside), in the trash
    or not."""
    sql, params = members_sql(f)
    return await fetch_ids(store, query, sql, params, column="session_id")


async def fetch_ids(
    store: Store, query: Query, sql: str, params: list[Any], *, column: str = "id"
) -> list[int]:
    """The ids ``sql`` selects, in its order, as one JSON array: one object a session to
    build in Python instead of a row and an id. (An aggregate keeps the order of a
    subquery with ORDER BY: SQLite never flattens one into it.)"""
    rows = await guarded(store, query, f"SELECT json_group_array({column}) FROM ({sql})", params)
    return json.loads(rows[0][0])


async def context_plan(
    store: Store, query: Query, limit: int | None = None
) -> dict[ContextFilter, str]:
    """How to run the query's context filters, newest first (``context_sql``'s ``how``):
    the one with the fewest matches (counted in the key table) drives, its sessions
    looked up by id, when that is cheaper than walking the sessions newest first until
    ``limit`` are found; the others are then tested on each session it gives. Without a
    driver, a walk under a ``limit`` tests each session (it stops early); a walk over
    every session tests them against the lists of the matches, each built once."""
    if not query.context:
        return {}
    sessions = (await store.fetchall("SELECT max(id) FROM sessions"))[0][0] or 0
    counts = {}
    for f in query.context:
        if not f.negated:
            members, params = members_sql(f)
            cap = sessions // LOOKUP_COST + 1  # beyond it, never worth a lookup
            sql = f"SELECT count(*) FROM ({members} LIMIT ?)"
            counts[f] = (await store.fetchall(sql, [*params, cap]))[0][0]
    fewest = min(counts, key=counts.__getitem__, default=None)
    drive = None
    if fewest is not None:
        matches = max(1, counts[fewest])
        walked = sessions if limit is None else min(sessions, limit * sessions / matches)
        drive = fewest if LOOKUP_COST * matches < walked else None
    others = "test" if drive is not None or limit is not None else "walk"
    return {f: "lookup" if f == drive else others for f in query.context}


async def list_sessions(
    store: Store, query: Query, *, include_deleted: bool = False, limit: int | None = None
) -> list[Session]:
    """The sessions ``query`` matches, newest first, as ``filter_session_ids`` finds
    them (filters, and words in the metadata): what ``tether ls QUERY`` lists."""
    ids = await filter_session_ids(store, query, include_deleted=include_deleted, limit=limit)
    found: dict[int, Session] = {}
    for start in range(0, len(ids), _BATCH):  # few bound parameters per statement
        batch = ids[start : start + _BATCH]
        found.update((s.id, s) for s in await store.sessions.list(ids=batch, include_deleted=True))
    return [found[i] for i in ids if i in found]


async def guarded(store: Store, query: Query, sql: str, params: Any) -> list[sqlite3.Row]:
    """Run a query that uses MATCH; an SQLite error about it becomes a ``QueryError``."""
    from storage.errors import StoreError

    try:
        return await store.fetchall(sql, params)
    except StoreError:
        raise
    except sqlite3.Error as e:
        raise QueryError(
            f"the search index cannot run this query ({e})", 0, len(query.text), query.text
        ) from None
