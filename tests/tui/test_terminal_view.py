"""A pty session in the TUI: its emulated screen, its rendered transcript and the list's
preview, drawn from recorded terminal fixtures (tests/fixtures/terminal) stored as a
supervisor stores them (a size line, then the raw bytes). Screenshots at 120x36."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from textual.pilot import Pilot

from runner.screen.state import size_line
from storage import open_store
from tests.support.output_screen import T0, append, output_app
from tests.support.tui_app import pin_environment
from tui.screens.output import OutputScreen
from tui.widgets.output_view import OutputView
from tui.widgets.preview import SessionPreview
from tui.widgets.screen_view import TerminalView

SIZE = (120, 36)
FIXTURES = Path(__file__).parents[1] / "fixtures" / "terminal"


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


# Printed after a fixture, so that rows scroll off the top into the transcript.
ROWS_AFTER = b"".join(b"build step %d of 40: ok\r\n" % i for i in range(1, 41))


async def seed_pty(
    db: Path, fixture: str, *, status: str = "succeeded", split: int = 1, after: bytes = b""
) -> int:
    """A pty session whose output is the fixture's bytes (in ``split`` writes), then
    ``after``."""
    meta = json.loads((FIXTURES / f"{fixture}.json").read_text())
    data = (FIXTURES / f"{fixture}.bin").read_bytes() + after
    async with open_store(db) as store:
        session = await store.sessions.create(
            meta["command"], cwd="/src/app", name=fixture, mode="pty", created_at=T0
        )
        await store.runs.start(session.id, at=T0)
        sid = session.id
        records = [(sid, "system", size_line(meta["cols"], meta["rows"]), T0)]
        step = -(-len(data) // split)
        for i in range(0, len(data), step):
            records.append((sid, "stdout", data[i : i + step], T0 + 1 + i / len(data)))
        await store.output.append_many(records)
        if status != "running":
            await store.runs.finish(sid, exit_code=0, status=status, at=T0 + 3)
        return sid


def seeded(tmp_path: Path, fixture: str, **kw) -> tuple[Path, int]:  # type: ignore[no-untyped-def]
    db = tmp_path / "t.db"
    return db, asyncio.run(seed_pty(db, fixture, **kw))


async def settle_terminal(pilot: Pilot, until=None) -> TerminalView:  # type: ignore[no-untyped-def]
    for _ in range(500):
        await pilot.pause(0.01)
        screen = pilot.app.screen
        if not isinstance(screen, OutputScreen):
            continue
        view = screen.query_one(TerminalView)
        if view.idle and (until is None or until(view)):
            await pilot.pause()
            return view
    raise AssertionError("the terminal view did not settle")


def opened(session_id: int, *keys: str):  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        await pilot.app.wait_loaded()  # type: ignore[attr-defined]
        await pilot.app.push_screen(OutputScreen(session_id))
        await settle_terminal(pilot)
        for key in keys:
            await pilot.press(key)
            await settle_terminal(pilot)

    return run_before


@pytest.mark.parametrize("fixture", ["vim_edit", "top", "alt_screen", "colours"])
def test_screen_view(snap_compare, tmp_path: Path, fixture: str) -> None:
    db, sid = seeded(tmp_path, fixture)
    assert snap_compare(output_app(db), terminal_size=SIZE, run_before=opened(sid))


def test_transcript_view(snap_compare, tmp_path: Path) -> None:
    db, sid = seeded(tmp_path, "less_quit", after=ROWS_AFTER)
    assert snap_compare(output_app(db), terminal_size=SIZE, run_before=opened(sid, "v"))


def test_preview_of_a_pty_session(snap_compare, tmp_path: Path) -> None:
    db, sid = seeded(tmp_path, "htop", status="running")

    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        await app.wait_idle()  # type: ignore[attr-defined]
        app.state.select(sid)  # type: ignore[attr-defined]
        await app.wait_idle()  # type: ignore[attr-defined]
        preview = app.screen.query_one(SessionPreview)
        for _ in range(500):
            if not preview.busy:
                break
            await pilot.pause(0.01)
        await pilot.pause()

    assert snap_compare(output_app(db), terminal_size=SIZE, run_before=run_before)


async def test_v_cycles_screen_transcript_stream(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    sid = await seed_pty(db, "less_quit", after=ROWS_AFTER)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await opened(sid)(pilot)
        screen = app.screen
        terminal, stream = screen.query_one(TerminalView), screen.query_one(OutputView)
        assert terminal.display and not stream.display and terminal.mode == "screen"
        assert terminal.has_focus
        shown = terminal.lines_shown()
        assert len(shown) == 24  # the terminal's rows, not the stream's lines
        await pilot.press("v")
        await settle_terminal(pilot)
        assert terminal.mode == "transcript" and terminal.display
        rendered = terminal.lines_shown()  # what scrolled off, then the screen
        assert rendered[-1] == "build step 40 of 40: ok" and len(rendered) > 24
        assert rendered.index("back-in-shell") < rendered.index("build step 1 of 40: ok")
        await pilot.press("v")
        await pilot.pause()
        assert stream.display and not terminal.display and stream.has_focus
        await pilot.press("v")
        await settle_terminal(pilot)
        assert terminal.display and terminal.mode == "screen"


async def test_live_output_redraws_only_the_rows_that_changed(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    sid = await seed_pty(db, "alt_screen", status="running")
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await opened(sid)(pilot)
        view = app.screen.query_one(TerminalView)
        before = view.lines_shown()
        drawn = view.redrawn_rows
        # Another process (the supervisor) stores more: one row rewritten in place.
        await append(db, sid, "stdout", b"\x1b[2;1H\x1b[2Kchanged row two")
        view = await settle_terminal(pilot, lambda v: v.lines_shown()[1] == "changed row two")
        after = view.lines_shown()
        assert [y for y in range(len(after)) if after[y] != before[y]] == [1]
        # The changed row, plus the rows the cursor left and moved to.
        assert view.redrawn_rows - drawn <= 3


async def test_a_pipe_session_keeps_its_stream(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    async with open_store(db) as store:
        s = await store.sessions.create(["make"], cwd="/src", name="pipe", created_at=T0)
        await store.runs.start(s.id, at=T0)
        await store.output.append(s.id, "stdout", b"hello\n", T0)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_loaded()
        await app.push_screen(OutputScreen(s.id))
        await pilot.pause()
        stream = app.screen.query_one(OutputView)
        for _ in range(300):
            if stream.session is not None:
                break
            await pilot.pause(0.01)
        await pilot.press("v")
        await pilot.pause()
        assert stream.display and not app.screen.query_one(TerminalView).display


async def test_the_stream_view_behind_a_live_screen_reads_nothing_and_catches_up(
    tmp_path: Path,
) -> None:
    """While a live pty session's screen is shown, the hidden stream view takes the
    session row the terminal view read (the header's line count stays current) and
    reads no lines and changes no geometry (a layout pass and a frame of its own, ahead
    of the terminal's, held the terminal's frame back); shown again, it catches up."""
    db = tmp_path / "t.db"
    sid = await seed_pty(db, "less_quit", status="running")
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await opened(sid)(pilot)
        screen = app.screen
        stream = screen.query_one(OutputView)
        assert not stream.display
        read, size = (stream.stats.pages, stream.stats.lines), stream.virtual_size
        await append(db, sid, "stdout", b"new row one\r\nnew row two\r\n")
        async with open_store(db) as store:
            count = (await store.sessions.get(sid)).output_lines  # type: ignore[union-attr]
        await settle_terminal(pilot, lambda v: "new row two" in v.lines_shown())
        for _ in range(300):
            if stream.line_count == count:
                break
            await pilot.pause(0.01)
        assert stream.line_count == count  # (the header shows it)
        assert f"{count:,} lines" in str(screen.query_one("#output-header").render())
        assert (stream.stats.pages, stream.stats.lines) == read
        assert stream.virtual_size == size
        await pilot.press("v", "v")  # transcript, then the stream
        shown: list[str] = []
        for _ in range(300):
            await pilot.pause(0.01)
            if stream.display and stream.idle:
                shown = [stream.row_text(y) for y in range(stream.size.height)]
                if any("new row two" in row for row in shown):
                    break
        assert stream.virtual_size.height == count
        assert any("new row two" in row for row in shown)
