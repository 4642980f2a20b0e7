"""The search query language, shared by the TUI and ``tether search``.

    error timeout              both words (AND is implicit; an explicit AND is allowed)
    "connection refused"       an exact phrase          build*      a prefix
    -debug  -"dry run"         exclusions (NOT also)    a OR b      either (binds tighter
    (a b) OR c                 groups                               than AND)
    status:failed,lost  tag:ml  name:"my build"  cmd:pytest  cwd:~/src  exit:1  exit:!0
    stream:stderr  since:2h  since:2026-11-01  until:2026-11-01T10:00  is:pinned
    is:running  is:trashed  in:output  in:meta  -status:failed  -tag:x  -is:pinned
    ctx.model:opus,sonnet  ctx.model:claude*  ctx.tokens>100000  ctx.usage.input_tokens<=5
    has:ctx.thread  -ctx.model:opus  -has:ctx.thread     (the session's context JSON)

Text is matched the way the FTS5 ``unicode61 remove_diacritics 2`` tokenizer sees it:
tokens are runs of letters and digits, compared case- and accent-insensitively, so
``foo-bar`` means the phrase "foo bar". ``parse`` never raises anything but
``QueryError``, which carries the position of the offending part of the query.

This module reads the text (lexing, then the grammar of terms, groups, ``OR`` and
exclusions); what a parsed query is lives in ``storage.query.terms``, and the field
filters (``status:``, ``since:``...) in ``storage.query.filters``.

``fts_match`` and ``line_matcher`` (in ``storage.query.match``) turn
the text terms into an FTS5 MATCH expression and a per-line highlighter.
"""

from __future__ import annotations

import re
import time

from storage.frozen import Frozen, replace
from storage.query.filters import apply_filters
from storage.query.terms import And, Not, Or, Phrase, Query, QueryError, Term, Word

# -- lexing ------------------------------------------------------------------------------

_KEY = re.compile(r"([A-Za-z_]+):")
# A context filter: ``ctx.`` then the key (checked later, for a clear error) up to the
# first operator. Without an operator, ``ctx.model`` is text to search for.
_CTX = re.compile(r"(?i:ctx)\.([^\s:=<>]*)(:|=|>=|<=|>|<)")
_MAX_DEPTH = 16


class Token(Frozen):
    __slots__ = (
        "kind",
        "pos",
        "end",
        "value",
        "prefix",
        "key",
        "vpos",
        "neg",
        "path",
        "op",
        "quoted",
    )

    kind: str  # word phrase filter ( ) - OR AND NOT
    pos: int
    end: int
    value: str
    prefix: bool
    key: str
    vpos: int  # where the filter value starts
    neg: bool
    path: str  # a context filter's key as typed (``usage.input_tokens``)
    op: str  # a context filter's operator: ``:`` ``=`` ``>`` ``>=`` ``<`` ``<=``
    quoted: bool  # the value was in quotes (taken as it is)

    def __init__(
        self,
        kind: str,
        pos: int,
        end: int,
        value: str = "",
        prefix: bool = False,
        key: str = "",
        vpos: int = 0,
        neg: bool = False,
        path: str = "",
        op: str = "",
        quoted: bool = False,
    ) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "pos", pos)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "prefix", prefix)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "vpos", vpos)
        object.__setattr__(self, "neg", neg)
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "quoted", quoted)


def _lex(text: str) -> list[Token]:
    toks: list[Token] = []
    i, n, depth = 0, len(text), 0
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            depth = depth + 1 if c == "(" else max(0, depth - 1)
            toks.append(Token(c, i, i + 1))
            i += 1
        elif c == "-" and (i + 1 == n or text[i + 1].isspace() or text[i + 1] == ")"):
            raise QueryError("'-' must be followed directly by what to exclude", i, 1, text)
        elif c == "-" and text[i + 1] != "-":  # `--flag` is a word, not a double negation
            toks.append(Token("-", i, i + 1))
            i += 1
        elif c == '"':
            close = _closing_quote(text, i)
            end = close + 1
            while end < n and text[end] == "*":
                end += 1
            toks.append(Token("phrase", i, end, text[i + 1 : close], end > close + 1))
            i = end
        else:
            j = i
            while j < n and not text[j].isspace() and not (depth and text[j] == ")"):
                j += 1
            key = _KEY.match(text, i, j)
            ctx = None if key else _CTX.match(text, i, j)
            if key or ctx:
                vpos = (key or ctx).end()
                quoted = vpos < n and text[vpos] == '"'
                if quoted:
                    close = _closing_quote(text, vpos)
                    value, j, vpos = text[vpos + 1 : close], close + 1, vpos + 1
                else:
                    value = text[vpos:j]
                if key:
                    name, path, op = key[1].lower(), "", ""
                else:
                    name, path, op = "ctx", ctx[1], ctx[2]
                toks.append(
                    Token(
                        "filter", i, j, value, key=name, vpos=vpos, path=path, op=op, quoted=quoted
                    )
                )
            elif text[i:j] in ("OR", "AND", "NOT"):
                toks.append(Token(text[i:j], i, j))
            else:
                word = text[i:j].rstrip("*")
                toks.append(Token("word", i, j, word, len(word) < j - i))
            i = j
    return toks


def _closing_quote(text: str, start: int) -> int:
    close = text.find('"', start + 1)
    if close < 0:
        raise QueryError('unbalanced quotes: this " is never closed', start, 1, text)
    return close


# -- parsing -----------------------------------------------------------------------------

_Item = tuple["Term | Token", int, int]  # a term or a filter token, with its span


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
    filters: list[Token] = []
    for node, _, _ in items:
        if isinstance(node, Token):
            filters.append(node)
        else:
            terms.extend(node.terms if isinstance(node, And) else (node,))
    return apply_filters(
        Query(text=text, terms=tuple(terms)), filters, time.time() if now is None else now
    )


class _Parser:
    def __init__(self, text: str, toks: list[Token]) -> None:
        self.text, self.toks, self.i = text, toks, 0

    def peek(self, ahead: int = 0) -> Token | None:
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
            if isinstance(node, Token):
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
        if isinstance(node, Token):
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
            if isinstance(node, Token):
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
