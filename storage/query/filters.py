"""The field filters of a query (``status:failed``, ``tag:ml``, ``exit:!0``, ``since:2h``,
``is:pinned``, ``in:meta``, ``ctx.model:opus``, ``has:ctx.thread``...; context filters are
read by ``storage.query.context``): which there are, which can be excluded or given once,
which values they take, and how a query's filters set the fields of its ``Query``.
Every mistake is a ``QueryError`` pointing at the filter, with a hint.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from storage.frozen import replace
from storage.models import STATUSES, STREAMS
from storage.query.terms import ContextFilter, Query, QueryError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from storage.query.parse import Token

FILTERS = (
    *("status", "tag", "name", "cmd", "cwd", "exit", "stream", "since", "until", "is", "in"),
    *("ctx", "has"),
)
_NEGATABLE = ("status", "tag", "stream", "exit", "is", "has")
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
    "ctx": "ctx.model:opus or ctx.tokens>100000",
    "has": "has:ctx.model",
}


def apply_filters(query: Query, filters: list[Token], now: float) -> Query:
    text = query.text
    changes: dict[str, object] = {}
    seen: set[str] = set()
    wanted: dict[str, set[str]] = {"status": set(), "stream": set()}
    unwanted: dict[str, set[str]] = {"status": set(), "stream": set()}
    exit_codes: set[int] | None = None
    exit_not: set[int] = set()
    tags: list[frozenset[str]] = []
    exclude_tags: set[str] = set()
    times: dict[str, tuple[float, Token]] = {}
    context: list[ContextFilter] = []

    def fail(message: str, pos: int, length: int) -> QueryError:
        return QueryError(message, pos, length, text)

    for f in filters:
        key = f.key
        if key == "ctx" and f.op:  # ctx.KEY:VALUE, ctx.KEY>N (the lexer found the operator)
            # (storage.query.context and .time are imported by the filters that use them:
            # a query without them need not compile their patterns)
            from storage.query.context import context_filter

            context.append(context_filter(f, fail))
            continue
        if key == "ctx":
            raise fail(
                f"'ctx:' needs a key: ctx.KEY:VALUE, like {_EXAMPLE['ctx']}", f.pos, len(key) + 1
            )
        if key not in FILTERS:
            near = _close(key, FILTERS)
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
            from storage.query.time import TimeValueError, parse_time

            try:
                times[key] = parse_time(value, now=now, end_of_day=key == "until"), f
            except TimeValueError as exc:
                raise fail(str(exc), vpos, len(value)) from None
        elif key == "has":
            from storage.query.context import has_filter

            context.append(has_filter(f, fail))
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
        context=tuple(context),
        **changes,  # type: ignore[arg-type]
    )


def _items(f: Token, fail: Callable[[str, int, int], QueryError]) -> list[tuple[str, int]]:
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
    near = _close(word, known)
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


def _close(word: str, known: tuple[str, ...]) -> list[str]:
    """The known word closest to a mistyped one, if any (difflib: only on a mistake)."""
    import difflib

    return difflib.get_close_matches(word, known, n=1, cutoff=0.6)
