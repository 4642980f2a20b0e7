"""Merging the output index's segments (storage/index_merge.py): deferred while a
backlog is indexed, done by ``tidy_index`` afterwards, proportional for ordinary
writes, and forced past the segment guard. Searches find the same lines throughout.

Each write transaction that indexes text leaves at least one new segment, so the
tests count segments after many small transactions.
"""

from __future__ import annotations

import storage.engine.output as output_module
from storage.engine.index_merge import MERGE_AT, segment_count


async def _sessions(store, count: int) -> list[int]:
    """``count`` sessions of one unindexed line each: ``line N tokenN common``."""
    ids = []
    for i in range(count):
        sid = (await store.sessions.create(["seq"], cwd="/")).id
        await store.output.append(
            sid, "stdout", f"line {i} token{i} common\n".encode(), index=False
        )
        ids.append(sid)
    return ids


async def _found(store, words: list[str]) -> list[list[int]]:
    return [sorted(h.session_id for h in await store.search(w, limit=1000)) for w in words]


async def _index_each(store, ids: list[int], merge: bool) -> None:
    """Index the backlog one session per transaction (many small segments)."""
    for sid in ids:
        assert await store.output.index_pending(sid, merge=merge) == 1


async def test_deferred_indexing_leaves_segments_for_tidy_index_to_merge(store):
    ids = await _sessions(store, 120)
    await _index_each(store, ids, merge=False)
    piled = await store.output.index_segments()
    assert piled >= 120  # nothing was merged while the backlog was indexed
    words = ["token0", "token77", "token119", "common", '"line 5"']
    before = await _found(store, words)
    assert before[:3] == [[ids[0]], [ids[77]], [ids[119]]] and before[3] == ids

    tidied = 0
    while await store.output.tidy_index():
        tidied += 1
    assert tidied >= 1
    merged = await store.output.index_segments()
    assert merged < MERGE_AT  # every level of MERGE_AT segments or more was merged
    assert await _found(store, words) == before
    assert (await store.integrity_check()).ok
    assert not await store.output.tidy_index()  # and then there is nothing left to do


async def test_indexing_with_merge_keeps_the_segment_count_bounded(store):
    ids = await _sessions(store, 120)
    await _index_each(store, ids, merge=True)
    # Without merging this would be >= 120 (see the test above).
    assert await store.output.index_segments() < 2 * MERGE_AT
    assert await _found(store, ["token119"]) == [[ids[119]]]


async def test_ordinary_indexed_appends_merge_as_they_go(store):
    sid = (await store.sessions.create(["seq"], cwd="/")).id
    for i in range(120):  # each append its own transaction, so its own segment
        await store.output.append(sid, "stdout", f"line {i} token{i}\n".encode())
    assert await store.output.index_segments() < 2 * MERGE_AT
    assert await _found(store, ["token0", "token119"]) == [[sid], [sid]]
    assert (await store.integrity_check()).ok


async def test_past_the_guard_deferred_indexing_merges_anyway(store, monkeypatch):
    monkeypatch.setattr(output_module, "SEGMENT_GUARD", 40)
    ids = await _sessions(store, 160)
    await _index_each(store, ids, merge=False)
    # It piles up to the guard, then merges in proportion to what each step indexes.
    assert await segment_count(store.db) < 40 + 2 * MERGE_AT
    assert await _found(store, ["token0", "token159"]) == [[ids[0]], [ids[159]]]
