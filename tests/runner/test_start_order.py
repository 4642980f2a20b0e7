"""The command runs only once its supervisor can control and record it.

Real supervisors: when something the supervisor needs fails at start (its control
socket cannot be made, its database cannot be opened), the session is ``failed``
with a reason that says the command never ran, and the command (``touch MARKER``)
has indeed not run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

from runner import control, identity
from runner.launch import _spawn_supervisor
from runner.locations import is_alive, socket_path
from runner.spec import LaunchSpec
from tests.support.supervisors import eventually, system_lines


async def _failed_without_running(store, paths, sid: int, marker) -> str:  # type: ignore[no-untyped-def]
    s = await store.sessions.require(sid)
    assert s.status == "failed", s.status
    await eventually(lambda: _released(paths, sid), timeout=30, what="the supervisor to let go")
    assert not marker.exists(), "the command ran although its supervisor could not control it"
    lines = await system_lines(store, sid)
    line = next((ln for ln in lines if "never ran" in ln), None)
    assert line is not None, lines
    return line


async def _released(paths, sid: int) -> bool:  # type: ignore[no-untyped-def]
    return not is_alive(paths, sid)


async def test_no_control_socket_means_the_command_never_runs(store, paths, tmp_path):
    marker = tmp_path / "ran"
    s = await store.sessions.create(["touch", str(marker)], str(tmp_path))
    sock = socket_path(paths, s.id)
    sock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    sock.mkdir()  # something that is not a socket, and cannot be replaced by one
    (sock / "keep").write_text("x")
    s = await control.launch(store, paths, s.id)
    line = await _failed_without_running(store, paths, s.id, marker)
    assert "tether's supervisor failed" in line, line
    assert not list(await store.runs.list(s.id)), "a run was recorded for a command that never ran"


def _held_command(cwd: Path) -> int | None:
    """The pid of the command forked and held before exec: a copy of the supervisor
    (still Python, not the program) whose working directory is already ``cwd``."""
    python = os.path.realpath(sys.executable)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(entry / "cwd") == str(cwd) and os.readlink(entry / "exe") == python:
                return int(entry.name)
    return None


def _command_lines() -> list[str]:
    lines = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return lines


async def test_a_database_that_cannot_be_opened_means_the_command_never_runs(
    store, paths, tmp_path
):
    """The database fails only once the command is forked and waiting for its go: the
    "database" is a FIFO, so the supervisor's check of it blocks until the test writes
    something that is not SQLite into it. Had the command not been held, it would have
    run by then (its marker would be there)."""
    marker = tmp_path / "ran"
    work = tmp_path / "work"
    work.mkdir()
    db = tmp_path / "tether.db"
    os.mkfifo(db)
    s = await store.sessions.create(["touch", str(marker)], str(work))
    spec = LaunchSpec(
        db=str(db),
        session_id=s.id,
        lock=str(paths.lock_file(s.id)),
        socket=str(socket_path(paths, s.id)),
        log=str(paths.supervisor_log),
        argv=["touch", str(marker)],
        cwd=str(work),
    )
    launching = asyncio.ensure_future(asyncio.to_thread(_spawn_supervisor, spec))

    async def held_or_ran() -> bool:
        return marker.exists() or _held_command(work) is not None

    await eventually(held_or_ran, timeout=30, what="the command to be forked")
    ran_early = marker.exists()  # asserted once the supervisor is let go

    async def fail_the_database() -> bool:
        try:  # succeeds once the supervisor is reading the "database"
            fd = os.open(db, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return False
        os.write(fd, b"not a database\n")
        os.close(fd)
        return True

    async def released() -> bool:
        await fail_the_database()  # each try to open it (there are two) reads it
        return launching.done() and await _released(paths, s.id)

    await eventually(released, timeout=30, what="the supervisor to fail and let go")
    assert not ran_early, "the command ran before its supervisor had its database"
    report = launching.result()
    assert not report["ok"] and "never ran" in report["error"], report
    assert "not an SQLite database" in report["error"], report
    assert not marker.exists(), "the command ran although its supervisor had no database"
    # The guardian's queue kick opens the "database" too: left a FIFO, it would wait
    # there for a writer for good (each CI run left one). Whoever has it open or waits
    # for it gets the same garbage; whoever comes later finds a regular file.
    fd = os.open(db, os.O_RDWR)  # a FIFO opened so never blocks, and lets readers in
    os.unlink(db)
    db.write_bytes(b"not a database\n")
    os.write(fd, b"not a database\n")
    os.close(fd)

    async def no_opener_left() -> bool:
        return not any(str(db) in line for line in _command_lines())

    await eventually(no_opener_left, timeout=30, what="whatever opened the database to end")


async def test_an_exec_that_fails_after_the_run_started_ends_it_failed(store, paths, tmp_path):
    """The program is there but cannot be executed (its #! interpreter is missing):
    the recorded run ends ``failed`` with the reason, and the supervisor lets go."""
    script = tmp_path / "script"
    script.write_text("#!/no/such/interpreter\necho hi\n")
    script.chmod(0o755)
    s = await control.start_session(store, paths, argv=[str(script)], cwd=tmp_path)
    assert s.status == "failed", s.status
    await eventually(lambda: _released(paths, s.id), timeout=30, what="the supervisor to let go")
    lines = await system_lines(store, s.id)
    assert lines[-1] == f"could not start {script}: its interpreter (the #! line) was not found"
    (run,) = await store.runs.list(s.id)
    assert run.status == "failed"

    async def exited() -> bool:  # not only let go: the process ends (it once hung at exit)
        return not identity.is_running(run.supervisor_pid, run.supervisor_start)

    await eventually(exited, timeout=30, what="the supervisor to exit")
