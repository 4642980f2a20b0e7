"""Time-sortable unique ids (UUIDv7, RFC 9562), stable across export and import."""

from __future__ import annotations

import _thread
import os
import time

# threading.Lock is this; uuid and threading are imported only when an id is made
# (importing uuid costs more than a reading command's query: bench/cases/cli_startup.py).
_lock = _thread.allocate_lock()
_last_ms = 0
_seq = 0


def uuid7(now: float | None = None) -> str:
    """A UUIDv7 string. Within one process ids are strictly increasing; across
    processes 74 random bits make collisions practically impossible."""
    global _last_ms, _seq
    ms = int((time.time() if now is None else now) * 1000)
    with _lock:
        if ms <= _last_ms:
            ms = _last_ms
            _seq += 1
        else:
            _seq = 0
        _last_ms = ms
        seq = _seq
    rand = int.from_bytes(os.urandom(10), "big")
    # 12 bits: sequence (monotonic within a ms), 62 bits random
    rand_a = seq & 0xFFF if seq < 0x1000 else int.from_bytes(os.urandom(2), "big") & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    import uuid

    return str(uuid.UUID(int=value))
