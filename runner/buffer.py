"""The supervisor's bounded output buffer: memory first, then a spill file on disk.

Output is read as fast as the command writes it and waits here for the next batched
write to SQLite. A burst larger than the memory bound goes to an anonymous spill file
beside the database (written like ``tee`` writes its file), so a chatty command is not
slowed to the database's pace; once the spill has been written to SQLite it is
emptied and memory is used again. Order is kept: while the spill holds anything, new
output goes behind it.

When everything is full: while the database is healthy, capture stops reading
(the pipe then holds the command back; nothing is lost). While the database cannot be
written, reading goes on so the command is never stalled, and bytes beyond the bound
are dropped: the exact count, stream and time span of each such gap is kept in its
place and becomes a system line once the database works again.

The spill file may itself hit a full disk. It then takes nothing more ("broken"), but
what it holds is still read back, and what could not go in becomes gaps placed right
after it. ``dropped`` counts every byte ever lost, wherever it was lost, so the
supervisor can report the total even when no gap line could be written.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import time
from collections import deque
from dataclasses import dataclass

PIECE_MAX = 1024 * 1024  # coalesce reads of one stream up to this size
STREAMS = ("stdout", "stderr", "system", "input")
_HEAD = struct.Struct("<BBdQ")  # kind (0 piece, 1 gap), stream, time, length or nbytes


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


class SpillFile:
    """An anonymous file (unlinked at once: nothing is left behind, even after a crash)
    holding framed pieces and gaps in arrival order."""

    def __init__(self, directory: str, limit: int) -> None:
        self.limit = limit
        try:
            self.fd = os.open(directory, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
        except (OSError, AttributeError):
            fd, name = tempfile.mkstemp(dir=directory, prefix=".tether-spill-")
            os.unlink(name)
            self.fd = fd
        self.write_pos = 0
        self.read_pos = 0
        self.data_bytes = 0  # output bytes (not headers) not yet read back
        self.last_gap_at: int | None = None  # file offset of a trailing gap frame
        self.broken = False  # a write failed (the disk is full): append nothing more

    @property
    def active(self) -> bool:
        return self.write_pos > self.read_pos

    def fits(self, n: int) -> bool:
        return self.write_pos + _HEAD.size + n <= self.limit

    def append(self, stream: str, data: bytes, at: float) -> None:
        head = _HEAD.pack(0, STREAMS.index(stream), at, len(data))
        written = os.pwritev(self.fd, [head, data], self.write_pos)
        if written != len(head) + len(data):
            raise OSError("short write to the spill file")
        self.write_pos += written
        self.data_bytes += len(data)
        self.last_gap_at = None

    def add_gap(self, stream: str, nbytes: int, at: float) -> None:
        """Record dropped bytes, merged into a gap frame right before if there is one."""
        if self.last_gap_at is not None:
            kind, code, first, n = _HEAD.unpack(os.pread(self.fd, _HEAD.size, self.last_gap_at))
            if STREAMS[code] == stream:
                os.pwrite(self.fd, _HEAD.pack(1, code, first, n + nbytes), self.last_gap_at)
                os.pwrite(self.fd, struct.pack("<d", at), self.last_gap_at + _HEAD.size)
                return
        frame = _HEAD.pack(1, STREAMS.index(stream), at, nbytes) + struct.pack("<d", at)
        os.pwrite(self.fd, frame, self.write_pos)
        self.last_gap_at = self.write_pos
        self.write_pos += len(frame)

    def read(self, max_bytes: int) -> list[Item]:
        """The oldest frames, about ``max_bytes`` of output, same-stream pieces merged."""
        out: list[Item] = []
        taken = 0
        while self.read_pos < self.write_pos and (not out or taken < max_bytes):
            kind, code, at, n = _HEAD.unpack(os.pread(self.fd, _HEAD.size, self.read_pos))
            pos = self.read_pos + _HEAD.size
            stream = STREAMS[code]
            if kind == 1:
                (last,) = struct.unpack("<d", os.pread(self.fd, 8, pos))
                out.append(Gap(stream, n, at, last))
                self.read_pos = pos + 8
                continue
            data = os.pread(self.fd, n, pos)
            self.read_pos = pos + n
            self.data_bytes -= n
            taken += n
            prev = out[-1] if out else None
            if isinstance(prev, Piece) and prev.stream == stream and len(prev.data) < PIECE_MAX:
                prev.data += data
            else:
                out.append(Piece(stream, bytearray(data), at))
        if self.read_pos >= self.write_pos:  # all read back: start over, give the space back
            self.read_pos = self.write_pos = 0
            self.last_gap_at = None
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
        return out

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class OutputBuffer:
    def __init__(self, limit: int, spill: SpillFile | None = None) -> None:
        self.limit = limit  # bytes in memory
        self.size = 0  # bytes held in memory pieces
        self.dropped = 0  # bytes dropped over the buffer's life
        self.spill = spill
        self.spill_error: str | None = None
        self._items: deque[Item] = deque()
        self._after_spill: list[Gap] = []  # lost while a broken spill is read back

    def __bool__(self) -> bool:
        return (
            bool(self._items)
            or bool(self._after_spill)
            or (self.spill is not None and self.spill.active)
        )

    @property
    def pending(self) -> int:
        """Output bytes waiting to be written, in memory and spilled."""
        return self.size + (self.spill.data_bytes if self.spill is not None else 0)

    @property
    def full(self) -> bool:
        if self.spill is not None and self.spill.active:
            return self.spill.broken or not self.spill.fits(0)
        return self.size >= self.limit and (self.spill is None or not self.spill.fits(0))

    @property
    def drained_enough(self) -> bool:
        """Room again after being full: reading may resume."""
        if self.spill is not None and self.spill.active:
            return not self.spill.broken and self.spill.write_pos < self.spill.limit // 2
        return self.size < self.limit // 2

    def add(self, stream: str, data: bytes, at: float, *, may_drop: bool) -> int:
        """Keep ``data``; with ``may_drop``, drop whatever does not fit under the bounds
        and record the gap. Returns the number of bytes dropped."""
        spill = self.spill
        if spill is not None and (spill.active or self.size + len(data) > self.limit):
            if spill.broken:  # still being read back: what comes now goes after it
                return self._lost_after_spill(stream, len(data), at)
            if spill.fits(len(data)) or not may_drop:
                try:
                    spill.append(stream, data, at)
                    return 0
                except OSError as e:  # the disk is full: stop spilling for good
                    self.spill_error = str(e)
                    spill.broken = True
                    if spill.active:
                        return self._lost_after_spill(stream, len(data), at)
                    self.spill = None
                    spill.close()
            else:
                lost = self._drop_into_spill(spill, stream, len(data), at)
                if lost is not None:
                    return lost
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

    def _drop_into_spill(self, spill: SpillFile, stream: str, n: int, at: float) -> int | None:
        """Record ``n`` dropped bytes as a gap in the spill; None when the spill broke
        while it held nothing: it is gone, and memory takes what it can, in order."""
        try:
            spill.add_gap(stream, n, at)
        except OSError as e:
            self.spill_error = str(e)
            spill.broken = True
            if spill.active:
                return self._lost_after_spill(stream, n, at)
            # Nothing to read back: a gap kept for after it would come after output
            # that arrives later and goes to memory.
            self.spill = None
            spill.close()
            return None
        self.dropped += n
        return n

    def _lost_after_spill(self, stream: str, n: int, at: float) -> int:
        last = self._after_spill[-1] if self._after_spill else None
        if last is not None and last.stream == stream:
            last.nbytes += n
            last.last_at = at
        else:
            self._after_spill.append(Gap(stream, n, at, at))
        self.dropped += n
        return n

    def discard_all(self) -> int:
        """Give up on everything waiting (it will never be written): count it as
        dropped, empty memory and close the spill (its disk space comes back).
        Returns the bytes of output discarded."""
        n = self.pending
        self._items.clear()
        self.size = 0
        self._after_spill.clear()  # their bytes are already in ``dropped``
        if self.spill is not None:
            self.spill.close()
            self.spill = None
        self.dropped += n
        return n

    def _keep(self, stream: str, data: bytes, at: float) -> None:
        last = self._items[-1] if self._items else None
        if isinstance(last, Piece) and last.stream == stream and len(last.data) < PIECE_MAX:
            last.data += data
        else:
            self._items.append(Piece(stream, bytearray(data), at))
        self.size += len(data)

    def take(self, max_bytes: int) -> list[Item]:
        """Remove the oldest items, about ``max_bytes`` worth (at least one): memory
        first (it is older), then the spill."""
        out: list[Item] = []
        taken = 0
        while self._items and (not out or taken < max_bytes):
            item = self._items.popleft()
            if isinstance(item, Piece):
                self.size -= len(item.data)
                taken += len(item.data)
            out.append(item)
        spill = self.spill
        if not out and spill is not None and spill.active:
            out = spill.read(max_bytes)
        if spill is not None and spill.broken and not spill.active:
            # Read back to the end: the gaps that came while it was broken follow.
            spill.close()
            self.spill = None
            self._items.extend(self._after_spill)
            self._after_spill = []
            if not out:
                return self.take(max_bytes)
        return out

    def give_back(self, items: list[Item]) -> None:
        """Put items taken by ``take`` back at the front (their write failed)."""
        for item in reversed(items):
            self._items.appendleft(item)
            if isinstance(item, Piece):
                self.size += len(item.data)

    def close(self) -> None:
        if self.spill is not None:
            self.spill.close()
