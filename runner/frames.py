"""The frames of the supervisor's streaming channel (runner/stream.py says what each
kind means): one type byte, a 4-byte big-endian length, the payload.

Only the codec, with no event loop: the blocking ``tether attach`` client
(runner/attach.py) reads and writes frames without importing asyncio.
"""

from __future__ import annotations

import struct

from .errors import ControlError

HEADER = struct.Struct(">cI")
FRAME_MAX = 16 * 1024 * 1024

SCREEN, OUTPUT, WAKE, END, INPUT, RESIZE = b"S", b"O", b"W", b"E", b"I", b"R"


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    """One frame: type byte, length, payload."""
    return HEADER.pack(kind, len(payload)) + payload


def check_length(n: int) -> None:
    if n > FRAME_MAX:
        raise ControlError(f"a frame of {n} bytes is too big")


class FrameReader:
    """Frames out of a byte stream read in any pieces (the blocking client's side)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        self._buf += data
        out = []
        while len(self._buf) >= HEADER.size:
            kind, n = HEADER.unpack_from(self._buf)
            check_length(n)
            if len(self._buf) < HEADER.size + n:
                break
            out.append((kind, bytes(self._buf[HEADER.size : HEADER.size + n])))
            del self._buf[: HEADER.size + n]
        return out
