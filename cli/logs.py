"""``tether logs``: a session's output, whole, its tail, or followed until it ends.

Escape sequences that could act on the terminal are neutralised unless ``--raw``;
lines sent to the command are marked. Nothing here imports Textual."""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import time

from .common import FOLLOW_POLL, _exit_status, _runner_errors, _session_store, _usage
from .context import EXIT_OK, Ctx

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

    from runner.locations import RuntimePaths
    from storage import Line, Session, Store
    from storage.engine.reader import Reader

LIVENESS_EVERY = 1.0  # seconds between looks at a followed session's supervisor


class _LogOptions:
    def __init__(
        self,
        stream: str | None = None,
        timestamps: bool = False,
        raw: bool = False,
        tail: int | None = None,
        json: bool = False,
    ) -> None:
        self.stream, self.timestamps, self.raw, self.tail = stream, timestamps, raw, tail
        self.json = json


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
    if opts.json:
        return _json_line(line, opts)
    data = _display(line.raw, opts.raw)
    if _marked(line.stream, opts):
        data = INPUT_MARK + data
    if opts.timestamps:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(line.at))
        data = f"{stamp}.{int(line.at % 1 * 1000):03d} ".encode() + data
    return data + b"\n"


def _json_line(line: Line, opts: _LogOptions) -> bytes:
    """``logs --json``: one object per line. ``line`` is 1-based as ``search --json``
    gives it; ``text`` has no escape sequences unless ``--raw``."""
    from storage.text import terminal_safe

    text = line.text if opts.raw else terminal_safe(line.text, keep_colour=False)
    record = {"line": line.number + 1, "run": line.run, "stream": line.stream, "at": line.at}
    record["text"] = text
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"


async def _dump(store: Store, session_id: int, opts: _LogOptions, out: BinaryIO) -> None:
    """All of a session's output, chunk by chunk (fast for big sessions)."""
    from storage.engine.output import CHUNK_BYTES

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
    store: Store,
    session_id: int,
    opts: _LogOptions,
    out: BinaryIO,
    start: int = 0,
    paths: RuntimePaths | None = None,
) -> Session:
    """Print lines from ``start`` on as they come, until the session has ended (its
    end is recorded only after all of its output). With ``paths``, a session whose
    supervisor dies meanwhile (kill -9) is noticed within about ``LIVENESS_EVERY``
    seconds: ``reconcile`` marks it lost, and its last line says so."""
    next_line = start
    checked = time.monotonic()
    while True:
        if paths is not None and time.monotonic() - checked >= LIVENESS_EVERY:
            from runner.reconcile import reconcile

            checked = time.monotonic()
            if (await store.sessions.require(session_id)).live:
                await reconcile(store, paths, {session_id})
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
        import asyncio

        await asyncio.sleep(FOLLOW_POLL)


@_runner_errors
def cmd_logs(ctx: Ctx) -> int:
    args = ctx.args
    if args.tail is not None and args.tail < 0:
        raise _usage(ctx, "--tail takes a number of lines (0 or more)")
    opts = _LogOptions(args.stream, args.timestamps, args.raw, args.tail, args.json)
    out = sys.stdout.buffer
    rendered = getattr(args, "rendered", False)  # a pty session as seen: cli/screen.py

    async def show(store: Store | Reader) -> int:
        session = await store.sessions.resolve(args.id)
        if rendered:
            from .screen import print_rendered

            return await print_rendered(ctx, store, session)  # type: ignore[arg-type]
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
            if opts.timestamps or opts.json:
                async for line in store.output.iter_lines(session.id, stream=opts.stream):
                    out.write(_line_bytes(line, opts))
                out.flush()
            else:
                await _dump(store, session.id, opts, out)  # type: ignore[arg-type]
        if args.follow:
            final = await _follow(store, session.id, opts, out, start, ctx.paths)  # type: ignore[arg-type]
            return _exit_status(final)  # its command's, as `run -f`; lost: 1
        return EXIT_OK

    if not args.follow and not rendered:
        return ctx.read(show)  # one read: no event loop (storage.engine.reader)

    async def go() -> int:
        async with _session_store(ctx) as store:
            return await show(store)

    return ctx.run(go)
