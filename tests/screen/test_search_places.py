"""Where a search hit on a terminal session was seen: its row of the rendered
transcript, and, for a row of the screen a run ended on, that screen (what the TUI
opens at a hit: tui/widgets/screen_place.py)."""

from __future__ import annotations

import json
from pathlib import Path

from runner.screen.render import render_session
from runner.screen.state import size_line
from storage.engine import screens
from storage.engine.search import search
from storage.query import parse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "terminal"
# Printed after the claude fixture's screen: 40 rows, so its rows scroll off the top.
ROWS_AFTER = b"".join(b"build step %d of 40: ok\r\n" % i for i in range(1, 41))


async def recorded(store, name: str, *, after: bytes = b"", runs: int = 1) -> int:
    """A pty session of the fixture's bytes (then ``after``), ``runs`` times, stored as
    its supervisor stores it: with its transcript built at the end of each run."""
    meta = json.loads((FIXTURES / f"{name}.json").read_text())
    s = await store.sessions.create(meta["command"], cwd="/", mode="pty", name=name)
    for _ in range(runs):
        await store.runs.start(s.id)
        await store.output.append(s.id, "system", size_line(meta["cols"], meta["rows"]))
        await store.output.append(s.id, "stdout", (FIXTURES / f"{name}.bin").read_bytes() + after)
        await store.runs.finish(s.id, exit_code=0)
        await render_session(store, s.id)
    return s.id


async def test_a_rendered_hit_knows_its_row_of_the_transcript(store):
    sid = await recorded(store, "claude_first", after=ROWS_AFTER)
    rows = await screens.rendered_rows(store, sid)
    for text in ('"Welcome to Claude"', '"build step 3 of"', '"step 39 of"'):
        (hit,) = (await search(store, parse(text))).hits
        assert hit.row is not None and rows[hit.row] == hit.text


async def test_the_screen_a_run_ended_on_is_found_from_a_row_of_it(store):
    sid = await recorded(store, "claude_first", runs=2)
    hits = (await search(store, parse('"Welcome to Claude"'))).hits
    assert len(hits) == 2  # once per run: each ended on that screen
    ends = [await screens.final_snapshot_after(store, sid, h.row) for h in hits]
    assert [e.run for e in ends] == [2, 1]  # newest first
    assert ends[1].rendered <= hits[0].row < ends[0].rendered
    assert hits[1].row < ends[1].rendered
    assert await screens.final_snapshot_after(store, sid, ends[0].rendered) is None
