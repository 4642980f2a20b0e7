"""``tether queue``: the sessions waiting for a slot, and what the user does to the line
(move a session up or down, start it now, cancel it). Nothing here imports Textual."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from .common import _runner_errors, _safe, _session_store, _short
from .context import EXIT_OK, Ctx, print_json

ACTIONS = ("up", "down", "start", "cancel")


@_runner_errors
def cmd_queue(ctx: Ctx) -> int:
    args = ctx.args
    if args.action is not None and args.id is None:
        args._parser.error(f"queue {args.action} needs a session id")

    async def go() -> int:
        from runner import queue

        async with _session_store(ctx) as store:
            if args.action is not None:
                sid = (await store.sessions.resolve(args.id)).id
                if args.action in ("up", "down"):
                    steps = args.steps if args.action == "up" else -args.steps
                    place = await queue.move(store, sid, steps)
                    message = f"#{sid} is now {_place(place)} in the queue"
                elif args.action == "start":
                    s = await queue.start_now(store, ctx.paths, sid)
                    message = f"#{sid} {s.status}"
                else:
                    await queue.cancel(store, sid)
                    message = f"#{sid} stopped: removed from the queue before it started"
                if not args.json:
                    print(message)
            entries = await store.queue.entries()
            sessions = {
                s.id: s
                for s in await store.sessions.list(
                    ids=[e.session_id for e in entries], include_deleted=True
                )
            }
            limits = await store.queue.limits()
            running = await store.sessions.count(status=("running", "paused"))
        if args.json:
            print_json(
                {
                    "limits": limits.to_json(),
                    "running": running,
                    "queue": [
                        {
                            **sessions[e.session_id].to_json(),
                            "queue_position": e.place,
                            "group": e.group or None,
                            "after": e.after,
                        }
                        for e in entries
                        if e.session_id in sessions
                    ],
                }
            )
            return EXIT_OK
        if args.action is None:
            _print_line(entries, sessions, limits.max_parallel, running)
        return EXIT_OK

    return ctx.run(go)


def _place(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _print_line(entries: list[Any], sessions: dict[int, Any], limit: int, running: int) -> None:
    cap = str(limit) if limit else "no limit"
    print(f"{running} running (run.max_parallel: {cap}), {len(entries)} waiting")
    for e in entries:
        s = sessions.get(e.session_id)
        if s is None:
            continue
        why = []
        if e.group:
            why.append(f"group {e.group}")
        if e.after is not None:
            why.append(f"after #{e.after}")
        label = _short(_safe(s.name or s.command), 40)
        print(f"{e.place:>3}  #{s.id:<5} {label}" + (f"  ({', '.join(why)})" if why else ""))


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    def add(name: str, func: Callable[[Ctx], int], help: str, **kw: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help, **kw)
        p.set_defaults(func=func, _parser=p)
        return p

    p = add(
        "queue",
        cmd_queue,
        "the sessions waiting for a slot (run.max_parallel, groups.NAME.max_parallel, "
        "run --after); move, start or cancel one",
        epilog="tether queue up 42 (one place towards the head; down: back), tether queue "
        "start 42 (now, whatever the limits), tether queue cancel 42 (it never starts).",
    )
    p.add_argument("action", nargs="?", choices=ACTIONS, help="what to do to a queued session")
    p.add_argument("id", nargs="?", help="session id: 42, #42 or a uid prefix")
    p.add_argument("steps", nargs="?", type=int, default=1, help="places to move (default 1)")
    p.add_argument("--json", action="store_true", help="print the limits and the queue as JSON")
