"""The supervisor's control socket: one JSON line in, one JSON line out.

Requests (``op`` plus arguments) and replies (``ok`` plus data, or ``error``):

- ``{"op": "status"}`` -> pids, mode, paused, buffered and dropped bytes, health
- ``{"op": "input", "text": "y", "eol": true}`` -> the text (and a line end: ``\\n``
  on a pipe, ``\\r`` on a terminal, like pressing Enter) goes to the command
- ``{"op": "stop", "grace": 5}`` -> SIGTERM to the process group, SIGKILL after
  ``grace`` seconds; the reply comes once the end of the run is recorded
- ``{"op": "pause"}`` / ``{"op": "continue"}`` -> SIGSTOP / SIGCONT to the group
- ``{"op": "resize", "cols": 120, "rows": 40}`` -> the terminal's size (pty mode)
- ``{"op": "screen", "styled": false, "vt": false}`` -> the emulated screen of a pty
  session: ``cols``, ``rows``, ``cursor``, ``alt_screen``, ``modes``, ``title``,
  ``lines``; ``styled`` adds styled runs, ``vt`` the bytes that redraw it (base64)
- ``{"op": "attach", "cols": 120, "rows": 40, "who": "..."}`` and ``{"op": "watch"}``
  -> one JSON line (``ok``, ``terminal``), then the connection carries frames both
  ways: an attached terminal, or a live view's wake-ups (runner/stream.py)

The server knows nothing of the supervisor but ``Controllable``, the few things a
client may ask of it. The client side is runner/client.py. The socket is created
0600 inside a 0700 directory, and every connection's peer is checked (SO_PEERCRED):
only the session's own user (or root) is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import struct
from pathlib import Path
from typing import Any, Protocol

from . import log
from .errors import ControlError
from .locations import prepare_socket_dir
from .stream import StreamHub

REQUEST_LIMIT = 1024 * 1024


class Controllable(Protocol):
    """What the control server may ask of the process it serves (the supervisor)."""

    def status(self) -> dict[str, Any]:
        """The status reply's fields (without ``ok``)."""
        ...

    def send_input(self, text: str, *, eol: bool) -> None:
        """Send ``text`` (and with ``eol`` a line end) to the command; raises
        ``ControlError`` when it takes no more input."""
        ...

    def request_stop(self, why: str, grace: float) -> None:
        """Begin ending the command; SIGKILL after ``grace`` seconds."""
        ...

    async def wait_finished(self) -> str | None:
        """Wait until the end of the run is recorded; its final status."""
        ...

    async def set_paused(self, paused: bool) -> bool:
        """Pause or continue the command; raises ``ControlError`` when it is ending."""
        ...

    def resize(self, cols: int, rows: int) -> bool:
        """Set the terminal's size; False where that means nothing."""
        ...

    def screen(self, *, styled: bool, vt: bool) -> dict[str, Any]:
        """The emulated screen (``runner.screen.state.screen_state``); raises
        ``ControlError`` where there is none (a pipe session)."""
        ...

    def send_keys(self, data: bytes, *, record: bool) -> None:
        """Raw bytes an attached client typed; ``record`` keeps them as input."""
        ...

    def note(self, line: str) -> None:
        """Record a system line (attached, detached), in order with the output."""
        ...


class ControlServer:
    def __init__(
        self, target: Controllable, path: Path, *, log_path: Path, session_id: int, grace: float
    ) -> None:
        self.target = target
        self.path = path
        self.log_path = log_path
        self.sid = session_id
        self.grace = grace  # for a stop request that names none
        self._server: asyncio.AbstractServer | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._ops = asyncio.Lock()  # pause/continue/stop one at a time
        self._bound: tuple[int, int] | None = None  # the socket file we made
        self.streams = StreamHub(target)  # attached terminals and live views

    async def start(self) -> None:
        prepare_socket_dir(self.path)
        # We hold the session's lock, so a socket file left here is stale.
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._handle, path=str(self.path), limit=REQUEST_LIMIT
            )
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        st = os.stat(self.path)
        self._bound = (st.st_dev, st.st_ino)

    def still_there(self) -> bool:
        """Is our socket still the file at our path (not removed with the runtime dir)?"""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        return (st.st_dev, st.st_ino) == self._bound

    async def rebind(self) -> None:
        """Listen on a new socket at our path (its directory made again, private);
        connections already open go on."""
        if self._server is not None:
            self._server.close()
        await self.start()

    async def close(self) -> None:
        """Stop accepting; let requests waiting for the end (stop) get their reply."""
        if self._server is None:
            return
        self._server.close()
        status = None
        with contextlib.suppress(TimeoutError):  # the end is recorded by now
            status = await asyncio.wait_for(self.target.wait_finished(), 1.0)
        self.streams.end(status)
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=2.0)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            try:
                peer_pid = _check_peer(writer)
                line = await reader.readline()
                request = json.loads(line) if line.strip() else {}
                if not isinstance(request, dict):
                    raise ControlError("a request is a JSON object")
                if request.get("op") in ("attach", "watch"):
                    await self.streams.serve(request, reader, writer, peer_pid)
                    return
                reply = await self._dispatch(request)
            except (ControlError, ValueError) as e:
                reply = {"ok": False, "error": str(e)}
            except Exception as e:  # noqa: BLE001 - a request must never kill the supervisor
                log.write_entry(
                    self.log_path, f"control request failed: {e!r}", session_id=self.sid, exc=e
                )
                reply = {"ok": False, "error": f"the supervisor could not do that: {e}"}
            writer.write(json.dumps(reply).encode() + b"\n")
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        finally:
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    async def _dispatch(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        target = self.target
        if op == "status":
            return {"ok": True, **target.status()}
        if op == "input":
            text = req.get("text", "")
            if not isinstance(text, str):
                raise ControlError("input text must be a string")
            target.send_input(text, eol=bool(req.get("eol", True)))
            self.streams.typed()  # attached clients see the echo at once
            return {"ok": True}
        if op == "stop":
            grace = float(req.get("grace", self.grace))
            async with self._ops:
                target.request_stop("user", max(0.0, grace))
            return {"ok": True, "status": await target.wait_finished()}
        if op in ("pause", "continue"):
            async with self._ops:
                paused = await target.set_paused(op == "pause")
            return {"ok": True, "paused": paused}
        if op == "resize":
            cols, rows = int(req["cols"]), int(req["rows"])
            if not (0 < cols < 10000 and 0 < rows < 10000):
                raise ControlError(f"a terminal cannot be {cols}x{rows}")
            return {"ok": True, "resized": bool(target.resize(cols, rows))}
        if op == "screen":
            state = target.screen(styled=bool(req.get("styled")), vt=bool(req.get("vt")))
            return {"ok": True, **state}
        raise ControlError(f"unknown request {op!r}")


_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def _check_peer(writer: asyncio.StreamWriter) -> int | None:
    """The connecting process's pid; ``ControlError`` unless it runs as our user (or
    root). The socket's 0600 mode says the same; this holds even if it is loosened."""
    sock = writer.get_extra_info("socket")
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return None
    pid, uid, _gid = _PEERCRED.unpack(
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    )
    if uid not in (os.getuid(), 0):
        raise ControlError(f"refused: the session belongs to another user (peer uid {uid})")
    return pid
