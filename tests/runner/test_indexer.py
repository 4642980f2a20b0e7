"""The supervisor's indexing (runner/indexer.py): a big backlog is indexed without
merging, then merged in short steps; a small one is merged as it is indexed. First
the policy on a real store in this process, then a real supervisor given a burst."""

from __future__ import annotations

from runner import control
from runner.indexer import Indexer
from runner.locations import supervisor_pid
from storage.engine.index_merge import MERGE_AT
from tests.support.supervisors import eventually, process_state, wait_ended

LINE = 7  # bytes of "NNNNNN\n"


async def _backlog(store, lines: int) -> int:
    sid = (await store.sessions.create(["seq"], cwd="/")).id
    data = "".join(f"{n}\n" for n in range(100_000, 100_000 + lines)).encode()
    await store.output.append(sid, "stdout", data, index=False)
    return sid


async def test_a_big_backlog_is_indexed_unmerged_then_tidied(store, paths):
    limit = 256 * 1024
    sid = await _backlog(store, 1024 * 1024 // LINE)  # 1 MiB: four times the limit
    ix = Indexer(store, sid, paths.runtime / "supervisor.log", defer_above=limit)
    ix.wrote()
    steps, deferred = 0, 0
    while True:
        backlog = await store.output.unindexed_bytes(sid)
        segments = await store.output.index_segments()
        n = await ix.step(1)  # one chunk a step
        if n == 0:
            break
        steps += 1
        if backlog > limit:
            deferred += 1
            assert await store.output.index_segments() > segments, "a deferred step merges nothing"
    assert deferred >= 10 and steps > deferred
    assert not ix.due and ix.tidy_due
    assert await store.output.index_segments() >= deferred  # left for tidying
    words = ["100000", str(100_000 + 1024 * 1024 // LINE - 1)]

    async def found() -> list[list[int]]:
        return [[h.line for h in await store.search(w, session_id=sid)] for w in words]

    before = await found()
    assert before == [[0], [1024 * 1024 // LINE - 1]]

    await ix.tidy_rest(lambda: False)
    assert not ix.tidy_due
    assert await store.output.index_segments() < MERGE_AT
    assert await found() == before
    assert (await store.integrity_check()).ok


async def test_after_the_run_the_word_pairs_of_what_was_indexed_are_added(store, paths):
    """What a run wrote is indexed with its words first (searchable soonest) and listed
    as ``unpaired``; ``tidy_rest`` adds the pairs (storage/engine/word_pairs.py), after
    which a phrase of common words reads only the chunks that may hold it."""
    from storage.engine.search.hits import OutputSearch, newest_hits
    from storage.query import parse

    sid = (await store.sessions.create(["logs"], cwd="/")).id
    lines = b"".join(b"worker %d started\njob %d finished\n" % (n, n) for n in range(40_000))
    await store.output.append(sid, "stdout", lines + b"worker finished early\n", index=False)
    ix = Indexer(store, sid, paths.runtime / "supervisor.log", defer_above=256 * 1024)
    ix.wrote()
    await ix.rest(lambda: False, 10)
    chunks = await store.scalar("SELECT count(*) FROM output_chunks WHERE session_id = ?", (sid,))
    assert await store.scalar("SELECT count(*) FROM unpaired") == chunks > 10

    async def read() -> tuple[list[int], int]:
        s = OutputSearch(store, parse('"worker finished"'))
        hits, _ = await newest_hits(s, 50, None)
        return [h.line for h in hits], len(s.scanned)

    assert await read() == ([80_000], chunks)  # every chunk holds both words
    await ix.tidy_rest(lambda: False)
    assert await store.scalar("SELECT count(*) FROM unpaired") == 0
    assert await read() == ([80_000], 1)


async def test_a_small_backlog_is_merged_as_it_is_indexed(store, paths):
    sid = await _backlog(store, 200_000 // LINE)  # under the limit
    ix = Indexer(store, sid, paths.runtime / "supervisor.log", defer_above=256 * 1024)
    ix.wrote()
    while await ix.step(4096):
        pass
    assert not ix.tidy_due  # nothing was left unmerged
    assert await store.output.index_segments() < 2 * MERGE_AT


async def test_after_the_run_a_deferred_backlog_is_indexed_unmerged_to_its_end(store, paths):
    """``rest`` (the command has ended): the tail of a backlog that was indexed without
    merging is not merged either, however small (tidy_rest merges it all next): merging
    in that step made a 200 MB burst searchable ~1.2 s later."""
    sid = await _backlog(store, 2 * 1024 * 1024 // LINE)  # 2 MiB: ~32 chunks
    ix = Indexer(store, sid, paths.runtime / "supervisor.log", defer_above=1024 * 1024)
    ix.wrote()
    while await store.output.unindexed_bytes(sid) > 1024 * 1024:
        assert await ix.step(1) == 1  # one chunk a step, deferred: a segment each
    segments = await store.output.index_segments()
    assert segments >= MERGE_AT and ix.tidy_due  # a merge would take them down
    await ix.rest(lambda: False, 10)  # the rest (under defer_above) in one step
    assert await store.output.unindexed_bytes(sid) == 0
    assert await store.output.index_segments() > segments and ix.tidy_due  # none merged
    await ix.tidy_rest(lambda: False)
    assert await store.output.index_segments() < MERGE_AT


async def test_a_supervisor_tidies_the_index_after_a_burst(store, paths, tmp_path):
    lines = 3_000_000  # about 21 MB, nearly all of it indexed without merging
    s = await control.start_session(
        store,
        paths,
        argv=["seq", "1", str(lines)],
        cwd=tmp_path,
        tuning={"defer_merge_above": 1024 * 1024},
    )
    pid = supervisor_pid(paths, s.id)
    assert pid
    s = await wait_ended(store, paths, s.id, timeout=120)
    assert s.status == "succeeded" and s.output_lines == lines + 1  # and the exit line
    assert await store.output.unindexed_bytes(s.id) == 0

    async def exited() -> bool:
        try:
            return process_state(pid) == "Z"  # exited, not yet reaped
        except FileNotFoundError:
            return True

    await eventually(exited, timeout=120, what="the supervisor to finish merging and exit")
    assert await store.output.index_segments() < 2 * MERGE_AT
    assert await store.scalar("SELECT count(*) FROM unpaired") == 0  # (the upkeep's, at the end)
    for n in (999_999, 1_500_000, lines):  # (a word is also a prefix: not 1)
        assert [h.line for h in await store.search(str(n), session_id=s.id)] == [n - 1]
    assert (await store.integrity_check()).ok


async def test_supervisors_wait_for_each_other_and_index_all_sessions_in_one_step(store, paths):
    """Many quiet sessions: a step that is not urgent waits until the oldest output
    waiting, any session's, is as old as it would wait for its own; then one step
    indexes every session's output, and the other supervisors find theirs done."""
    import time

    from runner.indexer import INDEX_AFTER_BYTES, INDEX_AFTER_SECONDS

    log = paths.runtime / "supervisor.log"
    sids = [(await store.sessions.create(["x"], cwd="/")).id for _ in range(3)]
    ixs = [Indexer(store, sid, log, defer_above=1 << 20) for sid in sids]
    for sid, ix in zip(sids, ixs, strict=True):
        await store.output.append(sid, "stdout", b"fresh %d\n" % sid, index=False)
        ix.wrote(8)
    # Just written: put off, nothing indexed, still due, and ready once the oldest
    # waiting output is INDEX_AFTER_SECONDS old (not three seconds after this step).
    before = await store.output.index_segments()
    assert await ixs[0].step(1 << 20, wait_age=INDEX_AFTER_SECONDS) == 0
    assert ixs[0].due and await store.output.unindexed_bytes() > 0
    assert await store.output.index_segments() == before
    now = time.monotonic()
    assert not ixs[0].ready(now + 1.5)
    assert ixs[0].ready(now + INDEX_AFTER_SECONDS + 0.1)

    # Output written long enough ago: one step indexes all three sessions' output.
    old = time.time() - 2 * INDEX_AFTER_SECONDS
    await store.output.append(sids[1], "stdout", b"older\n", old, index=False)
    assert await ixs[0].step(1 << 20, wait_age=INDEX_AFTER_SECONDS) > 0
    assert await store.output.unindexed_bytes() == 0
    assert await store.output.index_segments() <= before + 1
    for ix in ixs[1:]:
        assert await ix.step(1 << 20, wait_age=INDEX_AFTER_SECONDS) == 0
        assert not ix.due  # found done
    # All of it fitted in that step: not busy, so new output waits its turn again.
    assert not ixs[0].busy
    await store.output.append(sids[0], "stdout", b"later\n", index=False)
    ixs[0].wrote(6)
    assert await ixs[0].step(1 << 20, wait_age=INDEX_AFTER_SECONDS) == 0 and ixs[0].due
    assert [h.line for h in await store.search("fresh", session_id=sids[2])] == [0]

    # Urgent: a session with INDEX_AFTER_BYTES of its own waiting steps at once.
    await store.output.append(sids[2], "stdout", b"big\n", index=False)
    ixs[2].wrote(INDEX_AFTER_BYTES)
    assert await ixs[2].step(1 << 20, wait_age=INDEX_AFTER_SECONDS) > 0
    assert await store.output.unindexed_bytes() == 0


async def test_a_pause_indexes_a_lone_session_soon_but_waits_for_the_shared_step(store, paths):
    """After a pause (IDLE_AGE) a lone session's output is indexed; while other
    sessions' output waits too, the pause of one does not start a step for all: the
    shared wait (INDEX_AFTER_SECONDS) holds."""
    import time

    from runner.indexer import IDLE_AGE, INDEX_AFTER_SECONDS

    log = paths.runtime / "supervisor.log"
    a, b = [(await store.sessions.create(["x"], cwd="/")).id for _ in range(2)]
    ix = Indexer(store, a, log, defer_above=1 << 20)
    between = time.time() - (IDLE_AGE + INDEX_AFTER_SECONDS) / 2  # older than a pause
    await store.output.append(a, "stdout", b"paused\n", between, index=False)
    await store.output.append(b, "stdout", b"other\n", between, index=False)
    ix.wrote(7)
    assert await ix.step(1 << 20, wait_age=IDLE_AGE) == 0 and ix.due  # b waits too
    assert await store.output.unindexed_bytes() > 0
    while await store.output.index_pending(b):  # b's output indexed: a is alone
        pass
    assert await ix.step(1 << 20, wait_age=IDLE_AGE) > 0
    assert await store.output.unindexed_bytes() == 0
