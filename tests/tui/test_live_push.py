"""The live views are woken by the session's supervisor (tui/widgets/live_push.py): with
the poll slowed to 30 s, new output of a real running session still shows at once, in
the output view and in the terminal view; and while a view watches, the supervisor
writes what it reads at once instead of batching it (runner/writer.py, WATCHED_GAP)."""

from __future__ import annotations

import asyncio

import pytest

from runner import control
from storage import open_store
from storage.models import LIVE
from tests.support.tui_app import make_app, paths_for, pin_environment
from tui.screens.output import OutputScreen
from tui.widgets import live_push, output_view, screen_view
from tui.widgets.output_view import OutputView
from tui.widgets.screen_view import TerminalView

SIZE = (120, 36)
ECHO = ["sh", "-c", "while read l; do echo pushed-$l; done"]
# Two lines 20 ms apart: the second comes while the writer would batch (QUIET_SPELL).
TWICE = ["sh", "-c", "while read l; do echo first-$l; sleep 0.02; echo second-$l; done"]


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


@pytest.fixture
def paths(tmp_path):  # type: ignore[no-untyped-def]
    p = paths_for(tmp_path)
    p.ensure()
    return p


async def until(pilot, condition, what: str, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await pilot.pause(0.02)


def shown_in(view, text: str):  # type: ignore[no-untyped-def]
    """Whether ``text`` is on the view's screen (either view)."""
    if isinstance(view, TerminalView):
        return lambda: any(text in line for line in view.lines_shown())
    return lambda: any(text in view.row_text(y) for y in range(view.size.height))


@pytest.mark.parametrize("mode", ["pipe", "pty"])
async def test_new_output_shows_without_waiting_for_the_poll(paths, monkeypatch, mode):
    monkeypatch.setattr(output_view, "POLL_INTERVAL", 30.0)
    monkeypatch.setattr(screen_view, "POLL_INTERVAL", 30.0)
    async with open_store(paths.db) as store:
        s = await control.start_session(store, paths, argv=ECHO, cwd=str(paths.data_dir), mode=mode)
    app = make_app(paths)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await app.wait_loaded()
            await app.push_screen(OutputScreen(s.id))
            view = app.screen.query_one(TerminalView if mode == "pty" else OutputView)
            await until(pilot, lambda: view.push.listening, "the subscription")

            def shown(text: str):  # type: ignore[no-untyped-def]
                if mode == "pty":
                    return lambda: any(text in line for line in view.lines_shown())
                return lambda: any(text in view.row_text(y) for y in range(view.size.height))

            for n in range(3):
                async with open_store(paths.db) as store:
                    await control.send_input(store, paths, s.id, f"x{n}")
                await until(pilot, shown(f"pushed-x{n}"), f"pushed-x{n} on screen")
            assert view.push.wakes >= 3
    finally:
        async with open_store(paths.db) as store:
            await control.stop(store, paths, s.id, grace=1.0)


@pytest.mark.parametrize("mode", ["pipe", "pty"])
async def test_output_right_after_a_write_is_written_at_once_while_watched(
    paths, monkeypatch, mode
):
    """A line that comes right after a write would wait for the writer's next batch
    (flush_interval, here 30 s); while a live view watches, the supervisor writes it at
    once, so it shows without waiting for the batch nor for the view's poll."""
    monkeypatch.setattr(output_view, "POLL_INTERVAL", 30.0)
    monkeypatch.setattr(screen_view, "POLL_INTERVAL", 30.0)
    async with open_store(paths.db) as store:
        s = await control.start_session(
            store,
            paths,
            argv=TWICE,
            cwd=str(paths.data_dir),
            mode=mode,
            tuning={"flush_interval": 30.0},
        )
    app = make_app(paths)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await app.wait_loaded()
            await app.push_screen(OutputScreen(s.id))
            view = app.screen.query_one(TerminalView if mode == "pty" else OutputView)
            await until(pilot, lambda: view.push.subscribed, "the subscription")
            for n in range(2):
                async with open_store(paths.db) as store:
                    await control.send_input(store, paths, s.id, f"x{n}")
                await until(pilot, shown_in(view, f"second-x{n}"), f"second-x{n} on screen")
    finally:
        async with open_store(paths.db) as store:
            await control.stop(store, paths, s.id, grace=1.0)


async def test_a_woken_view_polls_seldom_and_often_again_once_the_run_ends(paths) -> None:  # type: ignore[no-untyped-def]
    """While the supervisor wakes the view, its poll is a safety net (once a second, not
    twenty times: an idle live session costs the TUI little); when the run ends, the
    stream closes and the view polls at its own pace again."""
    async with open_store(paths.db) as store:
        s = await control.start_session(store, paths, argv=ECHO, cwd=str(paths.data_dir))
    app = make_app(paths)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await app.wait_loaded()
            await app.push_screen(OutputScreen(s.id))
            view = app.screen.query_one(OutputView)
            await until(pilot, lambda: view.push.subscribed, "the subscription")
            assert view.push.poll_interval(output_view.POLL_INTERVAL) == live_push.SUBSCRIBED_POLL
            async with open_store(paths.db) as store:
                await control.stop(store, paths, s.id, grace=1.0)
            await until(pilot, lambda: not view.push.subscribed, "the stream closed")
            await until(pilot, lambda: view.status not in LIVE, "the end shown")
            assert view.push.poll_interval(output_view.POLL_INTERVAL) == output_view.POLL_INTERVAL
    finally:
        async with open_store(paths.db) as store:
            if (await store.sessions.get(s.id)).status in LIVE:
                await control.stop(store, paths, s.id, grace=1.0)
