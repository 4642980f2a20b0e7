"""The app with real sessions: real supervisors, real commands, a second process
writing to the database, a supervisor killed with SIGKILL. Waits are bounded polls
for an observable result, never assertions about time."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from runner import control
from runner.locations import supervisor_pid
from storage import open_store
from tests.support.tui_app import make_app, paths_for, pin_environment, read_session
from tui.screens.modals import ConfirmModal, NewSessionModal

SIZE = (120, 36)
LOOP = [
    sys.executable,
    "-u",
    "-c",
    "import time\nfor i in range(600):\n print(i)\n time.sleep(0.1)",
]


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


@pytest.fixture
def paths(tmp_path):  # type: ignore[no-untyped-def]
    p = paths_for(tmp_path)
    p.ensure()
    return p


async def until(pilot, condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until ``condition()`` holds (fails after ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {condition.__doc__ or condition}")
        await pilot.pause(0.05)


async def _start(paths, argv, **kw):  # type: ignore[no-untyped-def]
    async with open_store(paths.db) as store:
        return await control.start_session(store, paths, argv=argv, cwd=str(paths.data_dir), **kw)


async def _stop_all(paths) -> None:  # type: ignore[no-untyped-def]
    async with open_store(paths.db) as store:
        for s in await store.sessions.list(status=("running", "paused")):
            try:
                await control.stop(store, paths, s.id, grace=1.0)
            except Exception:  # noqa: BLE001 - best effort cleanup
                pass


def _toasts(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(t.render()) for t in app.screen.query("Toast")]


async def test_new_session_from_the_modal_runs_for_real(paths, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(paths, background=True, cwd=str(tmp_path))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await app.wait_idle()
        await pilot.press("n")
        # Typed once the modal has the focus: keys typed before it opens are list keys.
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, NewSessionModal)
                and app.screen.query_one("#command").has_focus
            ),
        )
        await pilot.press(*"echo hello-tether", "tab", "tab", *"greeting", "enter")
        await until(pilot, lambda: len(app.state.ids) == 1)
        sid = app.state.ids[0]
        assert app.state.selected == sid

        def ended() -> bool:
            row = app.state.row(sid)
            return row is not None and row.status == "succeeded" and row.output_lines >= 1

        await until(pilot, ended)
        assert app.state.row(sid).name == "greeting"
    async with open_store(paths.db) as store:
        assert b"hello-tether" in await store.output.read_bytes(sid, "stdout")
        assert (await store.sessions.get(sid)).cwd == str(tmp_path)


async def test_stop_pause_continue_and_resume_keys(paths) -> None:  # type: ignore[no-untyped-def]
    s = await _start(paths, LOOP, name="loop")
    app = make_app(paths, background=True)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await app.wait_idle()
            assert app.state.selected == s.id
            await pilot.press("p")
            await until(pilot, lambda: app.state.row(s.id).status == "paused")
            await pilot.press("p")
            await until(pilot, lambda: app.state.row(s.id).status == "running")
            await pilot.press("s")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await pilot.press("y")
            await until(pilot, lambda: app.state.row(s.id).status == "stopped")
            await until(pilot, lambda: any("stopped" in t for t in _toasts(app)))
            await pilot.press("r")
            await until(pilot, lambda: app.state.row(s.id).run_count == 2)
            await until(pilot, lambda: app.state.row(s.id).status == "running")
    finally:
        await _stop_all(paths)
    assert (await read_session(paths.db, s.id)).run_count == 2


async def test_a_killed_supervisor_turns_lost_on_screen(paths) -> None:  # type: ignore[no-untyped-def]
    s = await _start(paths, LOOP, name="victim")
    app = make_app(paths, background=True, reconcile=0.3)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await app.wait_idle()
            table = app.screen.query_one("SessionTable")
            assert "●" in table.render_line(1).text
            pid = supervisor_pid(paths, s.id)
            assert pid
            os.kill(pid, signal.SIGKILL)
            os.killpg(s.pid, signal.SIGKILL)  # its command too: nothing left behind
            await until(pilot, lambda: app.state.row(s.id).status == "lost")
            await pilot.pause()
            assert "⊘" in table.render_line(1).text
            await until(pilot, lambda: any("was lost" in t for t in _toasts(app)))
    finally:
        await _stop_all(paths)


async def test_changes_by_another_process_appear(paths) -> None:  # type: ignore[no-untyped-def]
    app = make_app(paths, background=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await app.wait_idle()
        assert app.state.ids == []
        async with open_store(paths.db) as other:
            made = await other.sessions.create(["make"], "/src", name="from elsewhere")
            # The row is fetched after the list's ids: wait for it, not only the ids.
            await until(
                pilot, lambda: app.state.ids == [made.id] and app.state.row(made.id) is not None
            )
            assert app.state.row(made.id).name == "from elsewhere"
            await other.runs.start(made.id)
            await other.output.append(made.id, "stdout", b"one\ntwo\nthree\n")
            await until(pilot, lambda: app.state.row(made.id).output_lines == 3)
            preview = app.screen.query_one("SessionPreview")
            await until(pilot, lambda: not preview.busy)
            assert "three" in str(preview.render())
            await other.runs.finish(made.id, exit_code=2)
            await until(pilot, lambda: any("failed with exit code 2" in t for t in _toasts(app)))
            await other.sessions.trash([made.id])
            await until(pilot, lambda: app.state.ids == [])
