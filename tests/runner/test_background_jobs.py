"""What a command leaves running in the background keeps running, and is recorded.

``sh -c '(...) & echo bye'``: the session ends with the shell's exit (its status is
the shell's), while the background job goes on writing to the session's output; its
lines are recorded after the end line until it closes the output. It never dies of
SIGPIPE (pipes) or EIO (a terminal) because of tether: when the supervisor lets go
(it was told to stop, or the job wrote nothing for ``linger_quiet``), the output goes
to a drain that reads it to /dev/null. Real processes: the job proves it lived by
writing a file after its last line.
"""

from __future__ import annotations

import os
import signal

import pytest

from runner import control
from runner.locations import is_alive, supervisor_pid
from tests.support.supervisors import eventually, system_lines

TICKS = 8


def _job(marker, ticks: int = TICKS, delay: float = 0.5, pre: str = "") -> list[str]:
    loop = f"for i in $(seq 1 {ticks}); do echo tick $i; sleep {delay}; done; echo done > {marker}"
    return ["sh", "-c", f"{pre}({loop}) & echo bye"]


async def _ended(store, sid: int):  # type: ignore[no-untyped-def]
    async def probe():
        s = await store.sessions.require(sid)
        return s if s.ended else None

    return await eventually(probe, timeout=30, what=f"#{sid} to end")


async def _exists(path) -> bool:  # type: ignore[no-untyped-def]
    return path.exists()


async def _released(paths, sid: int) -> bool:  # type: ignore[no-untyped-def]
    return not is_alive(paths, sid)


@pytest.mark.parametrize("mode", ["pipe", "pty"])
async def test_a_background_job_outlives_the_command_and_is_recorded(store, paths, tmp_path, mode):
    marker = tmp_path / "done"
    # On a terminal, the shell's exit sends SIGHUP to its process group, as closing a
    # terminal does: a job meant to outlive it ignores SIGHUP (nohup, trap).
    pre = "trap '' HUP; " if mode == "pty" else ""
    s = await control.start_session(
        store, paths, argv=_job(marker, pre=pre), cwd=tmp_path, mode=mode
    )
    s = await _ended(store, s.id)
    assert (s.status, s.exit_code) == ("succeeded", 0)  # the shell's exit
    await eventually(lambda: _exists(marker), timeout=30, what="the background job to finish")
    assert s.ended_at is not None and s.ended_at < marker.stat().st_mtime
    await eventually(lambda: _released(paths, s.id), timeout=30, what="the supervisor to go")
    out = (await store.output.read_bytes(s.id, "stdout")).replace(b"\r\n", b"\n")
    assert out == b"bye\n" + b"".join(b"tick %d\n" % i for i in range(1, TICKS + 1))
    lines = await system_lines(store, s.id)
    end = next(i for i, line in enumerate(lines) if line.startswith("exited with code 0 after"))
    assert "still hold its output open" in lines[end + 1], lines
    assert len(lines) == end + 2, lines


async def test_a_silent_holder_is_let_go_and_keeps_writing_unharmed(store, paths, tmp_path):
    """Silent for ``linger_quiet``: the supervisor lets go; what the job writes later
    goes to /dev/null, and writing does not kill it."""
    marker = tmp_path / "done"
    job = f"sleep 3; for i in $(seq 1 20); do echo late $i; done; echo done > {marker}"
    s = await control.start_session(
        store,
        paths,
        argv=["sh", "-c", f"({job}) & echo bye"],
        cwd=tmp_path,
        tuning={"linger_quiet": 1.0},
    )
    await eventually(lambda: _released(paths, s.id), timeout=30, what="the supervisor to go")
    s = await store.sessions.require(s.id)
    assert s.status == "succeeded"
    await eventually(lambda: _exists(marker), timeout=30, what="the background job to finish")
    assert await store.output.read_bytes(s.id, "stdout") == b"bye\n"
    lines = await system_lines(store, s.id)
    assert "stopped recording (they wrote nothing for" in lines[-1], lines


async def test_a_supervisor_told_to_go_hands_the_output_over(store, paths, tmp_path):
    """SIGTERM to a supervisor recording a background job (what a resume or a shutdown
    does): it lets go at once, says so, and the job goes on unharmed."""
    marker = tmp_path / "done"
    s = await control.start_session(store, paths, argv=_job(marker, ticks=10), cwd=tmp_path)
    await _ended(store, s.id)

    async def ticking() -> bool:
        return b"tick 2" in await store.output.read_bytes(s.id, "stdout")

    await eventually(ticking, timeout=30, what="the job's output after the end")
    pid = supervisor_pid(paths, s.id)
    assert pid
    os.kill(pid, signal.SIGTERM)
    await eventually(lambda: _released(paths, s.id), timeout=30, what="the supervisor to go")
    await eventually(lambda: _exists(marker), timeout=30, what="the background job to finish")
    lines = await system_lines(store, s.id)
    assert lines[-1].startswith(
        "tether: stopped recording (tether's supervisor received SIGTERM)"
    ), lines
