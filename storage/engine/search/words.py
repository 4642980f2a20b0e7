"""Search by plain words, through the one search engine: ``store.search`` (lines of
output) and ``search_sessions`` (session metadata, the command palette's search).

The text is not the query language: every word (a run of letters, digits or ``_``)
must be there, and nothing else in the text means anything (``status:x`` is the words
``status`` and ``x``; ``-`` excludes nothing). The words become a ``Query`` of those
terms, which the engine (``storage.engine.search.core``) runs like any other.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from storage.engine.search.core import search
from storage.engine.search.filters import guarded
from storage.models import SearchHit
from storage.query import Query, Word
from storage.query.match import fts_match

if TYPE_CHECKING:
    from storage.engine.store import Store

_WORD = re.compile(r"\w+", re.UNICODE)


def words_query(text: str, *, scope: str = "all") -> Query:
    """The query "every word of ``text``" (a word with punctuation inside, ``test_y``,
    is its tokens in a row, as the parser reads ``foo-bar``)."""
    words = tuple(Word(w) for w in _WORD.findall(text) if Word(w).tokens)
    return Query(text=text, terms=words, scope=scope)  # type: ignore[arg-type]


async def search_output(
    store: Store,
    text: str,
    *,
    limit: int = 50,
    session_id: int | None = None,
    include_deleted: bool = False,
) -> list[SearchHit]:
    """Lines holding every word of ``text``, newest first (at most ``limit``); of one
    session with ``session_id``; trashed sessions too with ``include_deleted``. Only
    indexed output is searched (``store.output.index_pending`` indexes the rest)."""
    query = words_query(text, scope="output")
    if not query.has_text:
        return []
    results = await search(
        store,
        query,
        limit=limit,
        counts=False,
        session_id=session_id,
        include_deleted=include_deleted,
        unindexed=False,
    )
    return list(results.hits)


async def search_sessions(store: Store, text: str, *, limit: int = 50) -> list[int]:
    """Ids of sessions (trashed ones too) whose name, command, cwd, tags or notes hold
    every word of ``text``, newest first."""
    query = words_query(text)
    match = fts_match(query)
    if match is None:
        return []
    rows = await guarded(
        store,
        query,
        "SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH ? ORDER BY rowid DESC LIMIT ?",
        (match, limit),
    )
    return [r[0] for r in rows]
