"""Session commands: run ls show, and the parsers of all of them (with ``logs`` and
the control commands of ``control.py``): run ls show logs stop pause continue send
resume rm restore.

Every command first reconciles (sessions whose supervisor died become ``lost``).
Errors the user can act on are one line on stderr and exit 1; usage errors exit 2.
Nothing here imports Textual.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable

from .common import (
    _capture_redaction,
    _exit,
    _exit_status,
    _grace,
    _home,
    _last_system_line,
    _runner_errors,
    _safe,
    _session_store,
    _short,
    _took,
    _usage,
    _when,
)
from .context import EXIT_ERROR, EXIT_OK, EXIT_USAGE, Ctx, print_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from storage import Session
    from storage.engine.reader import Reader
    from storage.query import Query

STATUSES = ("pending", "running", "paused", "succeeded", "failed", "stopped", "lost")


# -- run --------------------------------------------------------------------------------
def _parse_env(ctx: Ctx, pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise _usage(ctx, f"-e takes KEY=VALUE, not {pair!r}")
        env[key] = value
    return env


def _command(ctx: Ctx) -> list[str]:
    argv = list(ctx.args.cmd)
    if argv and argv[0] == "--":
        argv = argv[1:]
    line = ctx.args.shell
    if line is not None:
        if argv:
            raise _usage(ctx, "give either -c LINE or -- COMMAND [ARGS...], not both")
        if not line.strip():
            raise _usage(ctx, "-c takes a line of shell, not an empty one")
        from runner.shell import shell_argv

        return shell_argv(line)  # $SHELL -c LINE, shown as the line
    if not argv:
        raise _usage(
            ctx, "no command given: tether run [OPTIONS] -- COMMAND [ARGS...] (or -c 'LINE')"
        )
    return argv


@_runner_errors
def cmd_run(ctx: Ctx) -> int:
    args = ctx.args
    argv = _command(ctx)
    env = _parse_env(ctx, args.env or [])
    cwd = os.path.abspath(os.path.expanduser(args.cwd)) if args.cwd else os.getcwd()
    from .agents import prepare_run

    agent = prepare_run(ctx, argv, args.agent)  # cli/agents.py: a claude gets --session-id

    async def go() -> int:
        from home.queue import queue_limits
        from runner.control import start_session

        from .logs import _follow, _LogOptions

        async with _session_store(ctx) as store:
            after = (await store.sessions.resolve(args.after)).id if args.after else None
            session = await start_session(
                store,
                ctx.paths,
                argv=agent.argv,
                cwd=cwd,
                name=args.name,
                tags=args.tag or (),
                mode="pty" if args.pty else "pipe",
                env=env or None,
                grace=_grace(ctx),
                redact=_capture_redaction(ctx),
                group=args.group or "",
                after=after,
                limits=queue_limits(ctx.config),
                tuning={"agent_kind": agent.kind} if agent.kind else None,
            )
            if agent.kind:
                await store.sessions.set_agent(session.id, agent.kind, agent.session_id)
                session = await store.sessions.require(session.id)
            place = (await store.queue.positions()).get(session.id)
            if args.json:
                print_json({**session.to_json(), "queue_position": place})
            else:
                print(session.id, flush=True)
            if place is not None:
                waits = f" for #{after} to succeed" if after is not None else " for a slot"
                print(
                    f"tether: #{session.id} is queued ({_nth(place)}), waiting{waits}",
                    file=sys.stderr,
                )
            if session.status == "failed" and session.run_count == 0:
                why = await _last_system_line(store, session.id)
                print(f"tether: #{session.id} failed to start: {why}", file=sys.stderr)
                return EXIT_ERROR
            if args.follow:
                final = await _follow(
                    store, session.id, _LogOptions(), sys.stdout.buffer, paths=ctx.paths
                )
                return _exit_status(final)
            return EXIT_OK

    return ctx.run(go)


def _nth(n: int) -> str:
    from .queue import _place

    return _place(n)


# -- ls / show --------------------------------------------------------------------------
def _statuses(ctx: Ctx, values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    out = []
    for value in values:
        for status in value.split(","):
            status = status.strip()
            if status not in STATUSES:
                raise _usage(ctx, f"unknown status {status!r}; one of: {', '.join(STATUSES)}")
            out.append(status)
    return out


@_runner_errors
def cmd_ls(ctx: Ctx) -> int:
    args = ctx.args
    statuses = _statuses(ctx, args.status)
    query = _ls_query(" ".join(args.query), statuses, args.tag)
    if isinstance(query, int):
        return query
    attention = None
    if args.attention:
        from .agents import attention_states

        attention = attention_states(ctx, args.attention)
    limit = None if attention else args.limit  # filtered after the query: limited after too

    async def go(store: Reader) -> int:
        if query is None:
            sessions = await store.sessions.list(
                status=statuses, tag=args.tag, include_deleted=args.all, limit=limit
            )
        else:
            from storage.engine.search.filters import list_sessions

            sessions = await list_sessions(store, query, include_deleted=args.all, limit=limit)
        if attention:
            sessions = [s for s in sessions if s.status == "running" and s.attention in attention]
            if attention == {"needs_you"}:  # what needs me, oldest first
                sessions.sort(key=lambda s: s.attention_since or 0)
            sessions = sessions[: args.limit] if args.limit is not None else sessions
        places = await store.queue.positions()
        if args.json:
            print_json([{**s.to_json(), "queue_position": places.get(s.id)} for s in sessions])
            return EXIT_OK
        _print_table(sessions, places)
        return EXIT_OK

    return ctx.read(go)


def _ls_query(text: str, statuses: list[str] | None, tag: str | None) -> Query | int | None:
    """``ls QUERY``: the query language of ``search`` over metadata and filters
    (``ctx.model:opus``, ``status:failed``...), with ``--status``/``--tag`` added to it.
    None without a query; the usage exit code after printing a query that does not parse."""
    if not text.strip():
        return None
    from storage.frozen import replace
    from storage.query import QueryError, parse

    try:
        query = parse(text)
    except QueryError as e:
        print(f"tether: {e}", file=sys.stderr)
        return EXIT_USAGE
    if statuses:
        wanted = frozenset(statuses)
        query = replace(query, statuses=wanted & (query.statuses or wanted))
    if tag:
        query = replace(query, tags=(*query.tags, frozenset({tag})))
    return query


def _status_cell(s: Session, place: int | None) -> str:
    if place is not None:
        return f"queued {place}"
    if s.status == "running" and s.attention == "needs_you":
        return "needs you"
    return s.status


def _print_table(sessions: list[Session], places: dict[int, int]) -> None:
    header = ("ID", "STATUS", "NAME", "COMMAND", "CWD", "STARTED", "DURATION", "EXIT", "LINES")
    rows = []
    for s in sessions:
        name = _safe(s.name) + (" (trash)" if s.trashed else "")
        place = places.get(s.id)
        rows.append(
            (
                f"#{s.id}",
                _status_cell(s, place),
                _short(name, 20),
                _short(_safe(s.command), 40),
                _short(_safe(_home(s.cwd)), 24, left=True),
                _when(s.started_at),
                _took(s),
                _exit(s),
                str(s.output_lines),
            )
        )
    if not rows:
        print("no sessions", file=sys.stderr)
        return
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {0, 6, 7, 8}
    for r in [header, *rows]:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


@_runner_errors
def cmd_show(ctx: Ctx) -> int:
    args = ctx.args

    async def go(store: Reader) -> int:
        from runner.locations import is_alive, supervisor_pid

        s = await store.sessions.resolve(args.id)
        runs = await store.runs.list(s.id)
        alive = is_alive(ctx.paths, s.id)
        if args.json:
            data = s.to_json(reveal=args.reveal)
            data["runs"] = [
                {
                    "number": r.number,
                    "argv": list(r.argv),
                    "pid": r.pid,
                    "started_at": r.started_at,
                    "ended_at": r.ended_at,
                    "exit_code": r.exit_code,
                    "signal": r.signal,
                    "status": r.status,
                    "first_line": r.first_line,
                }
                for r in runs
            ]
            data["supervisor_alive"] = alive
            data["queue_position"] = (await store.queue.positions()).get(s.id)
            data["group"] = (await store.queue.groups([s.id])).get(s.id)
            print_json(data)
            return EXIT_OK
        from storage.units import format_duration

        place = (await store.queue.positions()).get(s.id)
        queued = f" (queued, {place} in line)" if place is not None else ""
        rows: list[tuple[str, str]] = [
            ("session", f"#{s.id}  {s.uid}"),
            ("name", _safe(s.name) or "-"),
            ("status", s.status + queued + (" (in the trash)" if s.trashed else "")),
            ("command", _safe(s.command)),
            ("cwd", _safe(s.cwd)),
            ("mode", s.mode),
            *_agent_rows(s),
            ("exit", _exit(s)),
            ("created", _when(s.created_at)),
            ("started", _when(s.started_at)),
            ("ended", _when(s.ended_at)),
            ("duration", _took(s)),
            ("output", f"{s.output_lines} lines, {s.output_bytes} bytes"),
            ("tags", " ".join(s.tags) or "-"),
            ("origin", s.origin),
        ]
        if s.resume_argv:
            import shlex

            rows.append(("resume", _safe(shlex.join(s.resume_argv))))
        if s.env:
            from storage.masking import MASK, shown_env

            env = shown_env(s.env, reveal=args.reveal) or {}
            text = " ".join(f"{k}={v}" for k, v in env.items())
            hint = "  (secret values hidden: --reveal shows them)" if MASK in env.values() else ""
            rows.append(("env", _safe(text) + hint))
        if s.pid:
            rows.append(("pid", str(s.pid)))
        if alive:
            pid = supervisor_pid(ctx.paths, s.id)
            rows.append(("supervisor", f"alive (pid {pid})" if pid else "alive"))
        if s.notes:
            rows.append(("notes", _safe(s.notes)))
        for key, value in rows:
            print(f"{key:<10} {value}")
        if runs:
            print("runs:")
            for r in runs:
                took = format_duration(r.duration(time.time()))
                end = r.status or "running"
                code = "" if r.exit_code is None else f" exit {r.exit_code}"
                print(f"  {r.number:>3}  {_when(r.started_at)}  {took:>8}  {end}{code}")
        return EXIT_OK

    return ctx.read(go)


def _agent_rows(s: Session) -> list[tuple[str, str]]:
    rows = []
    if s.agent_kind:
        native = f"  {s.agent_session_id}" if s.agent_session_id else ""
        rows.append(("agent", s.agent_kind + native))
    if s.status == "running" and s.attention:
        since = _when(s.attention_since)
        rows.append(("attention", f"{s.attention.replace('_', ' ')} since {since}"))
    return rows


def _later(module: str, name: str, *args: str) -> Callable[[Ctx], int]:
    """The handler ``name`` of ``module`` (or what ``name(*args)`` makes), imported
    only when its command runs: ``tether ls`` need not load the control commands."""

    def handler(ctx: Ctx) -> int:
        import importlib

        found = getattr(importlib.import_module(module, __package__), name)
        return int((found(*args) if args else found)(ctx))

    return handler


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    def add(name: str, func: Callable[[Ctx], int], help: str, **kw: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help, **kw)
        p.set_defaults(func=func, _parser=p)
        return p

    def session_id(p: argparse.ArgumentParser) -> None:
        p.add_argument("id", help="session id: 42, #42 or a uid prefix")

    def session_json(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print the session as show --json")

    p = add("run", cmd_run, "start a command as a new session and print its id")
    p.add_argument("-n", "--name", help="a name for the session")
    p.add_argument("-t", "--tag", action="append", help="a tag (repeatable)")
    p.add_argument("-C", "--cwd", metavar="DIR", help="working directory (default: here)")
    p.add_argument("--pty", action="store_true", help="run in a terminal (colours, interactive)")
    p.add_argument("-e", "--env", action="append", metavar="KEY=VALUE", help="set a variable")
    p.add_argument("-f", "--follow", action="store_true", help="then stream its output")
    p.add_argument(
        "--agent",
        metavar="NAME",
        help="the coding agent it runs (claude, codex, aider, gemini, or one of [agents]); "
        "recognised from the command by default",
    )
    p.add_argument("--json", action="store_true", help="print the session as JSON")
    p.add_argument(
        "-g",
        "--group",
        metavar="NAME",
        help="run in this group: at most groups.NAME.max_parallel of it at once",
    )
    p.add_argument(
        "--after",
        metavar="ID",
        help="start only once session ID has succeeded (if it fails, stops or is lost, "
        "this one fails without starting)",
    )
    p.add_argument(
        "-c",
        "--shell",
        metavar="LINE",
        help="run one line of shell with $SHELL -c (loops, pipes, $VARS), not an exact argv",
    )
    p.add_argument("cmd", nargs="...", metavar="-- COMMAND [ARGS...]")  # argparse.REMAINDER

    p = add(
        "ls",
        cmd_ls,
        "list sessions, newest first",
        epilog="QUERY is the query language of search, over names, commands, directories, "
        "tags, notes and filters: tether ls 'ctx.model:opus status:failed', "
        "tether ls -- -has:ctx.thread (a query starting with '-' goes after --).",
    )
    p.add_argument("query", nargs="*", metavar="QUERY", help="only the sessions it matches")
    p.add_argument("--status", action="append", help="only these statuses (comma-separated)")
    p.add_argument("--tag", help="only sessions with this tag")
    p.add_argument(
        "--attention",
        action="append",
        metavar="STATE",
        help="only running sessions in this state: needs_you (oldest first), working, idle",
    )
    p.add_argument("-a", "--all", action="store_true", help="include sessions in the trash")
    p.add_argument("--limit", type=int, help="at most this many")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add(
        "show",
        cmd_show,
        "show one session in full",
        epilog="Values of -e variables whose names contain KEY, TOKEN, SECRET or PASSWORD "
        "(or that look like secrets) show as [REDACTED:env]; --reveal shows them.",
    )
    session_id(p)
    p.add_argument("--reveal", action="store_true", help="show secret env values in clear")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add("logs", _later(".logs", "cmd_logs"), "print a session's output")
    session_id(p)
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until it ends")
    p.add_argument("-n", "--tail", type=int, metavar="N", help="only the last N lines")
    p.add_argument(
        "--stream",
        choices=("stdout", "stderr", "system", "input"),
        help="only this stream (input: lines sent to the command, otherwise marked ›)",
    )
    p.add_argument("-t", "--timestamps", action="store_true", help="prefix each line's time")
    p.add_argument(
        "--json",
        action="store_true",
        help="JSON lines: one object per line (line, run, stream, at, text)",
    )
    p.add_argument(
        "--raw",
        action="store_true",
        help="bytes as recorded (escape sequences included, input lines unmarked)",
    )
    p.add_argument(
        "--rendered",
        action="store_true",
        help="a terminal (pty) session as seen: what scrolled off its screen, then the screen",
    )

    p = add(
        "stop",
        _later(".control", "cmd_stop"),
        "stop a session (SIGTERM, then SIGKILL after the grace period)",
    )
    session_id(p)
    p.add_argument("--grace", type=float, metavar="S", help="seconds before SIGKILL")
    session_json(p)

    p = add("pause", _later(".control", "_simple", "pause"), "pause a session (SIGSTOP)")
    session_id(p)
    session_json(p)
    p = add(
        "continue", _later(".control", "_simple", "continue"), "continue a paused session (SIGCONT)"
    )
    session_id(p)
    session_json(p)

    p = add("send", _later(".control", "cmd_send"), "send a line to a session's input")
    session_id(p)
    p.add_argument("text", nargs="+", help="the text (words are joined with spaces)")
    p.add_argument("--no-newline", action="store_true", help="do not end the line")
    session_json(p)

    p = add("resume", _later(".control", "cmd_resume"), "start a new run of an ended session")
    session_id(p)
    p.add_argument("-y", "--yes", action="store_true", help="run an imported session's command")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="an agent session: start its command again, not its conversation",
    )
    p.add_argument("-f", "--follow", action="store_true", help="then stream its output")
    session_json(p)

    p = add(
        "rm", _later(".control", "cmd_rm"), "move sessions to the trash (or delete them for good)"
    )
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument(
        "--json", action="store_true", help="print the trashed (or purged) sessions as JSON"
    )
    p.add_argument("--purge", action="store_true", help="delete for good, output and all")
    p.add_argument("--force", action="store_true", help="with --purge: delete pinned sessions too")

    p = add("restore", _later(".control", "cmd_restore"), "bring sessions back from the trash")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument("--json", action="store_true", help="print the restored sessions as JSON")
