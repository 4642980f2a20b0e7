"""The supervisor's bounded in-memory output buffer.

Output is read as fast as the command writes it and waits here for the next batched
write to SQLite. While the database is healthy a full buffer simply stops the reading
(the pipe then holds the command back; nothing is lost). While the database cannot be
written, reading goes on so the command is never stalled, and bytes beyond the bound
are dropped: the exact count, stream and time span of each such gap is kept in the
buffer in its place, and becomes a system line once the database works again.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

PIECE_MAX = 1024 * 1024  # coalesce reads of one stream up to this size


@dataclass
class Piece:
    stream: str
    data: bytearray
    at: float


@dataclass
class Gap:
    stream: str
    nbytes: int
    first_at: float
    last_at: float

    def describe(self, reason: str) -> str:
        start = time.strftime("%H:%M:%S", time.localtime(self.first_at))
        end = time.strftime("%H:%M:%S", time.localtime(self.last_at))
        span = start if start == end else f"{start} to {end}"
        return (
            f"tether: {self.nbytes} bytes of {self.stream} were lost here ({span}): the "
            f"database could not be written ({reason}) and the buffer was full"
        )


Item = Piece | Gap


class OutputBuffer:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0  # bytes held in pieces
        self.dropped = 0  # bytes dropped over the buffer's life
        self._items: deque[Item] = deque()

    def __bool__(self) -> bool:
        return bool(self._items)

    @property
    def full(self) -> bool:
        return self.size >= self.limit

    def add(self, stream: str, data: bytes, at: float, *, may_drop: bool) -> int:
        """Keep ``data``; with ``may_drop``, drop whatever does not fit under the bound
        and record the gap. Returns the number of bytes dropped."""
        if not may_drop or self.size + len(data) <= self.limit:
            self._keep(stream, data, at)
            return 0
        room = max(0, self.limit - self.size)
        if room:
            self._keep(stream, data[:room], at)
        lost = len(data) - room
        last = self._items[-1] if self._items else None
        if isinstance(last, Gap) and last.stream == stream:
            last.nbytes += lost
            last.last_at = at
        else:
            self._items.append(Gap(stream, lost, at, at))
        self.dropped += lost
        return lost

    def _keep(self, stream: str, data: bytes, at: float) -> None:
        last = self._items[-1] if self._items else None
        if isinstance(last, Piece) and last.stream == stream and len(last.data) < PIECE_MAX:
            last.data += data
        else:
            self._items.append(Piece(stream, bytearray(data), at))
        self.size += len(data)

    def take(self, max_bytes: int) -> list[Item]:
        """Remove items from the front, about ``max_bytes`` worth (at least one)."""
        out: list[Item] = []
        taken = 0
        while self._items and (not out or taken < max_bytes):
            item = self._items.popleft()
            if isinstance(item, Piece):
                self.size -= len(item.data)
                taken += len(item.data)
            out.append(item)
        return out

    def give_back(self, items: list[Item]) -> None:
        """Put items taken by ``take`` back at the front (their write failed)."""
        for item in reversed(items):
            self._items.appendleft(item)
            if isinstance(item, Piece):
                self.size += len(item.data)
