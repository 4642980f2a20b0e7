"""Search what a person saw in terminal sessions: the rendered transcript.

A pty session's raw stdout is cursor moves and redraws: ``Welcome to Claude`` is stored
as ``Welcome\\e[1Cto\\e[1CClaude``, a progress bar as a thousand versions of one line. For
a pty session whose screens are stored (it has a ``screen_renders`` row: its supervisor
stored them, or they were built on first use; storage/engine/screens.py), search reads
its rendered transcript (rows that scrolled off the main screen, and the screen each run
ended on) instead of its stdout. Pty sessions recorded before that, not opened since,
keep their raw hits, as pipe sessions do.

A rendered hit is a ``SearchHit`` with stream ``screen``; its ``line`` is the last
output line before its row scrolled off (``tether screen ID --at LINE`` then shows it
on the screen, at the top), ``chunk_id`` the id of its ``rendered_chunks`` row.
Pages of a search hold both kinds, merged newest first (``merged_hits``; a page
cursor ``x:OUTPUT|RENDERED`` says where each stands). The index has no positions
(detail=none, as ``output_words``), so phrases are asked as their words and checked in
the rows, and ``--rank`` of rendered hits is newest first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage.engine.output_index import fts_words
from storage.engine.search.filters import session_where
from storage.engine.search.lines import ChunkScanner, LineMatch
from storage.models import SearchHit
from storage.query import Query

if TYPE_CHECKING:
    from storage.engine.search.hits import OutputSearch
    from storage.engine.store import Store

STREAM = "screen"  # the stream shown for a rendered hit
# Raw stdout of sessions whose rendered transcript is searched instead.
RAW_SHADOWED = (
    "NOT (c.stream = 'stdout' AND c.session_id IN (SELECT session_id FROM screen_renders))"
)
_BATCHES = (8, 32, 128)


class RenderedSearch:
    """One query's search of the rendered transcripts."""

    def __init__(
        self,
        store: Store,
        query: Query,
        *,
        session_id: int | None = None,
        include_deleted: bool = False,
    ) -> None:
        self.store, self.query = store, query
        self.match = fts_words(query)  # the index has no positions: as output_words
        self.scanner = ChunkScanner(query)
        sw, sp = session_where(query, include_deleted=include_deleted)
        where = [f"c.session_id IN (SELECT s.id FROM sessions s WHERE {sw})"]
        self.params: list[Any] = list(sp)
        if query.streams is not None and "stdout" not in query.streams:
            where.append("0")  # rendered rows are what stdout drew
        if query.since is not None:
            where.append("c.at >= ?")
            self.params.append(query.since)
        if query.until is not None:
            where.append("c.at <= ?")
            self.params.append(query.until)
        if session_id is not None:
            where.append("c.session_id = ?")
            self.params.append(session_id)
        self.filters = " AND ".join(where)

    def _hits(self, row: Any) -> list[SearchHit]:
        cid, sid, line, count, at, text = tuple(row)
        found: list[LineMatch] = self.scanner.scan(text.encode(), False)
        # The last moment the row was on the screen: the line before it scrolled off,
        # taking the chunk's rows to have scrolled a line apart (storage.engine.screens).
        return [
            SearchHit(sid, max(0, line - (count - m.index)), STREAM, at, m.text, m.spans, cid)
            for m in found
        ]

    async def newest(
        self, limit: int, cursor: tuple[int, int] | None
    ) -> tuple[list[SearchHit], str | None]:
        """Up to ``limit`` hits, newest first, after ``cursor`` (chunk id, row taken)."""
        if self.match is None:
            return [], None
        before = cursor[0] + 1 if cursor else 2**62
        sql = (
            "SELECT c.id, c.session_id, c.line, c.row_count, c.at, c.text FROM rendered_words f "
            "CROSS JOIN rendered_chunks c ON c.id = f.rowid WHERE rendered_words MATCH ? "
            f"AND f.rowid < ? AND {self.filters} ORDER BY f.rowid DESC LIMIT ?"
        )
        hits: list[SearchHit] = []
        last = (0, 0)  # the chunk and row of the last hit taken
        step = 0
        while True:
            size = _BATCHES[min(step, len(_BATCHES) - 1)]
            step += 1
            rows = await self.store.fetchall(sql, [self.match, before, *self.params, size])
            for row in rows:
                found = self._hits(row)
                for i in range(len(found) - 1, -1, -1):  # newest row first
                    if cursor and row[0] == cursor[0] and i >= cursor[1]:
                        continue
                    if len(hits) == limit:
                        return hits, f"n:{last[0]}:{last[1]}"
                    hits.append(found[i])
                    last = (row[0], i)
            if len(rows) < size:
                return hits, None
            before = rows[-1][0]

    async def count(self, session_ids: list[int]) -> dict[int, int]:
        """Matching rows per session (the rendered ones)."""
        if not session_ids or self.match is None:
            return {}
        marks = ",".join("?" * len(session_ids))
        rows = await self.store.fetchall(
            "SELECT c.session_id, c.text FROM rendered_words f CROSS JOIN rendered_chunks c "
            f"ON c.id = f.rowid WHERE rendered_words MATCH ? AND c.session_id IN ({marks}) "
            f"AND {self.filters}",
            [self.match, *session_ids, *self.params],
        )
        out: dict[int, int] = {}
        for sid, text in rows:
            out[sid] = out.get(sid, 0) + self.scanner.count(text.encode(), False)
        return out


def _cursor(text: str) -> tuple[int, ...] | None:
    if not text:
        return None
    tag, *numbers = text.split(":")
    return tuple(int(n) for n in numbers)


async def merged_hits(
    output: OutputSearch,
    rendered: RenderedSearch,
    limit: int,
    page: str | None,
    *,
    ranked: bool,
) -> tuple[list[SearchHit], str | None]:
    """A page of output hits and rendered hits together, newest first (ranked output
    hits keep their order, rendered ones follow newest first)."""
    from storage.engine.search.hits import newest_hits, ranked_hits

    a_page, b_page = "", ""
    if page:
        if not page.startswith("x:") or "|" not in page:
            raise ValueError(f"bad page cursor {page!r} (it comes from a previous search)")
        a_page, b_page = page[2:].split("|", 1)
    kind = "r" if ranked else "n"
    fetch = ranked_hits if ranked else newest_hits
    a_done, b_done = a_page == "-", b_page == "-"
    a_hits, a_next = ([], None) if a_done else await fetch(output, limit, _cursor(a_page))
    b_hits, b_next = ([], None) if b_done else await rendered.newest(limit, _cursor(b_page))
    # A merge that takes a prefix of each (so each source's cursor can follow it).
    a_taken = b_taken = 0
    while a_taken + b_taken < limit and (a_taken < len(a_hits) or b_taken < len(b_hits)):
        a_first = b_taken == len(b_hits) or (
            a_taken < len(a_hits) and (ranked or a_hits[a_taken].at >= b_hits[b_taken].at)
        )
        if a_first:
            a_taken += 1
        else:
            b_taken += 1
    merged = sorted([*a_hits[:a_taken], *b_hits[:b_taken]], key=lambda h: 0 if ranked else -h.at)
    # Where each source stands after what this page took of it.
    if a_done:
        a_at = "-"
    elif a_taken == len(a_hits):
        a_at = a_next or "-"
    else:
        a_at = (await fetch(output, a_taken, _cursor(a_page)))[1] if a_taken else a_page
        assert a_at is not None
    if b_done:
        b_at = "-"
    elif b_taken == len(b_hits):
        b_at = b_next or "-"
    else:
        b_at = (await rendered.newest(b_taken, _cursor(b_page)))[1] if b_taken else b_page
        assert b_at is not None
    more = None if (a_at, b_at) == ("-", "-") else f"x:{a_at or kind}|{b_at or 'n'}"
    return merged, more
