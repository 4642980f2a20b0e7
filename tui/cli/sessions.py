"""Session commands: run ls show logs stop pause continue send resume rm restore.

Every command first reconciles (sessions whose supervisor died become ``lost``).
Errors the user can act on are one line on stderr and exit 1; usage errors exit 2.
Nothing here imports Textual.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from .context import EXIT_ERROR, EXIT_OK, Ctx, UsageError, print_json

if TYPE_CHECKING:
    from storage import Line, Session, Store

FOLLOW_POLL = 0.2  # seconds between looks at a followed session
STATUSES = ("pending", "running", "paused", "succeeded", "failed", "stopped", "lost")


# -- plumbing ---------------------------------------------------------------------------
def _runner_errors(fn: Callable[[Ctx], int]) -> Callable[[Ctx], int]:
    """Runner errors (supervisor gone, not running, ...) are a clear line, exit 1."""

    @functools.wraps(fn)
    def wrapper(ctx: Ctx) -> int:
        from runner.errors import RunnerError

        try:
            return fn(ctx)
        except RunnerError as e:
            print(f"tether: {e}", file=sys.stderr)
            return EXIT_ERROR

    return wrapper


@contextlib.asynccontextmanager
async def _session_store(ctx: Ctx) -> AsyncIterator[Store]:
    """The store, reconciled first (cheap when nothing is wrong)."""
    from runner.control import reconcile

    async with ctx.open_store(actor="cli") as store:
        await reconcile(store, ctx.paths)
        yield store


def _grace(ctx: Ctx) -> float:
    return float(ctx.config.general.stop_grace)


def _safe(text: str) -> str:
    from storage.text import terminal_safe

    return terminal_safe(text, keep_colour=False).replace("\n", " ")


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def _took(session: Session) -> str:
    from runner.timefmt import format_duration

    d = session.duration(time.time())
    return format_duration(d) if d is not None else "-"


def _exit(session: Session) -> str:
    if session.signal:
        from runner.child import signal_name

        return signal_name(session.signal)
    return "-" if session.exit_code is None else str(session.exit_code)


def _exit_status(session: Session) -> int:
    """The exit status of `run --follow`: the command's own, as a shell reports it."""
    if session.exit_code is not None:
        return session.exit_code
    if session.signal:
        return 128 + session.signal
    return EXIT_OK if session.status == "succeeded" else EXIT_ERROR


def _short(text: str, width: int, *, left: bool = False) -> str:
    if len(text) <= width:
        return text
    return "…" + text[-(width - 1) :] if left else text[: width - 1] + "…"


def _home(path: str) -> str:
    home = os.path.expanduser("~")
    if home != "/" and (path == home or path.startswith(home + "/")):
        return "~" + path[len(home) :]
    return path


# -- run --------------------------------------------------------------------------------
def _usage(ctx: Ctx, message: str) -> UsageError:
    """A usage error found after parsing: print the command's usage, exit 2."""
    parser = getattr(ctx.args, "_parser", None)
    if parser is not None:
        parser.error(message)  # prints usage and the message, exits 2
    return UsageError(message)


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
    if not argv:
        raise _usage(ctx, "no command given: tether run [OPTIONS] -- COMMAND [ARGS...]")
    return argv


def _capture_redaction(ctx: Ctx) -> list[str] | None:
    from storage.export import capture_patterns

    return capture_patterns(ctx.config.section("redaction"))


@_runner_errors
def cmd_run(ctx: Ctx) -> int:
    args = ctx.args
    argv = _command(ctx)
    env = _parse_env(ctx, args.env or [])
    cwd = os.path.abspath(os.path.expanduser(args.cwd)) if args.cwd else os.getcwd()

    async def go() -> int:
        from runner.control import start_session

        async with _session_store(ctx) as store:
            session = await start_session(
                store,
                ctx.paths,
                argv=argv,
                cwd=cwd,
                name=args.name,
                tags=args.tag or (),
                mode="pty" if args.pty else "pipe",
                env=env or None,
                grace=_grace(ctx),
                redact=_capture_redaction(ctx),
            )
            if args.json:
                print_json(session.to_json())
            else:
                print(session.id, flush=True)
            if session.status == "failed" and session.run_count == 0:
                why = await _last_system_line(store, session.id)
                print(f"tether: #{session.id} failed to start: {why}", file=sys.stderr)
                return EXIT_ERROR
            if args.follow:
                final = await _follow(store, session.id, _LogOptions(), sys.stdout.buffer)
                return _exit_status(final)
            return EXIT_OK

    return ctx.run(go)


async def _last_system_line(store: Store, session_id: int) -> str:
    lines = await store.output.tail(session_id, 1, "system")
    text = lines[-1].text if lines else "unknown reason"
    return _safe(text.removeprefix("could not start: "))


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

    async def go() -> int:
        async with _session_store(ctx) as store:
            sessions = await store.sessions.list(
                status=statuses, tag=args.tag, include_deleted=args.all, limit=args.limit
            )
        if args.json:
            print_json([s.to_json() for s in sessions])
            return EXIT_OK
        _print_table(sessions)
        return EXIT_OK

    return ctx.run(go)


def _print_table(sessions: list[Session]) -> None:
    header = ("ID", "STATUS", "NAME", "COMMAND", "CWD", "STARTED", "DURATION", "EXIT", "LINES")
    rows = []
    for s in sessions:
        name = _safe(s.name) + (" (trash)" if s.trashed else "")
        rows.append(
            (
                f"#{s.id}",
                s.status,
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

    async def go() -> int:
        from runner.control import is_alive
        from runner.locations import supervisor_pid

        async with _session_store(ctx) as store:
            s = await store.sessions.resolve(args.id)
            runs = await store.runs.list(s.id)
        alive = is_alive(ctx.paths, s.id)
        if args.json:
            data = s.to_json()
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
            print_json(data)
            return EXIT_OK
        from runner.timefmt import format_duration

        rows: list[tuple[str, str]] = [
            ("session", f"#{s.id}  {s.uid}"),
            ("name", _safe(s.name) or "-"),
            ("status", s.status + (" (in the trash)" if s.trashed else "")),
            ("command", _safe(s.command)),
            ("cwd", _safe(s.cwd)),
            ("mode", s.mode),
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
            rows.append(("env", _safe(" ".join(f"{k}={v}" for k, v in s.env.items()))))
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

    return ctx.run(go)


# -- logs -------------------------------------------------------------------------------
class _LogOptions:
    def __init__(
        self,
        stream: str | None = None,
        timestamps: bool = False,
        raw: bool = False,
        tail: int | None = None,
    ) -> None:
        self.stream, self.timestamps, self.raw, self.tail = stream, timestamps, raw, tail


# Bytes that need a closer look before reaching a terminal: controls (bar tab and
# newline), DEL, and anything non-ASCII (UTF-8, which may hide C1 controls).
_NEEDS_CARE = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f-\xff]")


def _display(data: bytes, raw: bool) -> bytes:
    if raw or not _NEEDS_CARE.search(data):
        return data
    from storage.text import terminal_safe

    text = terminal_safe(data.decode("utf-8", "replace"), keep_colour=_colour())
    return text.encode("utf-8", "replace")


@functools.cache
def _colour() -> bool:
    """Keep colours only when printing to a terminal (not into a pipe or a file)."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


# Lines sent to the command (``send``, the TUI's ``i``) are marked as the TUI marks
# them, unless --raw (the exact bytes) or --stream input (nothing else is shown).
INPUT_MARK = "› ".encode()
_LINE_STARTS = re.compile(rb"^(?=.)", re.MULTILINE)


def _marked(stream: str, opts: _LogOptions) -> bool:
    return stream == "input" and not opts.raw and opts.stream is None


def _line_bytes(line: Line, opts: _LogOptions) -> bytes:
    data = _display(line.raw, opts.raw)
    if _marked(line.stream, opts):
        data = INPUT_MARK + data
    if opts.timestamps:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(line.at))
        data = f"{stamp}.{int(line.at % 1 * 1000):03d} ".encode() + data
    return data + b"\n"


async def _dump(store: Store, session_id: int, opts: _LogOptions, out: BinaryIO) -> None:
    """All of a session's output, chunk by chunk (fast for big sessions)."""
    from storage.output import CHUNK_BYTES

    prev = None
    async for chunk in store.output.iter_chunks(session_id, stream=opts.stream):
        continued = (
            prev is not None
            and prev.stream == chunk.stream
            and prev.run == chunk.run
            and len(prev.data) >= CHUNK_BYTES - 4
        )
        if prev is not None and prev.open_end and not continued and not opts.raw:
            out.write(b"\n")
        data = _display(chunk.data, opts.raw)
        if _marked(chunk.stream, opts) and not continued:
            data = _LINE_STARTS.sub(INPUT_MARK, data)
        out.write(data)
        prev = chunk
    if prev is not None and prev.open_end and not opts.raw:
        out.write(b"\n")
    out.flush()


async def _follow(
    store: Store, session_id: int, opts: _LogOptions, out: BinaryIO, start: int = 0
) -> Session:
    """Print lines from ``start`` on as they come, until the session has ended (its
    end is recorded only after all of its output)."""
    next_line = start
    while True:
        session = await store.sessions.require(session_id)
        count = session.output_lines
        while next_line < count:
            stop = min(count, next_line + 5000)
            lines = await store.output.read_lines(session_id, next_line, stop, opts.stream)
            advanced = stop
            for line in lines:
                if not line.terminated and line.number == count - 1 and not session.ended:
                    advanced = line.number  # it may still grow: print it when complete
                    break
                out.write(_line_bytes(line, opts))
            out.flush()
            next_line = advanced
            if advanced < stop:
                break
        if session.ended:
            return session
        await asyncio.sleep(FOLLOW_POLL)


@_runner_errors
def cmd_logs(ctx: Ctx) -> int:
    args = ctx.args
    if args.tail is not None and args.tail < 0:
        raise _usage(ctx, "--tail takes a number of lines (0 or more)")
    opts = _LogOptions(args.stream, args.timestamps, args.raw, args.tail)
    out = sys.stdout.buffer

    async def go() -> int:
        async with _session_store(ctx) as store:
            session = await store.sessions.resolve(args.id)
            start = 0
            if opts.tail is not None:
                lines = await store.output.tail(session.id, opts.tail, opts.stream)
                if args.follow and lines and not lines[-1].terminated and not session.ended:
                    lines = lines[:-1]  # still growing; the follow loop prints it
                for line in lines:
                    out.write(_line_bytes(line, opts))
                out.flush()
                start = lines[-1].number + 1 if lines else session.output_lines
            elif not args.follow:
                if opts.timestamps:
                    async for line in store.output.iter_lines(session.id, stream=opts.stream):
                        out.write(_line_bytes(line, opts))
                    out.flush()
                else:
                    await _dump(store, session.id, opts, out)
            if args.follow:
                await _follow(store, session.id, opts, out, start)
        return EXIT_OK

    return ctx.run(go)


# -- control ----------------------------------------------------------------------------
@_runner_errors
def cmd_stop(ctx: Ctx) -> int:
    args = ctx.args
    grace = args.grace if args.grace is not None else _grace(ctx)

    async def go() -> int:
        from runner.control import stop

        async with _session_store(ctx) as store:
            s = await store.sessions.resolve(args.id)
            s = await stop(store, ctx.paths, s.id, grace=grace)
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
        from runner.control import resume_run
        from runner.errors import NeedsConfirmation

        async with _session_store(ctx) as store:
            s = await store.sessions.resolve(args.id)
            runs_before = s.run_count
            try:
                s = await resume_run(
                    store,
                    ctx.paths,
                    s.id,
                    grace=_grace(ctx),
                    confirmed=args.yes,
                    redact=_capture_redaction(ctx),
                )
            except NeedsConfirmation as e:
                if not _confirm(s, e.command):
                    print(
                        f"tether: #{s.id} was imported; not running `{_safe(e.command)}` "
                        f"without confirmation (pass --yes to run it)",
                        file=sys.stderr,
                    )
                    return EXIT_ERROR
                s = await resume_run(store, ctx.paths, s.id, grace=_grace(ctx), confirmed=True)
            if s.run_count == runs_before:  # no new run: the command could not start
                why = await _last_system_line(store, s.id)
                print(f"tether: #{s.id} failed to start: {why}", file=sys.stderr)
                return EXIT_ERROR
            print(s.id, flush=True)
            if args.follow:
                runs = await store.runs.list(s.id)
                start = runs[-1].first_line if runs else 0
                final = await _follow(store, s.id, _LogOptions(), sys.stdout.buffer, start)
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
                if s.live or (s.status == "pending" and is_alive(ctx.paths, s.id)):
                    print(
                        f"tether: #{s.id} is {s.status}; stop it first (tether stop {s.id})",
                        file=sys.stderr,
                    )
                    code = EXIT_ERROR
                    continue
                targets.append(s.id)
            if args.purge:
                n = await store.sessions.purge(targets)
                if n:
                    await store.reclaim_space()
                print(f"deleted {n} session{'s' * (n != 1)} for good")
            else:
                n = await store.sessions.trash(targets)
                ids = " ".join(str(i) for i in targets)
                print(f"moved {n} session{'s' * (n != 1)} to the trash (tether restore {ids})")
        return code

    return ctx.run(go)


@_runner_errors
def cmd_restore(ctx: Ctx) -> int:
    args = ctx.args

    async def go() -> int:
        async with _session_store(ctx) as store:
            ids = [(await store.sessions.resolve(ref)).id for ref in args.ids]
            n = await store.sessions.restore(ids)
        print(f"restored {n} session{'s' * (n != 1)} from the trash")
        return EXIT_OK

    return ctx.run(go)


# -- registration -----------------------------------------------------------------------
def register(sub: Any, common: argparse.ArgumentParser) -> None:
    def add(name: str, func: Callable[[Ctx], int], help: str, **kw: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help, **kw)
        p.set_defaults(func=func, _parser=p)
        return p

    def session_id(p: argparse.ArgumentParser) -> None:
        p.add_argument("id", help="session id: 42, #42 or a uid prefix")

    p = add("run", cmd_run, "start a command as a new session and print its id")
    p.add_argument("-n", "--name", help="a name for the session")
    p.add_argument("-t", "--tag", action="append", help="a tag (repeatable)")
    p.add_argument("-C", "--cwd", metavar="DIR", help="working directory (default: here)")
    p.add_argument("--pty", action="store_true", help="run in a terminal (colours, interactive)")
    p.add_argument("-e", "--env", action="append", metavar="KEY=VALUE", help="set a variable")
    p.add_argument("-f", "--follow", action="store_true", help="then stream its output")
    p.add_argument("--json", action="store_true", help="print the session as JSON")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]")

    p = add("ls", cmd_ls, "list sessions, newest first")
    p.add_argument("--status", action="append", help="only these statuses (comma-separated)")
    p.add_argument("--tag", help="only sessions with this tag")
    p.add_argument("-a", "--all", action="store_true", help="include sessions in the trash")
    p.add_argument("--limit", type=int, help="at most this many")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add("show", cmd_show, "show one session in full")
    session_id(p)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add("logs", cmd_logs, "print a session's output")
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
        "--raw",
        action="store_true",
        help="bytes as recorded (escape sequences included, input lines unmarked)",
    )

    p = add("stop", cmd_stop, "stop a session (SIGTERM, then SIGKILL after the grace period)")
    session_id(p)
    p.add_argument("--grace", type=float, metavar="S", help="seconds before SIGKILL")

    p = add("pause", _simple("pause"), "pause a session (SIGSTOP)")
    session_id(p)
    p = add("continue", _simple("continue"), "continue a paused session (SIGCONT)")
    session_id(p)

    p = add("send", cmd_send, "send a line to a session's input")
    session_id(p)
    p.add_argument("text", nargs="+", help="the text (words are joined with spaces)")
    p.add_argument("--no-newline", action="store_true", help="do not end the line")

    p = add("resume", cmd_resume, "start a new run of an ended session")
    session_id(p)
    p.add_argument("-y", "--yes", action="store_true", help="run an imported session's command")
    p.add_argument("-f", "--follow", action="store_true", help="then stream its output")

    p = add("rm", cmd_rm, "move sessions to the trash (or delete them for good)")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument("--purge", action="store_true", help="delete for good, output and all")

    p = add("restore", cmd_restore, "bring sessions back from the trash")
    p.add_argument("ids", nargs="+", metavar="ID")
