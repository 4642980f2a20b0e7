"""``tether attach ID``: your terminal becomes a running session's terminal until you
press the detach key (``attach.detach_key``, default ctrl+\\). The loop itself is
runner/attach.py (the TUI's ``a`` runs it too); this module finds the session, says
what is going on, and turns the ways it can end into messages and exit codes.

The usual case starts without an event loop (``_connect_fast``): the id is resolved on a
read-only connection (``ctx.read``, which reconciles as every command does) and the
supervisor's socket reached with a blocking one, so ``tether attach`` never imports
asyncio or aiosqlite before the screen is drawn. Anything else (the session is not
live, stdin is no terminal, the supervisor does not answer) takes the full path, which
says why."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from .common import _runner_errors, _session_store, _usage
from .context import EXIT_ERROR, Ctx

if TYPE_CHECKING:
    from runner.attach import Outcome
    from storage import Session, Store


async def _not_attachable(ctx: Ctx, store: Store, session: Session) -> int:
    """One line (and for a finished terminal session, its final screen); exit 1."""
    from runner.kinds import kind_named

    sid = session.id
    if session.ended and kind_named(session.mode).resizable:
        from runner.screen.state import shown_lines

        from .screen import replay

        print(
            f"tether: session #{sid} has ended ({session.status}); its final screen:",
            file=sys.stderr,
        )
        replayed = await replay(store, session)
        sys.stdout.write("".join(line + "\n" for line in shown_lines(replayed.screen.lines())))
    elif session.ended:
        print(
            f"tether: session #{sid} has ended ({session.status}); "
            f"`tether logs {sid}` prints its output",
            file=sys.stderr,
        )
    else:
        print(
            f"tether: session #{sid} is {session.status}: there is nothing to attach to yet",
            file=sys.stderr,
        )
    return EXIT_ERROR


def _after_loss(ctx: Ctx, session_id: int, outcome: Outcome) -> Outcome:
    from runner.attach import Outcome

    session = ctx.read(lambda reader: reader.sessions.require(session_id))
    return Outcome("ended", session.status) if session.ended else outcome


def _connect_fast(ctx: Ctx, record: bool) -> tuple[Session, Any, dict[str, Any]] | None:
    """The session, the attached socket and the hello, with no event loop; None when
    the full path must look (and explain) instead."""
    from runner.attach import attach_request
    from runner.connect import Unreachable, attach_blocking, socket_of
    from runner.errors import ControlError
    from runner.locations import is_alive

    async def look(reader: Any) -> tuple[Session, Any] | None:
        session = await reader.sessions.resolve(ctx.args.id)
        if not session.live or not is_alive(ctx.paths, session.id):
            return None
        return session, await socket_of(reader, ctx.paths, session.id)

    found = ctx.read(look) if os.isatty(0) else None
    if found is None:
        return None
    session, path = found
    try:
        sock, hello = attach_blocking(path, {**attach_request(record), "op": "attach"})
    except Unreachable:
        return None
    except ControlError as e:
        raise ControlError(f"session #{session.id}: {e}") from None
    return session, sock, hello


@_runner_errors
def cmd_attach(ctx: Ctx) -> int:
    from runner.attach import attach_request, attach_settings, farewell, greeting, run_attached

    try:
        key, record = attach_settings(ctx.config)
    except ValueError as e:
        raise _usage(ctx, f"attach.detach_key: {e}") from None

    async def connect() -> tuple[Session, Any, dict[str, Any]] | int:
        from runner.client import attach
        from runner.errors import NotRunning

        async with _session_store(ctx) as store:
            session = await store.sessions.resolve(ctx.args.id)
            if not session.live:
                return await _not_attachable(ctx, store, session)
            if not os.isatty(0):
                print("tether: attach needs a terminal (stdin is not one)", file=sys.stderr)
                return EXIT_ERROR
            try:
                sock, hello = await attach(store, ctx.paths, session.id, attach_request(record))
            except NotRunning:
                return await _not_attachable(ctx, store, await store.sessions.require(session.id))
            return session, sock, hello

    got = _connect_fast(ctx, record) or ctx.run(connect)
    if isinstance(got, int):
        return got
    session, sock, hello = got
    terminal = bool(hello.get("terminal"))
    print(greeting(session.id, terminal, key), file=sys.stderr, flush=True)
    with sock:
        title = f"tether #{session.id} ({key.shown} detaches)"
        outcome = run_attached(sock, terminal=terminal, key=key, title=title)
    if outcome.how == "lost":  # it may have ended with its end frame still queued
        outcome = _after_loss(ctx, session.id, outcome)
    line, code = farewell(session.id, outcome)
    print(line, file=sys.stderr)
    return code


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    help = "use a running session from this terminal (detach: ctrl+\\, attach.detach_key)"
    p = sub.add_parser("attach", parents=[common], help=help, description=help)
    p.set_defaults(func=cmd_attach, _parser=p)
    p.add_argument("id", help="session id: 42, #42 or a uid prefix")
