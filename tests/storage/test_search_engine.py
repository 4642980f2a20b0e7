"""Search with the query language against real seeded stores: filters, operators,
ordering, ranking, snippets, counts, paging, purge, and a writer appending meanwhile."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import open_store
from storage.engine.search import core as engine
from storage.engine.search import hits
from storage.engine.search.core import search
from storage.engine.search.filters import filter_session_ids, guarded
from storage.query import QueryError, parse
from tests.support.database import ROOT
from tests.support.scanner import assert_scanner_agrees

NOW = 1_800_000_000.0
HOUR = 3600.0


async def seed(store) -> dict[str, int]:
    """Four sessions with known output, times, statuses and metadata."""
    s = store.sessions
    api = await s.create(
        ["uvicorn", "app:main"], cwd="/srv/api", name="api server", tags=["web"],
        created_at=NOW - 10 * HOUR,
    )  # fmt: skip
    train = await s.create(
        ["python", "train.py", "--epochs", "3"], cwd="/home/u/ml", name="train resnet",
        tags=["ml", "gpu"], created_at=NOW - 8 * HOUR,
    )  # fmt: skip
    tests = await s.create(
        ["pytest", "-x"], cwd="/home/u/src/app", name="unit tests", tags=["ci"],
        created_at=NOW - 6 * HOUR,
    )  # fmt: skip
    old = await s.create(["make"], cwd="/srv/apiary", name="old build", created_at=NOW - 9 * HOUR)
    out = store.output  # appended in time order, as a real recording is
    await out.append(api.id, "stdout", b"GET /users 200 ok\nGET /health 200 ok\n", NOW - 10 * HOUR)
    await out.append(api.id, "stderr", b"upstream: connection refused\n", NOW - 9.5 * HOUR)
    await out.append(old.id, "stdout", b"error: build failed\n", NOW - 9 * HOUR)
    await out.append(train.id, "stdout", b"epoch 1 loss=0.9\nepoch 2 loss=0.5\n", NOW - 8 * HOUR)
    await out.append(train.id, "stderr", b"CUDA error: out of memory\n", NOW - 7 * HOUR)
    await out.append(tests.id, "stdout", b"test_users PASSED\ntest_login FAILED\n", NOW - 6 * HOUR)
    await out.append(tests.id, "stdout", b"error error error in test_login\n", NOW - 5.5 * HOUR)
    await out.append(api.id, "stdout", b"GET /users 500 error\n", NOW - 5 * HOUR)
    await s.set_status(api.id, "running", at=NOW - 10 * HOUR)
    await s.set_status(api.id, "succeeded", exit_code=0, at=NOW - 4 * HOUR)
    await s.set_status(train.id, "running", at=NOW - 8 * HOUR)
    await s.set_status(train.id, "failed", exit_code=1, at=NOW - 7 * HOUR)
    await s.set_status(tests.id, "running", at=NOW - 6 * HOUR)  # still running
    await s.update(train.id, pinned=True)
    await s.update(tests.id, notes="flaky login test")
    await s.trash([old.id])
    return {"api": api.id, "train": train.id, "tests": tests.id, "old": old.id}


@pytest.fixture
async def seeded(store):
    return store, await seed(store)


async def run(store, text: str, **kw):
    return await search(store, parse(text, now=NOW), **kw)


def lines_of(results) -> list[tuple[int, str]]:
    return [(h.session_id, h.text) for h in results.hits]


# -- text terms and operators --------------------------------------------------------------


async def test_words_all_must_match_on_one_line(seeded):
    store, ids = seeded
    r = await run(store, "users 500")
    assert lines_of(r) == [(ids["api"], "GET /users 500 error")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"connection refused"', {"upstream: connection refused"}),
        ('"refused connection"', set()),
        ("epo*", {"epoch 1 loss=0.9", "epoch 2 loss=0.5"}),
        ("users -500", {"GET /users 200 ok", "test_users PASSED"}),
        ("passed OR failed", {"test_users PASSED", "test_login FAILED"}),
        ("(users 200) OR memory", {"GET /users 200 ok", "CUDA error: out of memory"}),
        ("loss NOT 0.9", {"epoch 2 loss=0.5"}),
        ("cuda-error", {"CUDA error: out of memory"}),  # punctuation inside: a phrase
    ],
)
async def test_operators(seeded, text, expected):
    store, _ = seeded
    assert {h.text for h in (await run(store, text)).hits} == expected


async def test_a_query_of_only_exclusions_matches_every_other_line(seeded):
    store, ids = seeded
    r = await run(store, "-error -GET -epoch in:output")
    assert {h.text for h in r.hits} == {
        "upstream: connection refused",
        "test_users PASSED",
        "test_login FAILED",
    }
    assert all(h.spans == ((0, 0),) for h in r.hits)  # nothing to highlight


async def test_a_phrase_across_a_newline_is_no_line_match(seeded):
    store, _ = seeded
    # "ok GET" is adjacent in the chunk's text (across a newline): FTS finds the chunk.
    assert (await run(store, '"ok GET"')).hits == ()


# -- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sessions"),
    [
        ("error status:failed", {"train"}),
        ("error status:running", {"tests"}),
        ("error is:running", {"tests"}),
        ("error -status:running", {"api", "train"}),
        ("error tag:ml", {"train"}),
        ("error tag:ml,ci", {"train", "tests"}),
        ("error tag:ml tag:gpu", {"train"}),
        ("error tag:ml tag:ci", set()),
        ("error -tag:ml", {"api", "tests"}),
        ("error name:resnet", {"train"}),
        ('error name:"UNIT test"', {"tests"}),  # case-insensitive substring
        ("error cmd:train.py", {"train"}),
        ("error cmd:pytest", {"tests"}),
        ("error cwd:/home/u", {"train", "tests"}),
        ("error cwd:/home/u/ml/", {"train"}),
        ("error cwd:/srv/api", {"api"}),  # a prefix by path parts: not /srv/apiary
        ("error exit:1", {"train"}),
        ("error exit:0", {"api"}),
        ("error exit:!0", {"train"}),  # a running session has not exited
        ("error stream:stderr", {"train"}),
        ("error stream:stdout", {"api", "tests"}),
        ("error is:pinned", {"train"}),
        ("error -is:pinned", {"api", "tests"}),
        ("error is:trashed", {"old"}),
        ("error in:output", {"api", "train", "tests"}),
    ],
)
async def test_each_filter(seeded, text, sessions):
    store, ids = seeded
    r = await run(store, text)
    assert {h.session_id for h in r.hits} == {ids[k] for k in sessions}


async def test_time_filters_apply_to_line_timestamps(seeded):
    store, ids = seeded
    r = await run(store, "error since:6h")
    assert {h.text for h in r.hits} == {"GET /users 500 error", "error error error in test_login"}
    r = await run(store, f"error until:{_stamp(NOW - 6 * HOUR)}")
    assert {h.text for h in r.hits} == {"CUDA error: out of memory"}


async def test_time_filters_on_sessions_mean_active_in_the_window(seeded):
    store, ids = seeded
    # api ran from -10h to -4h; train from -8h to -7h; tests from -6h and still running.
    assert set(await _ids(store, "since:3h")) == {ids["tests"]}
    assert set(await _ids(store, "since:5h")) == {ids["api"], ids["tests"]}
    assert set(await _ids(store, f"until:{_stamp(NOW - 9 * HOUR)}")) == {ids["api"]}


def _stamp(at: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(at))


async def _ids(store, text: str, **kw) -> list[int]:
    return await filter_session_ids(store, parse(text, now=NOW), **kw)


async def test_a_query_of_only_filters_lists_sessions(seeded):
    store, ids = seeded
    r = await run(store, "tag:ml,web")
    assert r.sessions_only and r.hits == ()
    assert [g.session.id for g in r.groups] == [ids["api"], ids["train"]]  # latest activity
    assert all(g.count is None for g in r.groups)
    assert [g.session.id for g in (await run(store, "stream:stderr")).groups] == [
        ids["api"],
        ids["train"],
    ]


async def test_in_meta_searches_session_metadata_only(seeded):
    store, ids = seeded
    r = await run(store, "in:meta flaky")
    assert r.hits == ()
    assert [g.session.id for g in r.groups] == [ids["tests"]]
    (match,) = r.groups[0].meta
    assert (match.field, match.text, match.spans) == ("notes", "flaky login test", ((0, 5),))
    # "error" is in output only: in:meta finds nothing
    assert (await run(store, "in:meta error")).groups == ()


async def test_default_scope_merges_metadata_and_output(seeded):
    store, ids = seeded
    r = await run(store, "users")  # in the output of api and tests
    r2 = await run(store, "resnet")  # only in train's name
    assert {g.session.id for g in r.groups} == {ids["api"], ids["tests"]}
    (group,) = r2.groups
    assert group.session.id == ids["train"] and group.hits == () and group.count == 0
    assert group.meta[0].field == "name"


async def test_only_exclusions_match_metadata_only_when_asked(seeded):
    store, ids = seeded
    assert [g.session.id for g in (await run(store, "in:meta -flaky")).groups] == [
        ids["api"],
        ids["train"],
    ]
    r = await run(store, "-flaky -zzz", limit=2)  # every line matches; no metadata groups
    assert all(g.hits for g in r.groups) and len(r.hits) == 2


async def test_filter_session_ids_for_the_list(seeded):
    store, ids = seeded
    assert await _ids(store, "train") == [ids["train"]]
    assert await _ids(store, "tra") == []
    assert await _ids(store, "tra", typing=True) == [ids["train"]]
    assert await _ids(store, "-tag:ml") == [ids["tests"], ids["api"]]  # newest first
    assert await _ids(store, "is:trashed") == [ids["old"]]
    assert await _ids(store, "-flaky tag:ci,web") == [ids["api"]]


# -- ordering, ranking, snippets, counts, paging -------------------------------------------


async def test_newest_first_across_sessions(seeded):
    store, ids = seeded
    r = await run(store, "error")
    assert [h.text for h in r.hits] == [
        "GET /users 500 error",
        "error error error in test_login",
        "CUDA error: out of memory",
    ]
    assert [g.session.id for g in r.groups] == [ids["api"], ids["tests"], ids["train"]]


async def test_ranked_finds_what_newest_first_finds(seeded):
    # The output index has no positions (detail=none, storage/engine/output_index.py):
    # bm25 scores every chunk alike, so ranked order is newest first among chunks.
    store, ids = seeded
    r = await run(store, "error", rank=True)
    assert r.ranked
    newest = await run(store, "error")
    assert [h.text for h in r.hits] == [h.text for h in newest.hits]
    # a phrase is ranked by its words, among the chunks that hold the phrase itself
    ranked = await run(store, '"connection refused" OR "test_login failed"', rank=True)
    assert {h.text for h in ranked.hits} == {"upstream: connection refused", "test_login FAILED"}
    assert (await run(store, '"refused connection"', rank=True)).hits == ()


async def test_hits_carry_line_stream_time_and_highlights(seeded):
    store, ids = seeded
    (hit,) = (await run(store, '"connection refused"')).hits
    assert (hit.session_id, hit.line, hit.stream, hit.at) == (
        ids["api"],
        2,
        "stderr",
        NOW - 9.5 * HOUR,
    )
    assert hit.spans == ((10, 28),)
    assert hit.text[10:28] == "connection refused"
    (hit,) = (await run(store, "out memory -foo")).hits
    assert [hit.text[a:b] for a, b in hit.spans] == ["out", "memory"]


async def test_snippet_cuts_long_lines_around_the_match(store):
    s = await store.sessions.create(["x"], cwd="/")
    line = "a" * 300 + " needle " + "b" * 300
    await store.output.append(s.id, "stdout", line.encode() + b"\n")
    (hit,) = (await run(store, "needle")).hits
    text, spans = hit.snippet(60)
    assert len(text) <= 62 and text.startswith("…") and text.endswith("…")
    ((a, b),) = spans
    assert text[a:b] == "needle"


async def test_ansi_and_non_ascii_lines_match_their_plain_text(store):
    s = await store.sessions.create(["x"], cwd="/")
    await store.output.append(s.id, "stdout", b"\x1b[31mERROR\x1b[0m: disk \xc3\xa9t\xc3\xa9\n")
    await store.output.append(s.id, "stdout", b"progress 10%\rprogress 100% done\n")
    (hit,) = (await run(store, "error ete")).hits
    assert hit.text == "ERROR: disk été"
    assert [hit.text[a:b] for a, b in hit.spans] == ["ERROR", "été"]
    (hit,) = (await run(store, "done")).hits
    assert hit.text == "progress 100% done"


async def test_counts_per_session_are_exact_within_the_budget(seeded):
    store, ids = seeded
    r = await run(store, "error", limit=1)
    assert [(g.session.id, g.count, g.exact) for g in r.groups] == [(ids["api"], 1, True)]
    r = await run(store, "users")
    counts = {g.session.id: (g.count, g.exact) for g in r.groups}
    assert counts == {ids["api"]: (2, True), ids["tests"]: (1, True)}


async def test_counts_past_the_budget_are_lower_bounds(store, monkeypatch):
    s = await store.sessions.create(["x"], cwd="/")
    for _ in range(40):
        await store.output.append(s.id, "stdout", b"hit line\n" * 10_000)
    r = await run(store, "hit", limit=5)
    assert (r.groups[0].count, r.groups[0].exact) == (400_000, True)
    monkeypatch.setattr(engine, "COUNT_BYTES", 100_000)
    r = await run(store, "hit", limit=5)
    group = r.groups[0]
    assert not group.exact and 5 <= group.count < 400_000


async def test_paging_gives_every_hit_once_in_order(store):
    s1 = await store.sessions.create(["a"], cwd="/")
    s2 = await store.sessions.create(["b"], cwd="/")
    for i in range(30):
        await store.output.append(s1.id if i % 3 else s2.id, "stdout", f"tick {i}\nno\n".encode())
    for rank in (False, True):
        whole = (await run(store, "tick", limit=1000, rank=rank)).hits
        assert len(whole) == 30
        paged, page = [], None
        while True:
            r = await run(store, "tick", limit=7, page=page, rank=rank)
            paged += r.hits
            page = r.next_page
            if page is None:
                break
        assert paged == list(whole)
        by_group = [h for g in r.groups for h in g.hits]
        assert sorted(by_group, key=id) == sorted(r.hits, key=id)
    assert [h.text for h in whole] != sorted(h.text for h in whole)  # really reordered


async def test_a_bad_page_cursor_is_a_clear_error(seeded):
    store, _ = seeded
    with pytest.raises(ValueError, match="page cursor"):
        await run(store, "error", page="garbage")


async def test_an_sqlite_error_from_match_becomes_a_query_error(seeded):
    store, _ = seeded
    query = parse("x", now=NOW)
    with pytest.raises(QueryError) as info:
        await guarded(
            store, query, "SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH ?", ['"']
        )
    assert "search index" in info.value.message


# -- consistency: purge, trash, writers ----------------------------------------------------


async def test_purge_leaves_no_ghost_hits(seeded):
    store, ids = seeded
    assert any(h.session_id == ids["api"] for h in (await run(store, "users")).hits)
    await store.sessions.purge([ids["api"]])
    r = await run(store, "users")
    assert [h.session_id for h in r.hits] == [ids["tests"]]
    assert ids["api"] not in await _ids(store, "api")
    raw = await store.fetchall("SELECT count(*) FROM output_words WHERE output_words MATCH 'users'")
    assert raw[0][0] == 1  # the index itself has forgotten the chunk


async def test_output_not_indexed_yet_is_still_found(store, monkeypatch):
    s = await store.sessions.create(["x"], cwd="/")
    await store.output.append(s.id, "stdout", b"fresh marker line\n", index=False)
    (hit,) = (await run(store, "marker")).hits
    assert hit.text == "fresh marker line"
    monkeypatch.setattr(hits, "UNINDEXED_SCAN_BYTES", 0)
    r = await run(store, "marker")
    assert r.hits == () and r.unindexed_bytes == len(b"fresh marker line\n")


WRITER = """
import asyncio, sys
from storage import open_store

async def main(path, sid, n):
    async with open_store(path) as store:
        for i in range(n):
            await store.output.append(int(sid), "stdout", f"written {i} beacon\\n".encode() * 50)
        print("done", flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_search_while_another_process_writes(store, db_path):
    s = await store.sessions.create(["x"], cwd="/")
    n = 60
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WRITER,
        str(db_path),
        str(s.id),
        str(n),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    seen = []
    try:
        while proc.returncode is None:
            r = await run(store, "beacon", limit=20)
            for h in r.hits:
                assert h.text.endswith(" beacon") and h.text.startswith("written ")
            if r.groups:
                seen.append(r.groups[0].count)
            try:
                await asyncio.wait_for(proc.wait(), 0.01)
            except TimeoutError:
                pass
    finally:
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    assert seen == sorted(seen)  # counts only grow while the writer appends
    final = await run(store, "beacon", limit=1)
    assert (final.groups[0].count, final.groups[0].exact) == (n * 50, True)
    assert final.hits[0].text == f"written {n - 1} beacon"  # the newest line is found


# -- the fast line scanner agrees with the reference matcher -------------------------------

_ALPHABET = st.sampled_from(
    ["a", "b", "ab", "é", "A", " ", "-", "_", "\x1b[1m", "\x1b[0", "\x1b]0;a\x07", "\r", "x1"]
)
_QUERIES = st.sampled_from(
    [
        "a",
        "ab",
        "a*",
        '"a b"',
        "a -b",
        "-ab",
        "a OR b",
        "(a b) OR x1",
        "é",
        "ab* -a",
        '"a ab"*',
        '"b a"',
        "x1*",
    ]
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(_ALPHABET, max_size=8).map("".join), max_size=6), _QUERIES)
def test_chunk_scanner_matches_line_matcher(lines, text):
    assert_scanner_agrees(lines, text, NOW)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40))
def test_any_text_searches_or_gives_a_query_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("any") / "t.db"

    async def go():
        async with open_store(path) as store:
            if not await store.sessions.ids():
                await seed(store)
            try:
                query = parse(text, now=NOW)
            except QueryError:
                return
            await search(store, query, limit=5)
            await filter_session_ids(store, query)

    asyncio.run(go())


async def test_count_hits_separately_matches_the_counts_of_search(seeded):
    store, ids = seeded
    query = parse("error", now=NOW)
    full = await search(store, query)
    quick = await search(store, query, counts=False)
    assert [h.text for h in quick.hits] == [h.text for h in full.hits]
    counted = await engine.count_hits(store, query, [g.session.id for g in quick.groups])
    assert counted == {g.session.id: (g.count, g.exact) for g in full.groups}
    assert counted[ids["tests"]] == (1, True)


async def test_ranked_pages_past_the_first_window(store, monkeypatch):
    monkeypatch.setattr(hits, "_RANK_WINDOW", 3)
    s = await store.sessions.create(["x"], cwd="/")
    for i in range(12):  # one chunk each; the later ones say the word more often
        await store.output.append(s.id, "stdout", f"{'word ' * (1 + i % 4)}{i}\n".encode())
    r = await run(store, "word", rank=True, limit=100)
    assert len(r.hits) == 12 and r.next_page is None
    assert r.hits[0].text.count("word") == 4


async def test_ranking_is_limited_to_the_newest_candidates(store, monkeypatch):
    monkeypatch.setattr(hits, "RANK_CANDIDATES", 3)
    s = await store.sessions.create(["x"], cwd="/")
    for i in range(8):
        await store.output.append(s.id, "stdout", f"{'word ' * (4 if i < 4 else 1)}{i}\n".encode())
    r = await run(store, "word", rank=True, limit=2)
    assert r.rank_limited
    paged, page = list(r.hits), r.next_page
    while page:
        more = await run(store, "word", rank=True, limit=2, page=page)
        paged += more.hits
        page = more.next_page
    # only the three newest chunks were ranked (the old dense ones are out of reach)
    assert sorted(int(h.text.split()[-1]) for h in paged) == [5, 6, 7]
    assert not (await run(store, "word 7", rank=True)).rank_limited
