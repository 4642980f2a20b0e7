"""Lock files and sockets are swept once their session cannot have a supervisor, and
sweeping never lets two processes hold "the" lock of one session."""

from __future__ import annotations

import asyncio
import os
import signal

import runner.locations as locations
from runner import control, identity
from runner.locations import SupervisorLock, lock_is_held, sweep, try_lock
from tests.support.supervisors import eventually, wait_ended


async def test_reconcile_sweeps_the_files_of_ended_sessions_only(store, paths, tmp_path):
    done = await control.start_session(store, paths, argv=["true"], cwd=tmp_path)
    live = await control.start_session(store, paths, argv=["sleep", "30"], cwd=tmp_path)
    await wait_ended(store, paths, done.id)
    assert paths.lock_file(done.id).exists()  # left by its supervisor
    stale = locations.socket_path(paths, done.id)
    stale.touch()  # as a supervisor killed with -9 leaves its socket

    await control.reconcile(store, paths)
    assert not paths.lock_file(done.id).exists() and not stale.exists()
    assert paths.lock_file(live.id).exists() and control.is_alive(paths, live.id)
    assert locations.socket_path(paths, live.id).exists()

    await control.stop(store, paths, live.id)
    await wait_ended(store, paths, live.id)
    await control.reconcile(store, paths)
    assert sorted(p.name for p in paths.runtime.glob("*.lock")) == []
    # and a swept session can run again
    again = await control.resume_run(store, paths, done.id)
    assert (await wait_ended(store, paths, again.id)).run_count == 2


def test_sweep_leaves_a_lock_that_is_held(paths):
    holder = SupervisorLock(paths.lock_file(77))
    assert holder.acquire()
    try:
        assert sweep(paths, keep=set()) == 0
        assert paths.lock_file(77).exists() and lock_is_held(paths.lock_file(77))
    finally:
        holder.release()
    assert sweep(paths, keep=set()) == 1
    assert not paths.lock_file(77).exists()


def _swept_after_open(monkeypatch, path):
    """The first open of ``path`` is followed at once by a sweep deleting it: the
    worst moment, between a locker's open and its flock."""
    real = locations._open_lock
    calls = []

    def open_then_swept(p):
        fd = real(p)
        if not calls:
            calls.append(p)
            os.unlink(p)
        return fd

    monkeypatch.setattr(locations, "_open_lock", open_then_swept)
    return calls


def test_a_supervisor_never_holds_a_swept_lock_file(paths, monkeypatch):
    path = paths.lock_file(5)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    calls = _swept_after_open(monkeypatch, path)
    lock = SupervisorLock(path)
    assert lock.acquire()
    try:
        assert calls  # the sweep did happen
        # What it holds is the file everyone else looks at: it is seen alive.
        assert lock_is_held(path)
        assert path.read_text().strip() == str(os.getpid())
    finally:
        lock.release()


def test_reconcile_never_decides_on_a_swept_lock_file(paths, monkeypatch):
    path = paths.lock_file(6)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    _swept_after_open(monkeypatch, path)
    with try_lock(path) as free:
        assert free
        # While reconcile decides, no supervisor can take the session's lock.
        assert not SupervisorLock(path).acquire()


async def test_a_reader_waits_while_another_process_marks_a_dead_supervisors_run(
    store, paths, tmp_path
):
    """The guardian of a supervisor killed with -9 runs a reconcile (the queue's kick)
    that holds the session's lock while it marks the run lost. A reader in between
    found the lock held and said ``running`` (CI saw it once in three runs of
    ``test_the_command_dies_with_its_supervisor``): it must wait for the verdict."""
    s = await control.start_session(store, paths, argv=["sleep", "30"], cwd=tmp_path)
    info = await control.status(store, paths, s.id)
    os.kill(info["guardian_pid"], signal.SIGKILL)  # no kick of its own: we play it
    os.kill(info["supervisor_pid"], signal.SIGKILL)

    async def gone() -> bool:
        # Its lock too: /proc shows the main thread a zombie while another thread
        # (aiosqlite's) may still be exiting with the descriptors (seen under load).
        gone = identity.start_time(info["supervisor_pid"]) is None
        return gone and not lock_is_held(paths.lock_file(s.id))

    await eventually(gone, what="the supervisor to go")
    with try_lock(paths.lock_file(s.id)) as free:  # another process deciding
        assert free
        reader = asyncio.create_task(control.reconcile(store, paths, [s.id]))
        done, _ = await asyncio.wait({reader}, timeout=0.3)
        assert not done, "the reader answered while the verdict was still being made"
        assert (await store.sessions.require(s.id)).status == "running"
        await store.runs.finish(s.id, status="lost", reason="lost: marked by the other")
    await reader
    assert (await store.sessions.require(s.id)).status == "lost"
    started = identity.start_time(info["pid"])
    await control.stop(store, paths, s.id)  # ends the command the dead run left

    async def ended() -> bool:
        return not identity.is_running(info["pid"], started)

    await eventually(ended, what="the dead run's command to end")


async def test_a_read_only_reader_waits_too_without_an_event_loop(store, paths, tmp_path):
    """The command line reconciles on a ``Reader`` driven with no event loop
    (``storage.engine.reader.drive``): the same wait must work there (it once awaited
    ``asyncio.sleep``, which fails with no loop) and then ask for the writable path."""
    from home.store import open_reader
    from runner.reconcile import reconcile_read_only

    s = await control.start_session(store, paths, argv=["sleep", "30"], cwd=tmp_path)
    info = await control.status(store, paths, s.id)
    os.kill(info["guardian_pid"], signal.SIGKILL)
    os.kill(info["supervisor_pid"], signal.SIGKILL)

    async def gone() -> bool:
        # Its lock too: /proc shows the main thread a zombie while another thread
        # (aiosqlite's) may still be exiting with the descriptors (seen under load).
        gone = identity.start_time(info["supervisor_pid"]) is None
        return gone and not lock_is_held(paths.lock_file(s.id))

    await eventually(gone, what="the supervisor to go")

    def read_only() -> bool:
        with open_reader(paths) as reader:
            return reader.run(reconcile_read_only(reader, paths))

    with try_lock(paths.lock_file(s.id)) as free:
        assert free
        reader = asyncio.create_task(asyncio.to_thread(read_only))
        done, _ = await asyncio.wait({reader}, timeout=0.3)
        assert not done, "the reader answered while the verdict was still being made"
        await store.runs.finish(s.id, status="lost", reason="lost: marked by the other")
    assert await reader is False  # its run is gone: the writable reconcile looks again
    await control.stop(store, paths, s.id)
    assert not identity.is_running(info["pid"], identity.start_time(info["pid"]))
