"""Reconcile: the truth about sessions whose supervisor is gone, and what it logged.

A ``running`` or ``paused`` session is marked ``lost`` only when reconcile can tell
that its supervisor is gone. Each run records who supervises it (schema v3,
``storage.models.Run``), and reconcile judges only what it can see:

- a supervisor holding the session's lock in *our* runtime directory is alive;
- a run with a lease (an embedding program, ``store.runs.start(..., lease=)``) is lost
  once its lease has expired without a renewal;
- a run whose supervisor recorded host, boot, pid and start time is alive while that
  very process is (a lock file someone deleted, or a supervisor of another
  ``TETHER_HOME`` on the same database, does not make it lost); on this host after a
  restart it is lost; on another host or pid namespace it is not ours to judge;
- a run recorded before v3 is judged by its lock alone, as then;
- a run that names no way to judge it (a library's ``runs.start`` without a lease) is
  left to whoever started it.

A ``pending`` session is judged only when it was launched from this runtime directory
(its launcher leaves the lock file first) and no supervisor took it within
``PENDING_GRACE``, and not in the queue (runner/queue.py). Marking lost adds a
system line saying why (and what the run's command still runs, if anything: ``stop``
ends it, see ``leftovers``) and indexes
what the supervisor had stored. The CLI runs reconcile before every command, the TUI
periodically, followers (``logs -f``) while they wait.
"""

from __future__ import annotations

import os
import sys
import time

from storage.errors import IllegalTransition, RunSuperseded
from storage.frozen import Frozen
from storage.models import ACTIVE

from . import identity
from .locations import is_alive, lock_pid, socket_path, sweep, try_lock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection

    from storage import Run, Session, Store

    from .locations import RuntimePaths

PENDING_GRACE = 60.0  # a pending session with no supervisor after this long is lost
SETTLE = 3.0  # the longest wait while another process decides about a dead supervisor's run
_GONE = (
    "lost: tether's supervisor for this session is gone (killed, crashed, or the machine restarted)"
)


def judge(run: Run | None, supervised_here: bool) -> str | None:
    """Why the live ``run`` is lost, or None when it is alive or not ours to judge.
    ``supervised_here``: a supervisor holds the session's lock in our runtime dir."""
    if supervised_here:
        return None
    if run is None:
        return _GONE  # running without a run: only an old tether could leave that
    if run.lease_until is not None:
        if time.time() <= run.lease_until:
            return None
        who = run.supervisor or "its supervisor"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.lease_until))
        return f"lost: {who} stopped renewing its lease (it expired at {stamp})"
    if run.supervisor_pid is not None:
        here = identity.same_boot(run.host, run.boot)
        if here is None:
            return None  # another host or pid namespace: not ours to judge
        if not here:
            return f"lost: {run.host} has restarted since this run started"
        if identity.is_running(run.supervisor_pid, run.supervisor_start):
            return None
        return _GONE
    if run.supervisor == "tether" and run.host is None:
        return _GONE  # recorded before v3: judged by the lock, as it was then
    return None


async def reconcile(
    store: Store, paths: RuntimePaths, session_ids: Collection[int] | None = None
) -> list[int]:
    """Mark every ``running``/``paused`` session whose supervisor is known to be gone
    as ``lost`` (see the module's docstring), with a system line saying so; also a
    ``pending`` session launched from here whose supervisor never started. Returns
    their ids. Then (unless limited to ``session_ids``) sweeps the lock files and
    sockets of sessions that cannot have a supervisor (``locations.sweep``). Cheap
    when nothing is wrong: one query for the live sessions, and per live session a
    lock probe and at most one look at /proc."""
    candidates, verdicts = await _judge_all(store, paths, session_ids)
    lost: list[int] = []
    for session, run, reason in verdicts:
        # Hold the lock while deciding, so no supervisor can start in between.
        with try_lock(paths.lock_file_str(session.id)) as free:
            if not free:
                continue
            if not await _mark_lost(store, session, run, reason):
                continue
            lost.append(session.id)
        try:
            socket_path(paths, session.id).unlink()
        except OSError:
            pass
    for sid in lost:  # what its supervisor had stored but not yet indexed
        while await store.output.index_pending(sid):
            pass
    if session_ids is None:
        # Lock files and sockets of sessions that cannot have a supervisor any more.
        sweep(paths, {s.id for s in candidates} - set(lost))
    return lost


async def reconcile_read_only(store: Store, paths: RuntimePaths) -> bool:
    """``reconcile`` on a store opened for reading only (``storage.engine.reader``):
    when no session is lost it does all that ``reconcile`` does (the sweep) and
    returns True; False when some session must be marked lost, which needs ``reconcile``
    on a writable store. One query when no session is live."""
    candidates, verdicts = await _judge_all(store, paths, None)
    if verdicts:
        return False
    sweep(paths, {s.id for s in candidates})
    return True


async def judged_lost(store: Store, paths: RuntimePaths) -> list[int]:
    """The sessions ``reconcile`` would mark lost now, marking nothing (``doctor``)."""
    _, verdicts = await _judge_all(store, paths, None)
    return [session.id for session, _, _ in verdicts]


async def _judge_all(
    store: Store, paths: RuntimePaths, session_ids: Collection[int] | None
) -> tuple[list[Session], list[tuple[Session, Run | None, str]]]:
    """The live sessions (of ``session_ids``), and those of them that are lost, with
    their latest run and why. Reads only."""
    candidates = await store.sessions.list(status=ACTIVE, include_deleted=True, order="id")
    if session_ids is not None:
        candidates = [s for s in candidates if s.id in session_ids]
    verdicts: list[tuple[Session, Run | None, str]] = []
    now = time.time()
    queued: set[int] | None = None
    for session in candidates:
        if session.status == "pending":
            if now - session.updated_at < PENDING_GRACE:
                continue
            if queued is None:
                queued = await store.queue.waiting_ids()
            if session.id in queued:
                continue  # waiting for a slot, or being started (runner/queue.py)
            if not os.path.exists(paths.lock_file_str(session.id)):
                continue  # not launched from here: a library's, or another home's
            if is_alive(paths, session.id):
                continue
            verdicts.append((session, None, "lost: its supervisor never started"))
        else:
            run = await store.runs.latest(session.id)
            here = is_alive(paths, session.id)
            if here and _held_for_the_dead(paths, session.id, run):
                here = await _settle(paths, session.id, run)
            reason = judge(run, here)
            if reason is not None:
                verdicts.append((session, run, reason))
    return candidates, verdicts


def _held_for_the_dead(paths: RuntimePaths, session_id: int, run: Run | None) -> bool:
    """Is the session's lock held while the pid in its file is the run's supervisor,
    and that supervisor is dead? Then no supervisor holds it, but someone deciding
    about it: another process's reconcile (the dead supervisor's guardian runs one,
    ``runner/queue.py``'s kick), or a supervisor starting, before it writes its pid."""
    if run is None or run.supervisor_pid is None:
        return False
    if identity.is_running(run.supervisor_pid, run.supervisor_start):
        return False  # the usual case: one look at /proc, and no hostname (socket) asked
    if identity.same_boot(run.host, run.boot) is not True:
        return False
    return lock_pid(paths.lock_file_str(session_id)) == run.supervisor_pid


async def _settle(paths: RuntimePaths, session_id: int, run: Run) -> bool:
    """Wait (at most ``SETTLE``) while someone decides about a session whose supervisor
    died: True when a supervisor holds its lock after all, False when the lock is free
    (whoever held it has marked the session, or let go). Without the wait a reader
    would say ``running`` of a run that is already known to be gone."""
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        await _pause(0.01)
        if not is_alive(paths, session_id):
            return False
        if not _held_for_the_dead(paths, session_id, run):
            return True  # a new supervisor wrote its pid
    return True  # held for long: whoever holds it is alive, as far as we can tell


async def _pause(seconds: float) -> None:
    """``asyncio.sleep`` under an event loop; on a ``Reader`` (the CLI's read path,
    driven with no loop by ``storage.engine.reader.drive``, which refuses what asyncio's
    sleep waits for) a blocking sleep. asyncio is not imported for it: the one-query
    commands and ``tether attach`` start without it (tests/cli/test_cli_startup.py)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and asyncio._get_running_loop() is not None:
        await asyncio.sleep(seconds)
    else:
        time.sleep(seconds)  # noqa: ASYNC251 (no event loop here to yield to)


async def _mark_lost(store: Store, session: Session, run: Run | None, reason: str) -> bool:
    fresh = await store.sessions.get(session.id)
    if fresh is None or fresh.status != session.status:
        return False
    if fresh.status == "pending":
        await store.sessions.set_status(fresh.id, "lost", reason=reason)
        return True
    when = fresh.last_output_at or fresh.started_at
    if when:
        reason += "; last output at " + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
    left = find_leftovers(fresh.id, run)
    if left is not None:
        reason += f". Its command still runs ({left.describe()}): `tether stop {fresh.id}` ends it"
    try:
        await store.runs.finish(
            fresh.id, status="lost", reason=reason, run=run.number if run else None
        )
    except (RunSuperseded, IllegalTransition):
        return False  # it ended, or started again, while we looked
    return True


class Leftovers(Frozen):
    """Processes of a run whose supervisor is gone: its command, and what else is still
    in the command's process group."""

    __slots__ = ("session_id", "run", "command_pid", "pids")

    session_id: int
    run: int
    command_pid: int | None  # the command itself, if it still lives
    pids: tuple[int, ...]  # everything found, the command first

    def __init__(
        self,
        session_id: int,
        run: int,
        command_pid: int | None,
        pids: tuple[int, ...],
    ) -> None:
        object.__setattr__(self, "session_id", session_id)
        object.__setattr__(self, "run", run)
        object.__setattr__(self, "command_pid", command_pid)
        object.__setattr__(self, "pids", pids)

    def describe(self) -> str:
        shown = []
        for pid in self.pids[:3]:
            cmd = identity.command_line(pid)
            shown.append(f"pid {pid}" + (f": {cmd[:60]}" if cmd else ""))
        more = len(self.pids) - len(shown)
        return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def find_leftovers(session_id: int, run: Run | None) -> Leftovers | None:
    """What ``run`` (ended without its supervisor) still has running on this machine,
    identified safely: the command by its pid *and* start time, the rest of its process
    group by group, start time and ``TETHER_SESSION``; never a recycled pid. None when
    nothing is left, or it cannot be told from here."""
    if run is None or run.pid is None or run.command_start is None:
        return None
    if identity.same_boot(run.host, run.boot) is not True:
        return None
    command = run.pid if identity.is_running(run.pid, run.command_start) else None
    members = identity.group_members(run.pid, started_from=run.command_start, session_id=session_id)
    pids = ([command] if command else []) + [p for p in members if p != command]
    if not pids:
        return None
    return Leftovers(session_id, run.number, command, tuple(pids))


async def end_leftovers(left: Leftovers, grace: float) -> list[int]:
    """SIGTERM what a lost run left running (its command's whole group), SIGKILL what is
    still there after ``grace`` seconds. Returns the pids that were ended."""
    import asyncio
    import signal

    group = left.command_pid
    targets = list(left.pids)
    if group is not None:
        identity.kill_group(group, signal.SIGTERM)
        identity.kill_group(group, signal.SIGCONT)
    identity.signal_all(targets, signal.SIGTERM)
    identity.signal_all(targets, signal.SIGCONT)
    deadline = time.monotonic() + grace
    starts = {pid: identity.start_time(pid) for pid in targets}

    def still() -> list[int]:
        return [p for p in targets if starts[p] is not None and identity.start_time(p) == starts[p]]

    while still() and time.monotonic() < deadline:  # noqa: ASYNC110 - not our children
        await asyncio.sleep(0.05)
    rest = still()
    if group is not None and group in rest:  # the same process: its group is still the run's
        identity.kill_group(group, signal.SIGKILL)
    identity.signal_all(rest, signal.SIGKILL)
    return targets


def supervisor_errors(paths: RuntimePaths, limit: int = 20) -> list[str]:
    """The newest errors supervisors logged (each a header line and any traceback),
    oldest first: for ``tether doctor``."""
    from . import log  # its traceback code: only for doctor

    return log.read_entries(paths.supervisor_log, limit, levels=("ERROR",))


def supervisor_warnings(paths: RuntimePaths, limit: int = 20) -> list[str]:
    """Like ``supervisor_errors`` but also warnings (database retries, dropped output)."""
    from . import log  # its traceback code: only for doctor

    return log.read_entries(paths.supervisor_log, limit, levels=("ERROR", "WARN"))
