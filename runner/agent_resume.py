"""Resuming a coding agent's session the agent's own way (agents/resume.py).

Before a new run of an agent session, ``native_resume`` decides what it runs and
records it as the session's ``resume_argv``: the agent's resume command when the
agent's transcript of that conversation exists (``claude --resume ID``, ``codex resume
ID``), or, asked for a ``fresh`` start, the original command. When the transcript is
gone it raises ``NotResumable`` saying so and how to start afresh.
"""

from __future__ import annotations

import os
import shlex
from typing import TYPE_CHECKING

from agents.resume import plan

from .attention import load_settings
from .errors import NotResumable

if TYPE_CHECKING:
    from storage import Session, Store


async def native_resume(store: Store, session: Session, *, fresh: bool = False) -> Session:
    """``session`` ready to be resumed (see the module); a session that runs no agent,
    or one whose kind has no resume recipe, is returned as it is."""
    if not session.agent_kind or session.origin == "imported" and session.resume_argv:
        return session
    import asyncio

    kind, _ = await asyncio.to_thread(load_settings, session.agent_kind)
    if kind is None or not kind.resume:
        return session
    if fresh:
        if session.resume_argv is None:
            return session
        return await store.sessions.update(session.id, resume_argv=None)
    env = {**os.environ, **(session.env or {})}
    native = await asyncio.to_thread(
        plan,
        session.argv,
        kind,
        session.agent_session_id,
        session.cwd,
        env,
        started=session.run_started_at or session.started_at,
        ended=session.ended_at,
    )
    if native.session_id and native.session_id != session.agent_session_id:
        await store.sessions.set_agent(session.id, kind.name, native.session_id)
    if native.argv is None:
        raise NotResumable(
            session.id,
            f"session #{session.id}'s conversation cannot be continued: {native.why}; "
            f"`tether resume {session.id} --fresh` starts `{shlex.join(session.argv)}` "
            f"again, without it",
        )
    if list(session.resume_argv or ()) == native.argv:
        return await store.sessions.require(session.id)
    return await store.sessions.update(session.id, resume_argv=native.argv)
