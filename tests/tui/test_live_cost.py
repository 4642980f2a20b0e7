"""What a live session costs the TUI per tick (issue 14, live without polling lag): the
output view reads only the new lines and keeps a bounded number of renderings; the
session list does nothing while the output screen covers it, and catches up after."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from storage import open_store
from storage.models import Line
from tests.support.output_screen import T0
from tests.support.tui_app import make_app, paths_for, pin_environment
from tui.widgets.output_lines import PAGE_LINES, LinePages
from tui.widgets.output_render import GutterLayout
from tui.widgets.output_rows import ROWS_KEPT, RowPainter


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


async def test_following_the_tail_reads_only_the_new_lines(tmp_path: Path) -> None:
    async with open_store(tmp_path / "t.db") as store:
        s = await store.sessions.create(["x"], cwd="/", created_at=T0)
        await store.runs.start(s.id, at=T0)
        pages = LinePages()
        ticks = 2 * PAGE_LINES + 10  # across pages
        for i in range(ticks):
            # a line, and the start of the next one (unfinished: it grows next tick)
            await store.output.append(s.id, "stdout", b"rest %d\nline %d" % (i, i + 1), T0 + i)
            row = await store.sessions.get(s.id)
            assert row is not None
            await pages.read_tail(store, s.id, row.output_lines, row.output_bytes)
            pages.count, pages.nbytes = row.output_lines, row.output_bytes
        # every line once, and the unfinished one again each tick: not a page a tick
        assert pages.stats.lines <= 2 * ticks + 3
        whole = await store.output.read_lines(s.id, 0, ticks + 1)
    shown = [pages.line(n) for n in range(ticks + 1)]
    assert [(ln.number, ln.raw, ln.terminated) for ln in shown if ln is not None] == [
        (ln.number, ln.raw, ln.terminated) for ln in whole
    ]


def test_rendered_rows_stay_bounded_while_following() -> None:
    painter = RowPainter()
    console = Console(width=80, color_system="truecolor", legacy_windows=False)
    gutter = GutterLayout(numbers=True, number_width=5, timestamps=False, marks=True)
    height = 36
    for top in range(3000):  # following: every row moves up by one each tick
        for number in range(top, top + height):
            line = Line(1, number, "stdout", T0, 1, b"\x1b[32mtick\x1b[0m %d" % number, True)
            strip = painter.row(line, number, 0, gutter, 70, 0, console)
        assert f"tick {number}" in strip.text
    assert painter.cached <= 3 * ROWS_KEPT


async def test_the_list_rests_while_covered_and_catches_up(tmp_path: Path) -> None:
    paths = paths_for(tmp_path)
    paths.ensure()
    async with open_store(paths.db) as other:
        s = await other.sessions.create(["make"], "/src", name="ticker")
        await other.runs.start(s.id)
        await other.output.append(s.id, "stdout", b"first\n")
    app = make_app(paths, background=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_idle()
        sessions = app.screen
        preview = sessions.query_one("SessionPreview")
        topbar = sessions.query_one("#topbar")
        assert "first" in str(preview.render()) and "1 session" in str(topbar.render())

        async def until(condition) -> None:  # type: ignore[no-untyped-def]
            for _ in range(400):
                if condition():
                    return
                await pilot.pause(0.05)
            raise AssertionError(f"gave up waiting for {condition}")

        app.open_output(s.id)
        await until(lambda: type(app.screen).__name__ == "OutputScreen")
        assert sessions.covered
        async with open_store(paths.db) as other:
            await other.output.append(s.id, "stdout", b"second\n")
            await other.sessions.create(["ls"], "/src", name="another")
        # the app sees both (the state store polls), the covered list shows neither
        await until(lambda: len(app.state.ids) == 2 and app.state.row(s.id).output_lines == 2)
        await pilot.pause(1.2)  # and not on its one-second tick either
        assert "second" not in str(preview.render())
        assert "1 session" in str(topbar.render())

        app.pop_screen()
        await until(lambda: app.screen is sessions)
        await app.wait_idle()
        assert "second" in str(preview.render()) and "2 sessions" in str(topbar.render())

        # a modal lets the list show through: it is not covered, and keeps up
        await pilot.press("question_mark")
        await until(lambda: type(app.screen).__name__ == "HelpModal")
        assert not sessions.covered
        async with open_store(paths.db) as other:
            await other.output.append(s.id, "stdout", b"third\n")
        await until(lambda: "third" in str(preview.render()))
