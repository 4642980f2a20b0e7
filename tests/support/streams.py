"""What the attach tests share: a command that floods a pty with numbered lines, and
a stand-in for the few calls a stream (runner/stream.py) makes of its supervisor."""

from __future__ import annotations

import base64
from typing import Any


def flood_writer(size: int, line: int, then: str) -> str:
    """A Python program for ``-c``: echo off (what is typed would land between the
    lines), ``READY``, then on one line of input ``size`` bytes of numbered lines of
    ``line`` bytes each, newline included, and ``ALL-WRITTEN``; then the code ``then``."""
    return f"""
import sys, termios
mode = termios.tcgetattr(0)
mode[3] &= ~termios.ECHO
termios.tcsetattr(0, termios.TCSANOW, mode)
print("READY", flush=True)
input()
w = sys.stdout.buffer.write
for i in range({size // line}):
    w(b"%0{line - 1}d\\n" % i)
w(b"ALL-WRITTEN\\n")
sys.stdout.flush()
{then}
"""


class Terminal:
    """What the stream asks of a pty session's supervisor; its screen is ``vt``."""

    vt = b"the screen"

    def screen(self, *, styled: bool, vt: bool) -> dict[str, Any]:
        return {"vt": base64.b64encode(self.vt).decode()}

    def status(self) -> dict[str, Any]:
        return {"mode": "pty"}

    def send_keys(self, data: bytes, *, record: bool) -> None:
        pass

    def resize(self, cols: int, rows: int) -> bool:
        return True

    def note(self, line: str) -> None:
        pass
