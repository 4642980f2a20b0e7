"""Resume, reconcile, the socket path fallback, the supervisors' log, and what the
supervisor does when the database cannot keep up or cannot be written."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time

import pytest

from home.paths import resolve_paths
from runner import control, log
from runner.errors import NeedsConfirmation, NotResumable
from runner.locations import SOCKET_PATH_MAX, is_alive, mark_launching, socket_path
from tests.support.supervisors import eventually, system_lines, wait_ended


async def test_resume_starts_a_second_run_after_a_separator(store, paths, tmp_path):
    (tmp_path / "count").write_text("")
    script = "echo run >> count; wc -l < count"
    s = await control.start_session(store, paths, argv=["sh", "-c", script], cwd=tmp_path)
    await wait_ended(store, paths, s.id)
    s = await control.resume_run(store, paths, s.id)
    assert s.run_count == 2
    s = await wait_ended(store, paths, s.id)
    assert s.status == "succeeded"
    runs = await store.runs.list(s.id)
    assert [r.number for r in runs] == [1, 2] and all(r.status == "succeeded" for r in runs)
    text = (await store.output.read_bytes(s.id)).decode()
    lines = [ln.strip() for ln in text.splitlines()]
    assert lines[0] == "1" and lines[1].startswith("exited with code 0")
    assert lines[2].startswith("── run 2 · ") and script in lines[2]
    assert lines[3] == "2" and lines[4].startswith("exited with code 0")
    assert runs[1].first_line == 3  # the second run's output starts after the separator


async def test_resume_uses_resume_argv_when_set(store, paths, tmp_path):
    s = await control.start_session(
        store,
        paths,
        argv=["echo", "first"],
        cwd=tmp_path,
        resume_argv=["echo", "continued"],
    )
    await wait_ended(store, paths, s.id)
    s = await control.resume_run(store, paths, s.id)
    await wait_ended(store, paths, s.id)
    assert await store.output.read_bytes(s.id, "stdout") == b"first\ncontinued\n"


async def test_resume_refuses_a_running_session(store, paths, tmp_path):
    s = await control.start_session(store, paths, argv=["sleep", "60"], cwd=tmp_path)
    with pytest.raises(NotResumable, match=f"session #{s.id} is running; stop it first"):
        await control.resume_run(store, paths, s.id)
    await control.stop(store, paths, s.id, grace=1)


async def test_an_imported_session_needs_confirmation(store, paths, tmp_path):
    s = await store.sessions.create(
        ["sh", "-c", "echo from-import"], cwd=str(tmp_path), origin="imported"
    )
    await store.sessions.set_status(s.id, "running")  # as an import leaves it: ended
    await store.sessions.set_status(s.id, "succeeded", exit_code=0)
    with pytest.raises(NeedsConfirmation) as caught:
        await control.resume_run(store, paths, s.id)
    assert caught.value.command == "sh -c 'echo from-import'"
    assert "sh -c 'echo from-import'" in str(caught.value)
    assert (await store.sessions.require(s.id)).run_count == 0  # nothing ran
    s = await control.resume_run(store, paths, s.id, confirmed=True)
    await wait_ended(store, paths, s.id)
    assert await store.output.read_bytes(s.id, "stdout") == b"from-import\n"


async def test_a_resume_that_cannot_start_fails_and_says_why(store, paths, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    s = await control.start_session(store, paths, argv=["true"], cwd=work)
    await wait_ended(store, paths, s.id)
    work.rmdir()
    s = await control.resume_run(store, paths, s.id)
    assert s.status == "failed" and s.run_count == 1
    assert (await system_lines(store, s.id))[-1].startswith(
        f"could not start: the working directory {work} does not exist"
    )


async def test_reconcile_marks_a_pending_session_that_never_started(store, paths, tmp_path):
    old = time.time() - control.PENDING_GRACE - 5
    stale = await store.sessions.create(["true"], cwd=str(tmp_path), created_at=old)
    fresh = await store.sessions.create(["true"], cwd=str(tmp_path))
    # A library's pending session: nobody launched it from here, so it is not ours.
    theirs = await store.sessions.create(["true"], cwd=str(tmp_path), created_at=old)
    for s in (stale, fresh):  # as the launcher does before starting a supervisor
        mark_launching(paths, s.id)
    assert await control.reconcile(store, paths) == [stale.id]
    assert (await store.sessions.require(stale.id)).status == "lost"
    assert (await store.sessions.require(fresh.id)).status == "pending"
    assert (await store.sessions.require(theirs.id)).status == "pending"
    assert await system_lines(store, stale.id) == ["lost: its supervisor never started"]


async def test_reconcile_leaves_live_sessions_alone(store, paths, tmp_path):
    s = await control.start_session(store, paths, argv=["sleep", "60"], cwd=tmp_path)
    assert await control.reconcile(store, paths) == []
    assert (await store.sessions.require(s.id)).status == "running"
    await control.stop(store, paths, s.id, grace=1)


async def test_a_long_runtime_path_falls_back_to_a_short_private_socket_dir(tmp_path):
    home = tmp_path / ("x" * 60) / ("y" * 60)
    long_paths = resolve_paths(env={"TETHER_HOME": str(home)})
    long_paths.ensure()
    sock = socket_path(long_paths, 7)
    assert len(os.fsencode(long_paths.socket_file(7))) > SOCKET_PATH_MAX
    assert str(sock).startswith(f"/tmp/tether-{os.getuid()}/") and sock.name == "7.sock"
    assert socket_path(long_paths, 7) == sock  # every process computes the same
    from storage import open_store

    async with open_store(long_paths.db) as store:
        s = await control.start_session(
            store, long_paths, argv=["sh", "-c", "read x; echo got-$x"], cwd=tmp_path
        )
        sock = socket_path(long_paths, s.id)
        assert (sock.stat().st_mode & 0o777) == 0o600
        assert (sock.parent.stat().st_mode & 0o777) == 0o700
        await control.send_input(store, long_paths, s.id, "it")
        await wait_ended(store, long_paths, s.id)
        assert await store.output.read_bytes(s.id, "stdout") == b"got-it\n"
        assert not sock.exists()  # removed when the supervisor exits


async def test_socket_and_lock_are_private(store, paths, tmp_path):
    s = await control.start_session(store, paths, argv=["sleep", "60"], cwd=tmp_path)
    sock = socket_path(paths, s.id)
    assert (sock.stat().st_mode & 0o777) == 0o600
    assert (paths.lock_file(s.id).stat().st_mode & 0o777) == 0o600
    assert (paths.runtime.stat().st_mode & 0o777) == 0o700
    await control.stop(store, paths, s.id, grace=1)


def test_supervisor_errors_reads_the_newest_entries(tmp_path):
    paths = resolve_paths(env={"TETHER_HOME": str(tmp_path)})
    try:
        raise RuntimeError("boom")
    except RuntimeError as e:
        log.write_entry(paths.supervisor_log, "first failure", session_id=3, exc=e)
    log.write_entry(paths.supervisor_log, "a retry", session_id=3, level="WARN")
    log.write_entry(paths.supervisor_log, "second failure", session_id=4)
    errors = control.supervisor_errors(paths)
    assert len(errors) == 2
    assert "ERROR #3" in errors[0] and "first failure" in errors[0]
    assert "RuntimeError: boom" in errors[0]  # the traceback comes along
    assert "second failure" in errors[1]
    assert control.supervisor_errors(paths, limit=1) == errors[1:]
    assert len(control.supervisor_warnings(paths)) == 3
    assert (paths.supervisor_log.stat().st_mode & 0o777) == 0o600


def _hold_write_lock(db: str) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    conn.execute("BEGIN IMMEDIATE")
    return conn


async def _wait_file(path, what: str):
    return await eventually(lambda: _exists(path), what=what)


async def _exists(path):
    return path.exists()


async def test_a_slow_database_holds_the_command_back_but_loses_nothing(store, paths, tmp_path):
    """The buffer is bounded: while writes wait on a locked database, reading stops
    (the pipe holds the command back) and every byte arrives in the end."""
    script = "while [ ! -e go ]; do sleep 0.02; done; seq 1 400000; touch written"
    s = await control.start_session(
        store,
        paths,
        argv=["sh", "-c", script],
        cwd=tmp_path,
        tuning={"buffer_limit": 64 * 1024, "spill_limit": 0, "busy_timeout": 20.0},
    )
    holder = _hold_write_lock(str(paths.db))
    try:
        (tmp_path / "go").touch()
        await asyncio.sleep(1.0)  # the command writes into a full pipe meanwhile
        assert not (tmp_path / "written").exists()  # held back, not buffered without end
    finally:
        holder.execute("COMMIT")
        holder.close()
    s = await wait_ended(store, paths, s.id)
    expected = "".join(f"{i}\n" for i in range(1, 400001)).encode()
    assert await store.output.read_bytes(s.id, "stdout") == expected
    assert s.status == "succeeded"
    assert not any("lost here" in ln for ln in await system_lines(store, s.id))


async def test_a_burst_beyond_memory_spills_to_disk_instead_of_waiting(store, paths, tmp_path):
    """With a spill file, a command is not held back by a slow database at all."""
    script = "while [ ! -e go ]; do sleep 0.02; done; seq 1 400000; touch written"
    s = await control.start_session(
        store,
        paths,
        argv=["sh", "-c", script],
        cwd=tmp_path,
        tuning={"buffer_limit": 64 * 1024, "busy_timeout": 30.0},
    )
    holder = _hold_write_lock(str(paths.db))
    try:
        (tmp_path / "go").touch()
        await _wait_file(tmp_path / "written", "the command to write everything")
        state = await control.status(store, paths, s.id)
        assert state["spilled_bytes"] > 1024 * 1024 and state["dropped_bytes"] == 0
    finally:
        holder.execute("COMMIT")
        holder.close()
    s = await wait_ended(store, paths, s.id)
    expected = "".join(f"{i}\n" for i in range(1, 400001)).encode()
    assert await store.output.read_bytes(s.id, "stdout") == expected
    assert s.status == "succeeded"
    assert [p.name for p in paths.db.parent.iterdir() if "spill" in p.name] == []


async def test_an_unwritable_database_leaves_an_exact_gap_note(store, paths, tmp_path):
    """While the database cannot be written the command is not held back: output
    beyond the bound is dropped and a system line says exactly how much, in place."""
    script = (
        "while [ ! -e go ]; do sleep 0.02; done; seq 1 400000; touch written; "
        "while [ ! -e more ]; do sleep 0.02; done; seq 400001 401000"
    )
    s = await control.start_session(
        store,
        paths,
        argv=["sh", "-c", script],
        cwd=tmp_path,
        tuning={"buffer_limit": 64 * 1024, "spill_limit": 0, "busy_timeout": 0.2},
    )
    holder = _hold_write_lock(str(paths.db))
    try:
        (tmp_path / "go").touch()
        await _wait_file(tmp_path / "written", "the command to finish writing")
        state = await control.status(store, paths, s.id)
        assert state["database_ok"] is False and state["dropped_bytes"] > 0
    finally:
        holder.execute("COMMIT")
        holder.close()

    async def healthy():
        return (await control.status(store, paths, s.id))["database_ok"]

    await eventually(healthy, what="the supervisor to write again")
    (tmp_path / "more").touch()
    s = await wait_ended(store, paths, s.id)
    stored = await store.output.read_bytes(s.id, "stdout")
    expected = "".join(f"{i}\n" for i in range(1, 401001)).encode()
    notes = [ln for ln in await system_lines(store, s.id) if "were lost here" in ln]
    assert len(notes) == 1, notes
    lost = int(notes[0].split("tether: ")[1].split(" bytes")[0])
    assert lost == state["dropped_bytes"] and len(stored) + lost == len(expected)
    # the note sits exactly where the hole is: stdout before it, then after it
    chunks = [c async for c in store.output.iter_chunks(s.id)]
    note_at = next(i for i, c in enumerate(chunks) if b"were lost here" in c.data)
    k = sum(len(c.data) for c in chunks[:note_at] if c.stream == "stdout")
    assert 0 < k < len(stored)
    assert stored[:k] == expected[:k]
    assert stored[k:] == expected[k + lost :]
    assert "database is locked" in notes[0]
    assert any("lost here" in e for e in control.supervisor_errors(paths))
    assert s.status == "succeeded" and not is_alive(paths, s.id)
