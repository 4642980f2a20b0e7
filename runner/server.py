"""The supervisor's control socket: one JSON line in, one JSON line out.

Requests (``op`` plus arguments) and replies (``ok`` plus data, or ``error``):

- ``{"op": "status"}`` -> pids, mode, paused, buffered and dropped bytes, health
- ``{"op": "input", "text": "y", "eol": true}`` -> the text (and a line end: ``\\n``
  on a pipe, ``\\r`` on a terminal, like pressing Enter) goes to the command
- ``{"op": "stop", "grace": 5}`` -> SIGTERM to the process group, SIGKILL after
  ``grace`` seconds; the reply comes once the end of the run is recorded
- ``{"op": "pause"}`` / ``{"op": "continue"}`` -> SIGSTOP / SIGCONT to the group
- ``{"op": "resize", "cols": 120, "rows": 40}`` -> the terminal's size (pty mode)

The socket is created 0600 inside a 0700 directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import log
from .errors import ControlError
from .locations import prepare_socket_dir

if TYPE_CHECKING:
    from .supervisor import Supervisor

REQUEST_LIMIT = 1024 * 1024


class ControlServer:
    def __init__(self, supervisor: Supervisor, path: Path) -> None:
        self.sup = supervisor
        self.path = path
        self._server: asyncio.AbstractServer | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._ops = asyncio.Lock()  # pause/continue/stop one at a time

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

    async def close(self) -> None:
        """Stop accepting; let requests waiting for the end (stop) get their reply."""
        if self._server is None:
            return
        self._server.close()
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
                line = await reader.readline()
                request = json.loads(line) if line.strip() else {}
                if not isinstance(request, dict):
                    raise ControlError("a request is a JSON object")
                reply = await self._dispatch(request)
            except (ControlError, ValueError) as e:
                reply = {"ok": False, "error": str(e)}
            except Exception as e:  # noqa: BLE001 - a request must never kill the supervisor
                log.write_entry(
                    self.sup.log_path,
                    f"control request failed: {e!r}",
                    session_id=self.sup.sid,
                    exc=e,
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
        sup = self.sup
        if op == "status":
            return {"ok": True, **self.status()}
        if op == "input":
            text = req.get("text", "")
            if not isinstance(text, str):
                raise ControlError("input text must be a string")
            data = text.encode()
            if req.get("eol", True):
                data += b"\r" if sup.spec.mode == "pty" else b"\n"
            sup.send_input(data)
            return {"ok": True}
        if op == "stop":
            grace = float(req.get("grace", sup.spec.grace))
            async with self._ops:
                sup.request_stop("user", max(0.0, grace))
            await sup.finished.wait()
            return {"ok": True, "status": sup.final_status}
        if op in ("pause", "continue"):
            async with self._ops:
                if sup.finished.is_set() or sup.stop_reason is not None:
                    raise ControlError("the command is ending")
                if sup.ended_at is not None:
                    raise ControlError("the command has already exited")
                await sup.set_paused(op == "pause")
            return {"ok": True, "paused": sup.paused}
        if op == "resize":
            cols, rows = int(req["cols"]), int(req["rows"])
            if not (0 < cols < 10000 and 0 < rows < 10000):
                raise ControlError(f"a terminal cannot be {cols}x{rows}")
            done = sup.child is not None and sup.child.set_window_size(cols, rows)
            return {"ok": True, "resized": bool(done)}
        raise ControlError(f"unknown request {op!r}")

    def status(self) -> dict[str, Any]:
        sup = self.sup
        child = sup.child
        return {
            "supervisor_pid": os.getpid(),
            "pid": child.pid if child else None,
            "mode": sup.spec.mode,
            "paused": sup.paused,
            "exited": sup.ended_at is not None,
            "buffered_bytes": sup.buffer.pending,
            "spilled_bytes": sup.buffer.spill.data_bytes if sup.buffer.spill else 0,
            "dropped_bytes": sup.buffer.dropped,
            "database_ok": sup.healthy,
            "database_error": sup.last_db_error or None,
        }
