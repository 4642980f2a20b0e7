"""Who needs you, in the app, with real supervisors: the session that needs you goes on
top with its icon, a toast and the count say so, y answers it with the keys of its kind
(a fake claude: 1), n with the deny keys of a plain program."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from runner import control
from storage import open_store
from tests.support.tui_app import make_app, paths_for, pin_environment
from tui import format as fmt
from tui.widgets.status_bar import NeedsYouCount

FAKES = Path(__file__).resolve().parent / "fakes" / "bin"

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


@pytest.fixture
def paths(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", f"{FAKES}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-home"))
    p = paths_for(tmp_path)
    p.ensure()
    yield p
    asyncio.run(_stop_all(p))


async def _stop_all(paths) -> None:  # type: ignore[no-untyped-def]
    async with open_store(paths.db) as store:
        for s in await store.sessions.list(status=("running", "paused")):
            try:
                await control.stop(store, paths, s.id, grace=1.0)
            except Exception:  # noqa: BLE001 - best effort cleanup
                pass


async def until(pilot, condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {condition.__doc__ or condition}")
        await pilot.pause(0.1)


async def _start(paths, argv, **kw):  # type: ignore[no-untyped-def]
    async with open_store(paths.db) as store:
        s = await control.start_session(
            store, paths, argv=argv, cwd=str(paths.data_dir), mode="pty", **kw
        )
        if kw.get("tuning"):
            await store.sessions.set_agent(s.id, kw["tuning"]["agent_kind"], None)
        return s


async def test_a_session_that_needs_you_goes_first_and_y_n_answer_it(paths) -> None:  # type: ignore[no-untyped-def]
    busy = await _start(paths, [sys.executable, "-c", "import time; time.sleep(60)"])
    claude = await _start(paths, ["claude"], tuning={"agent_kind": "claude"})
    app = make_app(paths, background=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await app.wait_idle()
        # Started once the app runs: it starts needing you while the app watches.
        asker = await _start(paths, ["bash", "-c", 'read -p "Ship it? [y/N] " x; sleep 60'])

        def asker_on_top() -> bool:
            """the asking session first in the list"""
            row = app.state.row(asker.id)
            return (
                app.state.ids[:1] == [asker.id]
                and row is not None
                and (row.attention == "needs_you")
            )

        await until(pilot, asker_on_top)
        assert fmt.icon(app.state.row(asker.id)) == ("◆", "needs_you")
        assert app.state.ids.index(busy.id) > 0
        count = app.screen.query_one(NeedsYouCount)
        await until(pilot, lambda: str(count.render()) == "◆ 1 needs you")

        def toasted() -> bool:
            """a toast saying it needs you"""
            toasts = [str(t.render()) for t in app.screen.query("Toast")]
            return any(f"#{asker.id}" in t and "needs you" in t for t in toasts)

        await until(pilot, toasted)

        app.state.select(asker.id)
        await pilot.press("n")  # needs you: n answers no (not a new session)
        await until(pilot, lambda: app.state.row(asker.id).attention != "needs_you")
        assert app.screen.__class__.__name__ == "SessionsScreen"
        assert len(app.state.ids) == 3

        await control.send_input(app.store, paths, claude.id, "deploy")
        await until(pilot, lambda: app.state.row(claude.id).attention == "needs_you")
        app.state.select(claude.id)
        await pilot.press("y")  # claude's approve key: 1
        await until(pilot, lambda: app.state.row(claude.id).attention == "idle")
        screen = await control.screen(app.store, paths, claude.id)
        assert any("Ran: echo deploy" in line for line in screen["lines"])
