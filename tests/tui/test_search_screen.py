"""The search screen: screenshots (recent queries, results, no results, an error, filter
chips) at 120x36, and pilot tests from a query to the live view at the right line.

Pinned like the other screenshots: seeded sessions, fixed clock, UTC, no cursor blink,
no background polling.
"""

from __future__ import annotations

import os
import time

import pytest

from storage import open_store
from tests.support.tui_app import (
    make_app,
    paths_for,
    pin_environment,
    press_to_open,
    read_setting,
    seed,
    seed_every_status,
)
from tui.screens import search as search_screen
from tui.screens.output import OutputScreen
from tui.screens.search import RECENT_KEY, SearchScreen

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def _pinned():  # type: ignore[no-untyped-def]
    saved = {key: os.environ.get(key) for key in ("TZ", "HOME")}
    pin_environment()
    yield
    for key, value in saved.items():  # do not leak UTC and /home/ana into other tests
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    time.tzset()


@pytest.fixture
def seeded(tmp_path):  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    paths.ensure()
    ids = seed(paths.db, seed_every_status)
    return paths, ids


def _typing(text: str, *keys: str):  # type: ignore[no-untyped-def]
    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        await app.wait_idle()
        await pilot.press("ctrl+f")
        await pilot.pause()
        await _type(pilot, text)
        for key in keys:
            await pilot.press(key)
        await app.wait_idle()
        await pilot.pause()

    return run


async def _type(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    for ch in text:
        await pilot.press({" ": "space", '"': "quotation_mark"}.get(ch, ch))
    await pilot.app.wait_idle()
    await pilot.pause()


def test_search_recent_queries(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ = seeded

    async def remember() -> None:
        async with open_store(paths.db) as store:
            await store.settings.set(RECENT_KEY, ["error status:failed", '"test session"'])

    import asyncio

    asyncio.run(remember())
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=_typing(""))


def test_search_results(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ = seeded
    run = _typing("get", "down", "down")
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=run)


def test_search_filters_as_chips(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ = seeded
    run = _typing("error OR passed since:3d -status:running tag:ci")
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=run)


def test_search_no_results(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ = seeded
    run = _typing("nothing-like-this")
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=run)


def test_search_error(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ = seeded
    run = _typing("error stauts:failed")
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=run)


# -- behaviour -----------------------------------------------------------------------------


async def test_enter_opens_the_live_view_at_the_hit_line(seeded) -> None:
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await pilot.press("ctrl+f")
        await _type(pilot, '"page 17"')
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        (hit,) = screen.results.hits
        assert hit.session_id == ids["running"] and hit.text.endswith(
            '"GET /page/17 HTTP/1.1" 200 -'
        )
        await pilot.press("down")  # from the session header to the hit
        await pilot.press("enter")
        await pilot.pause()
        await app.wait_idle()
        output = app.screen
        assert isinstance(output, OutputScreen) and output.session_id == ids["running"]
        view = output.view
        for _ in range(100):  # the view places itself after it has read the session
            if view.idle:
                break
            await pilot.pause(0.02)
        assert view.current_match == hit.line == 18
        assert "/page/17 " in view.row_text(view.current_match - view.scroll_offset.y)
        await pilot.press("escape", "escape")  # close the find bar, then back
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        assert app.screen.input.value == '"page 17"'


async def test_ctrl_f_from_the_live_view_and_escape_back(seeded) -> None:
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        app.open_output(ids["build"])
        await pilot.pause()
        assert isinstance(app.screen, OutputScreen)
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        await pilot.press("ctrl+f")  # again: stays, does not stack another search
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        assert sum(isinstance(s, SearchScreen) for s in app.screen_stack) == 1
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, OutputScreen)


async def test_a_stale_query_is_cancelled_and_the_last_one_wins(seeded) -> None:
    paths, _ = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await pilot.press("ctrl+f")
        for ch in "epoch":
            await pilot.press(ch)  # no waiting between keys: each cancels the last search
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace")
        for ch in "build":
            await pilot.press(ch)
        await app.wait_idle()
        screen = app.screen
        assert screen.results.query.text == "build"
        assert {h.text for h in screen.results.hits} == {
            "ld -o build/app build/main.o build/net.o",
            "cc -O2 -c src/main.c -o build/main.o",
            "cc -O2 -c src/net.c -o build/net.o",
            "build finished: 3 objects, 0 warnings",
        }


async def test_a_search_finishing_while_the_screen_closes_shows_nothing(seeded) -> None:
    """On closing, the app removes a screen's widgets before the screen itself; a search
    that finishes in between must not look for its list (CI saw that as a crash)."""
    paths, _ = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        screen = await press_to_open(pilot, "ctrl+f", SearchScreen)
        await app.wait_idle()
        await screen.query_one("#search-results").remove()
        assert screen.is_attached  # the state closing passes through
        screen._schedule("epoch", debounce=False)
        await app.workers.wait_for_complete()
        assert app._exception is None, app._exception


async def test_recent_queries_are_saved_and_offered(seeded) -> None:
    paths, _ = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await pilot.press("ctrl+f")
        await _type(pilot, "epoch")
        await pilot.press("escape")  # leaving with results remembers the query
        await pilot.pause()
        await app.workers.wait_for_complete()
    assert await read_setting(paths.db, RECENT_KEY) == ["epoch"]
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        screen = await press_to_open(pilot, "ctrl+f", SearchScreen)
        options = screen.options
        assert str(options.get_option_at_index(1).prompt).strip() == "epoch"
        await pilot.press("enter")  # the highlighted recent query fills the input
        await app.wait_idle()
        assert screen.input.value == "epoch" and len(screen.results.hits) == 12


async def test_moving_to_the_end_loads_more_hits(seeded, monkeypatch) -> None:
    paths, ids = seeded
    monkeypatch.setattr(search_screen, "PAGE", 10)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await pilot.press("ctrl+f")
        await _type(pilot, "get page")
        screen = app.screen
        assert len(screen.results.hits) == 10 and screen.results.next_page
        for _ in range(3):
            await pilot.press("pagedown")
            await app.wait_idle()
        hits = screen.results.hits
        assert len(hits) == 30 and screen.results.next_page is None
        assert [h.line for h in hits] == sorted((h.line for h in hits), reverse=True)
        (group,) = screen.results.groups
        assert group.session.id == ids["running"] and len(group.hits) == 30


async def test_ctrl_r_orders_by_relevance(seeded) -> None:
    paths, _ = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await pilot.press("ctrl+f")
        await _type(pilot, "epoch")
        screen = app.screen
        assert not screen.results.ranked
        newest = [h.line for h in screen.results.hits]
        await pilot.press("ctrl+r")
        await app.wait_idle()
        assert screen.results.ranked and screen.results.query.text == "epoch"
        assert sorted(h.line for h in screen.results.hits) == sorted(newest)
        assert "most relevant first" in str(screen.query_one("#search-status").render())


async def test_hostile_names_and_notes_are_shown_inert(tmp_path) -> None:
    paths = paths_for(tmp_path)
    paths.ensure()
    async with open_store(paths.db) as store:
        s = await store.sessions.create(
            ["sh"], "/tmp", name="evil\x1b]0;pwned\x07 build", created_at=1_780_000_000.0
        )
        await store.sessions.update(s.id, notes="beacon \x1b]52;c;ZXZpbA==\x07 note")
        await store.output.append(s.id, "stdout", b"beacon \x1b[31mred\x1b[0m\n")
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await pilot.press("ctrl+f")
        await _type(pilot, "beacon")
        screen = app.screen
        (group,) = screen.results.groups
        assert [m.text for m in group.meta] == ["beacon  note"]
        texts = [str(o.prompt) for o in screen.options.options]
        assert texts[0].startswith(f"#{s.id} evil build")
        assert not any("\x1b" in t or "\x07" in t for t in texts)
