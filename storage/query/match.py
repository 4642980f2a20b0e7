"""Compiling a query's text terms: to an FTS5 MATCH expression, and to a line matcher.

FTS5 finds candidate rows (output chunks, or session metadata); ``line_matcher`` then
finds the lines inside a chunk that satisfy the terms, and the spans to highlight.
"""

from __future__ import annotations

from collections.abc import Callable

from storage.query import And, Not, Or, Phrase, Query, Term, Word
from storage.query.tokens import tokenize

Span = tuple[int, int]


def fts_match(query: Query, *, exclusions: bool = True) -> str | None:
    """An FTS5 MATCH expression for the query's text terms, or None if there is none.

    None also when the terms only exclude (``-debug``): FTS5 cannot search for "not x"
    alone, so the caller filters those rows itself. ``exclusions=False`` leaves the NOTs
    out, giving a superset of rows: useful when lines are then checked with
    ``line_matcher``, since FTS5 excludes whole rows (chunks), not lines.
    """
    return _fts_all(query.terms, exclusions)


def _fts_all(terms: tuple[Term, ...], exclusions: bool) -> str | None:
    found = [_fts(t, exclusions) for t in terms if not isinstance(t, Not)]
    if not found:
        return None
    expr = "(" + " AND ".join(found) + ")"
    if exclusions:
        for t in terms:
            if isinstance(t, Not):
                expr = f"({expr} NOT {_fts(t.term, exclusions)})"
    return expr


def _fts(term: Term, exclusions: bool) -> str:
    if isinstance(term, Word | Phrase):
        quoted = '"' + term.text.replace('"', '""').replace("\0", " ") + '"'
        return quoted + "*" if term.prefix else quoted
    if isinstance(term, Or):
        return "(" + " OR ".join(_fts(t, exclusions) for t in term.terms) + ")"
    if isinstance(term, And):
        return _fts_all(term.terms, exclusions) or ""  # never empty: groups are positive
    raise AssertionError(f"a NOT outside an AND: {term!r}")  # the parser never builds one


def line_matcher(query: Query) -> Callable[[str], list[Span]] | None:
    """A function giving the spans to highlight in a line that satisfies the text terms.

    It returns ``[]`` for a line that does not match. A line that matches only through
    exclusions (query ``-debug``) gets ``[(0, 0)]``: a match with nothing to highlight.
    Spans are sorted and merged. None when the query has no text terms.
    """
    if not query.terms:
        return None
    root = And(query.terms)

    def match(line: str) -> list[Span]:
        spans = _eval(root, tokenize(line))
        if spans is None:
            return []
        return _merge(spans) if spans else [(0, 0)]

    return match


def _eval(term: Term, toks: list[tuple[str, int, int]]) -> list[Span] | None:
    """Spans matched by ``term`` in the tokens, or None when the term is not satisfied."""
    if isinstance(term, Word | Phrase):
        spans = _find(toks, term.tokens, term.prefix)
        return spans or None
    if isinstance(term, Not):
        return None if _eval(term.term, toks) is not None else []
    if isinstance(term, And):
        out: list[Span] = []
        for t in term.terms:
            found = _eval(t, toks)
            if found is None:
                return None
            out.extend(found)
        return out
    hits = [found for t in term.terms if (found := _eval(t, toks)) is not None]
    return [s for found in hits for s in found] if hits else None


def _find(toks: list[tuple[str, int, int]], want: tuple[str, ...], prefix: bool) -> list[Span]:
    size, last = len(want), want[-1]
    spans = []
    for i in range(len(toks) - size + 1):
        tail = toks[i + size - 1][0]
        if not (tail.startswith(last) if prefix else tail == last):
            continue
        if all(toks[i + k][0] == want[k] for k in range(size - 1)):
            spans.append((toks[i][1], toks[i + size - 1][2]))
    return spans


def _merge(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
