"""A terminal session's rendered transcript is compressed at rest (schema v16), as its
output is: stored as zstd frames, read back exactly by every reader (its rows, search
hits and counts, forgetting rows, purging), beside chunks stored plain before v16."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from storage.engine import screens
from storage.engine.compress import plain
from storage.engine.search import search
from storage.query import parse


def _rows(n: int, start: int = 0) -> list[str]:
    """Rows a build prints: numbered, repetitive, with a word to find in a few."""
    return [
        f"[{i:06d}] compiling module_{i % 97}.c -> obj/module_{i % 97}.o"
        + (" zebrafinch" if i % 150 == 7 else "")
        for i in range(start, start + n)
    ]


async def _pty_session(store) -> int:
    s = await store.sessions.create(["make"], cwd="/", mode="pty")
    await store.runs.start(s.id)
    return s.id


async def _save(store, sid: int, first: int, rows: list[str]) -> None:
    part = screens.RenderedRows(1, first, rows, first + len(rows), 1_700_000_000.0)
    await screens.save(store, sid, rows=[part], position=(first + len(rows), 0))


async def _plain_chunk(store, sid: int, first: int, rows: list[str]) -> None:
    """A transcript chunk as schema v15 stored it: its text as is, ``plain_size`` NULL."""
    text = "".join(r + "\n" for r in rows)
    async with store.transaction() as db:
        cur = await db.execute(
            "INSERT INTO rendered_chunks (session_id, run, first_row, row_count, line, at, text) "
            "VALUES (?, 1, ?, ?, ?, 1700000000.0, ?)",
            (sid, first, len(rows), first + len(rows), text),
        )
        await db.execute(
            "INSERT INTO rendered_words (rowid, text) VALUES (?, ?)", (cur.lastrowid, text)
        )


def _chunks_of_200_rows(monkeypatch) -> None:
    monkeypatch.setattr(screens, "ROWS_PER_CHUNK", 200)
    monkeypatch.setattr(screens, "CHUNK_TEXT_BYTES", 1 << 30)


async def _entries(store) -> int:
    return int(await store.scalar("SELECT count(*) FROM rendered_words_docsize"))


async def test_transcript_chunks_are_stored_compressed_and_read_back_exactly(store, monkeypatch):
    _chunks_of_200_rows(monkeypatch)
    sid = await _pty_session(store)
    rows = _rows(1000)
    await _save(store, sid, 0, rows)
    stored = await store.fetchall(
        "SELECT text, plain_size FROM rendered_chunks WHERE session_id = ?", (sid,)
    )
    assert len(stored) == 5  # 200 rows a chunk
    assert all(size is not None and isinstance(text, bytes) for text, size in stored)
    packed = sum(len(text) for text, _ in stored)
    assert packed * 3 < sum(size for _, size in stored)  # build output compresses well
    text = b"".join(plain(t, n) for t, n in stored).decode()
    assert text == "".join(r + "\n" for r in rows)
    assert await screens.rendered_rows(store, sid) == rows
    assert await screens.rendered_rows(store, sid, 195, 410) == rows[195:410]


async def test_search_finds_and_counts_rows_of_compressed_and_plain_chunks(store):
    sid = await _pty_session(store)
    await _plain_chunk(store, sid, 0, _rows(200))  # recorded before v16
    await _save(store, sid, 200, _rows(400, 200))
    kinds = await store.fetchall(
        "SELECT plain_size IS NULL FROM rendered_chunks WHERE session_id = ? ORDER BY first_row",
        (sid,),
    )
    assert [k for (k,) in kinds] == [1, 0, 0]
    result = await search(store, parse("zebrafinch"))
    want = [r for r in _rows(600) if "zebrafinch" in r]
    assert len(want) == 4
    assert sorted(h.text for h in result.hits) == sorted(want)
    assert {h.stream for h in result.hits} == {"screen"}
    assert [(g.session.id, g.count, g.exact) for g in result.groups] == [(sid, 4, True)]
    assert await screens.rendered_rows(store, sid) == _rows(600)


async def test_forgetting_and_purging_give_back_the_index_entries_of_both_kinds(store, monkeypatch):
    _chunks_of_200_rows(monkeypatch)
    sid = await _pty_session(store)
    await _plain_chunk(store, sid, 0, _rows(200))
    await _save(store, sid, 200, _rows(600, 200))
    other = await _pty_session(store)
    await _save(store, other, 0, _rows(200))
    assert await _entries(store) == 5
    # A render that starts again from row 300 drops the chunks from there (compressed).
    await screens.forget_from(store, sid, 400)
    assert await _entries(store) == 3
    assert await screens.rendered_rows(store, sid) == _rows(400)
    await store.sessions.purge([sid])  # one plain chunk, one compressed
    assert await _entries(store) == 1
    assert await store.fetchall(
        "SELECT rowid FROM rendered_words WHERE rendered_words MATCH 'zebrafinch'"
    ) == [(r,) for (r,) in await store.fetchall("SELECT id FROM rendered_chunks")]
    # Deleting an entry of a contentless index with other text than it was given corrupts
    # it: the check would fail had a compressed frame been passed instead of its rows.
    await store.db.execute("INSERT INTO rendered_words (rendered_words) VALUES ('integrity-check')")


async def test_a_chunk_too_small_to_gain_stays_plain(store):
    sid = await _pty_session(store)
    await _save(store, sid, 0, ["$ make", "ok"])
    ((text, size),) = await store.fetchall(
        "SELECT text, plain_size FROM rendered_chunks WHERE session_id = ?", (sid,)
    )
    assert (text, size) == ("$ make\nok\n", None)
    assert await screens.rendered_rows(store, sid) == ["$ make", "ok"]


def _joined(rows: list[str]) -> str:
    return "".join(r + "\n" for r in rows)


def test_transcript_rows_are_cut_by_bytes_or_rows() -> None:
    """A chunk ends at ``ROWS_PER_CHUNK`` rows or once its text reaches
    ``CHUNK_TEXT_BYTES``, whichever comes first: short rows (``seq``) make few chunks,
    each an index entry and a frame; long ones do not make huge ones."""
    short = [str(i) for i in range(5000)]
    cuts = screens._cuts(short, _joined(short))
    assert [(start, end) for start, end, _, _ in cuts] == [(0, 2000), (2000, 4000), (4000, 5000)]
    whole = "".join(r + "\n" for r in short)
    assert [whole[at:upto] for _, _, at, upto in cuts] == [
        "".join(r + "\n" for r in short[a:b]) for a, b, _, _ in cuts
    ]
    wide = ["x" * 199 for _ in range(300)]  # 200 bytes a row with its newline
    per = -(-screens.CHUNK_TEXT_BYTES // 200)
    cuts = screens._cuts(wide, _joined(wide))
    assert [end - start for start, end, _, _ in cuts] == [per, per, per, 300 - 3 * per]
    assert [(at, upto) for _, _, at, upto in cuts] == [(200 * a, 200 * b) for a, b, _, _ in cuts]
    assert screens._cuts([], "") == []


@given(
    st.lists(st.text(alphabet="ab é\u4e00\n", max_size=300), max_size=3000),
    st.integers(1, 50),
    st.integers(1, 2000),
)
@example(["abc"] * 10, 50, 8)  # a row's newline exactly at the limit
@example(["abc"] * 10, 3, 1000)  # the row limit first
@settings(max_examples=200, deadline=None)
def test_cuts_are_those_of_counting_each_row(rows, per_chunk, text_bytes) -> None:
    """``_cuts`` (string searches) against counting row by row; rows holding a newline
    too (counted row by row then)."""
    want, start, size = [], 0, 0
    for i, row in enumerate(rows):
        size += len(row) + 1
        if size >= text_bytes or i + 1 - start == per_chunk:
            want.append((start, i + 1))
            start, size = i + 1, 0
    if start < len(rows):
        want.append((start, len(rows)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(screens, "ROWS_PER_CHUNK", per_chunk)
        mp.setattr(screens, "CHUNK_TEXT_BYTES", text_bytes)
        cuts = screens._cuts(rows, _joined(rows))
    assert [(start, end) for start, end, _, _ in cuts] == want
    whole = "".join(r + "\n" for r in rows)
    assert "".join(whole[at:upto] for _, _, at, upto in cuts) == whole
    assert all(
        whole[at:upto] == "".join(r + "\n" for r in rows[start:end])
        for start, end, at, upto in cuts
    )


async def test_the_upkeep_compresses_chunks_stored_before_v16(store, monkeypatch):
    """Existing databases: the writers' upkeep compresses the plain chunks in short
    steps (and passes over those that would not shrink), the rows read the same and
    search finds them as before."""
    monkeypatch.setattr(screens, "PACK_STEP_BYTES", 16 * 1024)
    sid = await _pty_session(store)
    for first in range(0, 2000, 200):
        await _plain_chunk(store, sid, first, _rows(200, first))
    await _plain_chunk(store, sid, 2000, ["ok"])  # too small to gain
    before = await _entries(store)
    steps = 0
    while await store.output.upkeep():
        steps += 1
        assert steps < 100
    assert steps >= 3  # 10 chunks of ~12 KB, at most ~16 KB a step
    kinds = await store.fetchall("SELECT plain_size IS NULL FROM rendered_chunks ORDER BY id")
    assert [k for (k,) in kinds] == [0] * 10 + [1]
    assert await screens.rendered_rows(store, sid) == _rows(2000) + ["ok"]
    assert await _entries(store) == before
    hits = (await search(store, parse("zebrafinch"))).hits
    assert sorted(h.text for h in hits) == sorted(r for r in _rows(2000) if "zebrafinch" in r)


async def test_rows_packed_in_another_thread_are_stored_as_the_rows_themselves(store, monkeypatch):
    """A supervisor packs its transcript rows in a worker thread (``pack_rows``) and
    stores them after: the chunks, rows and index are those of storing the rows."""
    _chunks_of_200_rows(monkeypatch)
    direct, ahead = await _pty_session(store), await _pty_session(store)
    rows = _rows(1000)
    await _save(store, direct, 0, rows)
    part = screens.RenderedRows(1, 0, rows, len(rows), 1_700_000_000.0)
    packed = await asyncio.to_thread(screens.pack_rows, part)
    await screens.save(store, ahead, rows=[packed], position=(len(rows), 0))

    layout = (
        "SELECT run, first_row, row_count, line, at, plain_size FROM rendered_chunks "
        "WHERE session_id = ? ORDER BY id"
    )
    assert await store.fetchall(layout, (ahead,)) == await store.fetchall(layout, (direct,))
    assert await screens.rendered_rows(store, ahead) == rows
    assert await screens.render_state(store, ahead) == await screens.render_state(store, direct)
    found = await search(store, parse("zebrafinch"), limit=1000)
    by_session = {g.session.id: len(g.hits) for g in found.groups}
    assert by_session == {direct: 7, ahead: 7}
