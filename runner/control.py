"""Starting and controlling sessions from any process: the CLI and the TUI use this.

Every function takes an open ``Store`` and a ``paths`` object (``home.paths.Paths`` or
anything with the same few members, see ``runner.locations.RuntimePaths``). The
supervisor does the work and records it; these functions ask it over its control
socket and return the session as the database then shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import log
from .errors import ControlError, NeedsConfirmation, NotResumable, NotRunning, SupervisorGone
from .locations import RuntimePaths, is_alive, socket_path, supervisor_pid, sweep, try_lock
from .spec import LaunchSpec

if TYPE_CHECKING:
    from storage import Session, Store

__all__ = [
    "start_session",
    "launch",
    "stop",
    "pause",
    "continue_",
    "resume_run",
    "send_input",
    "resize",
    "status",
    "reconcile",
    "is_alive",
    "supervisor_errors",
]

READY_TIMEOUT = 60.0  # seconds to wait for a new supervisor's report
CONNECT_TIMEOUT = 5.0
REPLY_TIMEOUT = 30.0
PENDING_GRACE = 60.0  # a pending session with no supervisor after this long is lost
FINISHING_WAIT = 30.0  # an ended session's supervisor may still be indexing: wait this long
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_LIVE = ("running", "paused")


# -- starting ---------------------------------------------------------------------------
async def start_session(
    store: Store,
    paths: RuntimePaths,
    *,
    argv: Iterable[str],
    cwd: str | os.PathLike[str],
    name: str | None = None,
    tags: Iterable[str] = (),
    mode: str = "pipe",
    env: Mapping[str, str] | None = None,
    grace: float = 5.0,
    resume_argv: Iterable[str] | None = None,
    context: Any = None,
    size: tuple[int, int] | None = None,
    redact: Iterable[str] | None = None,
    tuning: Mapping[str, Any] | None = None,
) -> Session:
    """Create a session and start it. Returns once its supervisor holds the lock and
    the run has started, or once it is clear that the command could not start (the
    returned session is then ``failed``, with a system line saying why).

    ``size`` is the terminal's (cols, rows) for pty mode; ``redact`` turns on
    capture-time redaction with these user patterns (plus the built-in ones);
    ``tuning`` overrides capture settings of ``LaunchSpec`` (tests, benchmarks)."""
    session = await store.sessions.create(
        list(argv),
        os.fspath(cwd),
        name=name,
        tags=tags,
        mode=mode,
        env=dict(env) if env else None,
        resume_argv=list(resume_argv) if resume_argv else None,
        context=context,
    )
    return await launch(
        store, paths, session.id, grace=grace, size=size, redact=redact, tuning=tuning
    )


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
) -> Session:
    """Start a supervisor for a ``pending`` session, or (``resume=True``) a new run of
    an ended one. Use ``resume_run`` for resuming: it also checks imported sessions."""
    session = await store.sessions.require(session_id)
    sid = session.id
    if is_alive(paths, sid) and session.ended:
        # Its supervisor is still indexing the output: cut that short (the new
        # supervisor indexes whatever of this session is left), then go.
        pid = supervisor_pid(paths, sid)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        await _wait_released(paths, sid, FINISHING_WAIT)
    if is_alive(paths, sid):
        raise NotResumable(sid, f"session #{sid} is {session.status}; it is already running")
    if session.status in _LIVE:
        await reconcile(store, paths)
        session = await store.sessions.require(sid)
    if resume:
        if not session.ended:
            raise NotResumable(sid, f"session #{sid} is {session.status}; it cannot be resumed")
        argv = list(session.resume_argv or session.argv)
        await store.sessions.set_status(sid, "pending")
    else:
        if session.status != "pending":
            raise NotResumable(
                sid, f"session #{sid} has already run ({session.status}); resume it instead"
            )
        argv = list(session.argv)
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
        **dict(tuning or {}),
    )
    report = await asyncio.to_thread(_spawn_supervisor, spec)
    session = await store.sessions.require(sid)
    if not report.get("ok") and session.status == "pending":
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


async def _wait_released(paths: RuntimePaths, session_id: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while is_alive(paths, session_id):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


# -- controlling ------------------------------------------------------------------------
class _Unreachable(Exception):
    pass


async def _request(
    paths: RuntimePaths, session_id: int, payload: dict[str, Any], timeout: float
) -> dict[str, Any]:
    path = socket_path(paths, session_id)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(str(path)), CONNECT_TIMEOUT
        )
    except (OSError, TimeoutError) as e:
        raise _Unreachable(f"its control socket {path} does not answer: {e}") from None
    try:
        writer.write(json.dumps(payload).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    except (OSError, TimeoutError) as e:
        raise _Unreachable(f"no answer on {path}: {e!r}") from None
    finally:
        writer.close()
    if not line:
        raise _Unreachable("it closed the connection without answering")
    reply = json.loads(line)
    if not reply.get("ok"):
        raise ControlError(f"session #{session_id}: {reply.get('error', 'request refused')}")
    return reply


async def _control(
    store: Store,
    paths: RuntimePaths,
    session_id: int,
    action: str,
    payload: dict[str, Any],
    *,
    timeout: float = REPLY_TIMEOUT,
    allowed: tuple[str, ...] = _LIVE,
) -> dict[str, Any]:
    session = await store.sessions.require(session_id)
    sid = session.id
    if session.status not in allowed:
        raise NotRunning(sid, session.status, action)
    if not is_alive(paths, sid):
        await reconcile(store, paths)
        raise SupervisorGone(sid)
    try:
        return await _request(paths, sid, payload, timeout)
    except _Unreachable as e:
        session = await store.sessions.require(sid)
        if session.ended:  # it ended between our look and our request
            raise NotRunning(sid, session.status, action) from None
        if not is_alive(paths, sid):
            await reconcile(store, paths)
            raise SupervisorGone(sid, str(e)) from None
        raise ControlError(
            f"cannot reach session #{sid}'s supervisor ({e}); it is alive but does not "
            f"answer. `tether doctor` shows its errors."
        ) from None


async def stop(
    store: Store, paths: RuntimePaths, session_id: int, *, grace: float = 5.0
) -> Session:
    """SIGTERM to the command's process group, SIGKILL after ``grace`` seconds. Returns
    once the end is recorded (status ``stopped``, unless it ended by itself first)."""
    await _control(
        store, paths, session_id, "stop", {"op": "stop", "grace": grace}, timeout=grace + 90
    )
    return await store.sessions.require(session_id)


async def pause(store: Store, paths: RuntimePaths, session_id: int) -> Session:
    """SIGSTOP to the command's process group; the session becomes ``paused``."""
    await _control(store, paths, session_id, "pause", {"op": "pause"})
    return await store.sessions.require(session_id)


async def continue_(store: Store, paths: RuntimePaths, session_id: int) -> Session:
    """SIGCONT to the command's process group; the session is ``running`` again."""
    await _control(store, paths, session_id, "continue", {"op": "continue"})
    return await store.sessions.require(session_id)


async def send_input(
    store: Store, paths: RuntimePaths, session_id: int, text: str, *, eol: bool = True
) -> None:
    """Send a line to the command's stdin (pipe mode) or terminal (pty mode, where the
    line ends with Enter, ``\\r``)."""
    await _control(
        store, paths, session_id, "send input to", {"op": "input", "text": text, "eol": eol}
    )


async def resize(store: Store, paths: RuntimePaths, session_id: int, cols: int, rows: int) -> None:
    """Set a pty session's terminal size (the command gets SIGWINCH). A no-op for
    pipe sessions."""
    session = await store.sessions.require(session_id)
    if session.mode != "pty":
        return
    await _control(store, paths, session_id, "resize", {"op": "resize", "cols": cols, "rows": rows})


async def status(store: Store, paths: RuntimePaths, session_id: int) -> dict[str, Any]:
    """What the supervisor says about itself: pids, paused, buffered and dropped bytes,
    whether the database is writable."""
    reply = await _control(store, paths, session_id, "ask about", {"op": "status"})
    reply.pop("ok", None)
    return reply


async def resume_run(
    store: Store,
    paths: RuntimePaths,
    session_id: int,
    *,
    grace: float = 5.0,
    confirmed: bool = False,
    size: tuple[int, int] | None = None,
    redact: Iterable[str] | None = None,
    tuning: Mapping[str, Any] | None = None,
) -> Session:
    """Start a new run of an ended session (its ``resume_argv`` when set, else its
    ``argv``) in its ``cwd``; the output continues after a separator line.

    Raises ``NotResumable`` for a session that is running, paused or pending, and
    ``NeedsConfirmation`` (carrying the exact command) for an imported session unless
    ``confirmed``."""
    session = await store.sessions.require(session_id)
    sid = session.id
    if session.status in _LIVE and not is_alive(paths, sid):
        await reconcile(store, paths)
        session = await store.sessions.require(sid)
    if not session.ended:
        hint = f"stop it first (`tether stop {sid}`)" if session.live else "wait for it to start"
        raise NotResumable(sid, f"session #{sid} is {session.status}; {hint}")
    if session.origin == "imported" and not confirmed:
        raise NeedsConfirmation(sid, shlex.join(session.resume_argv or session.argv))
    return await launch(
        store, paths, sid, grace=grace, resume=True, size=size, redact=redact, tuning=tuning
    )


# -- liveness ---------------------------------------------------------------------------
async def reconcile(store: Store, paths: RuntimePaths) -> list[int]:
    """Mark every ``running``/``paused`` session whose supervisor is gone (its lock is
    free) as ``lost``, with a system line saying so; also a ``pending`` session whose
    supervisor never started. Returns their ids. Then sweeps the lock files and
    sockets of sessions that cannot have a supervisor (``locations.sweep``). Cheap
    when nothing is wrong: one indexed query, one lock probe per live session, and
    one directory listing."""
    candidates = await store.sessions.list(
        status=("running", "paused", "pending"), include_deleted=True, order="id"
    )
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
