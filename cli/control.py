"""Control of a session from the command line: stop pause continue send resume rm
restore. Nothing here imports Textual."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from .common import (
    _capture_redaction,
    _exit_status,
    _grace,
    _last_system_line,
    _runner_errors,
    _safe,
    _session_json,
    _session_store,
)
from .context import EXIT_ERROR, EXIT_OK, Ctx, print_json
from .logs import _follow, _LogOptions

if TYPE_CHECKING:
    from storage import Session, Store


@_runner_errors
def cmd_stop(ctx: Ctx) -> int:
    args = ctx.args
    grace = args.grace if args.grace is not None else _grace(ctx)

    async def go() -> int:
        from runner.control import stop

        async with _session_store(ctx) as store:
            s = await store.sessions.resolve(args.id)
            s = await stop(store, ctx.paths, s.id, grace=grace)
            if args.json:
                print_json(await _session_json(ctx, store, s))
                return EXIT_OK
            line = await _last_system_line(store, s.id)
        print(f"#{s.id} {s.status}: {line}")
        return EXIT_OK

    return ctx.run(go)


def _simple(action: str) -> Callable[[Ctx], int]:
    @_runner_errors
    def command(ctx: Ctx) -> int:
        async def go() -> int:
            from runner import control

            fn = {"pause": control.pause, "continue": control.continue_}[action]
            async with _session_store(ctx) as store:
                s = await store.sessions.resolve(ctx.args.id)
                s = await fn(store, ctx.paths, s.id)
                if ctx.args.json:
                    print_json(await _session_json(ctx, store, s))
                    return EXIT_OK
            print(f"#{s.id} {s.status}")
            return EXIT_OK

        return ctx.run(go)

    return command


@_runner_errors
def cmd_send(ctx: Ctx) -> int:
    args = ctx.args
    text = " ".join(args.text)

    async def go() -> int:
        from runner.control import send_input

        async with _session_store(ctx) as store:
            s = await store.sessions.resolve(args.id)
            await send_input(store, ctx.paths, s.id, text, eol=not args.no_newline)
            if args.json:
                s = await store.sessions.require(s.id)
                print_json(await _session_json(ctx, store, s))
        return EXIT_OK

    return ctx.run(go)


def _confirm(session: Session, command: str) -> bool:
    if not sys.stdin.isatty():
        return False
    print(f"#{session.id} was imported. Resuming it runs:\n  {_safe(command)}\nin {session.cwd}")
    try:
        answer = input("Run it? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


@_runner_errors
def cmd_resume(ctx: Ctx) -> int:
    args = ctx.args

    async def go() -> int:
        from home.queue import queue_limits
        from runner.control import resume_run
        from runner.errors import NeedsConfirmation

        limits = queue_limits(ctx.config)  # it waits in the queue as `tether run` would

        async with _session_store(ctx) as store:
            s = await store.sessions.resolve(args.id)
            runs_before = s.run_count
            if not s.live:  # an agent's conversation continues (runner/agent_resume.py)
                from runner.agent_resume import native_resume

                s = await native_resume(store, s, fresh=args.fresh)
            try:
                s = await resume_run(
                    store,
                    ctx.paths,
                    s.id,
                    grace=_grace(ctx),
                    confirmed=args.yes,
                    redact=_capture_redaction(ctx),
                    limits=limits,
                )
            except NeedsConfirmation as e:
                if not _confirm(s, e.command):
                    print(
                        f"tether: #{s.id} was imported; not running `{_safe(e.command)}` "
                        f"without confirmation (pass --yes to run it)",
                        file=sys.stderr,
                    )
                    return EXIT_ERROR
                s = await resume_run(
                    store, ctx.paths, s.id, grace=_grace(ctx), confirmed=True, limits=limits
                )
            place = (await store.queue.positions()).get(s.id)
            if place is not None:
                from .queue import _place

                print(
                    f"tether: #{s.id} is queued ({_place(place)}), waiting for a slot",
                    file=sys.stderr,
                )
            elif s.run_count == runs_before:  # no new run: the command could not start
                why = await _last_system_line(store, s.id)
                print(f"tether: #{s.id} failed to start: {why}", file=sys.stderr)
                return EXIT_ERROR
            if args.json:
                print_json(await _session_json(ctx, store, s))
                sys.stdout.flush()
            else:
                print(s.id, flush=True)
            if args.follow:
                runs = await store.runs.list(s.id)
                start = runs[-1].first_line if runs else 0
                if place is not None:  # its new run comes after the output there is
                    start = s.output_lines
                final = await _follow(
                    store, s.id, _LogOptions(), sys.stdout.buffer, start, ctx.paths
                )
                return _exit_status(final)
        return EXIT_OK

    return ctx.run(go)


# -- trash ------------------------------------------------------------------------------
@_runner_errors
def cmd_rm(ctx: Ctx) -> int:
    args = ctx.args

    async def go() -> int:
        from runner.control import is_alive

        code = EXIT_OK
        async with _session_store(ctx) as store:
            targets = []
            for ref in args.ids:
                s = await store.sessions.resolve(ref)
                if not args.purge:
                    # As the TUI's delete: a live session goes to the trash and keeps
                    # running until stopped; one already there is an error.
                    if s.trashed:
                        print(f"tether: #{s.id} is already in the trash", file=sys.stderr)
                        code = EXIT_ERROR
                    else:
                        targets.append(s.id)
                    continue
                if s.live or (s.status == "pending" and is_alive(ctx.paths, s.id)):
                    print(
                        f"tether: #{s.id} is {s.status}; stop it first (tether stop {s.id})",
                        file=sys.stderr,
                    )
                    code = EXIT_ERROR
                    continue
                if s.pinned and not args.force:
                    # Pinned means protected: deleting one for good takes --force.
                    print(
                        f"tether: #{s.id} is pinned; not deleted (unpin it, or add --force)",
                        file=sys.stderr,
                    )
                    code = EXIT_ERROR
                    continue
                targets.append(s.id)
            if args.purge:
                targets = list(dict.fromkeys(targets))
                # What each one was, taken before it is gone: --json prints those purged.
                shown = {}
                if args.json:
                    for s in await _all(store, targets):
                        shown[s.id] = await _session_json(ctx, store, s)
                n = await store.sessions.purge(targets)
                if n:
                    await store.reclaim_space()
                if args.json:
                    print_json([shown[i] for i in targets if await store.sessions.get(i) is None])
                else:
                    print(f"deleted {n} session{'s' * (n != 1)} for good")
            else:
                return await _trash(ctx, store, targets, code)
        return code

    return ctx.run(go)


@_runner_errors
def cmd_restore(ctx: Ctx) -> int:
    args = ctx.args

    async def go() -> int:
        code = EXIT_OK
        async with _session_store(ctx) as store:
            back = []
            for ref in args.ids:
                s = await store.sessions.resolve(ref)
                # one at a time: each one that was not in the trash is named
                if await store.sessions.restore([s.id]):
                    back.append(s.id)
                elif s.id not in back:
                    print(f"tether: #{s.id} is not in the trash", file=sys.stderr)
                    code = EXIT_ERROR
            if args.json:
                print_json([await _session_json(ctx, store, s) for s in await _all(store, back)])
            elif back:
                ids = " ".join(f"#{i}" for i in back)
                print(f"restored {_sessions(len(back))} from the trash: {ids}")
        return code

    return ctx.run(go)


async def _trash(ctx: Ctx, store: Store, ids: list[int], code: int) -> int:
    """Move ``ids`` to the trash, one by one (each one that was already there is
    named), and say what moved and how to bring it back."""
    moved = []
    for sid in ids:
        if await store.sessions.trash([sid]):
            moved.append(sid)
        elif sid not in moved:  # trashed meanwhile, or given twice
            print(f"tether: #{sid} is already in the trash", file=sys.stderr)
            code = EXIT_ERROR
    sessions = await _all(store, moved)
    for s in sessions:
        if s.live:
            print(
                f"tether: #{s.id} is {s.status}: it keeps running until stopped "
                f"(tether stop {s.id})",
                file=sys.stderr,
            )
    if ctx.args.json:
        print_json([await _session_json(ctx, store, s) for s in sessions])
    elif moved:
        ids = " ".join(str(i) for i in moved)
        print(f"moved {_sessions(len(moved))} to the trash (tether restore {ids})")
    return code


async def _all(store: Store, ids: list[int]) -> list[Session]:
    return [await store.sessions.require(i) for i in ids]


def _sessions(n: int) -> str:
    return f"{n} session{'s' * (n != 1)}"


# -- registration -----------------------------------------------------------------------
