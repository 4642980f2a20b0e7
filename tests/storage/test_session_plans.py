"""How the session list's queries run with the planner's statistics in place
(``PRAGMA optimize`` writes ``sqlite_stat1`` as a store closes): the live sessions are
found through the status index, not by reading every session."""

from __future__ import annotations

import pytest

from storage import open_store
from storage.models import ACTIVE

ENDED = ("succeeded", "failed", "stopped", "lost")


@pytest.fixture
async def store(tmp_path):
    async with open_store(tmp_path / "t.db") as store:
        for i in range(200):  # a quarter in each ended status: none live
            s = await store.sessions.create(["true"], cwd="/", created_at=1e9 + i)
            await store.sessions.set_status(s.id, "running")
            await store.sessions.set_status(s.id, ENDED[i % 4], exit_code=0)
        live = await store.sessions.create(["sleep"], cwd="/", created_at=1e9 + 500)
        await store.sessions.set_status(live.id, "running")
        await store.db.execute_fetchall("ANALYZE")
        yield store


async def _plan(store, call):  # type: ignore[no-untyped-def]
    """What ``call`` returned, and the query plan of the session list query it ran."""
    seen: list[str] = []
    await store.db.set_trace_callback(seen.append)
    try:
        result = await call()
    finally:
        await store.db.set_trace_callback(None)
    (sql,) = [q for q in seen if q.startswith("SELECT s.id") or "FROM sessions s WHERE" in q]
    rows = await store.fetchall(f"EXPLAIN QUERY PLAN {sql}")
    return result, [r[3] for r in rows]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": "running"},  # the TUI, twice before its first paint (who needs you)
        {"status": sorted(ACTIVE), "include_deleted": True, "order": "id"},  # reconcile
    ],
)
async def test_the_live_sessions_are_found_through_the_status_index(store, kwargs) -> None:
    """With statistics that say a status holds a quarter of the sessions, SQLite read
    all of them for the running ones (20 ms at 100 000, bench/cases/tui.py (a)); live
    sessions are few whatever the statistics say."""
    found, plan = await _plan(store, lambda: store.sessions.list(**kwargs))
    assert [s.status for s in found] == ["running"]
    assert any("sessions_status" in d for d in plan), plan
    assert not any(d.startswith("SCAN s") for d in plan), plan
