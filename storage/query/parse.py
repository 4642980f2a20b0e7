"""The search query language, shared by the TUI and ``tether search``.

    error timeout              both words (AND is implicit; an explicit AND is allowed)
    "connection refused"       an exact phrase          build*      a prefix
    -debug  -"dry run"         exclusions (NOT also)    a OR b      either (binds tighter
    (a b) OR c                 groups                               than AND)
    status:failed,lost  tag:ml  name:"my build"  cmd:pytest  cwd:~/src  exit:1  exit:!0
    stream:stderr  since:2h  since:2026-11-01  until:2026-11-01T10:00  is:pinned
    is:running  is:trashed  in:output  in:meta  -status:failed  -tag:x  -is:pinned

Text is matched the way the FTS5 ``unicode61 remove_diacritics 2`` tokenizer sees it:
tokens are runs of letters and digits, compared case- and accent-insensitively, so
``foo-bar`` means the phrase "foo bar". ``parse`` never raises anything but
``QueryError``, which carries the position of the offending part of the query.

``fts_match`` and ``line_matcher`` (in ``storage.query.match``) turn
the text terms into an FTS5 MATCH expression and a per-line highlighter.
"""

from __future__ import annotations

import difflib
import os
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from storage.models import STATUSES, STREAMS
from storage.query.time import TimeValueError, parse_time
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


@dataclass(frozen=True)
class Query:
    """A parsed query. ``None`` for a filter means "not constrained".

    ``statuses``/``streams``/``exit_codes``: any of these. ``tags``: every group must
    match one of its tags (``tag:a,b tag:c`` is (a or b) and c). ``name``/``cmd``:
    case-insensitive substrings; ``cwd``: a path prefix, ``~`` expanded. ``since``/``until``:
    unix times. ``trashed``: search the trash instead of live sessions.
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
    trashed: bool = False
    scope: Scope = "all"

    @property
    def has_text(self) -> bool:
        return bool(self.terms)


# -- lexing ------------------------------------------------------------------------------

FILTERS = ("status", "tag", "name", "cmd", "cwd", "exit", "stream", "since", "until", "is", "in")
_NEGATABLE = ("status", "tag", "stream", "exit", "is")
_SINGLE = ("name", "cmd", "cwd", "since", "until", "in")
_IS_VALUES = ("pinned", "trashed", *STATUSES)
_SCOPES = ("all", "output", "meta")
_EXAMPLE = {
    "status": "status:failed",
    "tag": "tag:ml",
    "name": 'name:"my build"',
    "cmd": "cmd:pytest",
    "cwd": "cwd:~/src",
    "exit": "exit:1 or exit:!0",
    "stream": "stream:stderr",
    "since": "since:2h or since:2026-11-01",
    "until": "until:1d or until:2026-11-01",
    "is": "is:pinned or is:running",
    "in": "in:output or in:meta",
}
_KEY = re.compile(r"([A-Za-z_]+):")
_MAX_DEPTH = 16


@dataclass(frozen=True)
class _Tok:
    kind: str  # word phrase filter ( ) - OR AND NOT
    pos: int
    end: int
    value: str = ""
    prefix: bool = False
    key: str = ""
    vpos: int = 0  # where the filter value starts
    neg: bool = False


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n, depth = 0, len(text), 0
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            depth = depth + 1 if c == "(" else max(0, depth - 1)
            toks.append(_Tok(c, i, i + 1))
            i += 1
        elif c == "-" and (i + 1 == n or text[i + 1].isspace() or text[i + 1] == ")"):
            raise QueryError("'-' must be followed directly by what to exclude", i, 1, text)
        elif c == "-" and text[i + 1] != "-":  # `--flag` is a word, not a double negation
            toks.append(_Tok("-", i, i + 1))
            i += 1
        elif c == '"':
            close = _closing_quote(text, i)
            end = close + 1
            while end < n and text[end] == "*":
                end += 1
            toks.append(_Tok("phrase", i, end, text[i + 1 : close], end > close + 1))
            i = end
        else:
            j = i
            while j < n and not text[j].isspace() and not (depth and text[j] == ")"):
                j += 1
            key = _KEY.match(text, i, j)
            if key:
                vpos = key.end()
                if vpos < n and text[vpos] == '"':
                    close = _closing_quote(text, vpos)
                    value, j, vpos = text[vpos + 1 : close], close + 1, vpos + 1
                else:
                    value = text[vpos:j]
                toks.append(_Tok("filter", i, j, value, key=key[1].lower(), vpos=vpos))
            elif text[i:j] in ("OR", "AND", "NOT"):
                toks.append(_Tok(text[i:j], i, j))
            else:
                word = text[i:j].rstrip("*")
                toks.append(_Tok("word", i, j, word, len(word) < j - i))
            i = j
    return toks


def _closing_quote(text: str, start: int) -> int:
    close = text.find('"', start + 1)
    if close < 0:
        raise QueryError('unbalanced quotes: this " is never closed', start, 1, text)
    return close


# -- parsing -----------------------------------------------------------------------------

_Item = tuple["Term | _Tok", int, int]  # a term or a filter token, with its span


def parse(text: str, *, now: float | None = None) -> Query:
    """Parse ``text`` into a ``Query``; relative times count back from ``now`` (default: now).

    Raises ``QueryError`` (and nothing else) for any query that is not valid.
    """
    parser = _Parser(text, _lex(text))
    items = parser.sequence(0)
    if parser.peek() is not None:  # only a stray ")" stops the top-level sequence
        stray = parser.peek()
        raise QueryError("')' has no matching '('", stray.pos, 1, text)
    terms: list[Term] = []
    filters: list[_Tok] = []
    for node, _, _ in items:
        if isinstance(node, _Tok):
            filters.append(node)
        else:
            terms.extend(node.terms if isinstance(node, And) else (node,))
    return _apply_filters(
        Query(text=text, terms=tuple(terms)), filters, time.time() if now is None else now
    )


class _Parser:
    def __init__(self, text: str, toks: list[_Tok]) -> None:
        self.text, self.toks, self.i = text, toks, 0

    def peek(self, ahead: int = 0) -> _Tok | None:
        k = self.i + ahead
        return self.toks[k] if k < len(self.toks) else None

    def fail(self, message: str, pos: int, end: int) -> QueryError:
        return QueryError(message, pos, end - pos, self.text)

    def sequence(self, depth: int) -> list[_Item]:
        items: list[_Item] = []
        while (t := self.peek()) is not None and t.kind != ")":
            if t.kind == "AND":
                after = self.peek(1)
                if not items or after is None or after.kind in (")", "AND", "OR"):
                    raise self.fail("AND needs a term on each side", t.pos, t.end)
                self.i += 1
                continue
            items.append(self.either(depth))
        return items

    def either(self, depth: int) -> _Item:
        alts = [self.unary(depth)]
        while (t := self.peek()) is not None and t.kind == "OR":
            self.i += 1
            after = self.peek()
            if after is None or after.kind in (")", "OR", "AND"):
                raise self.fail("OR needs a term on each side", t.pos, t.end)
            alts.append(self.unary(depth))
        if len(alts) == 1:
            return alts[0]
        terms: list[Term] = []
        for node, pos, end in alts:
            if isinstance(node, _Tok):
                raise self.fail("a filter cannot be one side of OR", pos, end)
            if not _positive(node):
                raise self.fail(
                    "each side of OR needs something to find, not only -excluded", pos, end
                )
            terms.extend(node.terms if isinstance(node, Or) else (node,))
        return Or(tuple(terms)), alts[0][1], alts[-1][2]

    def unary(self, depth: int) -> _Item:
        negations, start = 0, self.toks[self.i].pos
        while (t := self.peek()) is not None and t.kind in ("-", "NOT"):
            negations += 1
            self.i += 1
            after = self.peek()
            if after is None or after.kind in (")", "OR", "AND"):
                raise self.fail(f"{t.kind} needs something to exclude after it", t.pos, t.end)
        node, pos, end = self.atom(depth)
        if negations % 2 == 0:
            return node, (start if negations else pos), end
        if isinstance(node, _Tok):
            return replace(node, neg=True), start, end
        if isinstance(node, Not):
            return node.term, start, end
        if not _positive(node):
            raise self.fail("cannot exclude a group that only excludes", start, end)
        return Not(node), start, end

    def atom(self, depth: int) -> _Item:
        t = self.toks[self.i]
        self.i += 1
        if t.kind in ("word", "phrase"):
            node: Term = Word(t.value, t.prefix)
            count = len(node.tokens)
            if count == 0:
                raise self.fail(
                    f"nothing to search for in {self.text[t.pos : t.end]!r}: only letters and "
                    "digits are searchable",
                    t.pos,
                    t.end,
                )
            if t.kind == "phrase" or count > 1:
                node = Phrase(t.value, t.prefix)
            return node, t.pos, t.end
        if t.kind == "filter":
            return t, t.pos, t.end
        if t.kind == ")":
            raise self.fail("')' has no matching '('", t.pos, t.end)
        if t.kind in ("OR", "AND"):
            raise self.fail(f"{t.kind} needs a term on each side", t.pos, t.end)
        if depth >= _MAX_DEPTH:
            raise self.fail(f"too many nested parentheses (at most {_MAX_DEPTH})", t.pos, t.end)
        items = self.sequence(depth + 1)
        close = self.peek()
        if close is None:
            raise self.fail("unclosed '(': add a matching ')'", t.pos, t.end)
        self.i += 1
        if not items:
            raise self.fail("empty parentheses", t.pos, close.end)
        terms: list[Term] = []
        for node, pos, end in items:
            if isinstance(node, _Tok):
                raise self.fail("filters cannot go inside parentheses", pos, end)
            terms.extend(node.terms if isinstance(node, And) else (node,))
        return (terms[0] if len(terms) == 1 else And(tuple(terms))), t.pos, close.end


def _positive(term: Term) -> bool:
    """True if the term can match on its own (FTS5 cannot search for "not x" alone)."""
    if isinstance(term, Not):
        return False
    if isinstance(term, Or):
        return all(_positive(t) for t in term.terms)
    if isinstance(term, And):
        return any(_positive(t) for t in term.terms)
    return True


# -- filters -----------------------------------------------------------------------------


def _apply_filters(query: Query, filters: list[_Tok], now: float) -> Query:
    text = query.text
    changes: dict[str, object] = {}
    seen: set[str] = set()
    wanted: dict[str, set[str]] = {"status": set(), "stream": set()}
    unwanted: dict[str, set[str]] = {"status": set(), "stream": set()}
    exit_codes: set[int] | None = None
    exit_not: set[int] = set()
    tags: list[frozenset[str]] = []
    exclude_tags: set[str] = set()
    times: dict[str, tuple[float, _Tok]] = {}

    def fail(message: str, pos: int, length: int) -> QueryError:
        return QueryError(message, pos, length, text)

    for f in filters:
        key = f.key
        if key not in FILTERS:
            near = difflib.get_close_matches(key, FILTERS, n=1, cutoff=0.6)
            hint = f"did you mean '{near[0]}:'?" if near else "to search for it as text, quote it"
            raise fail(f"unknown filter '{key}:' ({hint})", f.pos, len(key) + 1)
        if not f.value.strip():
            raise fail(f"'{key}:' needs a value, like {_EXAMPLE[key]}", f.pos, f.end - f.pos)
        if f.neg and key not in _NEGATABLE:
            raise fail(f"'{key}:' cannot be excluded with '-'", f.pos, len(key) + 1)
        if key in _SINGLE:
            if key in seen:
                raise fail(f"'{key}:' is given twice; give it once", f.pos, f.end - f.pos)
            seen.add(key)
        value, vpos = f.value, f.vpos
        if key in ("status", "stream"):
            known = STATUSES if key == "status" else STREAMS
            for item, ipos in _items(f, fail):
                (unwanted if f.neg else wanted)[key].add(_choice(item, known, key, ipos, fail))
        elif key == "is":
            word = _choice(value, _IS_VALUES, "'is:' value", vpos, fail)
            if word in STATUSES:
                (unwanted if f.neg else wanted)["status"].add(word)
            else:
                changes[word] = not f.neg
        elif key == "tag":
            names = frozenset(item.strip() for item, _ in _items(f, fail))
            if f.neg:
                exclude_tags |= names
            else:
                tags.append(names)
        elif key == "exit":
            negated = f.neg != value.startswith("!")
            if value.startswith("!"):
                f = replace(f, value=value[1:], vpos=vpos + 1)
            codes = {_exit_code(item, ipos, fail) for item, ipos in _items(f, fail)}
            if negated:
                exit_not |= codes
            else:
                exit_codes = codes if exit_codes is None else exit_codes | codes
        elif key in ("since", "until"):
            try:
                times[key] = parse_time(value, now=now, end_of_day=key == "until"), f
            except TimeValueError as exc:
                raise fail(str(exc), vpos, len(value)) from None
        elif key == "in":
            changes["scope"] = _choice(value, _SCOPES, "'in:' value", vpos, fail)
        elif key == "cwd":
            changes["cwd"] = _expand_home(value)
        else:  # name, cmd
            changes[key] = value
    for key, field_name, known in (
        ("status", "statuses", STATUSES),
        ("stream", "streams", STREAMS),
    ):
        if wanted[key] or unwanted[key]:
            changes[field_name] = frozenset((wanted[key] or set(known)) - unwanted[key])
    if exit_codes is not None:
        changes["exit_codes"] = frozenset(exit_codes)
    if "since" in times and "until" in times and times["since"][0] > times["until"][0]:
        later = max(times["since"][1], times["until"][1], key=lambda t: t.pos)
        raise fail("since: is after until:, so nothing can match", later.pos, later.end - later.pos)
    changes.update((key, moment) for key, (moment, _) in times.items())
    return replace(
        query,
        tags=tuple(tags),
        exclude_tags=frozenset(exclude_tags),
        exit_not=frozenset(exit_not),
        **changes,  # type: ignore[arg-type]
    )


def _items(f: _Tok, fail: Callable[[str, int, int], QueryError]) -> list[tuple[str, int]]:
    """Split a comma list, keeping where each item starts."""
    out, pos = [], f.vpos
    for item in f.value.split(","):
        if not item.strip():
            raise fail(f"empty item in the '{f.key}:' list", pos, max(1, len(item)))
        out.append((item, pos))
        pos += len(item) + 1
    return out


def _choice(
    value: str, known: tuple[str, ...], what: str, pos: int, fail: Callable[..., QueryError]
) -> str:
    word = value.strip().lower()
    if word in known:
        return word
    near = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    hint = f"did you mean '{near[0]}'?" if near else "one of " + ", ".join(known)
    raise fail(f"unknown {what} {value!r} ({hint})", pos, len(value))


def _exit_code(item: str, pos: int, fail: Callable[..., QueryError]) -> int:
    if re.fullmatch(r"\s*[+-]?\d{1,10}\s*", item) and abs(int(item)) < 2**31:
        return int(item)
    raise fail(f"bad exit value {item!r}: use a number, like exit:1 or exit:!0", pos, len(item))


def _expand_home(path: str) -> str:
    try:
        return os.path.expanduser(path)
    except (ValueError, KeyError, OSError):  # e.g. a NUL byte in ~user
        return path
