"""Launching: a session's supervisor started, for its first run or a resumed one.

``runner/start.py`` creates a session and launches it, or queues it, and starts new
runs of ended sessions (``resume_run``) the same way. ``launch`` writes a
``LaunchSpec`` to a detached ``python -m runner`` (runner/__main__.py) and waits for
its one-line report: started (the lock is held and the run recorded), or why not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.models import LIVE

from . import identity
from .errors import NotResumable
from .locations import is_alive, mark_launching, socket_path, supervisor_pid
from .reconcile import find_leftovers, reconcile
from .spec import LaunchSpec

if TYPE_CHECKING:
    from storage import Run, Session, Store

    from .locations import RuntimePaths

READY_TIMEOUT = 60.0  # seconds to wait for a new supervisor's report
FINISHING_WAIT = 30.0  # an ended session's supervisor may still be indexing: wait this long
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


async def launch(
    store: Store,
    paths: RuntimePaths,
    session_id: int,
    *,
    grace: float = 5.0,
    resume: bool = False,
    size: tuple[int, int] | None = None,
    redact: Iterable[str] | None = None,
    tuning: Mapping[str, Any] | None = None,
    run_argv: list[str] | None = None,
    claim: str | None = None,
) -> Session:
    """Start a supervisor for a ``pending`` session, or (``resume=True``) a new run of
    an ended one. Use ``resume_run`` for resuming: it also checks imported sessions.
    ``run_argv``: what a first run executes when the stored argv is redacted;
    ``claim``: the queue's claim it is started for (runner/queue.py)."""
    session = await store.sessions.require(session_id)
    sid = session.id
    last = await store.runs.latest(sid)
    # A new run: of an ended session, or of one whose resume waited in the queue.
    rerun = session.ended or (resume and claim is not None and session.status == "pending")
    if session.ended:
        await _no_earlier_run_lives(session, last)
    if is_alive(paths, sid) and rerun:
        # Its supervisor is still indexing the output: cut that short (the new
        # supervisor indexes whatever of this session is left), then go.
        pid = supervisor_pid(paths, sid)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        await _wait_released(paths, sid, FINISHING_WAIT)
    if rerun and _supervisor_lives(last):
        # The same, seen by pid and start time (another home's, or its lock file was
        # removed): it must be gone before a new run starts.
        assert last is not None and last.supervisor_pid is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(last.supervisor_pid, signal.SIGTERM)
        deadline = time.monotonic() + FINISHING_WAIT
        while _supervisor_lives(last) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    if is_alive(paths, sid) or (rerun and _supervisor_lives(last)):
        raise NotResumable(sid, f"session #{sid} is {session.status}; it is already running")
    if session.status in LIVE:
        await reconcile(store, paths, {sid})
        session = await store.sessions.require(sid)
    if resume:
        # A resume that waited in the queue is pending already, and started for its claim.
        if not rerun:
            raise NotResumable(sid, f"session #{sid} is {session.status}; it cannot be resumed")
        await _no_earlier_run_lives(session, await store.runs.latest(sid))
        argv = list(session.resume_argv or session.argv)
        await store.sessions.set_status(sid, "pending")
    else:
        if session.status != "pending":
            raise NotResumable(
                sid, f"session #{sid} has already run ({session.status}); resume it instead"
            )
        argv = list(run_argv) if run_argv is not None else list(session.argv)
    cols, rows = size or _terminal_size()
    db = Path(store.path).absolute()
    spec = LaunchSpec(
        db=str(db),
        spill_dir=str(db.parent),
        session_id=sid,
        lock=str(paths.lock_file(sid)),
        socket=str(socket_path(paths, sid)),
        log=str(paths.supervisor_log),
        argv=argv,
        cwd=session.cwd,
        env=dict(session.env or {}),
        mode=session.mode,
        cols=cols,
        rows=rows,
        grace=grace,
        redact=list(redact) if redact is not None else None,
        shown_argv=list(session.argv) if run_argv is not None and not resume else None,
        claim=claim,
        **dict(tuning or {}),
    )
    agent = spec.agent_kind or session.agent_kind
    if agent:  # it reports its own state through its hooks (runner/hooks.py)
        from .attention import load_settings
        from .hooks import with_hooks

        kind, _ = await asyncio.to_thread(load_settings, agent)
        spec = await asyncio.to_thread(with_hooks, spec, kind)
    mark_launching(paths, sid)
    report = await asyncio.to_thread(_spawn_supervisor, spec)
    session = await store.sessions.require(sid)
    if not report.get("ok") and not report.get("requeued") and session.status == "pending":
        session = await store.sessions.set_status(
            sid, "failed", reason=f"could not start: {report.get('error')}"
        )
    return session


def _terminal_size() -> tuple[int, int]:
    try:
        size = os.get_terminal_size(sys.__stdout__.fileno() if sys.__stdout__ else 1)
        return size.columns, size.lines
    except (OSError, ValueError):
        return 80, 24


def _spawn_supervisor(spec: LaunchSpec) -> dict[str, Any]:
    """Run ``python -m runner`` detached, hand it the spec, wait for its one-line
    report. (Blocking: called in a thread.)"""
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "runner"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
            cwd=_PACKAGE_ROOT,  # so `-m runner` finds this very package
        )
    except OSError as e:
        return {"ok": False, "error": f"tether's supervisor could not be started: {e}"}
    try:
        out, _ = proc.communicate(spec.to_json().encode(), timeout=READY_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {
            "ok": False,
            "error": f"tether's supervisor did not report within {READY_TIMEOUT:g}s; "
            f"see {spec.log}",
        }
    line = out.split(b"\n", 1)[0].strip()
    if not line:
        return {
            "ok": False,
            "error": f"tether's supervisor exited without a word (exit status "
            f"{proc.returncode}); see {spec.log}",
        }
    try:
        report = json.loads(line)
    except ValueError:
        return {"ok": False, "error": f"tether's supervisor said something odd: {line[:200]!r}"}
    return report if isinstance(report, dict) else {"ok": False, "error": repr(report)}


def _supervisor_lives(run: Run | None) -> bool:
    """Does the supervisor that ``run`` recorded still live (pid and start time)?"""
    return (
        run is not None
        and run.supervisor_pid is not None
        and identity.same_boot(run.host, run.boot) is True
        and identity.is_running(run.supervisor_pid, run.supervisor_start)
    )


async def _no_earlier_run_lives(session: Session, run: Run | None) -> None:
    """Refuse a new run while the last one's command still runs (its supervisor was
    lost: the command outlived it, see runner/guardian.py)."""
    if session.status != "lost":
        return
    left = find_leftovers(session.id, run)
    if left is not None:
        raise NotResumable(
            session.id,
            f"session #{session.id} is lost, but its run {left.run} still runs "
            f"({left.describe()}); `tether stop {session.id}` ends it, then resume",
        )


async def _wait_released(paths: RuntimePaths, session_id: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while is_alive(paths, session_id):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True
