"""What a query is once parsed: its text terms (``Word``, ``Phrase``, ``Not``, ``Or``,
``And``), the ``Query`` holding them and the filters' values, and ``QueryError`` for text
that is not a query. ``storage.query.parse`` makes these from text.
"""

from __future__ import annotations

import unicodedata

from storage.frozen import Frozen
from storage.query.tokens import tokenize

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Literal

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


class Word(Frozen):
    """One word, as typed (without the trailing ``*`` of a prefix)."""

    __slots__ = ("text", "prefix")

    text: str
    prefix: bool

    def __init__(self, text: str, prefix: bool = False) -> None:
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "prefix", prefix)

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(t for t, _, _ in tokenize(self.text))


class Phrase(Frozen):
    """Consecutive words: a quoted phrase, or a word with punctuation inside (``foo-bar``)."""

    __slots__ = ("text", "prefix")

    text: str
    prefix: bool

    def __init__(self, text: str, prefix: bool = False) -> None:
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "prefix", prefix)

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(t for t, _, _ in tokenize(self.text))


class Not(Frozen):
    __slots__ = ("term",)

    term: Term

    def __init__(self, term: Term) -> None:
        object.__setattr__(self, "term", term)


class Or(Frozen):
    __slots__ = ("terms",)

    terms: tuple[Term, ...]

    def __init__(self, terms: tuple[Term, ...]) -> None:
        object.__setattr__(self, "terms", terms)


class And(Frozen):
    """A parenthesised group; the top level of a query is an implicit AND (``Query.terms``)."""

    __slots__ = ("terms",)

    terms: tuple[Term, ...]

    def __init__(self, terms: tuple[Term, ...]) -> None:
        object.__setattr__(self, "terms", terms)


Term = Word | Phrase | Not | Or | And


# -- filters on the session's context -----------------------------------------------------

if TYPE_CHECKING:
    ContextOp = Literal["is", "has", ">", ">=", "<", "<="]


class ContextFilter(Frozen):
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

    __slots__ = ("keys", "op", "values", "prefixes", "number", "negated")

    keys: tuple[str, ...]
    op: ContextOp
    values: tuple[str, ...]
    prefixes: tuple[str, ...]
    number: int | float | None
    negated: bool

    def __init__(
        self,
        keys: tuple[str, ...],
        op: ContextOp,
        values: tuple[str, ...] = (),
        prefixes: tuple[str, ...] = (),
        number: int | float | None = None,
        negated: bool = False,
    ) -> None:
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "prefixes", prefixes)
        object.__setattr__(self, "number", number)
        object.__setattr__(self, "negated", negated)

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


class Query(Frozen):
    """A parsed query. ``None`` for a filter means "not constrained".

    ``statuses``/``streams``/``exit_codes``: any of these. ``tags``: every group must
    match one of its tags (``tag:a,b tag:c`` is (a or b) and c). ``name``/``cmd``:
    case-insensitive substrings; ``cwd``: a path prefix, ``~`` expanded. ``since``/``until``:
    unix times. ``context``: conditions on the context JSON, all of which must hold.
    ``trashed``: search the trash instead of live sessions.
    """

    __slots__ = (
        "text",
        "terms",
        "statuses",
        "tags",
        "exclude_tags",
        "name",
        "cmd",
        "cwd",
        "exit_codes",
        "exit_not",
        "streams",
        "since",
        "until",
        "pinned",
        "context",
        "trashed",
        "scope",
    )

    text: str
    terms: tuple[Term, ...]
    statuses: frozenset[str] | None
    tags: tuple[frozenset[str], ...]
    exclude_tags: frozenset[str]
    name: str | None
    cmd: str | None
    cwd: str | None
    exit_codes: frozenset[int] | None
    exit_not: frozenset[int]
    streams: frozenset[str] | None
    since: float | None
    until: float | None
    pinned: bool | None
    context: tuple[ContextFilter, ...]
    trashed: bool
    scope: Scope

    def __init__(
        self,
        text: str = "",
        terms: tuple[Term, ...] = (),
        statuses: frozenset[str] | None = None,
        tags: tuple[frozenset[str], ...] = (),
        exclude_tags: frozenset[str] = frozenset(),
        name: str | None = None,
        cmd: str | None = None,
        cwd: str | None = None,
        exit_codes: frozenset[int] | None = None,
        exit_not: frozenset[int] = frozenset(),
        streams: frozenset[str] | None = None,
        since: float | None = None,
        until: float | None = None,
        pinned: bool | None = None,
        context: tuple[ContextFilter, ...] = (),
        trashed: bool = False,
        scope: Scope = "all",
    ) -> None:
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "terms", terms)
        object.__setattr__(self, "statuses", statuses)
        object.__setattr__(self, "tags", tags)
        object.__setattr__(self, "exclude_tags", exclude_tags)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "cmd", cmd)
        object.__setattr__(self, "cwd", cwd)
        object.__setattr__(self, "exit_codes", exit_codes)
        object.__setattr__(self, "exit_not", exit_not)
        object.__setattr__(self, "streams", streams)
        object.__setattr__(self, "since", since)
        object.__setattr__(self, "until", until)
        object.__setattr__(self, "pinned", pinned)
        object.__setattr__(self, "context", context)
        object.__setattr__(self, "trashed", trashed)
        object.__setattr__(self, "scope", scope)

    @property
    def has_text(self) -> bool:
        return bool(self.terms)
