"""r on an ended agent session continues its conversation the agent's way, with a real
supervisor and the fake aider of tests/agents/fakes (it keeps .aider.chat.history.md in
its cwd); when that history is gone, r asks before starting it afresh."""

from __future__ import annotations

import asyncio
import time

from runner import control
from storage import open_store
from tests.agents.test_tui_attention import _pinned, paths  # noqa: F401
from tests.support.tui_app import make_app
from tui.screens.modals import ConfirmModal


async def _until(probe, what: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """Await ``probe()`` until it is truthy (a deadline for a broken build)."""
    deadline = time.monotonic() + timeout
    while not (value := await probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        await asyncio.sleep(0.05)
    return value


async def _asked_aider(home, project):  # type: ignore[no-untyped-def]
    """An aider session that was asked one thing, then stopped."""
    history = project / ".aider.chat.history.md"
    async with open_store(home.db) as store:
        s = await control.start_session(
            store, home, argv=["aider"], cwd=str(project), mode="pty",
            tuning={"agent_kind": "aider"},
        )  # fmt: skip
        await store.sessions.set_agent(s.id, "aider", None)
        await _until(lambda: asyncio.sleep(0, history.exists()), "aider started")
        await control.send_input(store, home, s.id, "add a README")
        asked = lambda: asyncio.sleep(0, "#### add a README" in history.read_text())  # noqa: E731
        await _until(asked, "the request in its history")
        await control.stop(store, home, s.id, grace=1.0)
        await _until(lambda: _ended(store, s.id), "aider stopped")
    return s


async def _ended(store, sid: int) -> bool:  # type: ignore[no-untyped-def]
    return (await store.sessions.require(sid)).ended


async def _run_argv(store, sid: int, number: int) -> list[str] | None:  # type: ignore[no-untyped-def]
    runs = await store.runs.list(sid)
    return list(runs[number - 1].argv) if len(runs) >= number else None


async def test_r_restores_aiders_chat_or_asks_before_a_fresh_start(paths, tmp_path) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    project = tmp_path / "project"
    project.mkdir()
    s = await _asked_aider(paths, project)
    app = make_app(paths, background=True)
    async with app.run_test(size=(140, 36)) as pilot:
        await app.wait_idle()
        app.state.select(s.id)
        await pilot.press("r")
        argv = await _until(lambda: _run_argv(app.store, s.id, 2), "a second run")
        assert argv == ["aider", "--restore-chat-history"]

        def restored(screen) -> bool:  # type: ignore[no-untyped-def]
            return any("> add a README" in line for line in screen["lines"])

        await _until(
            lambda: _screen_shows(app.store, paths, s.id, restored), "the chat history back"
        )
        await control.stop(app.store, paths, s.id, grace=1.0)
        await _until(lambda: _ended(app.store, s.id), "stopped again")

        (project / ".aider.chat.history.md").unlink()
        await app.state.poll(force=True)
        await pilot.press("r")
        await _until(lambda: asyncio.sleep(0, isinstance(app.screen, ConfirmModal)), "asked")
        await pilot.press("y")  # start afresh
        argv = await _until(lambda: _run_argv(app.store, s.id, 3), "a third run")
        assert argv == ["aider"]


async def _screen_shows(store, home, sid, check) -> bool:  # type: ignore[no-untyped-def]
    try:
        return check(await control.screen(store, home, sid))
    except Exception:  # noqa: BLE001 - not up yet
        return False
