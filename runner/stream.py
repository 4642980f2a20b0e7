"""The supervisor's streaming channel: attached terminals and live views.

A connection to the control socket whose first request is ``{"op": "attach"}`` or
``{"op": "watch"}`` (runner/server.py) stays open and switches to frames: one type
byte, a 4-byte big-endian length, the payload.

From the supervisor:

- ``S`` a fresh screen: VT bytes that draw the terminal as the supervisor's emulator
  has it, with the modes the program turned on (pty), or the recent output (pipe);
  the client clears its terminal first. Sent on attach and whenever the client fell
  behind (instead of the backlog).
- ``O`` output, the bytes as the command wrote them.
- ``W`` (watchers only) new output has been written to the database: look again.
- ``E`` the run has ended: JSON ``{"status": ...}``; the connection then closes.

From an attached client: ``I`` input bytes (to the pty, or lines to a pipe's stdin),
``R`` its size as JSON ``{"cols": C, "rows": R}``.

Each subscriber has a bounded queue. The command and the capture never wait for a
client: output that does not fit marks the client *behind*, its queue is dropped,
and once it reads again it gets one fresh screen. The one that typed last (or
attached last) sets the terminal's size.

A terminal's queue is small (``FLOOD_LIMIT``): while output floods, an attached
terminal gets the screen at most every ``WRITE_GAP`` instead of every byte (as tmux
does), so neither the client nor the terminal drawing it has to parse the flood on
the CPUs the command needs. The screen is read off the event loop (the emulator may
be behind the capture: waiting for it there would slow the capture down to its
pace); the client streams output again after a screen no output came during.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from .errors import ControlError
from .frames import END, HEADER, INPUT, OUTPUT, RESIZE, SCREEN, WAKE, check_length, frame
from .frames import FrameReader as FrameReader  # the codec: runner/frames.py

QUEUE_LIMIT = 1024 * 1024  # bytes a subscriber may have waiting before it is behind
FLOOD_LIMIT = 64 * 1024  # the same for an attached terminal: more is a flood (screens)
SOCKET_HIGH_WATER = 256 * 1024
PIPE_RECENT = 64 * 1024  # bytes of a pipe session's output a fresh screen shows
# A client is written at most this often while output streams: a flood reaches it in
# a few big writes, not one per read of the command's output (each write wakes the
# client, its terminal and whatever draws it, on the CPUs the command needs). The
# first write after a pause goes at once (a prompt), and so does everything for a moment
# after someone typed (``ECHO_WINDOW``: the echo, however fast the keys come).
WRITE_GAP = 0.02
ECHO_WINDOW = 0.25


async def read_frame(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """The next frame, or None at the end of the stream."""
    try:
        head = await reader.readexactly(HEADER.size)
        kind, n = HEADER.unpack(head)
        check_length(n)
        return kind, await reader.readexactly(n)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


class Streamable(Protocol):
    """What the streams ask of the supervisor (part of ``server.Controllable``)."""

    def screen(self, *, styled: bool, vt: bool) -> dict[str, Any]: ...

    def status(self) -> dict[str, Any]: ...

    def send_keys(self, data: bytes, *, record: bool) -> None:
        """Raw bytes for the command (a pty: as typed; a pipe: its stdin)."""
        ...

    def resize(self, cols: int, rows: int) -> bool: ...

    def note(self, line: str) -> None:
        """Record a system line in the session, in order with the output."""
        ...


class Subscriber:
    """One open stream: its queue, and whether it fell behind."""

    def __init__(
        self, writer: asyncio.StreamWriter, *, watch: bool, limit: int = QUEUE_LIMIT
    ) -> None:
        self.writer = writer
        self.watch = watch  # a live view: wake-ups only
        self.limit = limit  # bytes waiting before it is behind
        self.size: tuple[int, int] | None = None
        self.queue: deque[bytes] = deque()
        self.queued = 0
        self.behind = False  # owes a fresh screen instead of its backlog
        self.ready = asyncio.Event()
        self.ended: bytes | None = None  # the END frame, once the run has ended
        self.last_write = float("-inf")  # loop time of the last write (``WRITE_GAP``)
        self.quick_until = float("-inf")  # written at once until then (``ECHO_WINDOW``)
        self.hurry = asyncio.Event()  # cuts short a wait for the gap

    def push(self, data: bytes) -> None:
        if self.behind:
            return  # the fresh screen it will get has this in it
        if self.queued + len(data) > self.limit:
            self.queue.clear()
            self.queued = 0
            self.behind = True
        else:
            self.queue.append(frame(OUTPUT, data))
            self.queued += len(data)
        self.ready.set()

    def wake(self) -> None:
        if not self.queue:  # one pending wake-up is as good as several
            self.queue.append(frame(WAKE))
        self.ready.set()

    def end(self, status: str | None) -> None:
        self.ended = frame(END, json.dumps({"status": status}).encode())
        self.ready.set()
        self.hurry.set()

    def typed(self, now: float) -> None:
        """Someone typed: the echo goes out at once, a wait for the gap ends."""
        self.quick_until = now + ECHO_WINDOW
        self.hurry.set()


class StreamHub:
    """Everyone subscribed to one supervisor's output."""

    def __init__(self, target: Streamable) -> None:
        self.target = target
        self.subscribers: set[Subscriber] = set()
        self.size_owner: Subscriber | None = None
        self._recent: deque[bytes] = deque()  # pipe sessions: the last PIPE_RECENT bytes
        self._recent_bytes = 0
        self._terminal: bool | None = None
        self._seen = 0  # bytes of output so far (a screen read meanwhile is not current)
        self._sizes = 0  # sizes claimed so far (the screen changes with them too)
        self._drawn: tuple[tuple[int, int], asyncio.Future[bytes]] | None = None
        self._watchers = 0  # live views subscribed (``watched``)

    # -- what the supervisor calls ------------------------------------------------------
    def output_hook(self, then: Callable[[str, bytes], None]) -> Callable[[str, bytes], None]:
        """A capture ``on_output`` hook: ``then`` (the kind's: it feeds the emulator
        first, so a fresh screen already holds this read), then every subscriber."""

        def on_output(stream: str, data: bytes) -> None:
            then(stream, data)
            self._seen += len(data)
            if not self._is_terminal():
                self._remember(data)
            for sub in self.subscribers:
                if not sub.watch:
                    sub.push(data)

        return on_output

    def watched(self) -> bool:
        """A live view watches: the capture and the writer hurry (they ask at each read
        and write; what it shows must be stored first)."""
        return self._watchers > 0

    def written(self) -> None:
        """Output was written to the database: wake the live views."""
        for sub in self.subscribers:
            if sub.watch:
                sub.wake()

    def end(self, status: str | None) -> None:
        for sub in self.subscribers:
            sub.end(status)

    def typed(self) -> None:
        """Input went to the command: every client sees its echo at once."""
        now = asyncio.get_running_loop().time()
        for sub in self.subscribers:
            sub.typed(now)

    # -- one connection -----------------------------------------------------------------
    async def serve(
        self,
        request: dict[str, Any],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer_pid: int | None,
    ) -> None:
        """Serve a stream until the client leaves or the run ends."""
        watch = request.get("op") == "watch"
        terminal = self._is_terminal()
        sub = Subscriber(writer, watch=watch, limit=FLOOD_LIMIT if terminal else QUEUE_LIMIT)
        hello: dict[str, Any] = {"ok": True, "terminal": terminal}
        if not watch:
            sub.size = _size(request)
            hello["size"] = self._claim_size(sub) if terminal else None
            sub.queue.append(frame(SCREEN, self._fresh_screen()))
        # Same step as the screen above: nothing is fed in between, nothing missed.
        self.subscribers.add(sub)
        self._watchers += watch
        writer.transport.set_write_buffer_limits(high=SOCKET_HIGH_WATER)  # type: ignore[attr-defined]
        writer.write(json.dumps(hello).encode() + b"\n")
        sub.ready.set()
        who = _who(request, peer_pid)
        started = time.monotonic()
        if not watch:
            size = f", terminal {sub.size[0]}x{sub.size[1]}" if sub.size else ""
            self.target.note(f"tether: attached: {who}{size}")
        pump = asyncio.create_task(self._pump(sub))
        inputs = asyncio.create_task(
            self._take_input(sub, reader, record=bool(request.get("record_input")))
        )
        try:
            # The client left (its input ended), or the run ended (the pump sent END),
            # or the client cannot be written to any more.
            await asyncio.wait({pump, inputs}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.subscribers.discard(sub)
            self._watchers -= watch
            if self.size_owner is sub:
                self.size_owner = None
            for task in (pump, inputs):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await task
            if not watch:
                took = time.monotonic() - started
                self.target.note(f"tether: detached: {who} after {took:.0f}s")

    async def _take_input(
        self, sub: Subscriber, reader: asyncio.StreamReader, *, record: bool
    ) -> None:
        while True:
            got = await read_frame(reader)
            if got is None:
                return
            kind, payload = got
            if sub.watch:
                continue
            if kind == INPUT:
                if self.size_owner is not sub and sub.size is not None:
                    self._claim_size(sub)
                with contextlib.suppress(ControlError):  # it exited: the END frame says so
                    self.target.send_keys(payload, record=record)
                self.typed()
            elif kind == RESIZE:
                with contextlib.suppress(ValueError, ControlError):
                    sub.size = _size(json.loads(payload))
                    if self.size_owner in (sub, None):
                        self._claim_size(sub)

    async def _pump(self, sub: Subscriber) -> None:
        """Write what is queued for ``sub``; a fresh screen when it fell behind."""
        writer = sub.writer
        loop = asyncio.get_running_loop()
        while True:
            await sub.ready.wait()
            now = loop.time()
            wait = sub.last_write + WRITE_GAP - now
            # (a flood's screens keep the gap even just after a key: one is as good as many)
            # A live view's wake-ups go at once: the writer paces them (runner/writer.py).
            quick = (now < sub.quick_until and not sub.behind) or sub.watch
            if wait > 0 and not quick and not sub.hurry.is_set():
                with contextlib.suppress(TimeoutError):  # what comes meanwhile goes with it
                    await asyncio.wait_for(sub.hurry.wait(), wait)
            sub.hurry.clear()
            sub.ready.clear()
            if sub.behind:
                sub.queue.clear()
                sub.queued = 0
                screen, current = await self._screen_now()
                sub.queue.clear()  # (pushes while behind are dropped; wakes may not be)
                sub.queue.append(frame(SCREEN, screen))
                if current:  # the output from here on follows on from it
                    sub.behind = False
                else:  # output came while it was read: another screen after the gap
                    sub.ready.set()
            chunks = list(sub.queue)
            sub.queue.clear()
            sub.queued = 0
            if sub.ended is not None:
                chunks.append(sub.ended)
            if chunks:
                sub.last_write = loop.time()
                writer.write(b"".join(chunks))
                await writer.drain()
            if sub.ended is not None:
                return

    # -- helpers ------------------------------------------------------------------------
    def _is_terminal(self) -> bool:
        if self._terminal is None:
            self._terminal = self.target.status().get("mode") != "pipe"
        return self._terminal

    def _claim_size(self, sub: Subscriber) -> list[int] | None:
        """``sub`` sets the terminal's size now."""
        self.size_owner = sub
        self._sizes += 1
        if sub.size is None:
            return None
        with contextlib.suppress(ControlError):
            self.target.resize(*sub.size)
        return list(sub.size)

    async def _screen_now(self) -> tuple[bytes, bool]:
        """A fresh screen read off the loop, and whether it is current (no output or
        size came while it was read). Subscribers asking meanwhile share one read."""
        if not self._is_terminal():
            return self._fresh_screen(), True
        key = (self._seen, self._sizes)
        if self._drawn is None or self._drawn[0] != key:
            read = asyncio.ensure_future(asyncio.to_thread(self._fresh_screen))
            self._drawn = (key, read)
        screen = await asyncio.shield(self._drawn[1])
        return screen, key == (self._seen, self._sizes)

    def _fresh_screen(self) -> bytes:
        if not self._is_terminal():
            recent = b"".join(self._recent)[-PIPE_RECENT:]
            cut = recent.find(b"\n") + 1 if len(recent) == PIPE_RECENT else 0
            return recent[cut:]
        try:
            import base64

            return base64.b64decode(self.target.screen(styled=False, vt=True)["vt"])
        except ControlError:
            return b""  # no emulator: live output only

    def _remember(self, data: bytes) -> None:
        self._recent.append(data)
        self._recent_bytes += len(data)
        while self._recent_bytes - len(self._recent[0]) >= PIPE_RECENT:
            self._recent_bytes -= len(self._recent.popleft())


def _size(req: dict[str, Any]) -> tuple[int, int] | None:
    cols, rows = req.get("cols"), req.get("rows")
    if cols is None or rows is None:
        return None
    cols, rows = int(cols), int(rows)
    if not (0 < cols < 10000 and 0 < rows < 10000):
        raise ValueError(f"a terminal cannot be {cols}x{rows}")
    return cols, rows


def _who(request: dict[str, Any], peer_pid: int | None) -> str:
    """Who attached, for the session's system line (the pid is the kernel's word)."""
    who = str(request.get("who") or "someone")[:120]
    who = "".join(c for c in who if c.isprintable())
    return f"{who} (pid {peer_pid})" if peer_pid else who
