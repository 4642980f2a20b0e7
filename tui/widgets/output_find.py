"""Find in a session's output: which words to look for, and where the next match is.

``Finder`` holds the words and the smart-case rule (all lowercase: ignore case; any
capital: match case exactly, like ripgrep's ``--smart-case``). ``find_line`` walks the
session's stored chunks forward or backward from a line, in SQL, so ``n``/``N`` reach
every line of the session, not only the ones the view has loaded. SQLite filters the
chunks (a cheap ``instr`` over the raw bytes), Python confirms each candidate line on its
plain text (escape sequences removed), which is what the view highlights.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage.engine.output import chunk_lines
from storage.models import OutputChunk

if TYPE_CHECKING:
    from storage import Store

_COLUMNS = "id, session_id, run, stream, first_line, line_count, open_end, first_at, last_at, data"


@dataclass(frozen=True)
class Finder:
    """What to look for: one or more words (or phrases), smart case."""

    terms: tuple[str, ...]

    @classmethod
    def of(cls, words: str | Sequence[str] | None) -> Finder | None:
        """A finder for ``words`` (a string is one phrase), or ``None`` when empty."""
        if words is None:
            return None
        items = [words] if isinstance(words, str) else list(words)
        terms = tuple(dict.fromkeys(t for t in (w.strip() for w in items) if t))
        return cls(terms) if terms else None

    @property
    def case_sensitive(self) -> bool:
        return any(t != t.lower() for t in self.terms)

    @property
    def pattern(self) -> re.Pattern[str]:
        flags = 0 if self.case_sensitive else re.IGNORECASE
        # Longest first, so "error" wins over "err" where both match.
        alts = sorted(self.terms, key=len, reverse=True)
        return re.compile("|".join(re.escape(t) for t in alts), flags)

    def spans(self, plain: str) -> list[tuple[int, int]]:
        """Where the words occur in ``plain``, as (start, end) offsets."""
        return [m.span() for m in self.pattern.finditer(plain) if m.end() > m.start()]

    def matches(self, plain: str) -> bool:
        return self.pattern.search(plain) is not None

    def sql_filter(self) -> tuple[str, list[object]]:
        """A WHERE clause that keeps every chunk that may hold a match: one whose raw bytes
        contain a word, or that holds an escape sequence (a colour code can sit inside a
        word). Case folding in SQLite is ASCII-only; see ``find_line``."""
        if self.case_sensitive:
            parts = ["instr(data, ?) > 0"] * len(self.terms)
            params: list[object] = [t.encode() for t in self.terms]
        else:
            parts = ["instr(lower(data), ?) > 0"] * len(self.terms)
            params = [t.lower() for t in self.terms]
        parts.append("instr(data, x'1b') > 0")
        return "(" + " OR ".join(parts) + ")", params


def _chunk(row: Sequence[object]) -> OutputChunk:
    cid, sid, run, stream, first, count, open_end, first_at, last_at, data = row
    return OutputChunk(
        cid,  # type: ignore[arg-type]
        sid,  # type: ignore[arg-type]
        run,  # type: ignore[arg-type]
        stream,  # type: ignore[arg-type]
        first,  # type: ignore[arg-type]
        count,  # type: ignore[arg-type]
        bool(open_end),
        first_at,  # type: ignore[arg-type]
        last_at,  # type: ignore[arg-type]
        bytes(data),  # type: ignore[arg-type]
    )


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
    where, params = finder.sql_filter()
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
            f"SELECT {_COLUMNS} FROM output_chunks WHERE session_id = ? AND first_line {op} ? "
            f"AND {where} ORDER BY first_line {order} LIMIT {int(batch)}",
            [session_id, bound, *params],
        )
        for row in rows:
            found = _first_match(_chunk(row), finder, start, forward)
            if found is not None:
                return found
        if len(rows) < batch:
            return None
        bound = rows[-1][4]
        op = ">" if forward else "<"


def _first_match(chunk: OutputChunk, finder: Finder, start: int, forward: bool) -> int | None:
    lines: Iterable = chunk_lines(chunk)
    if not forward:
        lines = reversed(list(lines))
    for line in lines:
        if (forward and line.number < start) or (not forward and line.number > start):
            continue
        if finder.matches(line.plain):
            return line.number
    return None
