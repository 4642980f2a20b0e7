"""Search finds what a person saw: a terminal session's rendered transcript is searched
instead of its raw stream once its screens are stored; pipe sessions are searched as
before; pages of both kinds together hold every hit once."""

from __future__ import annotations

import json
import time
from pathlib import Path

from runner.screen.render import render_session
from runner.screen.state import size_line
from storage.engine.search import search
from storage.query import parse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "terminal"


async def _recorded(store, name: str, *, before: bytes = b"") -> int:
    """A pty session as an older tether stored it: a size line, the raw bytes."""
    meta = json.loads((FIXTURES / f"{name}.json").read_text())
    s = await store.sessions.create(meta["command"], cwd="/", mode="pty", name=name)
    await store.runs.start(s.id)
    await store.output.append(s.id, "system", size_line(meta["cols"], meta["rows"]))
    if before:
        await store.output.append(s.id, "stdout", before)
    await store.output.append(s.id, "stdout", (FIXTURES / f"{name}.bin").read_bytes())
    await store.runs.finish(s.id, exit_code=0)
    await store.output.index_pending()
    return s.id


async def _hits(store, text: str, **kw):
    return (await search(store, parse(text), **kw)).hits


async def test_search_finds_the_words_agents_drew_with_cursor_moves(store):
    claude = await _recorded(store, "claude_first")
    codex = await _recorded(store, "codex_first")
    # Raw, the words are glued by cursor moves: not findable as a person reads them.
    assert not await _hits(store, '"Welcome to Claude"')
    raw = await _hits(store, "Codex")
    assert raw and {h.stream for h in raw} == {"stdout"}  # unrendered: as before

    await render_session(store, claude)
    await render_session(store, codex)
    (hit,) = await _hits(store, '"Welcome to Claude"')
    assert (hit.session_id, hit.stream) == (claude, "screen")
    assert hit.text == "Welcome to Claude Code v2.1.197"
    found = await _hits(store, '"Sign in with Device Code"')
    assert [(h.session_id, h.stream, h.text.strip()) for h in found] == [
        (codex, "screen", "2. Sign in with Device Code")
    ]
    # Rendered sessions no longer answer from their raw stream.
    assert {h.stream for h in await _hits(store, "Codex")} == {"screen"}
    results = await search(store, parse('"Sign in"'))
    (group,) = results.groups
    assert group.count == 4 and group.exact  # rows that hold it, as drawn


async def test_pipe_sessions_are_searched_as_before_and_pages_hold_each_hit_once(store):
    rows = b"".join(b"needle row %d\r\n" % i for i in range(80))
    term = await _recorded(store, "wide_chars", before=rows)
    await render_session(store, term)
    drawn = time.time()
    pipe = await store.sessions.create(["make"], cwd="/")
    await store.runs.start(pipe.id)
    for i in range(30):  # half before the rendered rows, half after: pages mix them
        at = drawn + (i - 15) * 60
        await store.output.append(pipe.id, "stdout", b"needle from make %d\n" % i, at)
    await store.runs.finish(pipe.id, exit_code=0)
    await store.output.index_pending()

    seen, page = [], None
    while True:
        results = await search(store, parse("needle"), limit=7, page=page)
        seen += [(h.session_id, h.stream, h.text) for h in results.hits]
        page = results.next_page
        if page is None:
            break
    assert len(seen) == len(set(seen)) == 30 + 80
    assert {(sid, stream) for sid, stream, _ in seen} == {
        (pipe.id, "stdout"),
        (term, "screen"),
    }
    ranked = await search(store, parse("needle"), limit=200, rank=True)
    assert len(ranked.hits) == 110
