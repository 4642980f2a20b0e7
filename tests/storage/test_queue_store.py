"""``store.queue`` on a real SQLite file, without processes: the line's order, limits
kept in the database, claims, moves, cancel and --after, and what is refused."""

from __future__ import annotations

import pytest

from storage.engine.queue import Limits, NotQueued
from storage.engine.reader import open_reader


async def _queued(store, n: int, **kw) -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    for i in range(n):
        s = await store.sessions.create(["true", str(i)], "/")
        await store.queue.add(s.id, **kw)
        ids.append(s.id)
    return ids


async def test_claims_follow_the_line_and_the_limits(store):
    a, b, c = await _queued(store, 3)
    await store.queue.set_limits(Limits(max_parallel=2))
    first = await store.queue.claim_next({"id": "x"})
    second = await store.queue.claim_next({"id": "y"})
    assert (first.session_id, second.session_id) == (a, b)
    assert await store.queue.claim_next({"id": "z"}) is None  # two claimed: the limit
    assert await store.queue.positions() == {c: 1}
    await store.runs.start(a)
    await store.runs.finish(a, exit_code=0)  # a slot frees
    assert (await store.queue.claim_next({"id": "z"})).session_id == c


async def test_limits_are_kept_in_the_database_and_read_by_a_reader(store, db_path):
    assert await store.queue.limits() == Limits()
    assert await store.queue.set_limits(Limits(3, {"gpu": 1})) is True
    assert await store.queue.set_limits(Limits(3, {"gpu": 1})) is False  # unchanged
    with open_reader(db_path) as reader:
        assert reader.run(reader.queue.limits()) == Limits(3, {"gpu": 1})


async def test_move_cancel_and_what_is_refused(store):
    a, b, c = await _queued(store, 3)
    assert await store.queue.move(c, 5) == 1  # to the head, no further
    assert [e.session_id for e in await store.queue.entries()] == [c, a, b]
    await store.queue.cancel(a, "removed")
    assert (await store.sessions.require(a)).status == "stopped"
    with pytest.raises(NotQueued, match=f"#{a} is not in the queue: it is stopped"):
        await store.queue.move(a, 1)
    running = await store.sessions.create(["true"], "/")
    await store.runs.start(running.id)
    with pytest.raises(NotQueued, match="it is running, not pending"):
        await store.queue.add(running.id)
    claimed = await store.queue.claim(b, {"id": "x"})
    assert claimed.session_id == b
    with pytest.raises(NotQueued, match="it is being started"):
        await store.queue.cancel(b, "removed")


async def test_after_a_failed_or_purged_session_waiting_ones_fail(store):
    dep = await store.sessions.create(["false"], "/")
    gone = await store.sessions.create(["true"], "/")
    (w1,) = await _queued(store, 1, after=dep.id)
    (w2,) = await _queued(store, 1, after=gone.id)
    assert await store.queue.claim_next({"id": "x"}) is None  # both wait
    await store.runs.start(dep.id)
    await store.runs.finish(dep.id, exit_code=1)
    await store.sessions.purge([gone.id])
    assert sorted(await store.queue.settle()) == [w1, w2]
    assert (await store.sessions.require(w1)).status == "failed"
    lines = await store.output.tail(w2, 1, "system")
    why = f"not started: #{gone.id}, which it waited for (--after), no longer exists"
    assert lines[0].text == why


async def test_a_resumed_session_is_not_taken_for_a_claim(store):
    (sid,) = await _queued(store, 1)
    await store.queue.claim(sid, {"id": "old", "pid": 1})
    await store.runs.start(sid)
    await store.runs.finish(sid, exit_code=0)
    await store.sessions.set_status(sid, "pending")  # what resume does before launching
    assert await store.queue.claims() == []
    assert await store.queue.waiting_ids() == set()
