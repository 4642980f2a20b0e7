"""Find the next (or previous) line of a session whose plain text holds some words:
``store.output.find_line``, what the output view's ``n``/``N`` call.

It walks the session's stored chunks forward or backward from a line, in SQL, so every
line of the session is reached, not only the ones a view has loaded. SQLite filters the
chunks (a cheap ``instr`` over the raw bytes of chunks stored as written; a compressed
chunk, ``plain_size`` set, is always a candidate, as its stored bytes are a zstd frame);
Python confirms each candidate line on its plain text (escape sequences removed), which
is what a view highlights. The
matching rule (substrings, smart case) is ``storage.query.find.Finder``'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from storage.models import CHUNK_COLUMNS, Line, OutputChunk, chunk_from_row, chunk_lines
from storage.query.find import Finder

if TYPE_CHECKING:
    from storage.engine.store import Store


def _chunk_filter(finder: Finder) -> tuple[str, list[Any]]:
    """A WHERE clause that keeps every chunk that may hold a match: a compressed one
    (SQLite cannot look into a zstd frame), one whose raw bytes contain a word, or one
    that holds an escape sequence (a colour code can sit inside a word). Case folding in
    SQLite is ASCII-only; see ``find_line``."""
    if finder.case_sensitive:
        parts = ["instr(data, ?) > 0"] * len(finder.terms)
        params: list[Any] = [t.encode() for t in finder.terms]
    else:
        parts = ["instr(lower(data), ?) > 0"] * len(finder.terms)
        params = [t.lower() for t in finder.terms]
    parts.append("instr(data, x'1b') > 0")
    parts.append("plain_size IS NOT NULL")
    return "(" + " OR ".join(parts) + ")", params


async def find_line(
    store: Store,
    session_id: int,
    finder: Finder,
    start: int,
    *,
    forward: bool = True,
    batch: int = 32,
) -> int | None:
    """The number of the first line at or after ``start`` (``forward``), or at or before
    it (backward), whose plain text matches ``finder``; ``None`` when there is none.

    Known limit: without a capital in the words, case is ignored for ASCII letters only
    when SQLite picks the candidate chunks, so "école" does not find "ÉCOLE".
    """
    where, params = _chunk_filter(finder)
    start = max(start, 0)
    if forward:
        # Begin at the chunk that holds ``start``: it may begin a few lines earlier.
        anchor = await store.scalar(
            "SELECT max(first_line) FROM output_chunks WHERE session_id = ? AND first_line <= ?",
            (session_id, start),
        )
        bound, op, order = (anchor if anchor is not None else 0), ">=", "ASC"
    else:
        bound, op, order = start, "<=", "DESC"
    while True:
        rows = await store.fetchall(
            f"SELECT {CHUNK_COLUMNS} FROM output_chunks WHERE session_id = ? AND "
            f"first_line {op} ? AND {where} ORDER BY first_line {order} LIMIT {int(batch)}",
            [session_id, bound, *params],
        )
        chunks = [chunk_from_row(r) for r in rows]
        for chunk in chunks:
            found = _first_match(chunk, finder, start, forward)
            if found is not None:
                return found
        if len(chunks) < batch:
            return None
        bound = chunks[-1].first_line
        op = ">" if forward else "<"


def _first_match(chunk: OutputChunk, finder: Finder, start: int, forward: bool) -> int | None:
    lines: Iterable[Line] = chunk_lines(chunk)
    if not forward:
        lines = reversed(list(lines))
    for line in lines:
        if (forward and line.number < start) or (not forward and line.number > start):
            continue
        if finder.matches(line.plain):
            return line.number
    return None
