"""Starting a new session: create it, then launch its supervisor (runner/launch.py),
or put it in the queue (runner/queue.py) when limits, a group or ``after`` apply; and
a new run of an ended session (``resume_run``), which joins the queue the same way."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from storage.masking import argv_redacted
from storage.models import LIVE

from . import queue
from .errors import NeedsConfirmation, NotQueueable, NotResumable
from .launch import _no_earlier_run_lives, _terminal_size, launch
from .locations import is_alive
from .reconcile import reconcile

if TYPE_CHECKING:
    from storage import Session, Store
    from storage.engine.queue import Limits

    from .locations import RuntimePaths


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
    group: str = "",
    after: int | None = None,
    limits: Limits | None = None,
) -> Session:
    """Create a session and start it. Returns once its supervisor holds the lock and
    the run has started, or once it is clear that the command could not start (the
    returned session is then ``failed``, with a system line saying why).

    ``size`` is the terminal's (cols, rows) for pty mode; ``redact`` turns on
    capture-time redaction with these user patterns (plus the built-in ones);
    ``tuning`` overrides capture settings of ``LaunchSpec`` (tests, benchmarks).

    With ``redact``, the command line is stored redacted too (sessions, runs, audit
    log, search): only this first run gets the real argv, through the supervisor's
    stdin. A session whose stored argv lost a secret so cannot be resumed as it is
    (``resume_run`` refuses, saying to start it again).

    The queue (runner/queue.py): with ``limits`` that limit anything, a ``group`` or
    ``after`` (a session that must succeed first), the session joins the line and starts
    now only if a slot is free; else it is returned ``pending``, and starts by itself
    when a slot frees."""
    real = list(argv)
    stored, stored_resume = real, list(resume_argv) if resume_argv else None
    if redact is not None:
        from storage.masking import redacted_argv

        patterns = list(redact)
        stored = redacted_argv(real, patterns)
        if stored_resume:
            stored_resume = redacted_argv(stored_resume, patterns)
    queued = queue.applies(limits, group, after)
    if queued and stored != real:
        raise NotQueueable(
            "this command holds secrets that [redaction] on_capture keeps out of the "
            "database, so it cannot go through the queue (run.max_parallel, --group, "
            "--after): whoever starts it later would not know them"
        )
    if after is not None:
        await store.sessions.require(after)
    session = await store.sessions.create(
        stored,
        os.fspath(cwd),
        name=name,
        tags=tags,
        mode=mode,
        env=dict(env) if env else None,
        resume_argv=stored_resume,
        context=context,
    )
    if queued:
        options = {"grace": grace, "size": list(size) if size else list(_terminal_size())}
        options.update(redact=list(redact) if redact is not None else None, tuning=tuning)
        return await queue.submit(
            store, paths, session.id, limits=limits, group=group, after=after, options=options
        )
    return await launch(
        store,
        paths,
        session.id,
        grace=grace,
        size=size,
        redact=redact,
        tuning=tuning,
        run_argv=real if stored != real else None,
    )


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
    limits: Limits | None = None,
) -> Session:
    """Start a new run of an ended session (its ``resume_argv`` when set, else its
    ``argv``) in its ``cwd``; the output continues after a separator line.

    Under the queue (``limits`` that limit anything, or a session run with ``--group``)
    it joins the line as ``tether run`` does: it starts now if a slot is free, else it
    is returned ``pending`` and starts by itself when one frees (runner/queue.py).

    Raises ``NotResumable`` for a session that is running, paused or pending, and
    ``NeedsConfirmation`` (carrying the exact command) for an imported session unless
    ``confirmed``."""
    session = await store.sessions.require(session_id)
    sid = session.id
    if session.status in LIVE and not is_alive(paths, sid):
        await reconcile(store, paths, {sid})
        session = await store.sessions.require(sid)
    if not session.ended:
        hint = f"stop it first (`tether stop {sid}`)" if session.live else "wait for it to start"
        raise NotResumable(sid, f"session #{sid} is {session.status}; {hint}")
    if session.origin == "imported" and not confirmed:
        raise NeedsConfirmation(sid, shlex.join(session.resume_argv or session.argv))
    if argv_redacted(session.resume_argv or session.argv):
        # Stored with its secrets taken out ([redaction] on_capture): running it would
        # not be the same command, and the real one is kept nowhere.
        raise NotResumable(
            sid,
            f"session #{sid}'s command was stored with its secrets redacted ([redaction] "
            f"on_capture), so it cannot be re-run as it was; start it again with the "
            f"secrets filled in: tether run -- {shlex.join(session.resume_argv or session.argv)}",
        )
    group = (await store.queue.groups([sid])).get(sid, "")
    if queue.applies(limits, group):
        # Refused now, not when a slot frees (the session is pending by then).
        await _no_earlier_run_lives(session, await store.runs.latest(sid))
        options = {"grace": grace, "size": list(size or _terminal_size())}
        options.update(redact=list(redact) if redact is not None else None, tuning=tuning)
        return await queue.submit(
            store, paths, sid, limits=limits, group=group, options=options, resume=True
        )
    return await launch(
        store, paths, sid, grace=grace, resume=True, size=size, redact=redact, tuning=tuning
    )
