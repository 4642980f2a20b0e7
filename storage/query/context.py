"""Filters on a session's context JSON: ``ctx.KEY:VALUE``, ``ctx.KEY>N`` and ``has:ctx.KEY``.

    ctx.model:opus          the string "opus", ignoring ASCII case (like ``tag:``)
    ctx.model:opus,sonnet   any of them (a quoted value is one value: ctx.title:"a, b")
    ctx.model:claude*       a string starting with "claude" (quoted, * is literal)
    ctx.tokens:100          the number 100 (or 100.0), or the string "100"
    ctx.done:true           JSON true (or the string "true")
    ctx.tokens>100000       a number above 100000 (also >= < <=; ctx.tokens:>100000 too)
    ctx.usage.input_tokens>5   nested keys, dot by dot
    has:ctx.thread          the key is there and not null
    -ctx.model:opus  -has:ctx.thread   everything else, sessions without the key included

``=`` is the same as ``:``. Keys are letters, digits, ``_`` and ``-``; they name members
of objects (array elements cannot be reached). A comparison needs a number and matches
only JSON numbers: a string of digits never compares. Every mistake is a ``QueryError``
pointing at the key or the value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from storage.query.terms import ContextFilter, QueryError

if TYPE_CHECKING:
    from storage.query.parse import Token

Fail = Callable[[str, int, int], QueryError]

_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_BAD_CHAR = re.compile(r"[^A-Za-z0-9_.-]")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_COMPARE = (">=", "<=", ">", "<")
MAX_KEYS = 16
_INT64 = 2**63


def number(text: str) -> int | float | None:
    """``text`` as a JSON-like number (``100``, ``-2.5``, ``1e6``), or None. Integers that
    fit SQLite's 64 bits stay exact; ``inf``, ``nan``, ``1_000`` and ``0x10`` are not numbers."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    if re.fullmatch(r"[+-]?\d+", text):
        value = int(text)
        if -_INT64 <= value < _INT64:
            return value
    value = float(text)
    return value if math.isfinite(value) else None


def keys(path: str, pos: int, fail: Fail, typed: str, example: str) -> tuple[str, ...]:
    """The key segments of ``path`` (``usage.input_tokens``), which starts at ``pos``."""
    if not path:
        raise fail(f"'{typed}' needs a key after 'ctx.', like {example}", pos - 4, 4)
    bad = _BAD_CHAR.search(path)
    if bad:
        raise fail(
            f"{bad.group()!r} cannot be in a context key: keys are letters, digits, '_' "
            "and '-', nested keys joined with '.'",
            pos + bad.start(),
            1,
        )
    out, at = [], pos
    for segment in path.split("."):
        if not _SEGMENT.fullmatch(segment):
            raise fail(f"empty key in 'ctx.{path}': one '.' between keys", max(pos, at - 1), 1)
        out.append(segment)
        at += len(segment) + 1
    if len(out) > MAX_KEYS:
        raise fail(f"context keys nest at most {MAX_KEYS} deep", pos, len(path))
    return tuple(out)


def context_filter(f: Token, fail: Fail) -> ContextFilter:
    """A ``ctx.KEY...`` filter token as a ``ContextFilter``."""
    kpos = f.pos + 4  # after "ctx."
    typed = f"ctx.{f.path}{f.op}"
    path = keys(f.path, kpos, fail, typed, "ctx.model:opus")
    op, value, vpos = f.op, f.value, f.vpos
    if op in (":", "=") and not f.quoted:
        for cmp in _COMPARE:  # ctx.tokens:>5, as GitHub writes it
            if value.startswith(cmp):
                op, value, vpos = cmp, value[len(cmp) :], vpos + len(cmp)
                break
    example = "ctx.model:opus" if op in (":", "=") else f"ctx.{f.path}{op}100000"
    if not value.strip() and not (f.quoted and op in (":", "=")):
        raise fail(f"'{typed}' needs a value, like {example}", f.pos, f.end - f.pos)
    _check_text(value, vpos, fail)
    if op in _COMPARE:
        if f.quoted:
            raise fail(f"a comparison needs a number, not quoted text, like {example}", vpos, 1)
        if "," in value:
            raise fail(f"a comparison takes one number, like {example}", vpos, len(value))
        n = number(value)
        if n is None:
            raise fail(
                f"{value!r} is not a number: '{op}' compares numbers, like {example}",
                vpos,
                len(value),
            )
        return ContextFilter(path, op, number=n, negated=f.neg)  # type: ignore[arg-type]
    if f.quoted:
        return ContextFilter(path, "is", values=(value,), negated=f.neg)
    values: list[str] = []
    prefixes: list[str] = []
    at = vpos
    for item in value.split(","):
        if not item:
            raise fail(f"empty item in the 'ctx.{f.path}:' list", at, 1)
        if item.endswith("*"):
            prefixes.append(item[:-1])
        else:
            values.append(item)
        at += len(item) + 1
    return ContextFilter(path, "is", values=tuple(values), prefixes=tuple(prefixes), negated=f.neg)


def has_filter(f: Token, fail: Fail) -> ContextFilter:
    """``has:ctx.KEY`` as a ``ContextFilter``."""
    value = f.value
    if f.quoted or not value.lower().startswith("ctx."):
        raise fail(
            f"'has:' takes a context key, like has:ctx.model (not {value!r})", f.vpos, len(value)
        )
    path = keys(value[4:], f.vpos + 4, fail, "has:ctx.", "has:ctx.model")
    return ContextFilter(path, "has", negated=f.neg)


def _check_text(value: str, pos: int, fail: Fail) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:  # lone surrogates, e.g. from undecodable argv bytes
        raise fail("this value is not valid text (UTF-8)", pos + e.start, 1) from None
