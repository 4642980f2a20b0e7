"""What a query is once parsed: its text terms (``Word``, ``Phrase``, ``Not``, ``Or``,
``And``), the ``Query`` holding them and the filters' values, and ``QueryError`` for text
that is not a query. ``storage.query.parse`` makes these from text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

from storage.query.tokens import tokenize

Scope = Literal["all", "output", "meta"]


class QueryError(ValueError):
    """A query that cannot be parsed. ``position``/``length`` locate the culprit in ``text``."""

    def __init__(self, message: str, position: int, length: int = 1, text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.position = max(0, min(position, len(text)))
        self.length = max(0, min(length, len(text) - self.position))
        self.text = text

    def __str__(self) -> str:
        # Control characters would break the caret line; show them as spaces.
        shown = "".join(
            " " if unicodedata.category(c)[0] == "C" or c in "\u2028\u2029" else c
            for c in self.text
        )
        pad = _width(shown[: self.position])
        carets = max(1, _width(shown[self.position : self.position + self.length]))
        return f"{self.message}\n{shown}\n{' ' * pad}{'^' * carets}"


def _width(text: str) -> int:
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


# -- the text terms ---------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    """One word, as typed (without the trailing ``*`` of a prefix)."""

    text: str
    prefix: bool = False

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(t for t, _, _ in tokenize(self.text))


@dataclass(frozen=True)
class Phrase:
    """Consecutive words: a quoted phrase, or a word with punctuation inside (``foo-bar``)."""

    text: str
    prefix: bool = False

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(t for t, _, _ in tokenize(self.text))


@dataclass(frozen=True)
class Not:
    term: Term


@dataclass(frozen=True)
class Or:
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class And:
    """A parenthesised group; the top level of a query is an implicit AND (``Query.terms``)."""

    terms: tuple[Term, ...]


Term = Word | Phrase | Not | Or | And


# -- filters on the session's context -----------------------------------------------------

ContextOp = Literal["is", "has", ">", ">=", "<", "<="]


@dataclass(frozen=True)
class ContextFilter:
    """One condition on a key of a session's ``context`` JSON (``ctx.model:opus``,
    ``ctx.usage.input_tokens>5``, ``has:ctx.thread``).

    ``keys`` is the path of object members (``("usage", "input_tokens")``), each made of
    letters, digits, ``_`` and ``-``. ``op``:

    - ``is``: the value is one of ``values`` (a string equal to one of them ignoring ASCII
      case, or starting with one of ``prefixes``; a number equal to one that is a number;
      ``true``/``false``). ``null``, objects and arrays never match a value.
    - ``has``: the key is there with a value other than ``null``.
    - ``>``, ``>=``, ``<``, ``<=``: the value is a JSON number and compares so with
      ``number``. Strings never compare, even when they hold digits.

    ``negated`` (``-ctx.model:opus``) keeps the sessions the condition does not match,
    those without the key included.
    """

    keys: tuple[str, ...]
    op: ContextOp
    values: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    number: int | float | None = None
    negated: bool = False

    @property
    def path(self) -> str:
        """The SQLite JSON path of the key (``$."usage"."input_tokens"``)."""
        return "$" + "".join(f'."{k}"' for k in self.keys)

    @property
    def label(self) -> str:
        """The filter as it would be typed (``ctx.tokens>5``, ``-has:ctx.model``)."""
        key = "ctx." + ".".join(self.keys)
        sign = "-" if self.negated else ""
        if self.op == "has":
            return f"{sign}has:{key}"
        if self.op == "is":
            shown = [*self.values, *(p + "*" for p in self.prefixes)]
            return f"{sign}{key}:{','.join(shown)}"
        return f"{sign}{key}{self.op}{self.number}"


@dataclass(frozen=True)
class Query:
    """A parsed query. ``None`` for a filter means "not constrained".

    ``statuses``/``streams``/``exit_codes``: any of these. ``tags``: every group must
    match one of its tags (``tag:a,b tag:c`` is (a or b) and c). ``name``/``cmd``:
    case-insensitive substrings; ``cwd``: a path prefix, ``~`` expanded. ``since``/``until``:
    unix times. ``context``: conditions on the context JSON, all of which must hold.
    ``trashed``: search the trash instead of live sessions.
    """

    text: str = ""
    terms: tuple[Term, ...] = ()
    statuses: frozenset[str] | None = None
    tags: tuple[frozenset[str], ...] = ()
    exclude_tags: frozenset[str] = frozenset()
    name: str | None = None
    cmd: str | None = None
    cwd: str | None = None
    exit_codes: frozenset[int] | None = None
    exit_not: frozenset[int] = frozenset()
    streams: frozenset[str] | None = None
    since: float | None = None
    until: float | None = None
    pinned: bool | None = None
    context: tuple[ContextFilter, ...] = ()
    trashed: bool = False
    scope: Scope = "all"

    @property
    def has_text(self) -> bool:
        return bool(self.terms)
