"""Input for the command: what ``send`` writes to its stdin pipe or its terminal.

Input is queued and written as the command takes it (the event loop waits for the fd
to be writable), so a command that reads slowly never blocks the supervisor. Once
the command stops reading (the write fails) or its output has ended, the input is
closed for good; closing it is the session kind's business (a pipe is closed, a
terminal's fd is shared with its output and closed with that).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from .errors import ControlError


class CommandInput:
    """The queue of bytes waiting for the command to read them."""

    def __init__(self, fd: int, close: Callable[[int], None]) -> None:
        self.fd = fd
        self.closed = False
        self._close_fd = close
        self._pending = bytearray()
        self._writer_on = False

    def send(self, data: bytes) -> None:
        """Queue ``data``. Raises ``ControlError`` when the input is closed."""
        if self.closed:
            raise ControlError("the command's input is closed")
        self._pending += data
        self._pump()
        if self.closed:
            raise ControlError("the command's input is closed (it stopped reading)")

    def _pump(self) -> None:
        while self._pending:
            try:
                n = os.write(self.fd, self._pending)
            except BlockingIOError:
                break
            except OSError:
                self.close()
                return
            del self._pending[:n]
        want = bool(self._pending)
        if want != self._writer_on:
            loop = asyncio.get_running_loop()
            if want:
                loop.add_writer(self.fd, self._pump)
            else:
                loop.remove_writer(self.fd)
            self._writer_on = want

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._pending.clear()
        if self._writer_on:
            asyncio.get_running_loop().remove_writer(self.fd)
            self._writer_on = False
        self._close_fd(self.fd)
