"""The full-text search engine over output and session metadata: one engine, two ways
in.

- The query language (``storage.query.parse``): ``search`` pages hits grouped by
  session, ``count_hits`` counts them later, ``filter_session_ids`` is the session
  list's ``/`` filter (metadata only).
- Plain words: ``search_output`` (what ``store.search`` calls) and ``search_sessions``
  (the command palette's metadata search) turn the words into a ``Query`` for the same
  engine.

Modules: ``core`` (the results page: hits grouped by session, metadata matches),
``hits`` (the output's candidate chunks and their hits: paging, ranking, counts),
``filters`` (a query's filters as SQL), ``lines`` (the matching lines inside a chunk),
``words`` (plain words), ``rendered`` (pty sessions' rendered transcripts, and the merge
of every source into one page), ``transcripts`` (agent conversations).
Names are loaded lazily (PEP 562), so importing this package runs no engine code.
"""

from __future__ import annotations

_EXPORTS = {
    "search": "core",
    "count_hits": "core",
    "SearchResults": "core",
    "SessionHits": "core",
    "MetaMatch": "core",
    "RANK_CANDIDATES": "hits",
    "filter_session_ids": "filters",
    "list_sessions": "filters",
    "as_typing": "filters",
    "search_output": "words",
    "search_sessions": "words",
    "words_query": "words",
}

__all__ = sorted(_EXPORTS)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from storage.engine.search.core import (  # noqa: F401
        MetaMatch,
        SearchResults,
        SessionHits,
        count_hits,
        search,
    )
    from storage.engine.search.filters import (  # noqa: F401
        as_typing,
        filter_session_ids,
        list_sessions,
    )
    from storage.engine.search.hits import RANK_CANDIDATES  # noqa: F401
    from storage.engine.search.words import (  # noqa: F401
        search_output,
        search_sessions,
        words_query,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'storage.engine.search' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
