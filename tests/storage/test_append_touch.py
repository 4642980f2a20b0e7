"""``output.append_many(touch=False)``: a supervisor writing twice a second keeps the
session's counters exact but bumps ``updated_at`` (what lists refresh by, and an index
page each time) only now and then (issue 18, runner/writer.py)."""

from __future__ import annotations

import sqlite3


async def test_counters_follow_every_append_updated_at_only_when_touched(store, db_path):
    sid = (await store.sessions.create(["x"], cwd="/")).id
    created = (await store.sessions.require(sid)).updated_at
    await store.output.append_many([(sid, "stdout", b"one\ntwo\n", created + 5)], touch=False)
    s = await store.sessions.require(sid)
    assert (s.output_lines, s.output_bytes, s.last_output_at) == (2, 8, created + 5)
    assert s.updated_at == created  # not touched
    with sqlite3.connect(db_path) as con:  # the index agrees with the row
        (found,) = con.execute(
            "SELECT count(*) FROM sessions INDEXED BY sessions_updated WHERE updated_at = ?",
            (created,),
        ).fetchone()
    assert found == 1

    await store.output.append_many([(sid, "stdout", b"three\n", created + 9)], touch=True)
    s = await store.sessions.require(sid)
    assert (s.output_lines, s.output_bytes, s.updated_at) == (3, 14, created + 9)
    assert [ln.text for ln in await store.output.read_lines(sid, 0, 3)] == ["one", "two", "three"]
