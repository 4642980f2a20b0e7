"""The output view's parts on their own: find over stored chunks, the page cache,
the wrapped layout."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import open_store
from storage.models import Line
from tests.support.output_screen import T0
from tui.widgets.output_find import Finder, find_line
from tui.widgets.output_lines import PAGE_LINES, LinePages
from tui.widgets.output_rows import end_top, wrap_rows

WORDS = ["alpha", "beta", "Gamma", "delta", "error", "ERROR", "warn"]


def test_finder_smart_case_and_spans() -> None:
    lower = Finder.of("error")
    assert lower is not None and not lower.case_sensitive
    assert lower.spans("an Error and an ERROR") == [(3, 8), (16, 21)]
    upper = Finder.of("Error")
    assert upper is not None and upper.case_sensitive
    assert upper.spans("an Error and an ERROR") == [(3, 8)]
    both = Finder.of(["err", "error"])
    assert both is not None and both.spans("error") == [(0, 5)]  # the longer one wins
    assert Finder.of("  ") is None and Finder.of(None) is None and Finder.of([]) is None


async def _session(db: Path, texts: list[bytes], per_append: int = 1) -> int:
    async with open_store(db) as store:
        s = await store.sessions.create(["x"], cwd="/", created_at=T0)
        await store.runs.start(s.id, at=T0)
        for i in range(0, len(texts), per_append):
            chunk = b"".join(t + b"\n" for t in texts[i : i + per_append])
            await store.output.append(s.id, "stdout", chunk, T0 + i, index=False)
        return s.id


async def test_find_line_walks_many_chunks_both_ways(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    texts = [b"hay %d" % i for i in range(500)]
    for i in (3, 250, 497):
        texts[i] = b"a \x1b[31mnee\x1b[0mdle %d" % i  # split by a colour code
    sid = await _session(db, texts, per_append=3)  # 167 chunks: several batches
    finder = Finder.of("needle")
    assert finder is not None
    async with open_store(db) as store:
        assert await find_line(store, sid, finder, 0) == 3
        assert await find_line(store, sid, finder, 4) == 250
        assert await find_line(store, sid, finder, 250) == 250
        assert await find_line(store, sid, finder, 498) is None
        assert await find_line(store, sid, finder, 499, forward=False) == 497
        assert await find_line(store, sid, finder, 496, forward=False) == 250
        assert await find_line(store, sid, finder, 2, forward=False) is None
        absent = Finder.of("nothing here")
        assert absent is not None and await find_line(store, sid, absent, 0) is None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, list[str]]:
    rng = random.Random(4)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 4))) for _ in range(300)]
    db = tmp_path_factory.mktemp("find") / "t.db"
    sid = asyncio.run(_session(db, [t.encode() for t in texts], per_append=7))
    return db, sid, texts


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    word=st.sampled_from(WORDS + ["gamma", "lta", "a b"]),
    start=st.integers(0, 299),
    forward=st.booleans(),
)
def test_find_line_agrees_with_reading_every_line(corpus, word, start, forward) -> None:  # type: ignore[no-untyped-def]
    db, sid, texts = corpus
    finder = Finder.of(word)
    assert finder is not None
    order = range(start, len(texts)) if forward else range(start, -1, -1)
    expected = next((n for n in order if finder.matches(texts[n])), None)

    async def found() -> int | None:
        async with open_store(db) as store:
            return await find_line(store, sid, finder, start, forward=forward)

    assert asyncio.run(found()) == expected


def _line(n: int, raw: bytes = b"x") -> Line:
    return Line(1, n, "stdout", T0, 1, raw, True)


def test_pages_go_stale_only_at_the_tail() -> None:
    pages = LinePages()
    pages.count, pages.nbytes = 200, 2000
    pages.store(0, [_line(n) for n in range(PAGE_LINES)], 200, 2000)
    pages.store(1, [_line(n) for n in range(PAGE_LINES, 200)], 200, 2000)
    assert pages.fresh(0) and pages.fresh(1)
    pages.nbytes = 2010  # the unfinished last line grew
    assert pages.fresh(0) and not pages.fresh(1)
    assert pages.line(199) is not None  # the old line is shown while a new read is asked
    assert pages.busy and pages.next_wanted(range(150, 200)) == 1
    pages.count = 5000
    assert pages.fresh(0) and not pages.fresh(1)


def test_pages_near_the_screen_are_wanted_and_far_ones_forgotten() -> None:
    pages = LinePages()
    pages.count = 100_000
    pages.keep_near(range(50_000, 50_036))
    first = 50_000 // PAGE_LINES
    order = []
    while (page := pages.next_wanted(range(50_000, 50_036))) is not None:
        order.append(page)
    assert order[0] == first  # on screen first
    assert sorted(order) == list(range(first - 1, first + 3))  # one above, two below
    pages.keep_near(range(0, 36))
    pages.keep_near(range(90_000, 90_036))  # scrolled on before anything was read
    wanted = []
    while (page := pages.next_wanted(range(90_000, 90_036))) is not None:
        wanted.append(page)
    assert min(wanted) >= 90_000 // PAGE_LINES - 1


def test_wrapped_screen_from_the_top_and_from_the_end() -> None:
    heights = {0: 1, 1: 3, 2: 1, 3: 2, 4: 1}
    rows, from_end = wrap_rows(0, 5, 5, heights.__getitem__)
    assert not from_end
    assert rows == [(0, 0), (1, 0), (1, 1), (1, 2), (2, 0)]
    rows, from_end = wrap_rows(3, 5, 5, heights.__getitem__)
    assert from_end  # lines 3 and 4 fill 3 rows of 5: show the end instead
    assert rows == [(1, 2), (2, 0), (3, 0), (3, 1), (4, 0)]
    assert end_top(5, 5, heights.__getitem__) == 2  # line 1 is only partly on screen
    assert end_top(5, 2, heights.__getitem__) == 0
