"""What the session commands share (``sessions``, ``logs``, ``control``): the store
reconciled first, the runner's errors as one line, usage errors, and how a session's
fields are printed. Nothing here imports Textual."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from collections.abc import AsyncIterator, Callable

from .context import EXIT_ERROR, EXIT_OK, Ctx, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from storage import Session, Store

FOLLOW_POLL = 0.2  # seconds between looks at a followed session


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
    """The store, reconciled first (cheap when nothing is wrong), and the queue kicked
    (runner/queue.py: a slot freed by a lost session, a claim whose starter died)."""
    from runner.control import reconcile

    async with ctx.open_store(actor="cli") as store:
        await reconcile(store, ctx.paths)
        await ctx.kick_queue(store)
        yield store


def _usage(ctx: Ctx, message: str) -> UsageError:
    """A usage error found after parsing: print the command's usage, exit 2."""
    parser = getattr(ctx.args, "_parser", None)
    if parser is not None:
        parser.error(message)  # prints usage and the message, exits 2
    return UsageError(message)


def _grace(ctx: Ctx) -> float:
    return float(ctx.config.general.stop_grace)


def _safe(text: str) -> str:
    from storage.text import terminal_safe

    return terminal_safe(text, keep_colour=False).replace("\n", " ")


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def _took(session: Session) -> str:
    from storage.units import format_duration

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


async def _last_system_line(store: Store, session_id: int) -> str:
    lines = await store.output.tail(session_id, 1, "system")
    text = lines[-1].text if lines else "unknown reason"
    return _safe(text.removeprefix("could not start: "))


def _capture_redaction(ctx: Ctx) -> list[str] | None:
    from home.config import capture_patterns

    return capture_patterns(ctx.config.section("redaction"))


async def _session_json(ctx: Ctx, store: Store, session: Session) -> dict[str, Any]:
    """A session as ``show --json`` gives it: its fields, its runs, and whether its
    supervisor is alive (what ``--json`` of the control commands prints)."""
    from runner.control import is_alive

    runs = await store.runs.list(session.id)
    data = session.to_json()
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
    data["supervisor_alive"] = is_alive(ctx.paths, session.id)
    data["queue_position"] = (await store.queue.positions()).get(session.id)
    data["group"] = (await store.queue.groups([session.id])).get(session.id)
    return data
