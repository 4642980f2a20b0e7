"""From a search hit on a terminal session to where it was seen (issue 14: "a hit opens
the screen or the transcript at that place"): ``enter`` on a hit of claude's first
screen shows that screen with the hit's row in view and its words highlighted; on a
row that scrolled off, the rendered transcript at that row; ``v`` goes on to the raw
stream at the hit's line, then the screen as it was at that line. Real recorded pty
fixtures (tests/fixtures/terminal), stored as a supervisor stores them, transcripts
built as at the end of a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.style import Style
from textual.pilot import Pilot

from runner.screen.render import render_session
from runner.screen.state import size_line
from storage import open_store
from tests.support.output_screen import T0, output_app
from tests.support.tui_app import pin_environment
from tui.screens.output import OutputScreen
from tui.screens.search import SearchScreen
from tui.widgets.screen_view import TerminalView

SIZE = (120, 36)
FIXTURES = Path(__file__).parents[1] / "fixtures" / "terminal"
# Printed after a fixture: 40 rows, so the first screen's rows scroll off the top.
ROWS_AFTER = b"".join(b"build step %d of 40: ok\r\n" % i for i in range(1, 41))


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


async def seed(db: Path, fixture: str, *, after: bytes = b"") -> int:
    """A finished pty session of the fixture's bytes, then ``after``; its transcript
    and final screen stored (runner.screen.render, as its supervisor would have)."""
    meta = json.loads((FIXTURES / f"{fixture}.json").read_text())
    async with open_store(db) as store:
        s = await store.sessions.create(
            meta["command"], cwd="/src/app", name=fixture, mode="pty", created_at=T0
        )
        await store.runs.start(s.id, at=T0)
        await store.output.append(s.id, "system", size_line(meta["cols"], meta["rows"]), T0)
        data = (FIXTURES / f"{fixture}.bin").read_bytes() + after
        await store.output.append(s.id, "stdout", data, T0 + 1)
        await store.runs.finish(s.id, exit_code=0, at=T0 + 2)
        await render_session(store, s.id)
        return s.id


async def search_and_open(pilot: Pilot, text: str) -> TerminalView:
    """Type ``text`` in the search screen, enter on its (one) hit, wait for the view."""
    app = pilot.app
    await app.wait_idle()  # type: ignore[attr-defined]
    await pilot.press("ctrl+f")
    for ch in text:
        await pilot.press({" ": "space", '"': "quotation_mark"}.get(ch, ch))
    await app.wait_idle()  # type: ignore[attr-defined]
    screen = app.screen
    assert isinstance(screen, SearchScreen)
    assert screen.results is not None
    (hit,) = screen.results.hits
    assert hit.stream == "screen" and hit.row is not None
    await pilot.press("down", "enter")  # from the session header to the hit
    return await settled(pilot)


async def settled(pilot: Pilot) -> TerminalView:
    for _ in range(500):
        await pilot.pause(0.01)
        screen = pilot.app.screen
        if isinstance(screen, OutputScreen):
            view = screen.query_one(TerminalView)
            if view.idle and view.place is not None and view.hit_row is not None:
                await pilot.pause()
                return view
    raise AssertionError("the view did not show the hit")


def hit_line(view: TerminalView) -> tuple[str, list[str]]:
    """The hit's row as drawn (it must be in view), and the texts drawn highlighted
    on it in the strongest style (the hit's own words)."""
    assert view.hit_row is not None
    y = view.hit_row - int(view.scroll_offset.y)
    assert 0 <= y < view.scrollable_content_region.height, "the hit's row is not in view"
    strip = view.render_line(y)
    current = view.get_component_rich_style("terminal-view--current-match")
    strong: list[str] = []
    joined = False  # the segment before was highlighted too: one stretch
    for segment in strip:
        on = segment.style is not None and _has(segment.style, current)
        if on and joined:
            strong[-1] += segment.text
        elif on:
            strong.append(segment.text)
        joined = on
    return strip.text, strong


def _has(style: Style, wanted: Style) -> bool:
    return style.bgcolor == wanted.bgcolor and style.color == wanted.color


async def test_a_hit_on_claudes_first_screen_opens_that_screen_at_the_hit(tmp_path):
    db = tmp_path / "t.db"
    sid = await seed(db, "claude_first")
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await search_and_open(pilot, '"Welcome to Claude"')
        output = app.screen
        assert isinstance(output, OutputScreen) and output.session_id == sid
        assert view.display and view.mode == "screen"
        assert "screen as it was at the end of its run" in _header(output)
        text, strong = hit_line(view)
        assert "Welcome to Claude Code v2.1.197" in text
        assert strong == ["Welcome to Claude"]
        # The rest of that screen is there too, as drawn (not the raw bytes).
        shown = [view.row_text(y) for y in range(view.scrollable_content_region.height)]
        assert any("Unable to connect to Anthropic services" in r for r in shown)
        await pilot.press("escape", "escape")  # the find bar (the words), then back
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)


async def test_a_hit_on_a_row_that_scrolled_off_opens_the_transcript_at_it(tmp_path):
    db = tmp_path / "t.db"
    await seed(db, "claude_first", after=ROWS_AFTER)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await search_and_open(pilot, '"Welcome to Claude"')
        assert view.mode == "transcript"
        output = app.screen
        assert isinstance(output, OutputScreen)
        assert f"transcript at row {view.hit_row + 1}" in _header(output)
        text, strong = hit_line(view)
        assert text.startswith("Welcome to Claude Code v2.1.197") and strong == [
            "Welcome to Claude"
        ]
        # v: the raw stream, at the hit's line (its words glued as the bytes have them).
        await pilot.press("v")
        await pilot.pause()
        assert not view.display and output.view.display
        # v again: the screen as it was at the hit's line, the row at its top.
        await pilot.press("v")
        view = await settled(pilot)
        assert view.display and view.mode == "screen" and view.hit_row == 0
        text, strong = hit_line(view)
        assert "Welcome to Claude Code" in text and strong == ["Welcome to Claude"]
        assert "screen as it was at line" in _header(output)


def _header(screen: OutputScreen) -> str:
    from tui.screens.output import OutputHeader

    return screen.query_one(OutputHeader).content.plain


def _opened_at(text: str):  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        await search_and_open(pilot, text)

    return run_before


def test_snapshot_a_hit_on_the_screen_its_run_ended_on(snap_compare, tmp_path: Path) -> None:
    import asyncio

    db = tmp_path / "t.db"
    asyncio.run(seed(db, "claude_first"))
    assert snap_compare(
        output_app(db), terminal_size=SIZE, run_before=_opened_at('"Welcome to Claude"')
    )


def test_snapshot_a_hit_on_a_row_that_scrolled_off(snap_compare, tmp_path: Path) -> None:
    import asyncio

    db = tmp_path / "t.db"
    asyncio.run(seed(db, "claude_first", after=ROWS_AFTER))
    assert snap_compare(
        output_app(db), terminal_size=SIZE, run_before=_opened_at('"Failed to connect"')
    )


async def test_going_live_lets_go_of_the_hit(tmp_path):
    """What interactive mode (I) does first: the live screen, unpinned, no highlight."""
    db = tmp_path / "t.db"
    await seed(db, "claude_first", after=ROWS_AFTER)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await search_and_open(pilot, '"Welcome to Claude"')
        assert view.mode == "transcript" and view.lines_shown()[0].startswith("Welcome")
        view.go_live()
        view.mode = "screen"
        for _ in range(500):
            await pilot.pause(0.01)
            if view.idle and view.place is None and view.lines_shown():
                break
        shown = view.lines_shown()
        assert shown[-2:] == ["build step 40 of 40: ok", ""]  # the session's last screen
        assert view.hit_row is None and view.place_label == ""
        texts = [view.row_text(y) for y in range(view.scrollable_content_region.height)]
        assert not any("Welcome" in t for t in texts)


async def test_the_transcript_at_a_hit_reads_the_rest_as_it_is_scrolled_to(tmp_path):
    db = tmp_path / "t.db"
    many = b"".join(b"build step %d of 3000: ok\r\n" % i for i in range(1, 3001))
    await seed(db, "claude_first", after=many)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await search_and_open(pilot, '"build step 1500 of"')
        assert view.mode == "transcript"
        text, strong = hit_line(view)
        assert text.startswith("build step 1500 of 3000: ok") and strong == ["build step 1500 of"]
        assert "build step 1 of" not in "\n".join(view.lines_shown())  # not read yet
        for key, first in (("g", "Welcome to Claude Code v2.1.197"), ("G", None)):
            await pilot.press(key)
            for _ in range(500):
                await pilot.pause(0.01)
                top = view.row_text(0).rstrip()
                if view.idle and top:
                    break
            texts = [view.row_text(y).rstrip() for y in range(view.size.height)]
            if first is not None:
                assert texts[0] == first
            else:
                assert "build step 3000 of 3000: ok" in texts


async def test_the_live_screen_after_a_hit_has_no_highlight(tmp_path):
    db = tmp_path / "t.db"
    await seed(db, "claude_first", after=ROWS_AFTER)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await search_and_open(pilot, '"step 40 of 40"')
        assert view.mode == "screen"  # the last row printed: on the screen the run ended on
        assert hit_line(view)[1] == ["step 40 of 40"]
        y = view.hit_row - int(view.scroll_offset.y)
        view.go_live()
        for _ in range(500):
            await pilot.pause(0.01)
            if view.idle and view.place is None and view.lines_shown():
                break
        match = view.get_component_rich_style("terminal-view--match")
        strip = view.render_line(y)
        assert "build step 40 of 40: ok" in strip.text
        assert not [s for s in strip if s.style and _has(s.style, match)]
