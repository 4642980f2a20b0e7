"""Where an export is written: a byte sink that counts and hashes, and the one-line JSON
encoding every JSON-based export format uses (``json`` and ``jsonl``)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, BinaryIO


class Sink:
    """Where an export goes: counts bytes, hashes them while ``hashing``."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.written = 0
        self.sha = hashlib.sha256()
        self.hashing = True

    def write(self, data: bytes) -> None:
        if self.hashing:
            self.sha.update(data)
        self.out.write(data)
        self.written += len(data)

    def line(self, text: str) -> None:
        self.write(text.encode("utf-8", "surrogatepass") + b"\n")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps(value: Any) -> str:
    """Compact JSON on one line: control characters and line breaks are escaped."""
    return _ENCODER.encode(value)
