"""Merging the output index's segments (storage/index_merge.py): deferred while a
backlog is indexed, done by ``tidy_index`` afterwards, proportional for ordinary
writes, and forced past the segment guard. Searches find the same lines throughout.
The rendered transcripts' index the same way (schema v17, ``screens.save``).

Each write transaction that indexes text leaves at least one new segment, so the
tests count segments after many small transactions.
"""

from __future__ import annotations

import storage.engine.output as output_module
from storage.engine import screens
from storage.engine.index_merge import MERGE_AT, RENDERED, segment_count
from storage.engine.search import search
from storage.query import parse


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


# -- the rendered transcripts' index (schema v17): the same settings and policy ---------


async def _transcript_rows(store, count: int, merge: bool) -> int:
    """``count`` transcript stores of one row each (``row N rtokenN shared``) into one pty
    session: each its own transaction, so its own segment."""
    sid = (await store.sessions.create(["sh"], cwd="/", mode="pty")).id
    for i in range(count):
        part = screens.RenderedRows(1, i, [f"row {i} rtoken{i} shared"], i + 1, 1.0e9)
        await screens.save(store, sid, rows=[part], position=(i + 1, 0), merge=merge)
    return sid


async def _rendered_found(store, words: list[str]) -> list[int]:
    found = []
    for word in words:
        result = await search(store, parse(word), limit=1000)
        found.append(sum(len(g.hits) for g in result.groups))
    return found


async def test_transcript_stores_without_merge_leave_segments_for_tidy_step(store):
    await _transcript_rows(store, 120, merge=False)
    piled = await segment_count(store.db, RENDERED)
    assert piled >= 120  # no automerge inside the stores (v17), and none asked for
    words = ["rtoken0", "rtoken77", "rtoken119", "shared"]
    before = await _rendered_found(store, words)
    assert before == [1, 1, 1, 120]

    tidied = 0
    while await screens.tidy_step(store):
        tidied += 1
    assert tidied >= 1
    assert await segment_count(store.db, RENDERED) < MERGE_AT
    assert await _rendered_found(store, words) == before
    assert (await store.integrity_check()).ok
    assert not await screens.tidy_step(store)


async def test_transcript_stores_with_merge_keep_the_segment_count_bounded(store):
    await _transcript_rows(store, 120, merge=True)
    assert await segment_count(store.db, RENDERED) < 2 * MERGE_AT
    assert await _rendered_found(store, ["rtoken119"]) == [1]


async def test_past_the_guard_transcript_stores_merge_anyway(store, monkeypatch):
    monkeypatch.setattr(screens, "SEGMENT_GUARD", 40)
    await _transcript_rows(store, 160, merge=False)
    assert await segment_count(store.db, RENDERED) < 40 + 2 * MERGE_AT
    assert await _rendered_found(store, ["rtoken0", "rtoken159"]) == [1, 1]


async def test_forgetting_transcript_rows_merges_their_deletions(store):
    sid = await _transcript_rows(store, 120, merge=False)
    while await screens.tidy_step(store):
        pass
    settled = await segment_count(store.db, RENDERED)
    for row in range(119, 0, -1):  # each its own transaction: a segment of deletions
        await screens.forget_from(store, sid, row)
    assert await segment_count(store.db, RENDERED) < settled + 2 * MERGE_AT
    assert await _rendered_found(store, ["rtoken0", "rtoken1", "shared"]) == [1, 0, 1]
