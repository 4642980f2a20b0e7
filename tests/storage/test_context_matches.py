"""The session list's filter (``matching_session_ids``): the same live sessions as
``filter_session_ids``, answered for a query of context filters alone from the member
index with set operations, never walking the sessions (``bench/cases/context_filters.py``
has the figures)."""

from __future__ import annotations

import pytest

from storage.engine.search.filters import Matches, filter_session_ids, matching_session_ids
from storage.query import parse
from tests.storage.test_context_plans import WANT, store  # noqa: F401 - fixture

QUERIES = [
    *sorted(WANT),
    "has:ctx.thread -ctx.tokens>30000",
    "-has:ctx.thread -ctx.model:sonnet",
    "ctx.model:sonnet has:ctx.usage.input",
    "ctx.model:nobody -has:ctx.thread",
    "has:ctx.thread s13",  # a word: the metadata index too
    "-has:ctx.thread cwd:/",
]


@pytest.fixture
async def trashed(store):  # noqa: F811 - the fixture imported above
    """``store``'s sessions, some in the trash and some gone for good, with and without
    the keys asked about."""
    await store.sessions.trash([2, 3, 9, 10])
    await store.sessions.purge([5, 6, 12])
    return store


@pytest.mark.parametrize("text", QUERIES)
async def test_the_same_live_sessions_as_every_id_newest_first(trashed, text) -> None:
    query = parse(text)
    want = set(await filter_session_ids(trashed, query))
    assert want or text.startswith("ctx.model:nobody")
    found = await matching_session_ids(trashed, query)
    live = await trashed.sessions.ids()
    assert {i for i in live if i in found} == want
    assert found.keep(live) == [i for i in live if i in want]
    if not found.but:  # a plain set holds no session in the trash or gone
        assert found.ids == want


async def test_context_filters_alone_never_walk_the_sessions(trashed) -> None:
    statements: list[str] = []
    await trashed.db.set_trace_callback(statements.append)
    try:
        for text in ("has:ctx.thread", "-has:ctx.model", "ctx.tokens>30000 -has:ctx.thread"):
            await matching_session_ids(trashed, parse(text))
        walks = [s for s in statements if "sessions s" in s or "deleted_at IS NULL" in s]
        assert walks == []
        statements.clear()
        await matching_session_ids(trashed, parse("has:ctx.thread s13"))
        assert any("sessions s" in s for s in statements)  # words: the general path
    finally:
        await trashed.db.set_trace_callback(None)


async def test_negated_filters_alone_name_the_sessions_left_out(trashed) -> None:
    found = await matching_session_ids(trashed, parse("-has:ctx.thread"))
    assert found.but
    purged = {5, 6, 12}
    assert found.ids == {i + 1 for i in range(60) if i % 3 and i % 2} - purged
    assert 1 in found and 2 not in found  # session 1: no context; 2: a thread


def test_with_id_adds_a_session_either_way() -> None:
    assert 4 in Matches({1}).with_id(4) and 1 in Matches({1}).with_id(4)
    left_out = Matches({4, 5}, but=True).with_id(4)
    assert 4 in left_out and 5 not in left_out and 6 in left_out
