"""``tether attach ID``: your terminal becomes a running session's terminal until you
press the detach key (``attach.detach_key``, default ctrl+\\). The loop itself is
runner/attach.py (the TUI's ``a`` runs it too); this module finds the session, says
what is going on, and turns the ways it can end into messages and exit codes."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import TYPE_CHECKING, Any

from .common import _runner_errors, _session_store, _usage
from .context import EXIT_ERROR, EXIT_OK, Ctx

if TYPE_CHECKING:
    from runner.attach import DetachKey, Outcome
    from storage import Session, Store


def attach_settings(config: Any) -> tuple[DetachKey, bool]:
    """The detach key and whether typed input is recorded, from ``[attach]``."""
    from home.config_schema import OPTIONS
    from runner.attach import DetachKey

    section = config.section("attach")
    key = section.get("detach_key", OPTIONS["attach.detach_key"].default)
    record = bool(section.get("record_input", OPTIONS["attach.record_input"].default))
    return DetachKey.parse(key), record


def who() -> str:
    """The user and terminal attaching, for the session's attach line."""
    try:
        tty = os.ttyname(0)
    except OSError:
        tty = "no terminal"
    return f"{getpass.getuser()} on {tty}"


def attach_request(record: bool, fd: int = 1) -> dict[str, Any]:
    from runner.attach import terminal_size

    cols, rows = terminal_size(fd)
    return {"cols": cols, "rows": rows, "who": who(), "record_input": record}


def greeting(session: Session, terminal: bool, key: DetachKey) -> str:
    if terminal:
        return f"tether: attached to session #{session.id}; {key.shown} detaches"
    return (
        f"tether: attached to pipe session #{session.id}: its output shows here and each "
        f"line you type goes to its stdin; {key.shown} detaches"
    )


def farewell(session_id: int, outcome: Outcome) -> tuple[str, int]:
    """The line printed after an attachment, and the exit code."""
    if outcome.how == "ended":
        return f"tether: session #{session_id} ended ({outcome.status or 'ended'})", EXIT_OK
    if outcome.how == "lost":
        return (
            f"tether: lost the connection to session #{session_id}'s supervisor "
            f"(`tether show {session_id}` says what became of it)",
            EXIT_ERROR,
        )
    return f"tether: detached from session #{session_id} (it keeps running)", EXIT_OK


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


async def _after_loss(ctx: Ctx, session_id: int, outcome: Outcome) -> Outcome:
    from runner.attach import Outcome

    async with _session_store(ctx) as store:
        session = await store.sessions.require(session_id)
    return Outcome("ended", session.status) if session.ended else outcome


@_runner_errors
def cmd_attach(ctx: Ctx) -> int:
    from runner.attach import run_attached
    from runner.client import attach
    from runner.errors import NotRunning

    try:
        key, record = attach_settings(ctx.config)
    except ValueError as e:
        raise _usage(ctx, f"attach.detach_key: {e}") from None

    async def connect() -> tuple[Session, Any, dict[str, Any]] | int:
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

    got = ctx.run(connect)
    if isinstance(got, int):
        return got
    session, sock, hello = got
    terminal = bool(hello.get("terminal"))
    print(greeting(session, terminal, key), file=sys.stderr, flush=True)
    with sock:
        title = f"tether #{session.id} ({key.shown} detaches)"
        outcome = run_attached(sock, terminal=terminal, key=key, title=title)
    if outcome.how == "lost":  # it may have ended with its end frame still queued
        outcome = ctx.run(lambda: _after_loss(ctx, session.id, outcome))
    line, code = farewell(session.id, outcome)
    print(line, file=sys.stderr)
    return code


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    help = "use a running session from this terminal (detach: ctrl+\\, attach.detach_key)"
    p = sub.add_parser("attach", parents=[common], help=help, description=help)
    p.set_defaults(func=cmd_attach, _parser=p)
    p.add_argument("id", help="session id: 42, #42 or a uid prefix")
