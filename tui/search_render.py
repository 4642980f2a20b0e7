"""How search results read on screen: filter chips, session headers, hit lines.

Pure functions of their arguments (times are formatted in local time, the clock is
passed in), so screenshots are the same on every run. No Textual imports.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text

from tui import format as fmt

if TYPE_CHECKING:
    from storage.engine.search.core import MetaMatch, SessionHits
    from storage.models import SearchHit
    from storage.query import Query, QueryError

MATCH_STYLE = "bold reverse"
_STREAM = {"stdout": "out", "stderr": "err", "system": "sys", "input": "in ", "agent": "ai "}
RECENT_MAX = 20


def _safe(text: str) -> str:
    from storage.text import terminal_safe

    return terminal_safe(text, keep_colour=False).replace("\n", " ").replace("\t", " ")


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(at))


def chips(query: Query) -> list[str]:
    """The query's filters, one short label each (the text terms are not chips)."""
    out: list[str] = []
    if query.statuses is not None:
        from storage.models import STATUSES

        missing = sorted(set(STATUSES) - query.statuses)
        if query.statuses and len(missing) < len(query.statuses):
            out.append("status: not " + ", ".join(missing))
        else:
            out.append("status: " + (", ".join(sorted(query.statuses)) or "none"))
    for group in query.tags:
        out.append("tag: " + " or ".join(sorted(group)))
    if query.exclude_tags:
        out.append("not tag: " + ", ".join(sorted(query.exclude_tags)))
    if query.name is not None:
        out.append(f"name: {query.name}")
    if query.cmd is not None:
        out.append(f"cmd: {query.cmd}")
    if query.cwd is not None:
        out.append(f"in {fmt.home(query.cwd)}")
    if query.exit_codes is not None:
        out.append("exit " + " or ".join(str(c) for c in sorted(query.exit_codes)))
    if query.exit_not:
        out.append("exit not " + ", ".join(str(c) for c in sorted(query.exit_not)))
    if query.streams is not None:
        out.append("stream: " + (", ".join(sorted(query.streams)) or "none"))
    if query.since is not None:
        out.append(f"since {_when(query.since)}")
    if query.until is not None:
        out.append(f"until {_when(query.until)}")
    if query.pinned is not None:
        out.append("pinned" if query.pinned else "not pinned")
    if query.trashed:
        out.append("in the trash")
    if query.scope != "all":
        out.append({"output": "output only", "meta": "names, commands, notes only"}[query.scope])
    return out


def error_lines(error: QueryError, width: int) -> str:
    """A query error for the box right under the input: the caret line (which lines up
    with the input's text) then the message. When the query is wider than the input,
    the query is repeated above the caret instead."""
    message, shown, caret = str(error).split("\n")
    if len(shown) < width:
        return f"{caret}\n{message}"
    return f"{message}\n{shown}\n{caret}"


def marked(text: str, spans: tuple[tuple[int, int], ...], base: str = "") -> Text:
    """``text`` with the spans in the match style."""
    out = Text(text, style=base, no_wrap=True, overflow="ellipsis")
    for start, end in spans:
        if end > start:
            out.stylize(MATCH_STYLE, start, end)
    return out


def count_label(group: SessionHits) -> str:
    if group.count is None:
        return ""
    n = group.count
    lines = f"{n:,} line{'s' * (n != 1)}"
    return lines if group.exact else f"{lines}+"


def session_header(group: SessionHits, now: float, *, counting: bool = False) -> Text:
    s = group.session
    icon = fmt.STATUS_ICON.get(s.status, "?")
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append(f"#{s.id} ", style="bold")
    out.append(f"{_safe(s.label)}  ", style="bold")
    out.append(f"{icon} {fmt.status_text(s.status, s.exit_code, s.signal)}", style="dim")
    when = s.last_output_at or s.updated_at
    out.append(f"  · {fmt.relative(when, now)}", style="dim")
    counted = count_label(group)
    if counted:
        out.append(f"  · {counted}", style="bold")
    elif counting and group.hits:
        out.append("  · counting…", style="dim")
    if s.trashed:
        out.append("  · in the trash", style="dim italic")
    return out


def meta_line(match: MetaMatch) -> Text:
    out = Text(f"  {match.field:>7}  ", style="dim", no_wrap=True, overflow="ellipsis")
    out.append_text(marked(match.text.replace("\n", " "), match.spans))
    return out


def hit_line(hit: SearchHit, width: int) -> Text:
    stamp = time.strftime("%H:%M:%S", time.localtime(hit.at))
    prefix = f"  {hit.line + 1:>7}  {_STREAM.get(hit.stream, hit.stream)}  {stamp}  "
    text, spans = hit.snippet(max(20, width - len(prefix)))
    out = Text(prefix, style="dim", no_wrap=True, overflow="ellipsis")
    base = "red" if hit.stream == "stderr" else ""
    out.append_text(marked(text, spans, base))
    return out


def highlight_words(query: Query) -> list[str]:
    """The words and phrases the live view should highlight (lower case: the search
    ignores case, and the view's find is smart-case)."""
    from storage.query import Not, Phrase, Word

    out: list[str] = []

    def walk(terms) -> None:  # type: ignore[no-untyped-def]
        for t in terms:
            if isinstance(t, Word | Phrase):
                out.append(t.text.lower())
            elif not isinstance(t, Not):
                walk(t.terms)

    walk(query.terms)
    return list(dict.fromkeys(out))


def remember(recent: list[str], text: str) -> list[str]:
    """``recent`` with ``text`` first (once), at most ``RECENT_MAX`` long."""
    text = text.strip()
    if not text:
        return recent
    return [text, *(r for r in recent if r != text)][:RECENT_MAX]
