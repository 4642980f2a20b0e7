"""Configuration the app honours at run time: capture-time redaction for sessions
started from the TUI, and automatic cleanup on start."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from home.config import Config, General
from storage import open_store
from tests.support.tui_app import Clock, paths_for, pin_environment
from tui.app import TetherApp
from tui.screens.modals import NewSession

SIZE = (120, 36)
SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


@pytest.fixture
def paths(tmp_path):  # type: ignore[no-untyped-def]
    p = paths_for(tmp_path)
    p.ensure()
    return p


def _app(paths, **sections) -> TetherApp:  # type: ignore[no-untyped-def]
    general = sections.pop("general", General())
    config = Config(general=general, sections=sections)
    return TetherApp(
        paths, config, clock=Clock(), background=True, cursor_blink=False, cwd=str(paths.data_dir)
    )


async def _output_of(paths, session_id: int, timeout: float = 20.0) -> bytes:
    deadline = time.monotonic() + timeout
    async with open_store(paths.db) as store:
        while time.monotonic() < deadline:
            s = await store.sessions.get(session_id)
            if s is not None and s.ended:
                return await store.output.read_bytes(session_id, stream="stdout")
            await asyncio.sleep(0.1)
    raise AssertionError(f"#{session_id} did not end")


@pytest.mark.parametrize("on_capture", [True, False])
async def test_sessions_started_from_the_tui_honour_capture_redaction(paths, on_capture) -> None:  # type: ignore[no-untyped-def]
    app = _app(paths, redaction={"on_capture": on_capture, "patterns": []})
    argv = [sys.executable, "-c", f"print('token={SECRET}')"]
    async with app.run_test(size=SIZE):
        await app.wait_idle()
        session = await app.actions.start_session(
            NewSession(argv=tuple(argv), cwd=str(paths.data_dir), name="", tags=(), mode="pipe")
        )
        assert session is not None
    out = await _output_of(paths, session.id)
    assert (SECRET.encode() in out) is not on_capture
    if on_capture:
        assert b"[REDACTED:" in out


@pytest.mark.parametrize("enabled", [True, False])
async def test_auto_cleanup_on_start_applies_the_retention_policy(paths, enabled) -> None:  # type: ignore[no-untyped-def]
    old = time.time() - 90 * 86400
    async with open_store(paths.db) as store:
        ancient = await store.sessions.create(["make"], cwd="/", created_at=old)
        await store.runs.start(ancient.id, at=old)
        await store.runs.finish(ancient.id, exit_code=0, at=old + 1)
        fresh = await store.sessions.create(["make"], cwd="/")
        await store.runs.start(fresh.id)
        await store.runs.finish(fresh.id, exit_code=0)
    app = _app(paths, general=General(auto_cleanup=enabled), retention={"max_age_days": 30})
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        for _ in range(100):
            await pilot.pause(0.05)
            async with open_store(paths.db) as store:
                gone = await store.sessions.get(ancient.id) is None
            if gone or not enabled:
                break
    async with open_store(paths.db) as store:
        assert (await store.sessions.get(ancient.id) is None) is enabled
        assert await store.sessions.get(fresh.id) is not None
