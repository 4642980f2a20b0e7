"""The query language: parsing, errors with positions, FTS5 compilation, line matching."""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.query import (
    And,
    Not,
    Or,
    Phrase,
    Query,
    QueryError,
    Word,
    parse,
)
from storage.query.match import fts_match, line_matcher
from storage.query.tokens import tokenize

NOW = 1_800_000_000.0  # a fixed clock for relative times


def local(*parts: int) -> float:
    return datetime(*parts).timestamp()


def error(text: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        parse(text, now=NOW)
    return info.value


# -- text terms and operators ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("error timeout", (Word("error"), Word("timeout"))),
        ('"connection refused"', (Phrase("connection refused"),)),
        ("build*", (Word("build", prefix=True),)),
        ('"conn ref"*', (Phrase("conn ref", prefix=True),)),
        ("-debug", (Not(Word("debug")),)),
        ('-"dry run"', (Not(Phrase("dry run")),)),
        ("NOT debug", (Not(Word("debug")),)),
        ("NOT NOT debug", (Word("debug"),)),
        ("a AND b", (Word("a"), Word("b"))),
        ("a OR b", (Or((Word("a"), Word("b"))),)),
        ("a OR b OR c", (Or((Word("a"), Word("b"), Word("c"))),)),
        # OR binds tighter than the implicit AND
        ("x a OR b y", (Word("x"), Or((Word("a"), Word("b"))), Word("y"))),
        ("(a b) OR c", (Or((And((Word("a"), Word("b"))), Word("c"))),)),
        ("(a b) c", (Word("a"), Word("b"), Word("c"))),
        ("-(a OR b) c", (Not(Or((Word("a"), Word("b")))), Word("c"))),
        ("(a -b) OR c", (Or((And((Word("a"), Not(Word("b")))), Word("c"))),)),
        ("foo-bar", (Phrase("foo-bar"),)),
        ("foo.ba*", (Phrase("foo.ba", prefix=True),)),
        ("--verbose", (Word("--verbose"),)),  # a flag, not a double negation
        ("or and not", (Word("or"), Word("and"), Word("not"))),  # operators are upper case
        ("print(x", (Phrase("print(x"),)),  # '(' inside a word is just punctuation
        ("Été", (Word("Été"),)),
        ("a b)", (Word("a"), Word("b)"))),  # outside a group ')' is punctuation in a word
    ],
)
def test_text_terms(text: str, terms: tuple) -> None:
    query = parse(text, now=NOW)
    assert query.terms == terms
    assert query.has_text
    assert query.text == text


def test_word_tokens_are_folded_like_the_index() -> None:
    assert Word("Été").tokens == ("ete",)
    assert Phrase("Foo-BAR_baz").tokens == ("foo", "bar", "baz")


def test_empty_query_has_no_text_and_no_filters() -> None:
    assert parse("   ", now=NOW) == Query(text="   ")
    assert not parse("", now=NOW).has_text


# -- filters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("status:failed", {"statuses": frozenset({"failed"})}),
        ("status:failed,lost", {"statuses": frozenset({"failed", "lost"})}),
        ("status:failed status:lost", {"statuses": frozenset({"failed", "lost"})}),
        ("STATUS:Failed", {"statuses": frozenset({"failed"})}),
        ("is:running", {"statuses": frozenset({"running"})}),
        ("is:succeeded", {"statuses": frozenset({"succeeded"})}),
        (
            "-status:failed",
            {
                "statuses": frozenset(
                    {"pending", "running", "paused", "succeeded", "stopped", "lost"}
                )
            },
        ),
        ("status:failed,lost -status:lost", {"statuses": frozenset({"failed"})}),
        ("status:failed -is:failed", {"statuses": frozenset()}),  # matches nothing, honestly
        ("tag:ml", {"tags": (frozenset({"ml"}),)}),
        ("tag:ml,gpu tag:nightly", {"tags": (frozenset({"ml", "gpu"}), frozenset({"nightly"}))}),
        ("-tag:x", {"exclude_tags": frozenset({"x"})}),
        ('name:"my build"', {"name": "my build"}),
        ("name:build", {"name": "build"}),
        ("cmd:pytest", {"cmd": "pytest"}),
        ("cwd:/srv/app", {"cwd": "/srv/app"}),
        ("cwd:~/src", {"cwd": os.path.expanduser("~/src")}),
        ('cwd:"/tmp/with space"', {"cwd": "/tmp/with space"}),
        ("exit:1", {"exit_codes": frozenset({1})}),
        ("exit:1,2", {"exit_codes": frozenset({1, 2})}),
        ("exit:-9", {"exit_codes": frozenset({-9})}),
        ("exit:!0", {"exit_not": frozenset({0})}),
        ("-exit:0", {"exit_not": frozenset({0})}),
        ("-exit:!0", {"exit_codes": frozenset({0})}),
        ("stream:stderr", {"streams": frozenset({"stderr"})}),
        ("stream:stdout,system", {"streams": frozenset({"stdout", "system"})}),
        ("-stream:input", {"streams": frozenset({"stdout", "stderr", "system"})}),
        ("since:2h", {"since": NOW - 7200}),
        ("since:30m", {"since": NOW - 1800}),
        ("since:7d", {"since": NOW - 7 * 86400}),
        ("since:1h30m", {"since": NOW - 5400}),
        ("since:2w", {"since": NOW - 14 * 86400}),
        ("since:2026-11-01", {"since": local(2026, 11, 1)}),
        ("since:2026-11-01T10:00", {"since": local(2026, 11, 1, 10, 0)}),
        ('since:"2026-11-01 10:00:30"', {"since": local(2026, 11, 1, 10, 0, 30)}),
        ("until:2026-11-01", {"until": local(2026, 11, 2)}),  # a bare date: the whole day
        ("until:2026-11-01T10:00", {"until": local(2026, 11, 1, 10, 0)}),
        ("until:1d", {"until": NOW - 86400}),
        ("since:now", {"since": NOW}),
        ("is:pinned", {"pinned": True}),
        ("-is:pinned", {"pinned": False}),
        ("is:trashed", {"trashed": True}),
        ("in:output", {"scope": "output"}),
        ("in:meta", {"scope": "meta"}),
        ("in:all", {"scope": "all"}),
    ],
)
def test_filters(text: str, fields: dict) -> None:
    query = parse(text, now=NOW)
    assert query == Query(text=text, **fields)
    assert not query.has_text


def test_today_and_yesterday_are_local_midnights() -> None:
    midnight = datetime.fromtimestamp(NOW).replace(hour=0, minute=0, second=0).timestamp()
    assert parse("since:today", now=NOW).since == midnight
    assert parse("since:yesterday", now=NOW).since == local(
        *datetime.fromtimestamp(midnight - 3600).timetuple()[:3]
    )
    assert parse("until:today", now=NOW).until > NOW


def test_now_defaults_to_the_clock() -> None:
    import time

    before = time.time()
    since = parse("since:1h").since
    assert since is not None and before - 3600 <= since <= time.time() - 3600


def test_filters_and_text_together() -> None:
    query = parse('status:failed error -"dry run" tag:ml since:2h', now=NOW)
    assert query.terms == (Word("error"), Not(Phrase("dry run")))
    assert query.statuses == frozenset({"failed"})
    assert query.tags == (frozenset({"ml"}),)
    assert query.since == NOW - 7200


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "position", "length"),
    [
        ("stauts:failed error", "unknown filter 'stauts:' (did you mean 'status:'?)", 0, 7),
        ("error tga:ml", "did you mean 'tag:'?", 6, 4),
        ("http://example.com", "unknown filter 'http:' (to search for it as text, quote", 0, 5),
        ("since:2x", "bad duration '2x'", 6, 2),
        ("since:5", "bad duration '5'", 6, 1),
        ("until:2026-13-01", "bad date '2026-13-01'", 6, 10),
        ("since:2026-11-01T25:00", "bad date", 6, 16),
        ("since:11/01", "bad date '11/01'", 6, 5),
        ("since:tomorrow", "bad time 'tomorrow'", 6, 8),
        ('error "conn refused', "unbalanced quotes", 6, 1),
        ('name:"my build', "unbalanced quotes", 5, 1),
        ("status:", "'status:' needs a value, like status:failed", 0, 7),
        ('name:"" x', "'name:' needs a value", 0, 7),
        ("status:failed,", "empty item in the 'status:' list", 14, 0),
        ("status:failed,,lost", "empty item", 14, 1),
        ("a OR", "OR needs a term on each side", 2, 2),
        ("OR a", "OR needs a term on each side", 0, 2),
        ("a OR OR b", "OR needs a term on each side", 2, 2),
        ("(a OR) b", "OR needs a term on each side", 3, 2),
        ("a AND", "AND needs a term on each side", 2, 3),
        ("status:faild", "unknown status 'faild' (did you mean 'failed'?)", 7, 5),
        ("status:failed,bogus", "unknown status 'bogus' (one of pending, running", 14, 5),
        ("stream:stdrr", "unknown stream 'stdrr' (did you mean 'stderr'?)", 7, 5),
        ("is:pined", "did you mean 'pinned'?", 3, 5),
        ("in:everything", "unknown 'in:' value", 3, 10),
        ("exit:abc", "bad exit value 'abc'", 5, 3),
        ("exit:0,x", "bad exit value 'x'", 7, 1),
        ("exit:99999999999", "bad exit value", 5, 11),
        ("exit:!", "empty item in the 'exit:' list", 6, 0),
        ("a - b", "'-' must be followed directly by what to exclude", 2, 1),
        ("a -", "'-' must be followed directly", 2, 1),
        ("NOT", "NOT needs something to exclude", 0, 3),
        ("(a b", "unclosed '('", 0, 1),
        ("a ) b", "')' has no matching '('", 2, 1),
        ("()", "empty parentheses", 0, 2),
        ("(status:failed)", "filters cannot go inside parentheses", 1, 13),
        ("status:failed OR tag:x", "a filter cannot be one side of OR", 0, 13),
        ("-a OR b", "each side of OR needs something to find", 0, 2),
        ("-(-a -b)", "cannot exclude a group that only excludes", 0, 8),
        ("-name:x", "'name:' cannot be excluded", 1, 5),
        ("name:a name:b", "'name:' is given twice", 7, 6),
        ("since:1h until:2h", "since: is after until:, so nothing can match", 9, 8),
        ("until:2026-01-01 since:2026-02-01", "since: is after until:", 17, 16),
        ("...", "nothing to search for in '...'", 0, 3),
        ("x *", "nothing to search for in '*'", 2, 1),
        ('"-"', "nothing to search for", 0, 3),
        ("(" * 40 + "a" + ")" * 40, "too many nested parentheses", 16, 1),
    ],
)
def test_errors_point_at_the_culprit(text: str, message: str, position: int, length: int) -> None:
    err = error(text)
    assert message in err.message
    assert (err.position, err.length) == (position, length)
    assert isinstance(err, ValueError)


def test_error_shows_a_caret_under_the_culprit() -> None:
    assert str(error("stauts:failed error")) == (
        "unknown filter 'stauts:' (did you mean 'status:'?)\nstauts:failed error\n^^^^^^^"
    )


def test_caret_accounts_for_wide_characters_and_control_characters() -> None:
    lines = str(error("日本\tstauts:x")).splitlines()
    assert lines[1] == "日本 stauts:x"
    assert lines[2] == "     ^^^^^^^"
    assert str(error("a OR")).splitlines()[2] == "  ^^"
    assert str(error("x -")).splitlines()[2] == "  ^"


_FRAGMENTS = st.sampled_from(
    [
        "error",
        "Été",
        "foo-bar",
        "x*",
        "*",
        '"',
        '"a b"',
        "(",
        ")",
        "-",
        "--",
        "OR",
        "AND",
        "NOT",
        " ",
        "status:",
        "status:failed",
        "status:nope",
        "tag:",
        'name:"',
        "exit:!",
        "exit:1",
        "since:",
        "since:2h",
        "since:2026-02-30",
        "until:9999-12-31",
        "is:",
        "in:",
        "cwd:~",
        ",",
        ":",
        "日本",
        "\x00",
        "\n",
        "ǅ",
        "~x",
        "stream:stderr,",
    ]
)
_QUERIES = st.one_of(
    st.text(), st.lists(st.one_of(_FRAGMENTS, st.text(max_size=3)), max_size=12).map("".join)
)


@given(_QUERIES)
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
def test_any_string_parses_or_fails_with_a_position(text: str) -> None:
    try:
        query = parse(text, now=NOW)
    except QueryError as err:
        assert 0 <= err.position <= len(text)
        assert err.length >= 0 and err.position + err.length <= len(text)
        assert err.message and str(err).startswith(err.message)
        assert str(err).splitlines()[-1].strip(" ") and set(str(err).splitlines()[-1]) <= {" ", "^"}
    else:
        assert isinstance(query, Query)
        fts_match(query)  # compiling never fails either
        matcher = line_matcher(query)
        if matcher:
            matcher(text)


# -- FTS5 --------------------------------------------------------------------------------


def fts_table(docs: list[str]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize='unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO t (rowid, text) VALUES (?, ?)", enumerate(docs))
    return db


def fts_rows(db: sqlite3.Connection, expr: str) -> set[int]:
    return {row for (row,) in db.execute("SELECT rowid FROM t WHERE t MATCH ?", (expr,))}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("error", '("error")'),
        ("build*", '("build"*)'),
        ('"a b" c', '("a b" AND "c")'),
        ("a -b -c", '((("a") NOT "b") NOT "c")'),
        ("a OR b", '(("a" OR "b"))'),
        ("foo-bar", '("foo-bar")'),
        ('say"hi', '("say""hi")'),
    ],
)
def test_fts_match_expressions(text: str, expected: str) -> None:
    assert fts_match(parse(text, now=NOW)) == expected


def test_fts_match_without_positive_terms_is_none() -> None:
    assert fts_match(parse("status:failed", now=NOW)) is None
    assert fts_match(parse("-debug -trace", now=NOW)) is None
    assert fts_match(parse("error -debug", now=NOW), exclusions=False) == '("error")'
    assert fts_match(parse("(a -b) OR c", now=NOW), exclusions=False) == '((("a") OR "c"))'


DOCS = [
    "ERROR: connection refused",
    "error: Connection timed out after 30s",
    "warning: retrying connection",
    "debug: error counter reset",
    "Build succeeded in 12.3s",
    "build-cache miss for foo-bar",
    "Été à Paris; café fermé",
    "ete cafe",
    "日本語 ログ error",
    "foobar baz_qux",
    "c++ compiler: g++ -O2",
    "",
]


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("error", {0, 1, 3, 8}),
        ("Error -debug", {0, 1, 8}),
        ('"connection refused"', {0}),
        ("conn*", {0, 1, 2}),
        ("refused OR timed", {0, 1}),
        ("café", {6, 7}),
        ("ete", {6, 7}),
        ("foo-bar", {5}),
        ("foo*", {5, 9}),
        ("baz_qux", {9}),
        ("(error connection) OR build", {0, 1, 4, 5}),
        ("日本語", {8}),
        ("c++", {10}),
    ],
)
def test_fts_match_finds_the_right_rows(text: str, rows: set[int]) -> None:
    query = parse(text, now=NOW)
    expr = fts_match(query)
    assert expr is not None
    assert fts_rows(fts_table(DOCS), expr) == rows
    matcher = line_matcher(query)
    assert matcher is not None
    assert {i for i, doc in enumerate(DOCS) if matcher(doc)} == rows


@given(_QUERIES)
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
def test_fts_never_rejects_a_compiled_query(text: str) -> None:
    try:
        query = parse(text, now=NOW)
    except QueryError:
        return
    db = fts_table(DOCS + [text])
    for exclusions in (True, False):
        expr = fts_match(query, exclusions=exclusions)
        if expr is not None:
            fts_rows(db, expr)  # raises sqlite3.OperationalError if FTS5 rejects it


_VOCAB = ["foo", "Foo", "föo", "bar", "BAR", "baz", "foobar", "é", "日本", "x1", "1"]
_SEPS = [" ", "-", ".", "_", ": ", "\t", "'"]
_LINES = st.lists(st.tuples(st.sampled_from(_VOCAB), st.sampled_from(_SEPS)), max_size=6).map(
    lambda parts: "".join(w + s for w, s in parts)
)
_TERM = st.one_of(
    st.sampled_from(_VOCAB),
    st.sampled_from(_VOCAB).map(lambda w: w[:2] + "*"),
    st.sampled_from(_VOCAB).map(lambda w: "-" + w),
    st.lists(st.sampled_from(_VOCAB), min_size=1, max_size=3).map(lambda ws: f'"{" ".join(ws)}"'),
    st.lists(st.sampled_from(_VOCAB), min_size=2, max_size=3).map("-".join),
)
_STRUCTURED = st.recursive(
    _TERM,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(" ".join),
        st.lists(inner, min_size=2, max_size=3).map(" OR ".join),
        inner.map(lambda q: f"({q})"),
        inner.map(lambda q: f"-({q})"),
    ),
    max_leaves=6,
)


@given(st.lists(_LINES, min_size=1, max_size=8), _STRUCTURED)
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
def test_fts_and_line_matcher_agree_on_single_lines(lines: list[str], text: str) -> None:
    try:
        query = parse(text, now=NOW)
    except QueryError:
        return
    matcher = line_matcher(query)
    assert matcher is not None
    by_lines = {i for i, line in enumerate(lines) if matcher(line)}
    expr = fts_match(query)
    db = fts_table(lines)
    if expr is None:  # only exclusions, which FTS5 cannot express alone: the lines left
        assert all(isinstance(t, Not) for t in query.terms)  # are those no exclusion hits
        hit = set().union(
            *(fts_rows(db, fts_match(Query(terms=(t.term,))) or "") for t in query.terms)
        )
        assert by_lines == set(range(len(lines))) - hit
        return
    assert fts_rows(db, expr) == by_lines
    # Without exclusions FTS5 returns a superset, never losing a matching line.
    assert fts_rows(db, fts_match(query, exclusions=False) or "") >= by_lines


# A wide alphabet on which our tokenizer and SQLite's unicode61 agree, character by
# character (checked over all of Unicode while writing this; new emoji and scripts
# added after SQLite's tables are the known differences).
_ALPHABET = st.sampled_from(
    list("aZz09 _-.:;,'\"()*/\\\t\n")
    + list("àÉçÑøÆßǅİıſµΣσςΑάЖжёЁ日本語한국어アイ１２٣")
    + ["e\u0301", "\u0301", "\u0305", "\ue000", "\u200b", "😀", "\x00"]
)


@given(st.lists(_ALPHABET, max_size=30).map("".join))
@settings(max_examples=500)
def test_tokenize_agrees_with_fts5_unicode61(text: str) -> None:
    db = fts_table([text])
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    theirs = [term for (term,) in db.execute("SELECT term FROM v ORDER BY offset")]
    assert [tok for tok, _, _ in tokenize(text)] == theirs


# -- line matching -----------------------------------------------------------------------


def spans(text: str, line: str) -> list[tuple[int, int]]:
    matcher = line_matcher(parse(text, now=NOW))
    assert matcher is not None
    return matcher(line)


def test_line_matcher_spans() -> None:
    line = "ERROR: Connection refused by café-server (error 111)"
    assert spans("error", line) == [(0, 5), (42, 47)]
    assert spans('"connection refused"', line) == [(7, 25)]
    assert spans("conn*", line) == [(7, 17)]
    assert spans("cafe", line) == [(29, 33)]  # diacritic-insensitive, original offsets
    assert spans("CAFÉ-SERVER", line) == [(29, 40)]
    assert spans("refused OR missing", line) == [(18, 25)]
    assert spans("error refused", line) == [(0, 5), (18, 25), (42, 47)]
    assert spans("error -refused", line) == []
    assert spans("error -missing", line) == [(0, 5), (42, 47)]
    assert spans("err* error", line) == [(0, 5), (42, 47)]  # overlapping spans merged
    assert spans("(error 111) OR nope", line) == [(0, 5), (42, 47), (48, 51)]
    assert spans("missing", line) == []


def test_line_matcher_for_exclusions_only_and_no_text() -> None:
    assert spans("-debug", "all good") == [(0, 0)]  # a match with nothing to highlight
    assert spans("-debug", "a debug line") == []
    assert line_matcher(parse("status:failed", now=NOW)) is None


def test_line_matcher_decomposed_accents_and_case() -> None:
    assert spans("ete", "L'E\u0301TE\u0301 est là") == [(2, 7)]
    assert spans("straße", "STRAẞE") == [(0, 6)]
    assert spans("σοφία", "ΣΟΦΊΑ") == [(0, 5)]
    assert spans("σοφια", "ΣΟΦΊΑ") == []  # unicode61 keeps Greek accents (ί is not ι)
