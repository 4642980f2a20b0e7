"""Starting a new session: create it, then launch its supervisor (runner/launch.py),
or put it in the queue (runner/queue.py) when limits, a group or ``after`` apply."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import queue
from .errors import NotQueueable
from .launch import _terminal_size, launch

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
