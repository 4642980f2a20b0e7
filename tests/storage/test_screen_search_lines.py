"""Finding a hit's line in a rendered transcript (what the jump from a search hit to the
screen waits on): rows drawn by agents carry non-ASCII symbols (``●``, box drawing) on
nearly every line. Those lines are matched through their ASCII view, as fast as plain
ASCII, with the tokenizer's answers; only lines with other letters are tokenized, and
only when they may hold the query's anchor."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from cli.screen import replay
from runner.screen.render import render_session
from runner.screen.state import size_line
from storage.engine.search import search
from storage.engine.search.lines import ChunkScanner
from storage.query import parse
from storage.query.tokens import ascii_view, tokenize
from tests.support.scanner import assert_scanner_agrees

NOW = time.time()
# Separators (``●``, box drawing, emoji), letters folding to ASCII (accents, the Kelvin
# sign), letters that do not (``ß``, CJK, full-width), combining marks, and a run of
# many distinct letters (another script: the other way ``ascii_view`` takes).
_ALPHABET = st.sampled_from(
    ["a", "ab", "A", " ", "-", "●", "─│", "🙂", "é", "\u212a", "k", "ß", "日本", "Ａb", "e\u0301",
     "a\u0308b", "\uffff", "x1", "\x1b[1m", "\r", "αβγδεζηθικλμνξοπρστ"]
)  # fmt: skip
_QUERIES = st.sampled_from(
    ["a", "ab", "a*", '"a b"', "k", "e", "ab -k", '"k ab"', "ß", "日本", "ｂ OR x1", "-a", "x1*",
     "ab*", '"a ab"*', "θ*"]
)  # fmt: skip


@settings(max_examples=800)
@given(st.lists(st.lists(_ALPHABET, max_size=8).map("".join), max_size=6), _QUERIES)
def test_chunk_scanner_agrees_with_the_tokenizer_on_non_ascii_lines(lines, text):
    assert_scanner_agrees(lines, text, NOW)


@given(st.lists(_ALPHABET, max_size=12).map("".join))
def test_ascii_view_keeps_every_position_and_ascii_tokens(text):
    view = ascii_view(text)
    assert len(view) == len(text)
    if view.isascii():
        assert tokenize(view) == tokenize(text)


class _Counting:
    def __init__(self, match):
        self.match, self.lines = match, []

    def __call__(self, line):
        self.lines.append(line)
        return self.match(line)


def test_only_lines_with_other_letters_that_may_hold_the_anchor_are_tokenized():
    rows = [f"● step {i}: read src/module_{i % 17}.py │ done" for i in range(2000)]
    rows[700] = "● Straße step 700 überall"  # letters the ASCII view cannot hold
    rows[900] = "● Straße nothing here"
    scanner = ChunkScanner(parse('"step 700"', now=NOW))
    spy = _Counting(scanner._match)
    scanner._match = spy
    found = scanner.scan("\n".join(rows).encode(), False)
    assert [(m.index, m.text) for m in found] == [(700, rows[700])]
    assert found[0].spans == ((9, 17),)
    assert spy.lines == [rows[700]]  # not the 1 999 others, not the Straße without it
    # No line with other letters: none is tokenized at all.
    spy.lines.clear()
    rows[700] = "● step 700: read src/module_3.py │ done"
    (hit,) = scanner.scan("\n".join(rows).encode(), False)
    assert (hit.index, hit.spans, spy.lines) == (700, ((2, 10),), [])


async def test_a_hit_on_a_row_drawn_with_symbols_points_at_its_line(store):
    """The screen jumped to from a hit shows the row: its line is where it scrolled off."""
    s = await store.sessions.create(["agent"], cwd="/", mode="pty")
    await store.runs.start(s.id)
    await store.output.append(s.id, "system", size_line(40, 5))
    body = b"".join(
        b"\x1b[1m\xe2\x97\x8f\x1b[0m step %d: caf\xc3\xa9 \xe2\x94\x82 ok\r\n" % i
        for i in range(60)
    )
    await store.output.append(s.id, "stdout", body)
    await store.runs.finish(s.id, exit_code=0)
    await store.output.index_pending()
    await render_session(store, s.id)
    (hit,) = (await search(store, parse('"step 31: cafe"'), session_id=s.id)).hits
    assert (hit.stream, hit.text, hit.spans) == ("screen", "● step 31: café │ ok", ((2, 15),))
    # The screen as it was once the hit's line was written (``tether screen ID --at
    # LINE``, LINE as shown: 1-based, that line and those before it fed) shows the row,
    # at the top: the next line scrolls it off.
    session = await store.sessions.require(s.id)
    shown = (await replay(store, session, until=hit.line + 1)).screen.lines()
    assert shown[0] == hit.text
    after = (await replay(store, session, until=hit.line + 2)).screen.lines()
    assert after[0] == "● step 32: café │ ok"
