"""Coding agents and attention on the command line: ``tether wait``, and what ``run``,
``ls`` and ``resume`` ask of agents (their kinds with config.toml's ``[agents]``, the
attention filter).

``tether wait ID`` blocks until the session ends (exit 0 when it succeeded, 1
otherwise); with ``--attention STATE`` until it is running in that state (exit 1 if it
ends first), so a script can wait for an agent to need it. ``--timeout S`` gives up
after S seconds (exit 3).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from .common import _runner_errors, _session_store, _usage
from .context import EXIT_ERROR, EXIT_OK, Ctx, print_json

if TYPE_CHECKING:
    from agents.kinds import AgentKind
    from agents.resume import Start

ATTENTION = ("needs_you", "working", "idle")
EXIT_TIMEOUT = 3
POLL = 0.2  # seconds between looks at the database


def agent_kinds(ctx: Ctx) -> dict[str, AgentKind]:
    """The agent kinds: built-in, with config.toml's ``[agents]`` applied."""
    from agents.kinds import kinds_from_config

    return kinds_from_config(ctx.config.section("agents"))


def prepare_run(ctx: Ctx, argv: list[str], chosen: str | None) -> Start:
    """What ``tether run`` starts: the agent recognised (or ``--agent``), and its start
    recipe applied (a fresh ``--session-id`` for claude)."""
    from agents.resume import UnknownAgent, prepare

    try:
        return prepare(argv, agent_kinds(ctx), chosen)
    except UnknownAgent as e:
        raise _usage(ctx, str(e)) from None


def attention_states(ctx: Ctx, values: list[str] | None) -> set[str] | None:
    """``--attention`` values (comma-separated, repeatable), checked."""
    if not values:
        return None
    out = set()
    for value in values:
        for state in value.split(","):
            state = state.strip().replace("-", "_")
            if state not in ATTENTION:
                raise _usage(ctx, f"unknown attention {state!r}; one of: {', '.join(ATTENTION)}")
            out.add(state)
    return out


@_runner_errors
def cmd_wait(ctx: Ctx) -> int:
    args = ctx.args
    wanted = attention_states(ctx, [args.attention] if args.attention else None)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout

    async def go() -> int:
        import asyncio

        from runner.control import reconcile

        async with _session_store(ctx) as store:
            session = await store.sessions.resolve(args.id)
            checked = time.monotonic()
            while True:
                done = _reached(session, wanted)
                if done is not None:
                    if args.json:
                        print_json(session.to_json())
                    if done is False:
                        print(
                            f"tether: #{session.id} is {session.status}; it will not be "
                            f"{'/'.join(sorted(wanted or ()))} any more",
                            file=sys.stderr,
                        )
                        return EXIT_ERROR
                    if wanted:
                        return EXIT_OK
                    return EXIT_OK if session.status == "succeeded" else EXIT_ERROR
                if deadline is not None and time.monotonic() > deadline:
                    print(f"tether: #{session.id} timed out waiting", file=sys.stderr)
                    return EXIT_TIMEOUT
                await asyncio.sleep(POLL)
                if time.monotonic() - checked > 2:  # a supervisor that died: lost
                    await reconcile(store, ctx.paths, {session.id})
                    checked = time.monotonic()
                session = await store.sessions.require(session.id)

    return ctx.run(go)


def _reached(session: Any, wanted: set[str] | None) -> bool | None:
    """True: what we wait for; False: it cannot come any more; None: keep waiting."""
    if wanted is None:
        return True if session.ended else None
    if session.status == "running" and session.attention in wanted:
        return True
    return False if session.ended or session.trashed else None


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    help = "wait until a session ends, or until it needs you (--attention needs_you)"
    p = sub.add_parser("wait", parents=[common], help=help, description=__doc__.split("\n\n")[1])
    p.set_defaults(func=cmd_wait, _parser=p)
    p.add_argument("id", help="session id: 42, #42 or a uid prefix")
    p.add_argument(
        "--attention", metavar="STATE", help="needs_you, working or idle: wait until it is so"
    )
    p.add_argument("--timeout", type=float, metavar="S", help="give up after S seconds (exit 3)")
    p.add_argument("--json", action="store_true", help="then print the session as JSON")
