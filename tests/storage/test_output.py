"""``store.output``: appending bytes, reading lines back by number, chunks, indexing."""

from __future__ import annotations

import pytest

from storage import AppendResult, Line, OutputChunk, SessionNotFound
from storage.engine.chunks import CHUNK_BYTES, count_lines, split_chunks
from tests.support.database import PLAIN_SIZES, assert_output_index_exact, rows


@pytest.fixture
async def sid(store):
    return (await store.sessions.create(["x"], cwd="/")).id


def raws(lines: list[Line]) -> list[bytes]:
    return [ln.raw for ln in lines]


async def test_append_and_read_back(store, sid):
    res = await store.output.append(sid, "stdout", b"one\ntwo\n", at=10.0)
    assert res == AppendResult(first_line=0, line_count=2, chunks=1)
    res = await store.output.append(sid, "stderr", b"oops\n", at=11.0)
    assert res == AppendResult(2, 1, 1)
    lines = await store.output.read_lines(sid, 0, 100)
    assert lines == [
        Line(sid, 0, "stdout", 10.0, 0, b"one", True),
        Line(sid, 1, "stdout", 10.0, 0, b"two", True),
        Line(sid, 2, "stderr", 11.0, 0, b"oops", True),
    ]
    assert await store.output.line_count(sid) == 3
    s = await store.sessions.get(sid)
    assert (s.output_lines, s.output_bytes, s.last_output_at) == (3, 13, 11.0)
    assert s.updated_at >= 11.0


async def test_read_lines_is_a_slice(store, sid):
    await store.output.append(sid, "stdout", b"".join(b"%d\n" % i for i in range(1000)))
    everything = await store.output.read_lines(sid, 0, 1000)
    assert raws(everything) == [b"%d" % i for i in range(1000)]
    for start, stop in [(0, 1), (5, 17), (998, 2000), (999, 1000), (1000, 1005), (-5, 3)]:
        got = await store.output.read_lines(sid, start, stop)
        assert got == everything[max(0, start) : stop], (start, stop)
    assert await store.output.read_lines(sid, 7, 7) == []
    assert await store.output.read_lines(sid, 9, 3) == []


async def test_an_unterminated_line_is_continued_by_the_same_stream(store, sid):
    res = await store.output.append(sid, "stdout", b"Password: ")
    assert res == AppendResult(0, 1, 1)
    [line] = await store.output.read_lines(sid, 0, 10)
    assert (line.raw, line.terminated) == (b"Password: ", False)
    res = await store.output.append(sid, "stdout", b"ok\nnext")
    assert res.first_line == 0 and res.line_count == 2
    lines = await store.output.read_lines(sid, 0, 10)
    assert [(ln.raw, ln.terminated) for ln in lines] == [
        (b"Password: ok", True),
        (b"next", False),
    ]
    assert await store.output.line_count(sid) == 2
    # Another stream does not continue it: its own line starts.
    await store.output.append(sid, "stderr", b"warn\n")
    await store.output.append(sid, "stdout", b" more\n")
    lines = await store.output.read_lines(sid, 0, 10)
    assert [(ln.stream, ln.raw, ln.terminated) for ln in lines] == [
        ("stdout", b"Password: ok", True),
        ("stdout", b"next", False),
        ("stderr", b"warn", True),
        ("stdout", b" more", True),
    ]


async def test_streams_filter(store, sid):
    for i in range(30):
        await store.output.append(sid, "stdout" if i % 3 else "stderr", b"l%d\n" % i)
    err = await store.output.read_lines(sid, 0, 30, stream="stderr")
    assert [ln.number for ln in err] == list(range(0, 30, 3))  # numbers stay global
    assert {ln.stream for ln in err} == {"stderr"}
    assert await store.output.read_bytes(sid, "stderr") == b"".join(
        b"l%d\n" % i for i in range(0, 30, 3)
    )
    assert [ln.raw for ln in await store.output.tail(sid, 2, stream="stderr")] == [b"l24", b"l27"]
    assert [ln.raw for ln in await store.output.tail(sid, 2)] == [b"l28", b"l29"]
    assert await store.output.tail(sid, 0) == []
    assert await store.output.tail(sid, 0, stream="stderr") == []
    assert len(await store.output.tail(sid, 100)) == 30
    assert await store.output.tail(sid, 5, stream="input") == []


async def test_tail_of_a_rare_stream_far_back(store, sid):
    await store.output.append(sid, "stderr", b"the only error\n")
    await store.output.append(sid, "stdout", b"noise\n" * 20_000)
    [line] = await store.output.tail(sid, 1, stream="stderr")
    assert (line.number, line.raw) == (0, b"the only error")


async def test_iterators_and_read_bytes(store, sid):
    payload = b"".join(b"line %06d of the output\n" % i for i in range(20_000))
    await store.output.append(sid, "stdout", payload[: len(payload) // 2])
    await store.output.append(sid, "stderr", b"between\n")
    await store.output.append(sid, "stdout", payload[len(payload) // 2 :])
    chunks = [c async for c in store.output.iter_chunks(sid)]
    assert all(isinstance(c, OutputChunk) for c in chunks)
    assert [c.first_line for c in chunks] == sorted(c.first_line for c in chunks)
    assert all(len(c.data) <= CHUNK_BYTES for c in chunks)
    assert await store.output.read_bytes(sid, "stdout") == payload
    assert await store.output.read_bytes(sid) == b"".join(c.data for c in chunks)
    lines = [ln async for ln in store.output.iter_lines(sid)]
    assert len(lines) == 20_001 == await store.output.line_count(sid)
    assert [ln.number for ln in lines] == list(range(20_001))
    out = [ln async for ln in store.output.iter_lines(sid, stream="stdout")]
    assert b"\n".join(ln.raw for ln in out) + b"\n" == payload
    assert [c async for c in store.output.iter_chunks(999)] == []


async def test_chunks_cover_the_requested_range(store, sid):
    await store.output.append(sid, "stdout", b"x\n" * 100_000)
    got = await store.output.chunks(sid, 50_000, 50_010)
    assert got and got[0].first_line <= 50_000 < got[0].first_line + got[0].line_count
    assert all(c.first_line < 50_010 for c in got)


async def test_append_many_is_one_transaction(store, sid):
    other = (await store.sessions.create(["y"], cwd="/")).id
    res = await store.output.append_many(
        [
            (sid, "stdout", b"a\n", 1.0),
            (other, "stdout", b"b\nc\n", 2.0),
            (sid, "stderr", b"d\n", 3.0),
        ]
    )
    assert res == {sid: AppendResult(0, 2, 2), other: AppendResult(0, 2, 1)}
    before = await store.output.read_bytes(sid)
    with pytest.raises(ValueError, match="stream"):
        await store.output.append_many(
            [(sid, "stdout", b"lost\n", None), (sid, "bogus", b"x", None)]
        )
    with pytest.raises(SessionNotFound):
        await store.output.append_many(
            [(sid, "stdout", b"lost\n", None), (999, "stdout", b"x", None)]
        )
    assert await store.output.read_bytes(sid) == before
    assert await store.output.line_count(sid) == 2
    assert await store.output.append_many([]) == {}


async def test_empty_and_bad_appends(store, sid):
    assert await store.output.append(sid, "stdout", b"") == AppendResult(0, 0, 0)
    await store.output.append(sid, "stdout", b"x\n")
    assert await store.output.append(sid, "stdout", b"") == AppendResult(1, 0, 0)
    with pytest.raises(SessionNotFound):
        await store.output.append(999, "stdout", b"x")
    with pytest.raises(SessionNotFound):
        await store.output.append(999, "stdout", b"")
    with pytest.raises(SessionNotFound):
        await store.output.line_count(999)
    with pytest.raises(ValueError, match="stream"):
        await store.output.append(sid, "stdin", b"x")


async def test_system_lines(store, sid):
    await store.output.append(sid, "stdout", b"half")
    await store.output.system(sid, "stopped by you\n")
    lines = await store.output.read_lines(sid, 0, 5)
    assert [(ln.stream, ln.raw, ln.terminated) for ln in lines] == [
        ("stdout", b"half", False),
        ("system", b"stopped by you", True),
    ]


async def test_line_text_and_plain():
    line = Line(1, 0, "stdout", 0.0, 1, b"\x1b[31mred\x1b[0m \xff ok\rOK", True)
    assert line.text == "\x1b[31mred\x1b[0m \ufffd ok\rOK"
    assert line.plain == "OKd \ufffd ok"


# -- chunking ----------------------------------------------------------------------------


def test_split_chunks_laws():
    data = b"".join(b"%d " % i * (i % 50) + b"\n" for i in range(5000))
    pieces = split_chunks(data, 1000)
    assert b"".join(pieces) == data
    assert all(0 < len(p) <= 1000 for p in pieces)
    assert all(p.endswith(b"\n") for p in pieces)  # every line here fits in a piece
    long = "é".encode() * 3000  # no newline: cut at a character boundary
    pieces = split_chunks(long, 1001)
    assert b"".join(pieces) == long
    assert all(p.decode() for p in pieces)  # each piece is valid UTF-8 on its own
    assert split_chunks(b"") == []
    assert count_lines(b"a\nb") == 2 and count_lines(b"a\nb\n") == 2 and count_lines(b"\n") == 1


async def test_chunks_are_bounded_and_hold_whole_lines(store, sid, db_path):
    line = b"0123456789abcdef" * 5 + b"\n"
    await store.output.append(sid, "stdout", line * 20_000)
    sizes = rows(db_path, "SELECT length(plain(data, plain_size)), open_end FROM output_chunks")
    assert len(sizes) > 1
    assert max(n for n, _ in sizes) <= CHUNK_BYTES
    assert {o for _, o in sizes} == {0}
    assert raws(await store.output.read_lines(sid, 0, 20_000)) == [line[:-1]] * 20_000


@pytest.mark.parametrize("in_one_call", [False, True])
async def test_a_line_is_not_cut_where_a_chunk_happens_to_be_full(store, sid, in_one_call):
    """A reader that fills 64 KiB ends mid-line; the rest of that line arrives in the
    next append. It must still be one line (regression: it used to become two)."""
    body = b"".join(b"log line %05d\n" % i for i in range(10_000))
    first = body[:CHUNK_BYTES]  # exactly one full chunk, ending inside a line
    assert not first.endswith(b"\n")
    second = body[CHUNK_BYTES:]
    if in_one_call:
        await store.output.append_many(
            [(sid, "stdout", first, None), (sid, "stdout", second, None)]
        )
    else:
        await store.output.append(sid, "stdout", first)
        await store.output.append(sid, "stdout", second)
    lines = await store.output.read_lines(sid, 0, 20_000)
    assert raws(lines) == body.split(b"\n")[:-1]
    assert all(ln.terminated for ln in lines)
    assert await store.output.read_bytes(sid) == body


async def test_a_line_longer_than_a_chunk_is_cut_into_pieces(store, sid, db_path):
    long = b"z" * (CHUNK_BYTES * 2 + 100)
    await store.output.append(sid, "stdout", b"before\n" + long + b"\nafter\n")
    lines = await store.output.read_lines(sid, 0, 10)
    assert [len(ln.raw) for ln in lines] == [6, CHUNK_BYTES, CHUNK_BYTES, 100, 5]
    assert [ln.terminated for ln in lines] == [True, False, False, True, True]
    assert await store.output.read_bytes(sid) == b"before\n" + long + b"\nafter\n"
    assert max(n for (n,) in rows(db_path, PLAIN_SIZES)) <= CHUNK_BYTES


async def test_a_long_line_arriving_in_small_pieces(store, sid, db_path):
    piece = b"q" * 1000
    for _ in range(200):  # 200 KB without a newline, as a slow progress bar writes it
        await store.output.append(sid, "stdout", piece)
    await store.output.append(sid, "stdout", b"\n")
    lines = await store.output.read_lines(sid, 0, 10)
    assert b"".join(ln.raw for ln in lines) == piece * 200
    assert all(len(ln.raw) <= CHUNK_BYTES for ln in lines)
    assert [ln.terminated for ln in lines] == [False] * (len(lines) - 1) + [True]
    assert max(n for (n,) in rows(db_path, PLAIN_SIZES)) <= CHUNK_BYTES
    assert_output_index_exact(db_path)


# -- indexing later ----------------------------------------------------------------------


async def test_index_pending(store, sid, db_path):
    await store.output.append(sid, "stdout", b"alpha beta\n" * 10_000, index=False)
    await store.output.append(sid, "stdout", b"gamma\n", index=False)
    assert await store.search("gamma") == []
    pending = await store.output.unindexed_bytes(sid)
    assert pending == 110_006 == await store.output.unindexed_bytes()
    assert await store.output.index_pending(sid, max_bytes=1) >= 1  # at least one chunk
    assert await store.output.unindexed_bytes(sid) < pending
    while await store.output.index_pending():
        pass
    assert await store.output.unindexed_bytes() == 0
    assert [h.line for h in await store.search("gamma")] == [10_000]
    assert_output_index_exact(db_path)


async def test_continuing_an_indexed_line_reindexes_it(store, sid, db_path):
    await store.output.append(sid, "stdout", b"connection ref")
    await store.output.append(sid, "stdout", b"used by host\n")
    hits = await store.search("refused")
    assert [(h.line, h.text) for h in hits] == [(0, "connection refused by host")]
    assert await store.search("ref") == []
    assert_output_index_exact(db_path)


async def test_an_open_tail_is_kept_apart_so_continuing_it_is_cheap(store, sid, db_path):
    body = b"".join(b"finished line %04d\n" % i for i in range(1000))  # about 19 KB
    await store.output.append(sid, "stdout", body + b"half of a li")
    chunks = rows(
        db_path, "SELECT length(plain(data, plain_size)), line_count, open_end FROM output_chunks"
    )
    assert chunks == [(len(body), 1000, 0), (12, 1, 1)]
    await store.output.append(sid, "stdout", b"ne\nnext\n")
    lines = await store.output.read_lines(sid, 998, 2000)
    assert raws(lines) == [b"finished line 0998", b"finished line 0999", b"half of a line", b"next"]
    assert rows(db_path, PLAIN_SIZES + " ORDER BY first_line")[0] == (
        len(body),
    )  # the big chunk was not rewritten
    assert_output_index_exact(db_path)
