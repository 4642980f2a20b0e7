"""Search finds what a person saw: a terminal session's stdout is not indexed, its
rendered transcript is searched instead (schema v15); sessions recorded before keep
their raw entries, searched where the transcript does not reach, until it is built;
pipe sessions are searched as before; pages of both kinds together hold every hit once."""

from __future__ import annotations

import json
import time
from pathlib import Path

from runner.screen.render import render_pending, render_session
from runner.screen.state import size_line
from storage.engine import output_index
from storage.engine.compress import plain
from storage.engine.search import search
from storage.query import parse
from storage.text import index_text

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "terminal"


async def _recorded(store, name: str, *, before: bytes = b"") -> int:
    """A pty session's bytes stored without its screens (a supervisor killed before it
    stored them, or an import): a size line, the raw bytes."""
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


async def _as_before_v15(store, sid: int) -> None:
    """What schema v15 finds of a pty session recorded before it: its stdout in the
    output index, the session listed in ``pty_raw_index`` (by the migration)."""
    async with store.transaction() as db:
        rows = await db.execute_fetchall(
            "SELECT id, data, plain_size FROM output_chunks WHERE session_id = ? "
            "AND stream = 'stdout'",
            (sid,),
        )
        await output_index.add(db, [(cid, index_text(plain(d, n))) for cid, d, n in rows])
        await db.execute(
            "UPDATE output_chunks SET indexed = 2 WHERE session_id = ? AND stream = 'stdout'",
            (sid,),
        )
        await db.execute("INSERT INTO pty_raw_index (session_id) VALUES (?)", (sid,))


async def _raw_entries(store, sid: int) -> list[int]:
    """Chunks of the session's stdout the output index holds (its raw words)."""
    found = await store.fetchall(
        "SELECT rowid FROM output_words WHERE output_words MATCH 'Codex OR Claude OR Welcome'"
    )
    mine = await store.fetchall(
        "SELECT id FROM output_chunks WHERE session_id = ? AND stream = 'stdout'", (sid,)
    )
    return sorted({r[0] for r in found} & {r[0] for r in mine})


async def _hits(store, text: str, **kw):
    return (await search(store, parse(text), **kw)).hits


async def test_a_pty_sessions_stdout_is_searched_only_as_it_was_seen(store):
    claude = await _recorded(store, "claude_first")
    codex = await _recorded(store, "codex_first")
    raw = await store.output.read_bytes(codex, "stdout")
    assert raw == (FIXTURES / "codex_first.bin").read_bytes()  # stored losslessly
    # Its raw stdout is not indexed (the words are glued by cursor moves there) and, its
    # transcript not built yet, nothing of it is found...
    assert not await _raw_entries(store, codex) and not await _raw_entries(store, claude)
    assert not await _hits(store, '"Welcome to Claude"')
    assert not await _hits(store, "Codex")
    # ...until it is (its supervisor builds it as it runs; runner/screen/render.py after).
    await render_session(store, claude)
    await render_session(store, codex)
    (hit,) = await _hits(store, '"Welcome to Claude"')
    assert (hit.session_id, hit.stream) == (claude, "screen")
    assert hit.text == "Welcome to Claude Code v2.1.197"
    found = await _hits(store, '"Sign in with Device Code"')
    assert [(h.session_id, h.stream, h.text.strip()) for h in found] == [
        (codex, "screen", "2. Sign in with Device Code")
    ]
    assert {h.stream for h in await _hits(store, "Codex")} == {"screen"}
    results = await search(store, parse('"Sign in"'))
    (group,) = results.groups
    assert group.count == 4 and group.exact  # rows that hold it, as drawn
    assert await store.output.read_bytes(codex, "stdout") == raw


async def test_a_session_recorded_before_v15_is_searched_raw_until_its_transcript_is_built(
    store,
):
    codex = await _recorded(store, "codex_first")
    claude = await _recorded(store, "claude_first")
    await _as_before_v15(store, codex)
    await _as_before_v15(store, claude)
    # Raw, the words are glued by cursor moves: not findable as a person reads them.
    assert not await _hits(store, '"Welcome to Claude"')
    raw = await _hits(store, "Codex")
    assert raw and {(h.session_id, h.stream) for h in raw} == {(codex, "stdout")}
    assert await _raw_entries(store, codex)
    while await output_index.pairs_step(store):  # (the upkeep's other work, done first)
        pass
    assert await store.output.upkeep() is False  # nothing to drop while not built
    assert await _raw_entries(store, codex)

    assert await render_pending(store) == 2
    (hit,) = await _hits(store, '"Welcome to Claude"')
    assert (hit.session_id, hit.stream) == (claude, "screen")
    assert {(h.session_id, h.stream) for h in await _hits(store, "Codex")} == {(codex, "screen")}
    # Its raw entries are gone from the index; its bytes are all still there.
    assert not await _raw_entries(store, codex) and not await _raw_entries(store, claude)
    assert not await store.fetchall("SELECT * FROM pty_raw_index")
    marks = await store.fetchall(
        "SELECT DISTINCT indexed FROM output_chunks WHERE session_id = ? AND stream = 'stdout'",
        (codex,),
    )
    assert [tuple(r) for r in marks] == [(output_index.IN_SCREEN,)]
    raw_bytes = await store.output.read_bytes(codex, "stdout")
    assert raw_bytes == (FIXTURES / "codex_first.bin").read_bytes()


async def test_the_upkeep_drops_raw_entries_of_a_session_whose_transcript_was_built(store):
    """Built on first open (tether screen, logs --rendered): the next upkeep step drops
    its raw entries, in steps that each leave the database whole."""
    codex = await _recorded(store, "codex_first", before=b"Codex row\r\n" * 3000)
    await _as_before_v15(store, codex)
    await render_session(store, codex)
    assert await _raw_entries(store, codex)
    steps = 0
    while await output_index.drop_raw_step(store, max_bytes=1):
        steps += 1
    assert steps >= 2  # a chunk a step here
    assert not await _raw_entries(store, codex)
    assert not await store.fetchall("SELECT * FROM pty_raw_index")
    assert {h.stream for h in await _hits(store, "Codex")} == {"screen"}


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


async def test_purging_a_pty_session_removes_its_transcripts_index_entries(store):
    """The transcript rows go with the session (ON DELETE CASCADE); their entries in the
    contentless index must be given back too, or it keeps growing (and a reused row id
    would make them a false candidate)."""
    codex = await _recorded(store, "codex_first")
    claude = await _recorded(store, "claude_first")
    await render_session(store, codex)
    await render_session(store, claude)

    async def entries() -> int:
        return int(await store.scalar("SELECT count(*) FROM rendered_words_docsize"))

    kept = await store.scalar(
        "SELECT count(*) FROM rendered_chunks WHERE session_id = ?", (claude,)
    )
    assert await entries() > kept
    await store.sessions.purge([codex])
    assert await entries() == kept
    assert (
        await store.fetchall("SELECT rowid FROM rendered_words WHERE rendered_words MATCH 'Codex'")
        == []
    )
    assert {h.session_id for h in await _hits(store, "Claude")} == {claude}


class _Stop(Exception):
    pass


async def test_a_partly_built_transcript_shadows_the_raw_stream_only_as_far_as_it_goes(store):
    """A build interrupted (a killed `tether screen`): the raw entries of a session from
    before v15 still answer for the output past the line its transcript reaches."""
    codex = await _recorded(store, "codex_first", before=b"early Codex row\r\n" * 3000)
    await _as_before_v15(store, codex)

    def stop_after_first_step(line: int, lines: int) -> None:
        raise _Stop

    try:
        await render_session(store, codex, stop_after_first_step)
    except _Stop:
        pass
    built = await store.fetchone(
        "SELECT line, complete FROM screen_renders WHERE session_id = ?", (codex,)
    )
    assert 0 < built[0] < 3000 and not built[1]
    found = await _hits(store, "Codex", limit=10_000)
    assert {h.text for h in found if h.stream == "screen"} == {"early Codex row"}  # built
    raw = [h for h in found if h.stream == "stdout"]
    # Past the line: the fixture's raw words, and the rows of the chunk it ends in (once
    # more, some of them: never missed).
    assert any("early" not in h.text for h in raw)
    early = {h.line for h in found if "early" in h.text}
    assert len(early) >= 3000 - 30 and max(early) == 3000
    while await output_index.pairs_step(store):  # (the upkeep's other work, done first)
        pass
    assert await store.output.upkeep() is False  # not complete: its raw entries stay
    assert await _raw_entries(store, codex)
