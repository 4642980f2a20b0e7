"""Processes a command started that left its process group (runner/descendants.py):
``stop`` reaches them too; a command that ends by itself leaves them alone; the
supervisor reaps the orphans it adopts."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from runner import control
from tests.support.supervisors import eventually, wait_ended, wait_output

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def _state(pid: int) -> str | None:
    """The process's state letter, or None once it is gone (reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):  # (reaped before or while it is read)
        return None


async def _pid_from(tmp_path, name: str) -> int:
    async def written() -> int | None:
        path = tmp_path / name
        text = path.read_text().strip() if path.exists() else ""
        return int(text) if text else None

    return await eventually(written, what=f"{name} to be written")


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.mark.parametrize("how", ["setsid", "double fork"])
async def test_stop_reaches_processes_that_left_the_group(store, paths, tmp_path, how):
    # The stray writes its pid, then sleeps in its own session (its own group).
    stray = 'setsid sh -c "echo \\$\\$ > stray.pid; exec sleep 300" </dev/null >/dev/null 2>&1'
    script = {
        "setsid": f"{stray} & echo started; wait",
        # The middle shell exits at once: the stray is orphaned (adopted by the supervisor).
        "double fork": f"( {stray} & ); echo started; sleep 300",
    }[how]
    s = await control.start_session(store, paths, argv=["sh", "-c", script], cwd=tmp_path)
    await wait_output(store, s.id, b"started")
    pid = await _pid_from(tmp_path, "stray.pid")
    try:
        assert _state(pid) not in (None, "Z")
        assert os.getpgid(pid) != s.pid  # it really left the command's group
        await control.stop(store, paths, s.id, grace=5.0)
        s = await wait_ended(store, paths, s.id)
        assert s.status == "stopped"

        async def gone() -> bool:
            return _state(pid) in (None, "Z")  # Z: dead, waiting for init to reap it

        await eventually(gone, timeout=15, what="the stray to be stopped")
    finally:
        _kill(pid)


async def test_a_command_that_ends_by_itself_leaves_its_daemons_alone(store, paths, tmp_path):
    script = 'setsid sh -c "echo \\$\\$ > d.pid; exec sleep 300" </dev/null >/dev/null 2>&1 &'
    s = await control.start_session(store, paths, argv=["sh", "-c", script], cwd=tmp_path)
    pid = await _pid_from(tmp_path, "d.pid")
    try:
        s = await wait_ended(store, paths, s.id)
        assert s.status == "succeeded"
        assert _state(pid) not in (None, "Z")  # meant to outlive it (like a tmux server)
    finally:
        _kill(pid)


async def test_adopted_orphans_are_reaped(store, paths, tmp_path):
    # An orphan that exits while the supervisor lives must not stay a zombie.
    script = (
        '( setsid sh -c "echo \\$\\$ > z.pid; sleep 0.3" </dev/null >/dev/null 2>&1 & ); '
        "echo started; sleep 300"
    )
    s = await control.start_session(store, paths, argv=["sh", "-c", script], cwd=tmp_path)
    pid = await _pid_from(tmp_path, "z.pid")
    try:

        async def reaped() -> bool:
            return _state(pid) is None

        await eventually(reaped, timeout=15, what="the orphan to be reaped")
        assert control.is_alive(paths, s.id)  # by the supervisor, which is still running
    finally:
        await control.stop(store, paths, s.id, grace=2.0)
        await wait_ended(store, paths, s.id)
