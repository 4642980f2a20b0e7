"""Basic full-text search over output and session metadata.

This is the index-level search the query language (``storage.query``) builds on:
``search`` takes plain words, all of which must appear on one line.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .models import SearchHit
from .output import _CHUNK_COLUMNS, _chunk, chunk_lines

if TYPE_CHECKING:
    from .store import Store

_TOKEN = re.compile(r"\w+", re.UNICODE)


def _fts_words(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


def _line_spans(plain: str, words: list[str]) -> list[tuple[int, int]]:
    low = plain.lower()
    spans = []
    for w in words:
        found = [m.span() for m in re.finditer(re.escape(w), low)]
        if not found:
            return []
        spans += found
    return sorted(spans)


async def search_output(
    store: Store,
    text: str,
    *,
    limit: int = 50,
    session_id: int | None = None,
    include_deleted: bool = False,
) -> list[SearchHit]:
    """Lines containing every word of ``text``, newest first."""
    words = _fts_words(text)
    if not words:
        return []
    match = " AND ".join('"' + w.replace('"', '""') + '"' for w in words)
    hits: list[SearchHit] = []
    before = None
    while len(hits) < limit:
        extra, params = "", [match]
        if before is not None:
            extra += " AND f.rowid < ?"
            params.append(before)
        rows = await store.fetchall(
            f"SELECT f.rowid FROM output_fts f WHERE output_fts MATCH ?{extra} "
            f"ORDER BY f.rowid DESC LIMIT 200",
            params,
        )
        if not rows:
            break
        ids = [r[0] for r in rows]
        before = ids[-1]
        cond = "" if include_deleted else " AND s.deleted_at IS NULL"
        if session_id is not None:
            cond += f" AND c.session_id = {int(session_id)}"
        chunks = await store.fetchall(
            f"SELECT {', '.join('c.' + c.strip() for c in _CHUNK_COLUMNS.split(','))} "
            f"FROM output_chunks c JOIN sessions s ON s.id = c.session_id "
            f"WHERE c.id IN ({','.join('?' * len(ids))}){cond} ORDER BY c.id DESC",
            ids,
        )
        for row in chunks:
            chunk = _chunk(row)
            for line in reversed(chunk_lines(chunk)):
                plain = line.plain
                spans = _line_spans(plain, words)
                if spans:
                    hits.append(
                        SearchHit(
                            chunk.session_id,
                            line.number,
                            line.stream,
                            line.at,
                            plain,
                            tuple(spans),
                            chunk.id,
                        )
                    )
                    if len(hits) >= limit:
                        return hits
    return hits


async def search_sessions(store: Store, text: str, *, limit: int = 50) -> list[int]:
    """Ids of sessions whose name, command, cwd, tags or notes hold every word."""
    words = _fts_words(text)
    if not words:
        return []
    match = " AND ".join('"' + w.replace('"', '""') + '"' for w in words)
    rows = await store.fetchall(
        "SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH ? ORDER BY rowid DESC LIMIT ?",
        (match, limit),
    )
    return [r[0] for r in rows]
