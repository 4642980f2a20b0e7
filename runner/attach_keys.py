"""The attach client's keys: the detach key however the terminal encodes it, and the
terminal's replies to a fresh screen kept from the program (runner/attach.py).

The detach key is recognised as the plain control byte, as xterm's modifyOtherKeys
sends it (``CSI 27;5;92~``) and as the kitty keyboard protocol does (``CSI 92;5u``),
whichever the program turned on. Replies the terminal sends to what a fresh screen
asked (cursor position, device attributes, colours) are dropped until the answer to
our own device-attributes query (DA1) arrives behind them: terminals answer in
order, so that fence is exact, not a guess at a delay.
"""

from __future__ import annotations

import re
import time

DA1 = b"\x1b[c"
_DA1_REPLY = re.compile(rb"\x1b\[\?[\d;]*c")
_REPLY = re.compile(
    rb"\x1b\[\??[\d;]*R"  # cursor position
    rb"|\x1b\[[?>][\d;]*c"  # device attributes
    rb"|\x1b\[\?[\d;]*\$y"  # mode reports
    rb"|\x1b\[\?\d*u"  # kitty keyboard flags
    rb"|\x1b\[\d*n"  # status
    rb"|\x1b[\]P_][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC, DCS, APC (colours, terminfo)
)
FENCE_FOR = 1.0  # seconds: a terminal that never answers DA1 stops the filter then
HOLD_FOR = 0.03  # seconds a split escape sequence waits for the rest of it
_NAMED = {"\\": 0x1C, "]": 0x1D, "^": 0x1E, "_": 0x1F}


class DetachKey:
    """The detach key and every way a terminal may send it. A plain class, not a
    dataclass: ``tether attach`` builds none before its first screen (runner/attach.py,
    ``Outcome``)."""

    __slots__ = ("name", "byte")

    def __init__(self, name: str, byte: int) -> None:
        self.name = name
        self.byte = byte  # the control byte: 0x1c for ctrl+\

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DetachKey):
            return NotImplemented
        return (self.name, self.byte) == (other.name, other.byte)

    def __hash__(self) -> int:
        return hash((self.name, self.byte))

    def __repr__(self) -> str:
        return f"DetachKey(name={self.name!r}, byte={self.byte!r})"

    @classmethod
    def parse(cls, name: str) -> DetachKey:
        """``ctrl+\\``, ``ctrl+a`` ... (the first of several comma-separated names)."""
        first = name.split(",")[0].strip().lower()
        mod, _, key = first.partition("+")
        if mod == "ctrl" and len(key) == 1:
            if "a" <= key <= "z":
                return cls(first, ord(key) - 0x60)
            if key in _NAMED:
                return cls(first, _NAMED[key])
        raise ValueError(f"the detach key must be ctrl+ a letter or one of \\ ] ^ _, not {name!r}")

    @property
    def codepoint(self) -> int:
        """The key's own character (92 for ``\\``), as the CSI encodings name it."""
        return self.byte + 0x40 if self.byte >= 0x1C else self.byte + 0x60

    @property
    def sequences(self) -> tuple[bytes, ...]:
        c = self.codepoint
        return (
            bytes([self.byte]),
            f"\x1b[27;5;{c}~".encode(),  # xterm modifyOtherKeys
            f"\x1b[{c};5u".encode(),  # kitty keyboard protocol
            f"\x1b[{c};5:1u".encode(),  # kitty, with the press event type
        )

    @property
    def shown(self) -> str:
        return self.name


class KeyFilter:
    """What the user typed, split at the detach key, without terminal replies while a
    fence is up."""

    def __init__(self, key: DetachKey) -> None:
        self.key = key
        self.held = b""  # the start of a sequence split across reads
        self.held_at = 0.0
        self.fence_until: float | None = None  # dropping replies until DA1's answer

    def fence(self) -> None:
        self.fence_until = time.monotonic() + FENCE_FOR

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes for the program, whether the detach key came)."""
        data = self.held + data
        self.held = b""
        if self.fence_until is not None:
            data = self._drop_replies(data)
        cut = [i for seq in self.key.sequences if (i := data.find(seq)) >= 0]
        if cut:
            return data[: min(cut)], True
        esc = data.rfind(b"\x1b")
        if esc >= 0 and self._unfinished(data[esc:]):
            data, self.held = data[:esc], data[esc:]
            self.held_at = time.monotonic()
        return data, False

    def flush(self) -> bytes:
        """A held piece that waited long enough: it was a key after all (Escape...)."""
        if self.held and time.monotonic() - self.held_at >= HOLD_FOR:
            data, self.held = self.held, b""
            return data
        return b""

    def _unfinished(self, tail: bytes) -> bool:
        if len(tail) == 1:
            return False  # a lone Escape is a key: send it now
        if any(s.startswith(tail) and s != tail for s in self.key.sequences):
            return True
        # While fenced, a reply may be split too (no final byte yet).
        return self.fence_until is not None and len(tail) < 256 and not _REPLY.match(tail)

    def _drop_replies(self, data: bytes) -> bytes:
        assert self.fence_until is not None
        if _DA1_REPLY.search(data) or time.monotonic() > self.fence_until:
            m = _DA1_REPLY.search(data)
            self.fence_until = None
            if m is not None:  # everything before our fence's answer is a reply too
                return _REPLY.sub(b"", data[: m.start()]) + data[m.end() :]
        return _REPLY.sub(b"", data)
