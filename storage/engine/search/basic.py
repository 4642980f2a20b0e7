"""Basic full-text search over output and session metadata.

This is the index-level search the query language (``storage.query``) builds on:
``search`` takes plain words, all of which must appear on one line.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from storage.engine.output import _CHUNK_COLUMNS, _chunk, chunk_lines
from storage.models import Line, OutputChunk, SearchHit

if TYPE_CHECKING:
    from storage.engine.store import Store

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
    step = 16  # candidate chunks per round: few for the newest hits, more when scarce
    cond = "" if include_deleted else " AND s.deleted_at IS NULL"
    if session_id is not None:
        cond += f" AND c.session_id = {int(session_id)}"
    cols = ", ".join("c." + c.strip() for c in _CHUNK_COLUMNS.split(","))
    while len(hits) < limit:
        extra, params = "", [match]
        if before is not None:
            extra += " AND rowid < ?"
            params.append(before)
        # (No alias on the FTS table: with one, SQLite may not hand the rowid order
        # to FTS5 and would sort every match.)
        rows = await store.fetchall(
            f"SELECT rowid FROM output_fts WHERE output_fts MATCH ?{extra} "
            f"ORDER BY rowid DESC LIMIT {step}",
            params,
        )
        if not rows:
            break
        ids = [r[0] for r in rows]
        before = ids[-1]
        step = min(step * 4, 256)
        chunks = await store.fetchall(
            f"SELECT {cols} FROM output_chunks c JOIN sessions s ON s.id = c.session_id "
            f"WHERE c.id IN ({','.join('?' * len(ids))}){cond} ORDER BY c.id DESC",
            ids,
        )
        for row in chunks:
            chunk = _chunk(row)
            for line in reversed(_candidate_lines(chunk, words)):
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


# Bytes that ``plain`` would remove or that would change how a line shows (controls,
# escapes, carriage returns); tab and newline are kept. Colour (SGR) is taken out first.
_UNPLAIN = bytes([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])
_SGR = re.compile(rb"\x1b\[[0-9;]*m")


def _candidate_lines(chunk: OutputChunk, words: list[str]) -> list[Line]:
    """The lines of ``chunk`` that may hold every word. For ASCII output whose only
    escapes are colours (most logs) the plain text of a line is its bytes without
    those, so lines lacking a word are skipped on bytes, exactly (and only the lines
    kept are made into ``Line`` objects). Otherwise, every line goes on."""
    data = chunk.data
    if b"\x1b" in data:
        data = _SGR.sub(b"", data)
    if not data.isascii() or len(data.translate(None, _UNPLAIN)) != len(data):
        return chunk_lines(chunk)
    low = data.lower()
    needles = [w.encode("utf-8") for w in words]
    if not all(n in low for n in needles):
        return []
    rarest = needles[0] if len(needles) == 1 else min(needles, key=low.count)
    raw_lines: list[bytes] = []
    last = low.count(b"\n") - (0 if chunk.open_end else 1)  # the index of the last line
    out: list[Line] = []
    pos = low.find(rarest)
    while pos >= 0:
        start = low.rfind(b"\n", 0, pos) + 1
        end = low.find(b"\n", pos)
        end = len(low) if end < 0 else end
        if all(n in low[start:end] for n in needles):
            i = low.count(b"\n", 0, start)
            if i <= last:
                raw_lines = raw_lines or chunk.data.split(b"\n")
                out.append(
                    Line(
                        chunk.session_id,
                        chunk.first_line + i,
                        chunk.stream,
                        chunk.first_at,
                        chunk.run,
                        raw_lines[i],
                        not (chunk.open_end and i == last),
                    )
                )
        pos = low.find(rarest, end + 1)
    return out


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
