"""How context filters run (``context_plan``, ``context_sql``'s ``how``): every plan gives
the same sessions, the planner picks the cheap one for the shape of the data, and the walk
over every session reads the v13 index ``session_context_member`` (the figures are in
``bench/cases/context_filters.py``)."""

from __future__ import annotations

import itertools

import pytest

from storage import open_store
from storage.engine.search.filters import context_plan, filter_session_ids, session_where
from storage.query import parse

HOWS = ("lookup", "test", "walk", None)


def context_of(i: int) -> dict | None:
    """Session ``i``'s context: a third none, a thread for every other, one rare model."""
    if i % 3 == 0:
        return None
    out: dict = {"model": "opus" if i == 7 else "sonnet", "tokens": i * 1000}
    if i % 2:
        out["thread"] = f"t{i}"
        out["usage"] = {"input": i}
    return out


@pytest.fixture
async def store(tmp_path):
    async with open_store(tmp_path / "t.db") as store:
        for i in range(60):
            # created_at against id order: a walk newest first is not an id order
            await store.sessions.create(
                ["true"], cwd="/", name=f"s{i}", context=context_of(i), created_at=1e9 - i
            )
        yield store


def _lookup(context: dict | None, keys: tuple[str, ...]) -> object:
    for k in keys:
        if not isinstance(context, dict) or k not in context:
            return None
        context = context[k]
    return context


WANT = {
    "has:ctx.thread": lambda c: _lookup(c, ("thread",)) is not None,
    "-has:ctx.thread": lambda c: _lookup(c, ("thread",)) is None,
    "ctx.model:opus": lambda c: _lookup(c, ("model",)) == "opus",
    "-ctx.model:sonnet": lambda c: _lookup(c, ("model",)) != "sonnet",
    "ctx.tokens>30000": lambda c: (_lookup(c, ("tokens",)) or 0) > 30000,
    "ctx.usage.input<20": lambda c: (
        _lookup(c, ("usage", "input")) is not None and _lookup(c, ("usage", "input")) < 20
    ),
}


@pytest.mark.parametrize("text", sorted(WANT))
async def test_every_plan_finds_the_same_sessions_in_the_same_order(store, text) -> None:
    want = [
        s.id
        for s in sorted(await store.sessions.list(), key=lambda s: (-s.created_at, -s.id))
        if WANT[text](s.context)
    ]
    query = parse(text)
    (f,) = query.context
    for how in HOWS:
        where, params = session_where(query, plan={f: how})
        rows = await store.fetchall(
            f"SELECT s.id FROM sessions s WHERE {where} ORDER BY s.created_at DESC, s.id DESC",
            params,
        )
        assert [r[0] for r in rows] == want, (text, how)
    assert await filter_session_ids(store, query) == want


async def test_two_filters_in_every_pair_of_plans(store) -> None:
    query = parse("has:ctx.thread -ctx.tokens>30000")
    want = {i + 1 for i in range(60) if i % 3 and i % 2 and i * 1000 <= 30000}
    a, b = query.context
    for how_a, how_b in itertools.product(HOWS, HOWS):
        where, params = session_where(query, plan={a: how_a, b: how_b})
        rows = await store.fetchall(f"SELECT s.id FROM sessions s WHERE {where}", params)
        assert {r[0] for r in rows} == want, (how_a, how_b)


async def test_the_planner_looks_up_a_rare_match_and_walks_for_a_common_one(store) -> None:
    rare, common = parse("ctx.model:opus"), parse("has:ctx.thread")
    assert list((await context_plan(store, rare)).values()) == ["lookup"]
    # every session walked: tested against the list of the matches, built once
    assert list((await context_plan(store, common)).values()) == ["walk"]
    # a page of them: the walk stops early, each session tested on its own
    assert list((await context_plan(store, common, limit=5)).values()) == ["test"]
    both = parse("ctx.model:opus has:ctx.thread")
    plan = await context_plan(store, both)
    assert [plan[f] for f in both.context] == ["lookup", "test"]


async def test_the_walk_reads_the_member_index_in_session_order(store) -> None:
    query = parse("has:ctx.thread")
    where, params = session_where(query, plan=await context_plan(store, query))
    rows = await store.fetchall(
        f"EXPLAIN QUERY PLAN SELECT s.id FROM sessions s WHERE {where} "
        "ORDER BY s.created_at DESC, s.id DESC",
        params,
    )
    details = [r[3] for r in rows]
    assert any("sessions_live" in d for d in details), details  # newest first, no sort
    assert any("session_context_member" in d for d in details), details
    assert not any("TEMP B-TREE" in d for d in details), details


async def test_a_lookup_is_by_id_even_when_statistics_favour_the_live_walk(store) -> None:
    """With ``sqlite_stat1`` (``PRAGMA optimize`` writes it as a store closes), SQLite
    would walk every live session to test a one-session list: 12 ms instead of 0.01
    with 100 000 sessions. The lookup plan leaves it only the rowid."""
    await store.db.execute_fetchall("ANALYZE")
    query = parse("ctx.model:opus")
    assert list((await context_plan(store, query)).values()) == ["lookup"]
    plans = []
    await store.db.set_trace_callback(plans.append)
    try:
        assert await filter_session_ids(store, query) == [8]
    finally:
        await store.db.set_trace_callback(None)
    (sql,) = [p for p in plans if "SELECT s.id FROM" in p]
    rows = await store.fetchall(f"EXPLAIN QUERY PLAN {sql}")
    details = [r[3] for r in rows]
    assert any(d.startswith("SEARCH s USING INTEGER PRIMARY KEY") for d in details), details
