"""Screens stored in SQLite: a real supervisor of a real pty session stores snapshots
and the rendered transcript; a screen at any line is rebuilt from the nearest snapshot
and equals a replay from the first byte; a kill -9 leaves usable snapshots; sessions
recorded without screens get them built on first use."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from cli.screen import replay
from runner import control
from runner.reconcile import reconcile
from runner.screen.keeper import SNAPSHOT_BYTES
from runner.screen.render import needs_render
from runner.screen.replay import ScreenReplay
from runner.screen.state import size_line
from storage.engine import screens
from storage.engine.search import search
from storage.query import parse
from tests.support.supervisors import eventually, wait_ended

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "terminal"
# Every recorded program once (alternate screens, colours, wide characters, agents),
# then numbered lines so that rows scroll off, again and again: about 6 MB.
PRODUCER = r"""
import sys, glob, os
parts = [open(p, 'rb').read() for p in sorted(glob.glob(sys.argv[1] + '/*.bin'))]
out = sys.stdout.buffer
for i in range(int(sys.argv[2])):
    out.write(b'\x1b[?1049l\x1b[0m\x1b[r')  # leave what a fixture left behind
    for p in parts:
        out.write(p)
    out.write(b'\x1b[?1049l\x1b[0m\x1b[r\r\n')
    out.write(b''.join(b'round %d line %d of a longer text\r\n' % (i, j) for j in range(60000)))
out.write(b'Welcome\x1b[1Cto\x1b[1CClaude\r\n')
out.flush()
if len(sys.argv) > 3:
    sys.stdin.readline()  # hold the session open
"""


def _state(screen) -> tuple:
    return (screen.lines(), screen.cursor, screen.alt_screen, screen.size)


async def _full(store, sid: int, until: int | None = None) -> ScreenReplay:
    r = ScreenReplay(sid, transcript=True)
    await r.catch_up(store, until=until)
    return r


async def _run(store, paths, tmp_path, rounds: int, *hold: str):
    return await control.start_session(
        store,
        paths,
        argv=[sys.executable, "-c", PRODUCER, str(FIXTURES), str(rounds), *hold],
        cwd=tmp_path,
        mode="pty",
        size=(100, 30),
    )


async def test_snapshots_are_stored_and_a_screen_at_any_line_replays_one_interval(
    store, paths, tmp_path
):
    s = await _run(store, paths, tmp_path, 3)
    s = await wait_ended(store, paths, s.id, timeout=120)
    snaps = await store.fetchall(
        "SELECT line, offset, rendered, final FROM screen_snapshots WHERE session_id = ? "
        "ORDER BY line, offset",
        (s.id,),
    )
    assert len(snaps) >= 3, snaps  # about 6 MB: every 2 MB and at the end
    assert snaps[-1][3] == 1 and sum(r[3] for r in snaps) == 1
    state = await screens.render_state(store, s.id)
    assert state is not None and state.complete

    # The stored transcript is what a replay from the first byte renders.
    full = await _full(store, s.id)
    stored = await screens.rendered_rows(store, s.id)
    assert stored == full.rendered()
    assert "Welcome to Claude" in stored

    # The screen at lines between snapshots: from the nearest snapshot, equal to a
    # replay from the first byte, and feeding less than one interval after it.
    lines = await store.output.line_count(s.id)
    for at in (snaps[0][0] + 7, snaps[1][0] + 1, (snaps[1][0] + snaps[2][0]) // 2, lines):
        near = await replay(store, s, until=at)
        assert near.started_from > (0, 0), f"--at {at} replayed from the first byte"
        assert near.fed <= SNAPSHOT_BYTES * 2
        whole = await _full(store, s.id, until=at)
        assert _state(near.screen) == _state(whole.screen), at
        assert whole.fed > near.fed

    # The finished screen: the final snapshot, nothing replayed.
    last = await replay(store, s)
    assert last.fed == 0 and last.ended
    assert _state(last.screen) == _state(full.screen)


async def test_kill_9_of_the_supervisor_mid_run_leaves_usable_snapshots(store, paths, tmp_path):
    s = await _run(store, paths, tmp_path, 2, "hold")

    async def two():
        n = await screens.snapshot_count(store, s.id)
        return n >= 1 and await store.output.line_count(s.id) > 100000

    await eventually(two, timeout=120, what="a snapshot and most of the output stored")
    run = await store.runs.get(s.id, 1)
    os.kill(run.supervisor_pid, signal.SIGKILL)  # its guardian ends the command
    await eventually(
        lambda: _lost(store, paths, s.id), timeout=60, what="the session to be judged lost"
    )
    s = await store.sessions.require(s.id)
    lines = await store.output.line_count(s.id)
    snaps = await store.fetchall(
        "SELECT line, offset FROM screen_snapshots WHERE session_id = ?", (s.id,)
    )
    assert snaps and all(line < lines for line, _ in snaps)  # never ahead of the output
    # The transcript was not finished: the first use builds the rest (below).
    assert await needs_render(store, s.id)
    for line, _ in snaps:  # what the killed supervisor left
        near = ScreenReplay(s.id)
        assert await near.start_near(store, until=line + 3)
        await near.catch_up(store, until=line + 3)
        whole = await _full(store, s.id, until=line + 3)
        assert near.started_from > (0, 0)
        assert _state(near.screen) == _state(whole.screen)
    out = await replay(store, s, transcript=True)
    assert not await needs_render(store, s.id)
    assert out.rendered() == (await _full(store, s.id)).rendered()
    assert await screens.rendered_rows(store, s.id) == out.rendered()


async def _lost(store, paths, sid: int) -> bool:
    await reconcile(store, paths)
    return (await store.sessions.require(sid)).status == "lost"


async def test_a_session_recorded_before_screens_were_stored_is_rendered_on_first_use(
    store, tmp_path
):
    # What an older tether stored: the size line and the raw bytes, no screens.
    meta = json.loads((FIXTURES / "claude_first.json").read_text())
    data = (FIXTURES / "claude_first.bin").read_bytes()
    s = await store.sessions.create(["claude"], cwd=str(tmp_path), mode="pty")
    await store.runs.start(s.id)
    await store.output.append(s.id, "system", size_line(meta["cols"], meta["rows"]))
    await store.output.append(s.id, "stdout", b"".join(b"old %d\r\n" % i for i in range(100)))
    await store.output.append(s.id, "stdout", data)
    await store.runs.finish(s.id, exit_code=0)
    s = await store.sessions.require(s.id)
    assert await needs_render(store, s.id)
    assert await screens.snapshot_count(store, s.id) == 0

    out = await replay(store, s, transcript=True)
    assert "Welcome to Claude" in "\n".join(out.rendered())
    assert await screens.rendered_rows(store, s.id) == (await _full(store, s.id)).rendered()
    assert not await needs_render(store, s.id)
    assert await screens.snapshot_count(store, s.id) == 1  # the final screen


async def test_an_old_database_with_pty_sessions_migrates_and_renders_on_first_use(
    tmp_path,
):
    import sqlite3

    from storage import open_store
    from storage.engine import schema
    from storage.engine.search import search
    from storage.query import parse
    from storage.text import index_text

    # A database as tether wrote it before screens were stored (v5), made with its SQL.
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    for step in schema.MIGRATIONS[:5]:
        for sql in step:
            con.execute(sql)
    size = size_line(100, 30)
    data = (FIXTURES / "claude_first.bin").read_bytes()
    con.execute(
        "INSERT INTO sessions (id, uid, argv, cwd, mode, status, created_at, updated_at, "
        "run_count, output_lines, output_bytes) VALUES (1, 'u1', '[\"claude\"]', '/', 'pty', "
        "'succeeded', 1, 2, 1, ?, ?)",
        (1 + data.count(b"\n") + (not data.endswith(b"\n")), len(size) + len(data)),
    )
    con.execute(
        "INSERT INTO runs (session_id, number, argv, started_at, first_line) "
        "VALUES (1, 1, '[\"claude\"]', 1, 0)"
    )
    for cid, stream, first, chunk in ((1, "system", 0, size), (2, "stdout", 1, data)):
        lines = chunk.count(b"\n") + (not chunk.endswith(b"\n"))
        con.execute(
            "INSERT INTO output_chunks (id, session_id, run, stream, first_line, line_count, "
            "open_end, first_at, last_at, indexed, data) VALUES (?, 1, 1, ?, ?, ?, ?, 1, 1, 1, ?)",
            (cid, stream, first, lines, int(not chunk.endswith(b"\n")), chunk),
        )
        con.execute("INSERT INTO output_fts (rowid, text) VALUES (?, ?)", (cid, index_text(chunk)))
    con.execute("PRAGMA user_version = 5")
    con.commit()
    con.close()
    sid = 1
    async with open_store(db) as store:
        assert await store.scalar("PRAGMA user_version") == schema.SCHEMA_VERSION
        session = await store.sessions.require(sid)
        assert await needs_render(store, sid)
        out = await replay(store, session, transcript=True)  # logs --rendered, first use
        assert out.rendered()[0] == "Welcome to Claude Code v2.1.197"
        (hit,) = (await search(store, parse('"Welcome to Claude"'))).hits
        assert (hit.session_id, hit.stream) == (sid, "screen")


async def _saver_by_hand(store, tmp_path):
    """A pty session's run with its keeper and a saver that stores only when told."""
    from runner.screen import keeper as keeping

    s = await store.sessions.create(["x"], cwd=str(tmp_path), mode="pty")
    run = await store.runs.start(s.id)
    keeper = keeping.ScreenKeeper(80, 24, session_id=s.id)
    saver = await keeping.ScreenSaver.begin(store, keeper, run.number, lambda _: None)
    saver._ending.set()  # the test stores by hand
    await saver._task
    return s, keeper, saver


async def test_a_snapshot_is_stored_only_once_its_output_is(store, tmp_path, monkeypatch):
    from runner.screen import keeper as keeping

    monkeypatch.setattr(keeping, "SNAPSHOT_BYTES", 2000)
    s, keeper, saver = await _saver_by_hand(store, tmp_path)
    try:
        data = b"".join(b"row %d of the output\r\n" % i for i in range(1000))
        for i in range(0, len(data), 1000):
            keeper.feed(data[i : i + 1000])  # what capture read: not written yet
        keeper.catch_up()
        assert not await saver.save_once()
        assert await screens.snapshot_count(store, s.id) == 0  # none ahead of the output
        await store.output.append(s.id, "stdout", data[: len(data) // 2])
        assert not await saver.save_once()
        half = await screens.snapshot_count(store, s.id)
        assert half >= 4
        await store.output.append(s.id, "stdout", data[len(data) // 2 :])
        assert await saver.save_once()
        snaps = await store.fetchall(
            "SELECT line, offset FROM screen_snapshots WHERE session_id = ?", (s.id,)
        )
        assert len(snaps) > half
        stored = await store.output.line_count(s.id)
        for line, offset in snaps:
            assert (line, offset) <= (stored, 0)
            near = ScreenReplay(s.id)
            assert await near.start_near(store, until=line + 1)
            await near.catch_up(store, until=line + 1)
            whole = await _full(store, s.id, until=line + 1)
            assert _state(near.screen) == _state(whole.screen)
    finally:
        keeper.close()


async def _saver_storing_bursts(store, tmp_path, bursts: int):
    """A saver (and its keeper) that stored ``bursts`` bursts of rows, each with its
    output stored first and in a store of its own."""
    s, keeper, saver = await _saver_by_hand(store, tmp_path)
    for b in range(bursts):
        data = b"".join(b"burst %d row %d\r\n" % (b, i) for i in range(60))
        await store.output.append(s.id, "stdout", data)
        keeper.feed(data)
        keeper.catch_up()
        assert await saver.save_once()
    return s.id, keeper, saver


@pytest.mark.parametrize("burst", [True, False])
async def test_a_burst_s_transcript_is_merged_once_the_output_pauses(
    store, tmp_path, monkeypatch, burst
):
    """Stores of more than ``DEFER_MERGE_ABOVE`` leave the transcripts' index unmerged
    (a burst is searchable sooner) and ``tidy`` merges it afterwards; smaller stores
    merge as they go. Either way search finds the same rows."""
    from runner.screen import keeper as keeping
    from storage.engine.index_merge import MERGE_AT, RENDERED, segment_count

    monkeypatch.setattr(keeping, "DEFER_MERGE_ABOVE", 100 if burst else 1 << 30)
    sid, keeper, saver = await _saver_storing_bursts(store, tmp_path, 40)
    try:
        found = await search(store, parse('"burst 39 row 3"'))
        assert [(g.session.id, len(g.hits)) for g in found.groups] == [(sid, 1)]
        piled = await segment_count(store.db, RENDERED)
        assert saver.tidy_due is burst
        if burst:
            assert piled >= 40  # a segment a store, none merged
            await saver.tidy(lambda: False)
            assert not saver.tidy_due
        assert await segment_count(store.db, RENDERED) < 2 * MERGE_AT
        found = await search(store, parse('"burst 39 row 3"'))
        assert [(g.session.id, len(g.hits)) for g in found.groups] == [(sid, 1)]
    finally:
        keeper.close()


def test_snapshots_wait_for_the_end_of_an_escape_sequence(monkeypatch):
    from runner.screen import keeper as keeping
    from runner.screen import open_screen, restore_screen

    monkeypatch.setattr(keeping, "SNAPSHOT_BYTES", 100)
    keeper = keeping.ScreenKeeper(80, 24, session_id=1)
    keeper.start_recording(1, 0)
    data = b"".join(b"\x1b[3%d;1mrow %d\x1b[0m\r\n" % (i % 8, i) for i in range(400))
    try:
        for i in range(0, len(data), 7):  # reads that cut sequences in two
            keeper.feed(data[i : i + 7])
        derived = keeper.take(final=True)
    finally:
        keeper.close()
    assert keeper.error is None
    assert len(derived.snapshots) > 20
    for snap in derived.snapshots:
        whole = open_screen(80, 24)
        whole.feed(data[: snap.mark])
        assert restore_screen(snap.data).lines() == whole.lines()
