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
``storage.query.context``) read the JSON with SQLite's ``json_type``/``json_extract``, the
path a bound parameter. Parsing JSON is most of their cost (about 0.5 us per session), so
a cheap test on the raw text goes first and skips the sessions that cannot match: the key
must appear as ``"key"``, and for string values one of them must appear (``LIKE``, ASCII
case-insensitive as the match is). That holds because storage writes every context with
``json.dumps``, which writes keys of letters, digits, ``_`` and ``-`` and printable ASCII
other than ``"`` and backslash as themselves. A context SQLite cannot read (``NaN``) matches
no condition.

Text terms on their own (``filter_session_ids``, and ``in:meta``) match the metadata
index: name, command, cwd, tags and notes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from storage.models import ENDED
from storage.query import Not, Or, Query, QueryError, Word
from storage.query.context import number
from storage.query.match import fts_match
from storage.query.terms import ContextFilter

if TYPE_CHECKING:
    from storage.engine.store import Store
    from storage.models import Session

_BATCH = 500
ORDERS = {
    "newest": "s.created_at DESC, s.id DESC",
    "active": "coalesce(s.last_output_at, s.updated_at) DESC, s.id DESC",
}


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def session_where(
    query: Query, *, meta_text: bool = False, include_deleted: bool = False
) -> tuple[str, list[Any]]:
    """An SQL condition on ``sessions s`` for the query's session filters. With
    ``meta_text``, the text terms must also match the session's metadata. With
    ``include_deleted``, sessions in the trash and out of it both match."""
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
        sql, args = context_sql(condition)
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


def context_sql(f: ContextFilter) -> tuple[str, list[Any]]:
    """An SQL condition on ``sessions s`` for one context filter: 1 or 0, never NULL."""
    # The raw-text test first (see the module doc); CASE, not AND, so that nothing after
    # a failed test is evaluated, and json_valid before anything that would raise.
    test, params = "instr(s.context, ?) > 0", [f'"{f.keys[-1]}"']
    if f.op == "is" and _text_only(f):
        like = [_like(v) for v in (*f.values, *f.prefixes)]
        test += " AND (" + " OR ".join(["s.context LIKE ? ESCAPE '\\'"] * len(like)) + ")"
        params += like
    json_type = "json_type(s.context, ?)"
    value = "json_extract(s.context, ?)"
    if f.op == "has":
        check = f"ifnull({json_type}, 'null') <> 'null'"
        params.append(f.path)
    elif f.op == "is":
        texts = [f"{value} = ? COLLATE NOCASE" for _ in f.values]
        texts += [f"substr({value}, 1, ?) = ? COLLATE NOCASE" for _ in f.prefixes]
        numbers = [n for n in (number(v) for v in f.values) if n is not None]
        in_numbers = f"{value} IN ({','.join('?' * len(numbers))})" if numbers else "0"
        words = {v.lower() for v in f.values}
        check = (
            f"CASE {json_type} WHEN 'text' THEN {' OR '.join(texts) or '0'} "
            f"WHEN 'integer' THEN {in_numbers} WHEN 'real' THEN {in_numbers} "
            f"WHEN 'true' THEN {int('true' in words)} WHEN 'false' THEN {int('false' in words)} "
            "ELSE 0 END"
        )
        params.append(f.path)
        for v in f.values:
            params += [f.path, v]
        for prefix in f.prefixes:
            params += [f.path, len(prefix), prefix]
        if numbers:
            params += [f.path, *numbers, f.path, *numbers]
    else:  # a comparison: numbers only
        check = f"CASE WHEN {json_type} IN ('integer', 'real') THEN {value} {f.op} ? ELSE 0 END"
        params += [f.path, f.path, f.number]
    sql = (
        f"CASE WHEN {test} THEN CASE WHEN json_valid(s.context) THEN {check} ELSE 0 END ELSE 0 END"
    )
    return (f"NOT {sql}" if f.negated else sql), params


def _text_only(f: ContextFilter) -> bool:
    """True when each value can only match a string that ``json.dumps`` writes as it is:
    then one of them must be in the raw text. A number (``1e2`` matches ``100``) or
    text with ``"``, ``\\`` or non-ASCII (which ``json.dumps`` escapes) cannot be tested so."""
    values = (*f.values, *f.prefixes)
    return all(
        v.isascii() and v.isprintable() and '"' not in v and "\\" not in v and number(v) is None
        for v in values
    )


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
    ``QueryError`` for a query the index refuses (never a raw SQLite error)."""
    if typing:
        query = as_typing(query)
    where, params = session_where(query, meta_text=True, include_deleted=include_deleted)
    if query.streams is not None:
        cw, cp = chunk_where(replace(query, since=None, until=None))
        where += f" AND EXISTS (SELECT 1 FROM output_chunks c WHERE c.session_id = s.id AND {cw})"
        params += cp
    order_sql = ORDERS[order]
    if query.context and limit is None:
        # Every row is read anyway: a scan then a sort of the matches beats walking the
        # created_at index with one table lookup per row (measured: 100 000 sessions,
        # bench/cases/context_filters.py). With a limit the walk stops early.
        order_sql = order_sql.replace("s.created_at", "+s.created_at")
    sql = f"SELECT s.id FROM sessions s WHERE {where} ORDER BY {order_sql}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(max(0, limit))
    rows = await guarded(store, query, sql, params)
    return [r[0] for r in rows]


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
