"""Search what a person saw in terminal sessions: the rendered transcript.

A pty session's raw stdout is cursor moves and redraws: ``Welcome to Claude`` is stored
as ``Welcome\\e[1Cto\\e[1CClaude``, a progress bar as a thousand versions of one line. So
a pty session's stdout is not indexed at all (schema v15: its chunks are marked
``IN_SCREEN``, storage/engine/output_index.py); search reads its rendered transcript
(rows that scrolled off the main screen, and the screen each run ended on; stored by its
supervisor, or built afterwards by runner/screen/render.py). Pty sessions recorded
before v15 (``pty_raw_index``) keep their raw entries until their transcript is built:
until then they are searched raw where it does not reach (``RAW_SHADOWED``), as pipe
sessions are.

A rendered hit is a ``SearchHit`` with stream ``screen``; its ``line`` is the last
output line before its row scrolled off (``tether screen ID --at LINE``, LINE as shown,
then shows it on the screen, at the top), ``chunk_id`` the id of its ``rendered_chunks`` row,
``row`` its row of the transcript. (A row of the screen a run ended on did not scroll off:
its ``line`` is only near; ``screens.final_snapshot_after`` finds that screen.)
Pages of a search hold both kinds, merged newest first (``merged_hits``; a page
cursor ``x:OUTPUT|RENDERED`` says where each stands). The index has no positions
(detail=none, as ``output_words``), so phrases are asked as their words and checked in
the rows, and ``--rank`` of rendered hits is newest first.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage.engine.compress import text_bytes
from storage.engine.output_index import fts_words
from storage.engine.search.filters import session_where
from storage.engine.search.lines import ChunkScanner, LineMatch
from storage.models import SearchHit
from storage.query import Query

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from storage.engine.search.hits import OutputSearch
    from storage.engine.store import Store

STREAM = "screen"  # the stream shown for a rendered hit
# Raw stdout searched through the rendered transcript instead (a condition on an
# ``output_chunks c``): a pty session's stdout, unless it is still indexed raw (recorded
# before v15) where the transcript does not reach yet (not complete, and a chunk not
# wholly before the line it is built to: rows of a chunk it half covers may then be
# found twice, never missed). Stdout not indexed yet is a pty session's when its session
# says so (looked up for those chunks only: a scan of every session would cost each
# search).
RAW_SHADOWED = (
    "NOT (c.stream = 'stdout' AND (c.indexed = 3 "
    "OR (c.indexed = 0 AND EXISTS (SELECT 1 FROM sessions p "
    "WHERE p.id = c.session_id AND p.mode = 'pty')) "
    "OR EXISTS (SELECT 1 FROM screen_renders r WHERE r.session_id = c.session_id "
    "AND (r.complete OR c.first_line + c.line_count <= r.line))))"
)
_BATCHES = (8, 32, 128)


class RenderedSearch:
    """One query's search of the rendered transcripts. (Agent transcripts are searched
    the same way, from their own tables: ``storage.engine.search.transcripts``.)"""

    WORDS = "rendered_words"  # the index
    CHUNKS = "rendered_chunks"  # its rows: id, session_id, at, text (compressed: v16)
    COLUMNS = (  # for _hits
        "c.id, c.session_id, c.line, c.row_count, c.at, c.text, c.first_row, c.plain_size"
    )
    TEXT = "c.text, c.plain_size"  # a row's text as stored, for ``text_bytes``

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
        cid, sid, line, count, at, text, first, size = tuple(row)
        found: list[LineMatch] = self.scanner.scan(text_bytes(text, size), False)
        # The last moment the row was on the screen: the line before the one that
        # scrolled it off, taking the chunk's rows to have scrolled a line apart
        # (storage.engine.screens: ``line`` is the first line not fed when its last row
        # went). So the screen once that line is written (``tether screen --at``, which
        # takes the hit's line as shown, 1-based: lines up to it fed) shows the row.
        # ``row`` is its place in the transcript (the TUI scrolls the transcript there).
        return [
            SearchHit(
                sid, max(0, line - (count - m.index) - 1), STREAM, at, m.text, m.spans, cid,
                first + m.index,
            )
            for m in found
        ]  # fmt: skip

    async def newest(
        self, limit: int, cursor: tuple[int, int] | None
    ) -> tuple[list[SearchHit], str | None]:
        """Up to ``limit`` hits, newest first, after ``cursor`` (chunk id, row taken)."""
        if self.match is None:
            return [], None
        before = cursor[0] + 1 if cursor else 2**62
        sql = (
            f"SELECT {self.COLUMNS} FROM {self.WORDS} f CROSS JOIN {self.CHUNKS} c "
            f"ON c.id = f.rowid WHERE {self.WORDS} MATCH ? "
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
            f"SELECT c.session_id, {self.TEXT} FROM {self.WORDS} f CROSS JOIN {self.CHUNKS} c "
            f"ON c.id = f.rowid WHERE {self.WORDS} MATCH ? AND c.session_id IN ({marks}) "
            f"AND {self.filters}",
            [self.match, *session_ids, *self.params],
        )
        out: dict[int, int] = {}
        for sid, text, size in rows:
            out[sid] = out.get(sid, 0) + self.scanner.count(text_bytes(text, size), False)
        return out


def _cursor(text: str) -> tuple[int, ...] | None:
    if not text:
        return None
    tag, *numbers = text.split(":")
    return tuple(int(n) for n in numbers)


async def merged_hits(
    output: OutputSearch,
    others: Sequence[RenderedSearch],
    limit: int,
    page: str | None,
    *,
    ranked: bool,
) -> tuple[list[SearchHit], str | None]:
    """A page of output hits and the hits of ``others`` (rendered transcripts, agent
    transcripts) together, newest first (ranked output hits keep their order, the
    others follow newest first). The page cursor says where each source stands:
    ``x:OUTPUT|RENDERED|...``."""
    from storage.engine.search.hits import newest_hits, ranked_hits

    n = 1 + len(others)
    cursors = [""] * n
    if page:
        parts = page[2:].split("|")
        if not page.startswith("x:") or len(parts) < 2 or len(parts) > n:
            raise ValueError(f"bad page cursor {page!r} (it comes from a previous search)")
        cursors[: len(parts)] = parts
    fetch_output = ranked_hits if ranked else newest_hits

    async def fetch(i: int, k: int, cursor: str) -> tuple[list[SearchHit], str | None]:
        if i == 0:
            return await fetch_output(output, k, _cursor(cursor))
        return await others[i - 1].newest(k, _cursor(cursor))

    found = [([], None) if c == "-" else await fetch(i, limit, c) for i, c in enumerate(cursors)]
    # A merge that takes a prefix of each (so each source's cursor can follow it); on a
    # tie the output first, and ranked output always first.
    taken = [0] * n
    while sum(taken) < limit:
        best: int | None = None
        for i, (hits, _next) in enumerate(found):
            if taken[i] == len(hits):
                continue
            if best is None or (
                not (ranked and best == 0) and hits[taken[i]].at > found[best][0][taken[best]].at
            ):
                best = i
        if best is None:
            break
        taken[best] += 1
    chosen = [h for (hits, _next), k in zip(found, taken, strict=True) for h in hits[:k]]
    merged = sorted(chosen, key=lambda h: 0 if ranked else -h.at)
    # Where each source stands after what this page took of it.
    at: list[str] = []
    for i, cursor in enumerate(cursors):
        hits, following = found[i]
        if cursor == "-":
            at.append("-")
        elif taken[i] == len(hits):
            at.append(following or "-")
        elif taken[i]:
            now = (await fetch(i, taken[i], cursor))[1]
            assert now is not None
            at.append(now)
        else:
            at.append(cursor)
    if all(a == "-" for a in at):
        return merged, None
    kind = "r" if ranked else "n"
    return merged, "x:" + "|".join([at[0] or kind, *(a or "n" for a in at[1:])])
