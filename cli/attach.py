"""``tether attach ID``: your terminal becomes a running session's terminal until you
press the detach key (``attach.detach_key``, default ctrl+\\). The loop itself is
runner/attach.py (the TUI's ``a`` runs it too); this module finds the session, says
what is going on, and turns the ways it can end into messages and exit codes.

The usual case starts without an event loop (``_connect_fast``): the id is looked up in
plain rows on a read-only connection (no ``Session``, no dataclass: those imports were a
third of the start) and the supervisor's socket reached with a blocking one, so
``tether attach`` imports no asyncio, aiosqlite or ``storage.models`` before the screen
is drawn; reconciling, which every command does first, runs once it is. Anything else
(an id given as a uid prefix, the session not live, stdin no terminal, the supervisor
not answering) takes the full path, which says why."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .common import _runner_errors, _session_store, _usage
from .context import EXIT_ERROR, Ctx, fail

if TYPE_CHECKING:
    import argparse

    from runner.attach import Outcome
    from runner.attach_keys import DetachKey
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


AFTER_LOSS = 3.0  # s: how long a lost connection waits to learn how the session ended


def _after_loss(ctx: Ctx, session_id: int, outcome: Outcome) -> Outcome:
    """What became of the session when its supervisor's connection dropped. A killed
    supervisor's sockets close before /proc shows it dead (and its lock may be held a
    moment longer), so the first look may still see it live: look again for a while."""
    import time

    from runner.attach import Outcome

    deadline = time.monotonic() + AFTER_LOSS
    while True:
        session = ctx.read(lambda reader: reader.sessions.require(session_id))
        if session.ended:
            return Outcome("ended", session.status)
        if time.monotonic() >= deadline:
            return outcome
        time.sleep(0.05)


def _connect_fast(ctx: Ctx, record: bool) -> tuple[int, Any, dict[str, Any]] | None:
    """The session's id, the attached socket and the hello, with no event loop and no
    ``Session`` built (``runner.connect.live_socket``); None when the full path must
    look (and explain) instead. Reconciling, which every command does first, waits
    until the screen is drawn (``_reconcile_later``): the session attached to is live
    (its supervisor holds its lock), and the others are no reason to keep it waiting."""
    from runner.attach import attach_request
    from runner.connect import Unreachable, attach_blocking, live_socket
    from runner.errors import ControlError

    path = live_socket(ctx.paths, ctx.args.id) if os.isatty(0) else None
    if path is None:
        return None
    session_id = int(ctx.args.id.strip().removeprefix("#"))
    try:
        sock, hello = attach_blocking(path, {**attach_request(record), "op": "attach"})
    except Unreachable:
        return None
    except ControlError as e:
        raise ControlError(f"session #{session_id}: {e}") from None
    return session_id, sock, hello


def _reconcile_later(ctx: Ctx, failed: list[BaseException]) -> Callable[[], None]:
    """What ``ctx.read`` does before every command (reconcile, kick the queue), run
    once the first screen is drawn (or after the attachment, if it ended before any
    screen came); only the first call does it. An error is kept for after the
    attachment rather than written over the session's screen."""
    done = False

    async def nothing(_reader: Any) -> None:
        return None

    def run() -> None:
        nonlocal done
        if done:
            return
        done = True
        try:
            ctx.read(nothing)
        except Exception as e:  # noqa: BLE001 - said after detaching (fail)
            failed.append(e)

    return run


def _settings(ctx: Ctx) -> tuple[DetachKey, bool]:
    """``[attach]`` of config.toml; without a file, the defaults, with no config code
    loaded (``home.config`` builds its dataclasses)."""
    from runner.attach import attach_settings

    config_file = ctx.paths.config_file
    return attach_settings(ctx.config if config_file.exists() else None)


@_runner_errors
def cmd_attach(ctx: Ctx) -> int:
    from runner.attach import attach_request, farewell, greeting, run_attached

    try:
        key, record = _settings(ctx)
    except ValueError as e:
        raise _usage(ctx, f"attach.detach_key: {e}") from None

    async def connect() -> tuple[int, Any, dict[str, Any]] | int:
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
            return session.id, sock, hello

    failed: list[BaseException] = []
    fast = _connect_fast(ctx, record)
    got = fast or ctx.run(connect)
    if isinstance(got, int):
        return got
    session_id, sock, hello = got
    terminal = bool(hello.get("terminal"))
    print(greeting(session_id, terminal, key), file=sys.stderr, flush=True)
    later = _reconcile_later(ctx, failed) if fast else None
    with sock:
        title = f"tether #{session_id} ({key.shown} detaches)"
        outcome = run_attached(sock, terminal=terminal, key=key, title=title, on_screen=later)
    if later is not None:
        later()  # when no screen came (it does nothing the second time)
    if outcome.how == "lost":  # it may have ended with its end frame still queued
        outcome = _after_loss(ctx, session_id, outcome)
    line, code = farewell(session_id, outcome)
    print(line, file=sys.stderr)
    for e in failed:
        fail(e)
    return code


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    help = "use a running session from this terminal (detach: ctrl+\\, attach.detach_key)"
    p = sub.add_parser("attach", parents=[common], help=help, description=help)
    p.set_defaults(func=cmd_attach, _parser=p)
    p.add_argument("id", help="session id: 42, #42 or a uid prefix")
