"""Reconcile: the truth about sessions whose supervisor is gone, and what it logged.

A session's supervisor holds its lock for as long as it lives, so a ``running`` or
``paused`` session whose lock is free has lost it (killed, crashed, a reboot):
``reconcile`` marks it ``lost``, says so in a system line, and indexes what it had
stored. The CLI runs it before every command, the TUI periodically.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from storage.models import ACTIVE

from . import log
from .locations import RuntimePaths, is_alive, socket_path, sweep, try_lock

if TYPE_CHECKING:
    from storage import Store

PENDING_GRACE = 60.0  # a pending session with no supervisor after this long is lost


async def reconcile(store: Store, paths: RuntimePaths) -> list[int]:
    """Mark every ``running``/``paused`` session whose supervisor is gone (its lock is
    free) as ``lost``, with a system line saying so; also a ``pending`` session whose
    supervisor never started. Returns their ids. Then sweeps the lock files and
    sockets of sessions that cannot have a supervisor (``locations.sweep``). Cheap
    when nothing is wrong: one indexed query, one lock probe per live session, and
    one directory listing."""
    candidates = await store.sessions.list(status=ACTIVE, include_deleted=True, order="id")
    lost: list[int] = []
    now = time.time()
    for session in candidates:
        if session.status == "pending" and now - session.updated_at < PENDING_GRACE:
            continue
        if is_alive(paths, session.id):
            continue
        # Hold the lock while deciding, so no supervisor can start in between.
        with try_lock(paths.lock_file(session.id)) as free:
            if not free:
                continue
            fresh = await store.sessions.get(session.id)
            if fresh is None or fresh.status != session.status:
                continue
            if fresh.status == "pending":
                await store.sessions.set_status(
                    fresh.id, "lost", reason="lost: its supervisor never started"
                )
            else:
                when = fresh.last_output_at or fresh.started_at
                reason = (
                    "lost: tether's supervisor for this session is gone (killed, crashed, or "
                    "the machine restarted)"
                )
                if when:
                    reason += "; last output at " + time.strftime(
                        "%Y-%m-%d %H:%M:%S", time.localtime(when)
                    )
                await store.runs.finish(fresh.id, status="lost", reason=reason)
            lost.append(fresh.id)
        try:
            socket_path(paths, session.id).unlink()
        except OSError:
            pass
    for sid in lost:  # what its supervisor had stored but not yet indexed
        while await store.output.index_pending(sid):
            pass
    # Lock files and sockets of sessions that cannot have a supervisor any more.
    sweep(paths, {s.id for s in candidates} - set(lost))
    return lost


def supervisor_errors(paths: RuntimePaths, limit: int = 20) -> list[str]:
    """The newest errors supervisors logged (each a header line and any traceback),
    oldest first: for ``tether doctor``."""
    return log.read_entries(paths.supervisor_log, limit, levels=("ERROR",))


def supervisor_warnings(paths: RuntimePaths, limit: int = 20) -> list[str]:
    """Like ``supervisor_errors`` but also warnings (database retries, dropped output)."""
    return log.read_entries(paths.supervisor_log, limit, levels=("ERROR", "WARN"))
