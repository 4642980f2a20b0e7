"""Find in one session's output (the output view's ``/``, ``n`` and ``N``): words or
phrases matched as plain substrings of a line's plain text, with smart case.

All lowercase: case is ignored; any capital: case must match exactly, like ripgrep's
``--smart-case``. Pure Python; ``store.output.find_line`` walks the stored chunks with it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


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
