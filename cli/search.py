"""``tether search QUERY``: every session's output and metadata, one query language.

Results are grouped by session (a header line with the session's id, name, status
and how many lines matched), then one line per hit: line number, stream, time and the
line with the matches highlighted (bold reverse when stdout is a terminal). Everything
printed is made terminal-safe. A query that does not parse prints the message with a
caret under the offending part and exits 2. Nothing here imports Textual.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

from .context import EXIT_OK, EXIT_USAGE, Ctx, print_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from storage.engine.reader import Reader
    from storage.engine.search.core import SearchResults, SessionHits
    from storage.models import SearchHit

HIGHLIGHT, RESET = "\x1b[1;7m", "\x1b[0m"
DIM = "\x1b[2m"


def _colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _width() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` finds it (``COLUMNS``
    first), 120 when there is none; shutil itself would load three compressors."""
    try:
        columns = int(os.environ.get("COLUMNS", 0))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 120


def _safe(text: str) -> str:
    from storage.text import terminal_safe

    return terminal_safe(text, keep_colour=False).replace("\n", " ").replace("\t", " ")


def highlight(text: str, spans: tuple[tuple[int, int], ...], colour: bool) -> str:
    """``text`` with the spans marked (only when ``colour``); always terminal-safe."""
    if not colour:
        return _safe(text)
    out, at = [], 0
    for start, end in spans:
        if end <= start:
            continue
        out += [_safe(text[at:start]), HIGHLIGHT, _safe(text[start:end]), RESET]
        at = end
    out.append(_safe(text[at:]))
    return "".join(out)


def count_text(group: SessionHits) -> str:
    if group.count is None:
        return ""
    n = group.count
    lines = f"{n} line{'s' * (n != 1)}"
    return lines if group.exact else f"at least {lines}"


def _header(group: SessionHits, colour: bool) -> str:
    s = group.session
    status = s.status if s.exit_code in (None, 0) else f"{s.status} (exit {s.exit_code})"
    parts = [f"#{s.id}", _safe(s.label), f"[{status}]"]
    if s.trashed:
        parts.append("(in the trash)")
    counted = count_text(group)
    if counted:
        parts.append(f"— {counted}")
    line = "  ".join(parts)
    return f"\x1b[1m{line}{RESET}" if colour else line


def _hit_line(hit: SearchHit, width: int, colour: bool) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(hit.at))
    prefix = f"  {hit.line + 1:>7}  {hit.stream:<6}  {stamp}  "
    text, spans = hit.snippet(max(20, width - len(prefix)))
    body = highlight(text, spans, colour)
    return (f"{DIM}{prefix}{RESET}" if colour else prefix) + body


def render(results: SearchResults, *, width: int, colour: bool) -> list[str]:
    """The text output of a search, one string per line."""
    out: list[str] = []
    for group in results.groups:
        out.append(_header(group, colour))
        for m in group.meta:
            out.append(f"  {m.field:>7}  {highlight(m.text, m.spans, colour)}")
        for hit in group.hits:
            out.append(_hit_line(hit, width, colour))
        out.append("")
    return out


def to_json(results: SearchResults) -> dict[str, Any]:
    return {
        "query": results.query.text,
        "ranked": results.ranked,
        "sessions_only": results.sessions_only,
        "next_page": results.next_page,
        "rank_limited": results.rank_limited,
        "unindexed_bytes": results.unindexed_bytes,
        "sessions": [
            {
                "id": g.session.id,
                "uid": g.session.uid,
                "name": g.session.name,
                "command": g.session.command,
                "cwd": g.session.cwd,
                "status": g.session.status,
                "exit_code": g.session.exit_code,
                "tags": list(g.session.tags),
                "count": g.count,
                "count_exact": g.exact,
                "meta": [
                    {"field": m.field, "text": m.text, "spans": [list(s) for s in m.spans]}
                    for m in g.meta
                ],
                "hits": [
                    {
                        "line": h.line + 1,  # 1-based, as shown
                        "stream": h.stream,
                        "at": h.at,
                        "text": h.text,
                        "spans": [list(s) for s in h.spans if s[1] > s[0]],
                    }
                    for h in g.hits
                ],
            }
            for g in results.groups
        ],
    }


async def _transcript_work(ctx: Ctx, reader: Reader) -> Any:
    """What agent transcripts gained since the last look (agents/transcripts; an
    unchanged transcript costs one stat), or None when there is nothing to look at: no
    agent session and no transcript known, the usual case, answered by one query
    without loading the agents' code or reading config.toml."""
    from storage.engine.search.transcripts import any_agents

    if not await any_agents(reader):
        return None
    import os

    from agents.kinds import kinds_from_config
    from agents.transcripts.index import plan

    kinds = kinds_from_config(ctx.config.section("agents"))  # (cli.agents: not loaded)
    return await plan(reader, kinds, os.environ) or None


def _read_transcripts(ctx: Ctx, work: Any) -> None:
    """Agent conversations searchable up to now: read what ``_transcript_work`` found.
    Lines that are not JSON are said on stderr, once, and skipped."""
    from agents.transcripts.index import apply
    from storage.errors import StoreError

    async def go() -> list[str]:
        async with ctx.open_store(actor="cli") as store:
            return (await apply(store, work)).problems

    try:
        problems = ctx.run(go)
    except StoreError as e:  # read-only or busy: search what is indexed already
        print(f"tether: agent transcripts not read now: {e}", file=sys.stderr)
        return
    for problem in problems:
        print(f"tether: transcript {problem}", file=sys.stderr)


def cmd_search(ctx: Ctx) -> int:
    from storage.query import QueryError, parse

    args = ctx.args
    text = " ".join(args.query)
    try:
        query = parse(text)
    except QueryError as e:
        print(f"tether: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.limit is not None and args.limit < 1:
        print("tether: --limit must be at least 1", file=sys.stderr)
        return EXIT_USAGE

    took: list[float] = []

    async def go(store: Reader) -> SearchResults:
        from storage.engine.search.core import search

        started = time.perf_counter()
        found = await search(
            store,  # type: ignore[arg-type]  # the reading half of a Store
            query,
            limit=args.limit or 50,
            page=args.page,
            rank=args.rank,
            counts=not args.no_counts,
        )
        took.append(time.perf_counter() - started)
        return found

    async def first(reader: Reader) -> tuple[Any, SearchResults | None]:
        """The transcripts to read first, else (the usual case) the results, on one
        connection: opened and reconciled once."""
        work = await _transcript_work(ctx, reader)
        return (work, None) if work else (None, await go(reader))

    try:
        work, results = ctx.read(first)  # reconciled first: statuses right for is:running
        if results is None:
            _read_transcripts(ctx, work)
            results = ctx.read(go)
    except QueryError as e:
        print(f"tether: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as e:  # a bad --page cursor
        print(f"tether: {e}", file=sys.stderr)
        return EXIT_USAGE
    from storage.engine.metrics import record_quietly

    # Never waits; dropped if busy. Left open when the process ends at once (Ctx.quick_exit).
    record_quietly(ctx.paths.db_str, "search_ms", took[0] * 1000, close=not ctx.quick_exit)
    if args.json:
        print_json(to_json(results))
        return EXIT_OK
    colour = _colour()
    width = _width()
    if not results.groups:
        print("no matches", file=sys.stderr)
    for line in render(results, width=width, colour=colour):
        print(line)
    if results.rank_limited:
        from storage.engine.search.hits import RANK_CANDIDATES

        print(
            f"note: ranked among the newest {RANK_CANDIDATES} chunks of output that match",
            file=sys.stderr,
        )
    if results.unindexed_bytes:
        mb = results.unindexed_bytes / 1e6
        print(f"note: {mb:.1f} MB of the newest output is not indexed yet", file=sys.stderr)
    if results.next_page:
        more = f"more: tether search {_quote(text)} --page {results.next_page}"
        print(more + (" --rank" if args.rank else ""), file=sys.stderr)
    return EXIT_OK


def _quote(text: str) -> str:
    from storage.text import shell_quote

    return shell_quote(_safe(text))


FLAGS = {"--json": "json", "--rank": "rank", "--no-counts": "no_counts"}
VALUES = {"--limit": "limit", "--page": "page", "--db": "db"}


def quick_args(argv: Sequence[str]) -> dict[str, Any] | None:
    """``tether search WORDS...`` (with options spelled out: ``--json``, ``--limit N``...)
    parsed without building a parser: argparse's formatter loads shutil and locale,
    several ms of a command that should take little more than Python's own start.
    The words must be one run not starting with ``-``, as argparse takes them; anything
    else (help, ``--``, an abbreviation, ``--opt=value``, a word starting with ``-``)
    returns None and goes through the parser, which gives the same answer or the
    error (tests/cli/test_search_fast.py compares both)."""
    if not argv or argv[0] != "search":
        return None
    found: dict[str, Any] = {"db": None, "json": False, "limit": None, "rank": False}
    found |= {"page": None, "no_counts": False}
    words: list[str] = []
    ended = False  # an option came after the words: more words are an error
    rest = iter(argv[1:])
    for arg in rest:
        if not arg.startswith("-"):
            if ended:
                return None
            words.append(arg)
            continue
        ended = bool(words)
        if arg in FLAGS:
            found[FLAGS[arg]] = True
        elif arg in VALUES:
            value = next(rest, None)
            if value is None or value.startswith("-"):
                return None
            if arg == "--limit":
                try:
                    value = int(value)  # as type=int does
                except ValueError:
                    return None
            found[VALUES[arg]] = value
        else:
            return None
    if not words:
        return None
    return {**found, "command": "search", "query": words, "func": cmd_search}


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    help_text = "search the output and metadata of every session"
    p = sub.add_parser(
        "search",
        parents=[common],
        help=help_text,
        description=help_text
        + '. Words must all match one line; "exact phrases", prefix*, -excluded, a OR b; '
        "filters status: tag: name: cmd: cwd: exit: stream: since: until: is: in:.",
    )
    p.add_argument(
        "query", nargs="+", help="the query (words are joined; put -- before a leading -word)"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--limit", type=int, metavar="N", help="at most N hits (default 50)")
    p.add_argument("--rank", action="store_true", help="most relevant first, not newest")
    p.add_argument("--page", metavar="CURSOR", help="the next page, as printed after 'more:'")
    p.add_argument(
        "--no-counts", action="store_true", help="skip counting each session's matching lines"
    )
    p.set_defaults(func=cmd_search, _parser=p)
