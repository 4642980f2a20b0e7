"""``store.search`` (plain words, run by the one search engine) and the consistency of the
two FTS5 indexes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from storage import SearchHit
from storage.engine.search import search_sessions
from tests.support.database import assert_output_index_exact, fts_postings, rows


async def _session(store, *chunks: tuple[str, bytes], **kw):
    s = await store.sessions.create(kw.pop("argv", ["x"]), cwd=kw.pop("cwd", "/"), **kw)
    for stream, data in chunks:
        await store.output.append(s.id, stream, data)
    return s


async def test_words_must_share_a_line_and_newest_comes_first(store):
    a = await _session(store, ("stdout", b"connection refused\nrefused alone\n"))
    b = await _session(store, ("stderr", b"error: Connection REFUSED by peer\n"))
    hits = await store.search("refused connection")
    assert [(h.session_id, h.line, h.stream) for h in hits] == [
        (b.id, 0, "stderr"),
        (a.id, 0, "stdout"),
    ]
    assert all(isinstance(h, SearchHit) for h in hits)
    assert hits[0].text == "error: Connection REFUSED by peer"
    assert hits[0].spans == ((7, 17), (18, 25))
    assert [h.line for h in await store.search("refused")] == [0, 1, 0]
    assert await store.search("") == [] and await store.search("  -- ") == []
    assert await store.search("absent") == []


async def test_search_sees_through_ansi_and_reports_plain_text(store):
    await _session(store, ("stdout", b"\x1b[1;31mFAILED\x1b[0m tests/test_x.py::test_y\n"))
    [hit] = await store.search("failed test_y")
    assert hit.text == "FAILED tests/test_x.py::test_y"
    assert hit.text[hit.spans[0][0] : hit.spans[0][1]] == "FAILED"


async def test_search_limit_session_and_trash(store):
    a = await _session(store, ("stdout", b"needle\n" * 30))
    b = await _session(store, ("stdout", b"needle\n" * 30))
    assert len(await store.search("needle", limit=45)) == 45
    assert {h.session_id for h in await store.search("needle", limit=100)} == {a.id, b.id}
    only_a = await store.search("needle", session_id=a.id, limit=100)
    assert len(only_a) == 30 and {h.session_id for h in only_a} == {a.id}
    assert [h.line for h in only_a] == list(range(29, -1, -1))
    await store.sessions.trash([b.id])
    assert {h.session_id for h in await store.search("needle", limit=100)} == {a.id}
    hits = await store.search("needle", limit=100, include_deleted=True)
    assert {h.session_id for h in hits} == {a.id, b.id}


async def test_hits_across_many_chunks_are_paged_newest_first(store):
    s = await store.sessions.create(["x"], cwd="/")
    for i in range(400):  # 400 chunks, one hit each
        await store.output.append(s.id, "stdout", b"filler %d\nmarker %d\n" % (i, i))
    hits = await store.search("marker", limit=250)
    assert [h.line for h in hits] == [2 * i + 1 for i in range(399, 149, -1)]


async def test_snippet_cuts_long_lines_around_the_match():
    text = "x" * 200 + " needle " + "y" * 200
    hit = SearchHit(1, 0, "stdout", 0.0, text, ((201, 207),), 1)
    cut, spans = hit.snippet(60)
    assert cut.startswith("…") and cut.endswith("…")
    (a, b) = spans[0]
    assert cut[a:b] == "needle"
    short = SearchHit(1, 0, "stdout", 0.0, "a needle", ((2, 8),), 1)
    assert short.snippet(60) == ("a needle", ((2, 8),))


async def test_session_metadata_index(store, db_path):
    a = await _session(store, argv=["pytest", "-x"], cwd="/src/shop", name="unit tests")
    b = await _session(store, argv=["npm", "run", "dev"], cwd="/src/web", tags=["frontend"])
    await store.sessions.update(b.id, notes="port 3000 is busy")
    assert await search_sessions(store, "pytest") == [a.id]
    assert await search_sessions(store, "unit") == [a.id]
    assert await search_sessions(store, "shop") == [a.id]
    assert await search_sessions(store, "frontend") == [b.id]
    assert await search_sessions(store, "busy port") == [b.id]
    assert await search_sessions(store, "src") == [b.id, a.id]
    assert await search_sessions(store, "") == []
    assert {r[0] for r in rows(db_path, "SELECT rowid FROM sessions_fts")} == {a.id, b.id}
    await store.sessions.purge([a.id])
    assert await search_sessions(store, "src") == [b.id]
    assert [p[0] for p in fts_postings(db_path, "sessions_fts")] == [b.id] * len(
        fts_postings(db_path, "sessions_fts")
    )


async def test_output_index_stays_exact_through_appends_extensions_and_purges(store, db_path):
    a = await store.sessions.create(["a"], cwd="/")
    b = await store.sessions.create(["b"], cwd="/")
    await store.output.append(a.id, "stdout", b"alpha be")
    await store.output.append(a.id, "stdout", b"ta gamma\ndelta ")
    await store.output.append(b.id, "stdout", b"\x1b[32mgreen\x1b[0m words\n" * 5000)
    await store.output.append(a.id, "stdout", b"epsilon\n", index=False)
    await store.output.append(a.id, "stderr", b"zeta")
    await store.output.append(a.id, "stderr", b" eta\n")
    assert_output_index_exact(db_path)
    assert [h.text for h in await store.search("beta")] == ["alpha beta gamma"]
    # the open line was continued by the unindexed append, and reindexed with it
    assert [h.text for h in await store.search("epsilon")] == ["delta epsilon"]
    await store.output.index_pending()
    assert_output_index_exact(db_path)
    await store.sessions.purge([b.id])
    assert_output_index_exact(db_path)
    assert await store.search("green") == []
    assert (await store.integrity_check()).ok


# -- the byte-level shortcut of store.search (the engine's ChunkScanner) -----------------

_LOGGY = st.lists(
    st.sampled_from(
        [
            b"error",
            b"Error",
            b"ERROR:",
            b" ",
            b"\n",
            b"request",
            b"\x1b[31m",
            b"\x1b[0m",
            b"\x1b[1;32m",
            b"err\x1b[1mor",
            b"\r",
            b"\x00",
            "ünï".encode(),
            b"\xff",
            b"id=42",
            b"\x1b]0;t\x07",
        ]
    ),
    max_size=40,
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(_LOGGY, st.booleans(), st.sampled_from([["error"], ["request"], ["error", "request"]]))
def test_candidate_lines_never_miss_a_hit(data, open_end, words):
    # store.search runs on the one engine: its byte-level shortcut is the ChunkScanner.
    from storage.engine.search import words_query
    from storage.engine.search.lines import ChunkScanner
    from storage.models import OutputChunk, chunk_lines
    from storage.query.match import line_matcher

    if not data:
        return
    if open_end and data.endswith(b"\n"):
        data += b"x"
    if not open_end and not data.endswith(b"\n"):
        data += b"\n"
    count = data.count(b"\n") + (1 if open_end else 0)
    chunk = OutputChunk(1, 1, 1, "stdout", 10, count, open_end, 5.0, 6.0, data)
    every = chunk_lines(chunk)
    query = words_query(" ".join(words))
    matcher = line_matcher(query)
    hits = [ln for ln in every if matcher(ln.plain)]
    candidates = [every[m.index] for m in ChunkScanner(query).scan(data, open_end)]
    assert all(c in every for c in candidates)  # the same Line objects as the full path
    assert [c.number for c in candidates] == sorted(c.number for c in candidates)
    assert set(h.number for h in hits) <= {c.number for c in candidates}
