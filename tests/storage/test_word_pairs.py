"""Word pairs in the output index (schema v18, storage/engine/word_pairs.py): a phrase
of common words reads only the chunks that may hold it, finds exactly what it found
before, and a database indexed before v18 is searchable throughout its upgrade."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import open_store
from storage.engine import output_index, schema
from storage.engine.output_index import fts_words
from storage.engine.search import search
from storage.engine.search.core import count_hits
from storage.engine.search.hits import OutputSearch, newest_hits
from storage.engine.search.lines import ChunkScanner
from storage.engine.word_pairs import MARK, entry_text, pair_token, pairs
from storage.query import parse
from storage.text import index_text
from tests.support.database import FTS_TOKENIZER, ROOT, assert_output_index_exact, rows

# -- what a chunk's pairs are -----------------------------------------------------------


def test_pairs_are_adjacent_words_of_a_line_made_of_letters():
    data = b"Hello World, foo-bar 12 x9 abc\n\x1b[31mred\x1b[0m  alert\nnew\nline\n"
    assert pairs(data).split() == sorted(
        pair_token(a, b)
        for a, b in [("hello", "world"), ("world", "foo"), ("foo", "bar"), ("red", "alert")]
    )  # not x9 (a digit), not across lines (new / line), colours removed


def test_letters_with_an_ascii_fold_pair_as_search_folds_them():
    found = pairs("Café au lait\n".encode()).split()
    assert found == [pair_token("au", "lait"), pair_token("cafe", "au")]
    assert found == ["ǂauǂlait", "ǂcafeǂau"]


@pytest.mark.parametrize(
    "data",
    [b"progress 40%\rprogress done\n", "日本 語 foo bar\n".encode(), b"a\x08b c\n"],
    ids=["carriage return", "letters with no ascii fold", "backspace"],
)
def test_a_chunk_whose_lines_are_matched_another_way_has_unknown_pairs(data):
    assert pairs(data) == MARK


def test_numbers_have_no_pairs():
    assert pairs(b"".join(b"%d\n" % i for i in range(1000))) == ""
    assert entry_text(b"1\n2\n") == index_text(b"1\n2\n") + "\n"


# Pieces of lines: words that pair, words that do not (digits), separators, a newline,
# colours, a carriage return, non-ASCII letters with and without an ASCII fold, a
# combining accent, the mark itself.
PIECES = [
    "amber", "falcon", "Amber", "FALCON", "x9", "42", "cafe", "café", "ß", "日本", "ǂ",
    "e\u0301", "-", " ", "  ", "\t", ", ", "_", "\x1b[31m", "\x1b[0m", "\r", "\n", "\n",
]  # fmt: skip
PHRASES = ["amber falcon", "falcon amber", "cafe amber", "amber x9", "falcon falcon", "ss amber"]


def _fts_candidates(text: str, match: str) -> bool:
    con = sqlite3.connect(":memory:")
    try:
        con.execute(
            f"CREATE VIRTUAL TABLE t USING fts5(text, content = '', detail = none, "
            f"tokenize = '{FTS_TOKENIZER}')"
        )
        con.execute("INSERT INTO t (rowid, text) VALUES (1, ?)", (text,))
        return bool(con.execute("SELECT rowid FROM t WHERE t MATCH ?", (match,)).fetchall())
    finally:
        con.close()


SEPARATORS = [" ", "  ", "\t", ", ", "-", "_", " \x1b[31m", "\x1b[0m ", " \u25cf ", "\r", "\n"]


@st.composite
def chunks_and_phrases(draw: st.DrawFn) -> tuple[bytes, str]:
    """A chunk that often holds the phrase (its words in any case, any separator),
    among random pieces."""
    phrase = draw(st.sampled_from(PHRASES))
    words = [draw(st.sampled_from([w, w.upper(), w.title()])) for w in phrase.split()]
    if phrase.startswith("cafe") and draw(st.booleans()):
        words[0] = "café"
    middle = words[0] + draw(st.sampled_from(SEPARATORS)) + words[1]
    before = draw(st.lists(st.sampled_from(PIECES), max_size=12))
    after = draw(st.lists(st.sampled_from(PIECES), max_size=12))
    return "".join([*before, middle, *after]).encode(), phrase


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks_and_phrases())
def test_a_chunk_holding_a_phrase_is_always_a_candidate_for_it(case):
    """The pairs never lose a hit: whenever the line scanner finds the phrase in a
    chunk that its words find (before v18), the index (real FTS5, the chunk's
    ``entry_text``) offers the chunk for the phrase's pair expression too. (The
    words can miss a line a carriage return rewrote, ``ßamber falcon\r-`` shown as
    ``-amber falcon``: the index has the bytes' words, not the shown ones.)"""
    data, phrase = case
    query = parse(f'"{phrase}"')
    found = ChunkScanner(query).scan(data, open_end=not data.endswith(b"\n"))
    match, words = fts_words(query, pairs=True), fts_words(query)
    assert match is not None and words is not None
    if found and _fts_candidates(index_text(data), words):
        assert _fts_candidates(entry_text(data), match), (data, phrase)


# -- search ---------------------------------------------------------------------------

COMMON = b"amber shipped\nfalcon landed\n" * 200  # both words in every chunk, apart
RARE = b"the amber falcon flew\n"


async def _fill(store, chunks: int, rare_at: set[int]) -> int:
    sid = (await store.sessions.create(["logs"], cwd="/")).id
    for i in range(chunks):
        await store.output.append(sid, "stdout", COMMON + (RARE if i in rare_at else b""))
    return sid


async def _phrase_search(store, text: str) -> tuple[list[tuple[int, int]], int]:
    """(session, line) of the newest-first hits, and how many chunks were read."""
    s = OutputSearch(store, parse(text))
    hits, _ = await newest_hits(s, 50, None)
    return [(h.session_id, h.line) for h in hits], len(s.scanned)


async def _unpaired(store) -> int:
    return int(await store.scalar("SELECT count(*) FROM unpaired"))


async def test_a_rare_phrase_of_common_words_reads_only_the_chunks_holding_its_pair(store, db_path):
    sid = await _fill(store, 120, {7, 90})
    common = COMMON.count(b"\n")
    want = [(sid, 91 * common + 1), (sid, 8 * common)]  # (newest first)
    # Indexed with their words only: found through them, every chunk read.
    assert await _unpaired(store) == 120
    assert await _phrase_search(store, '"amber falcon"') == (want, 120)
    counted = await count_hits(store, parse('"amber falcon"'), [sid])
    assert counted == {sid: (2, True)}
    while await store.output.upkeep():  # (what a supervisor does when idle)
        pass
    assert await _unpaired(store) == 0
    assert await _phrase_search(store, '"amber falcon"') == (want, 2)
    results = await search(store, parse('"amber falcon"'))
    assert [h.text for g in results.groups for h in g.hits] == ["the amber falcon flew"] * 2
    assert [g.count for g in results.groups] == [2]
    assert_output_index_exact(db_path)


async def test_a_phrase_with_a_number_or_a_prefix_is_found_through_its_words(store):
    sid = (await store.sessions.create(["x"], cwd="/")).id
    await store.output.append(sid, "stdout", b"port 8080 open\namber falconry\n")
    for text, line in (('"port 8080 open"', 0), ('"amber falcon"*', 1), ("amber-falcon*", 1)):
        assert (await _phrase_search(store, text))[0] == [(sid, line)], text


# -- a database indexed before v18 ----------------------------------------------------


def make_v17(path: Path, datas: list[bytes]) -> None:
    """A database as v17 left it: one session, its chunks indexed words only
    (``indexed = 2``, ``index_text``), stored plain."""
    con = sqlite3.connect(path)
    for step in schema.MIGRATIONS[:17]:
        for sql in step:
            con.execute(sql)
    lines = sum(d.count(b"\n") for d in datas)
    con.execute(
        "INSERT INTO sessions (id, uid, argv, cwd, status, created_at, updated_at, run_count, "
        "output_lines, output_bytes) VALUES (1, 'u1', '[\"logs\"]', '/', 'succeeded', 1, 2, 1, "
        "?, ?)",
        (lines, sum(map(len, datas))),
    )
    con.execute(
        "INSERT INTO runs (session_id, number, argv, started_at, first_line) "
        "VALUES (1, 1, '[\"logs\"]', 1, 0)"
    )
    first = 0
    for cid, data in enumerate(datas, 1):
        n = data.count(b"\n")
        con.execute(
            "INSERT INTO output_chunks (id, session_id, run, stream, first_line, line_count, "
            "open_end, first_at, last_at, indexed, data) VALUES (?, 1, 1, 'stdout', ?, ?, 0, "
            "1, 1, 2, ?)",
            (cid, first, n, data),
        )
        con.execute("INSERT INTO output_words (rowid, text) VALUES (?, ?)", (cid, index_text(data)))
        first += n
    con.execute("UPDATE output_upgrade SET index_next = ?, pack_next = 0, below = ?", (99, 99))
    con.execute("PRAGMA user_version = 17")
    con.commit()
    con.close()


async def test_v18_a_database_indexed_before_gets_its_pairs_in_steps_and_finds_the_same(
    db_path,
):
    datas = [COMMON + (RARE if i in (3, 30) else b"") for i in range(40)]
    make_v17(db_path, datas)
    async with open_store(db_path) as store:
        assert await store.schema_version() == schema.SCHEMA_VERSION == 18
        assert await _unpaired(store) == 40
        before = await _phrase_search(store, '"amber falcon"')
        assert len(before[0]) == 2 and before[1] == 40  # through its words: every chunk read
        await store.output.append(1, "stdout", b"amber falcon tail\n")  # (unpaired too)
        steps = 0
        while await output_index.pairs_step(store, max_bytes=len(COMMON) * 6):
            steps += 1
            assert (await _phrase_search(store, '"amber falcon"'))[0][1:] == before[0]
            assert_output_index_exact(db_path)
        assert steps >= 5  # (6 chunks a step; the open one waits)
        assert await _unpaired(store) == 0
        assert await output_index.pairs_left(store) == 0
        found, read = await _phrase_search(store, '"amber falcon"')
        assert found[1:] == before[0] and read == 3
        assert_output_index_exact(db_path)


async def test_v18_a_session_purged_part_way_leaves_no_entry_behind(db_path):
    """Removing an entry repeats its text: with its pairs once it has them, without
    them while it is unpaired. A wrong text would leave entries (or corrupt the index)."""
    make_v17(db_path, [COMMON + RARE] * 12)
    async with open_store(db_path) as store:
        assert await output_index.pairs_step(store, max_bytes=len(COMMON) * 4)
        assert await _unpaired(store) == 8  # (4 chunks: the step's bytes)
        await store.sessions.purge([1])
        assert await _unpaired(store) == 0
        assert_output_index_exact(db_path)
        assert rows(db_path, "SELECT count(*) FROM output_words_docsize") == [(0,)]
        vocab = "CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, output_words, row)"
        await store.db.execute(vocab)
        assert await store.fetchall("SELECT term FROM temp.v") == []
        assert not await output_index.pairs_step(store)


async def test_doctor_reports_output_without_pairs_and_fix_adds_them(db_path):
    from storage.engine.doctor import diagnose, repair

    make_v17(db_path, [COMMON + RARE] * 20)
    async with open_store(db_path) as store:
        found = {f.check: f for f in await diagnose(store)}
        pairs_finding = found["word-pairs"]
        assert pairs_finding.level == "info" and "no word pairs yet" in pairs_finding.message
        said: list[str] = []
        done = await repair(store, [pairs_finding], progress=said.append)
        assert done[-1].startswith("added the word pairs of ")
        assert (await _phrase_search(store, '"amber falcon"'))[1] == 20  # every chunk holds it
        found = {f.check: f for f in await diagnose(store)}
        assert found["word-pairs"].level == "ok"
        assert await _unpaired(store) == 0
    assert_output_index_exact(db_path)


_ADD_PAIRS = """
import asyncio, sys
from storage import open_store
from storage.engine import output_index
async def main():
    async with open_store(sys.argv[1]) as store:
        while await output_index.pairs_step(store, max_bytes=16 * 1024):
            pass
asyncio.run(main())
"""


def test_kill_9_while_pairs_are_added_leaves_a_valid_database(tmp_path):
    """Each step is one transaction: entries and cursor move together, so a kill at
    any point leaves an index that is exact, finds the same lines, and goes on."""
    path = tmp_path / "tether.db"
    rare_at = set(range(0, 400, 37))
    make_v17(path, [COMMON + (RARE if i in rare_at else b"") for i in range(400)])
    asyncio.run(_phrase_lines(path))  # the schema migration itself (with its backup)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _ADD_PAIRS, str(path)], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:  # until it is well under way, not done
            left = rows(path, "SELECT count(*) FROM unpaired")[0][0]
            if left < 300 or proc.poll() is not None or time.monotonic() > deadline:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert 0 < rows(path, "SELECT count(*) FROM unpaired")[0][0] < 300  # killed part way
    assert_output_index_exact(path)
    assert len(asyncio.run(_phrase_lines(path))) == len(rare_at)
    assert len(asyncio.run(_phrase_lines(path, finish=True))) == len(rare_at)
    assert_output_index_exact(path)


async def _phrase_lines(path: Path, *, finish: bool = False) -> list[int]:
    async with open_store(path) as store:
        assert (await store.integrity_check()).ok
        while finish and await output_index.pairs_step(store):
            pass
        s = OutputSearch(store, parse('"amber falcon"'))
        hits, _ = await newest_hits(s, 50, None)
        return [h.line for h in hits]


async def test_unpaired_chunks_are_found_by_the_words_then_the_list_filters(store):
    """The fallback for chunks without pairs runs the MATCH once, over the words'
    candidates. Handing the list's ids to FTS5 as rowid constraints ran it once per id
    (a database of 194 000 unpaired chunks: minutes for a phrase)."""
    from storage.engine.search.hits import unpaired_sql

    await _fill(store, 3, set())
    plan = await store.fetchall("EXPLAIN QUERY PLAN " + unpaired_sql("1"), ['"amber"'])
    fts = [r[3] for r in plan if "VIRTUAL TABLE" in r[3]]
    assert fts == ["SCAN f VIRTUAL TABLE INDEX 0:M1"], plan  # a MATCH, no rowid given


async def test_past_a_few_thousand_unpaired_chunks_a_phrase_is_asked_as_its_words(
    store, monkeypatch
):
    """Just after an upgrade (every chunk unpaired) listing them all first would cost
    more than asking for the words as before v18: the search does that instead."""
    from storage.engine.search import hits

    monkeypatch.setattr(hits, "UNPAIRED_LISTED", 5)
    sid = await _fill(store, 12, {2, 9})
    common = COMMON.count(b"\n")
    s = OutputSearch(store, parse('"amber falcon"'))
    found, _ = await newest_hits(s, 50, None)
    assert [h.line for h in found] == [10 * common + 1, 3 * common]
    assert s.match == s.words and not s.unpaired_found and len(s.scanned) == 12
    assert sid == found[0].session_id
