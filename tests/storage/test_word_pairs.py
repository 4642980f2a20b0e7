"""Word pairs in the output index (schema v18, storage/engine/word_pairs.py): a phrase
of common words reads only the chunks that may hold it, finds exactly what it found
before, and a database indexed before v18 is searchable throughout its upgrade."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import open_store
from storage.engine import output_index, schema
from storage.engine.output_index import fts_words
from storage.engine.search import search
from storage.engine.search.hits import OutputSearch, newest_hits
from storage.engine.search.lines import ChunkScanner
from storage.engine.word_pairs import MARK, entry_text, pairs
from storage.query import parse
from storage.text import index_text
from tests.support.database import FTS_TOKENIZER, assert_output_index_exact, rows

# -- what a chunk's pairs are -----------------------------------------------------------


def test_pairs_are_adjacent_words_of_a_line_made_of_letters():
    data = b"Hello World, foo-bar 12 x9 abc\n\x1b[31mred\x1b[0m  alert\nnew\nline\n"
    assert pairs(data).split() == sorted(
        f"{a}{MARK}{b}"
        for a, b in [("hello", "world"), ("world", "foo"), ("foo", "bar"), ("red", "alert")]
    )  # not x9 (a digit), not across lines (new / line), colours removed


def test_letters_with_an_ascii_fold_pair_as_search_folds_them():
    assert pairs("Café au lait\n".encode()).split() == [f"au{MARK}lait", f"cafe{MARK}au"]


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
    chunk, the index (real FTS5, the chunk's ``entry_text``) offers the chunk for the
    phrase's pair expression."""
    data, phrase = case
    query = parse(f'"{phrase}"')
    found = ChunkScanner(query).scan(data, open_end=not data.endswith(b"\n"))
    match = fts_words(query, pairs=True)
    assert match is not None
    if found:
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


async def test_a_rare_phrase_of_common_words_reads_only_the_chunks_holding_its_pair(store):
    sid = await _fill(store, 120, {7, 90})
    found, read = await _phrase_search(store, '"amber falcon"')
    common = COMMON.count(b"\n")
    assert found == [(sid, 91 * common + 1), (sid, 8 * common)]  # (newest first)
    assert read == 2  # (as words: all 120 chunks hold both)
    results = await search(store, parse('"amber falcon"'))
    assert [h.text for g in results.groups for h in g.hits] == ["the amber falcon flew"] * 2


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
        assert await output_index.pairs_range(store) == (1, 41)
        before = await _phrase_search(store, '"amber falcon"')
        assert len(before[0]) == 2 and before[1] == 40  # through its words: every chunk read
        # A chunk deleted part way: its entries go with the text they were given.
        await store.output.append(1, "stdout", b"amber falcon tail\n")
        steps = 0
        while await output_index.pairs_step(store, max_bytes=len(COMMON) * 6):
            steps += 1
            assert (await _phrase_search(store, '"amber falcon"'))[0][1:] == before[0]
            assert_output_index_exact(db_path)
        assert steps >= 4  # (8 chunks a fetch: 40 in 5 steps)
        assert await output_index.pairs_range(store) is None
        assert await output_index.pairs_left(store) == 0
        found, read = await _phrase_search(store, '"amber falcon"')
        assert found[1:] == before[0] and read == 3
        assert rows(db_path, "SELECT DISTINCT indexed FROM output_chunks ORDER BY 1") == [
            (2,),
            (4,),
        ]
        assert_output_index_exact(db_path)


async def test_v18_a_session_purged_part_way_leaves_no_entry_behind(db_path):
    """Removing an entry repeats its text: with its pairs below the upgrade's cursor,
    without them above it. A wrong text would leave entries (or corrupt the index)."""
    make_v17(db_path, [COMMON + RARE] * 12)
    async with open_store(db_path) as store:
        assert await output_index.pairs_step(store, max_bytes=len(COMMON) * 4)
        assert await output_index.pairs_range(store) == (9, 13)  # (8 chunks a fetch)
        await store.sessions.purge([1])
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
        assert pairs_finding.level == "info" and "before schema v18" in pairs_finding.message
        said: list[str] = []
        done = await repair(store, [pairs_finding], progress=said.append)
        assert done[-1].startswith("added the word pairs of ")
        assert (await _phrase_search(store, '"amber falcon"'))[1] == 20  # every chunk holds it
        found = {f.check: f for f in await diagnose(store)}
        assert found["word-pairs"].level == "ok"
        assert await output_index.pairs_range(store) is None
    assert_output_index_exact(db_path)
