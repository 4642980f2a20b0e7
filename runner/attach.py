"""Your terminal as a session's terminal: the client side of ``tether attach``.

Blocking and small (no event loop): it runs as ``tether attach`` and inside the TUI
while the app is suspended. It reads the frames of the supervisor's stream
(runner/stream.py) onto the terminal and sends every key back, until the detach key,
the end of the run, or the supervisor going away; then it leaves the terminal clean
whatever the program turned on (``RESET``).

A pty session: the terminal is in raw mode, so every key reaches the program (ctrl+c
too). The detach key is recognised as the plain control byte, as xterm's
modifyOtherKeys sends it (``CSI 27;5;92~``) and as the kitty keyboard protocol does
(``CSI 92;5u``), whichever the program turned on. Replies the terminal sends to
what a fresh screen asked (cursor position, device attributes, colours) are dropped
until the answer to our own device-attributes query (DA1) arrives behind them:
terminals answer in order, so that fence is exact, not a guess at a delay.

A pipe session: the terminal stays in line mode (its own echo and editing); each line
typed goes to the command's stdin. The detach key ends a line there (``VEOL``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import socket
import termios
import time
import tty
from collections.abc import Iterator
from dataclasses import dataclass

from .stream import END, INPUT, OUTPUT, RESIZE, SCREEN, FrameReader, frame

# Every mode a program may have turned on, turned off again; cursor shown; main screen.
RESET = (
    b"\x1b[?2026l"  # synchronized output
    b"\x1b[?1l\x1b>"  # cursor keys and keypad: normal
    b"\x1b[?9l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\x1b[?1015l"  # mouse
    b"\x1b[?1004l"  # focus events
    b"\x1b[?2004l"  # bracketed paste
    b"\x1b[=0;1u"  # kitty keyboard flags off
    b"\x1b[>4;0m"  # xterm modifyOtherKeys off
    b"\x1b[?6l\x1b[r"  # origin mode off, whole screen scrolls
    b"\x1b[?7h"  # autowrap
    b"\x1b[0m\x1b[?25h"  # plain text, cursor visible
)
LEAVE_ALT = b"\x1b[?1049l"  # main screen (only when on the other: it moves the cursor)
CLEAR = RESET + b"\x1b[H\x1b[2J"  # before a fresh screen is drawn
_ALT = re.compile(rb"\x1b\[\?(?:1049|1047|47)([hl])")
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


@dataclass(frozen=True)
class DetachKey:
    """The detach key and every way a terminal may send it."""

    name: str
    byte: int  # the control byte: 0x1c for ctrl+\

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


@dataclass
class Outcome:
    """How an attachment ended: ``detached``, ``ended`` (status) or ``lost``."""

    how: str
    status: str | None = None


def terminal_size(fd: int) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(fd)
        return size.columns, size.lines
    except OSError:
        return 80, 24


@contextlib.contextmanager
def _terminal_mode(fd: int, *, raw: bool, key: DetachKey) -> Iterator[None]:
    """Raw mode (pty sessions), or line mode with the detach key ending a line and no
    SIGQUIT (pipe sessions); restored however we leave."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        if raw:
            tty.setraw(fd, termios.TCSANOW)
        else:
            mode = termios.tcgetattr(fd)
            mode[6][termios.VEOL] = bytes([key.byte])
            mode[6][termios.VQUIT] = b"\x00"
            termios.tcsetattr(fd, termios.TCSANOW, mode)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _signals_to(pipe_w: int) -> Iterator[None]:
    """SIGWINCH, SIGTERM and SIGHUP become bytes on a pipe the loop polls."""
    signals = (signal.SIGWINCH, signal.SIGTERM, signal.SIGHUP)
    old = {s: signal.getsignal(s) for s in signals}

    def note(signum: int, _frame: object) -> None:
        with contextlib.suppress(OSError):
            os.write(pipe_w, bytes([signum]))

    for s in signals:
        signal.signal(s, note)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[n:]


def run_attached(
    sock: socket.socket,
    *,
    terminal: bool,
    key: DetachKey,
    title: str = "",
    fd_in: int = 0,
    fd_out: int = 1,
) -> Outcome:
    """Drive the session through ``sock`` (after its hello) until detach, end or loss.
    ``title`` is shown as the window's title meanwhile (the detach key). The terminal
    is left clean in every case."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    try:
        with _signals_to(wake_w), _terminal_mode(fd_in, raw=terminal, key=key):
            if title:  # the window title is pushed, then popped on the way out
                _write_all(fd_out, b"\x1b[22;0t\x1b]2;" + _printable(title) + b"\x07")
            alt = AltScreen()
            try:
                return _loop(sock, terminal, key, fd_in, fd_out, wake_r, alt)
            finally:
                clean = (LEAVE_ALT if alt.on else b"") + RESET + b"\r\n" if terminal else b""
                _write_all(fd_out, clean + b"\x1b[23;0t")
    finally:
        os.close(wake_r)
        os.close(wake_w)


class AltScreen:
    """Whether the program has the terminal on its alternate screen, from what it wrote."""

    def __init__(self) -> None:
        self.on = False

    def saw(self, data: bytes) -> None:
        if b"\x1b[?" in data:
            found = _ALT.findall(data)
            if found:
                self.on = found[-1] == b"h"


def _loop(
    sock: socket.socket,
    terminal: bool,
    key: DetachKey,
    fd_in: int,
    fd_out: int,
    wake: int,
    alt: AltScreen,
) -> Outcome:
    frames = FrameReader()
    keys = KeyFilter(key)
    poller = select.poll()
    for fd in (fd_in, sock.fileno(), wake):
        poller.register(fd, select.POLLIN)
    while True:
        timeout = HOLD_FOR * 1000 if keys.held else None
        for fd, _ in poller.poll(timeout):
            if fd == wake:
                for signum in os.read(wake, 64):
                    if signum == signal.SIGWINCH:
                        cols, rows = terminal_size(fd_out)
                        sock.sendall(
                            frame(RESIZE, json.dumps({"cols": cols, "rows": rows}).encode())
                        )
                    else:  # SIGTERM, SIGHUP: leave as if detached
                        return Outcome("detached")
            elif fd == fd_in:
                data = os.read(fd_in, 65536)
                if not data:
                    return Outcome("detached")  # the input ended
                out, detach = keys.feed(data) if terminal else _line(data, key)
                if out:
                    sock.sendall(frame(INPUT, out))
                if detach:
                    return Outcome("detached")
            else:
                data = sock.recv(1 << 20)
                if not data:
                    return Outcome("lost")
                for kind, payload in frames.feed(data):
                    if kind == SCREEN:
                        if terminal:
                            alt.on, was = False, alt.on
                            alt.saw(payload)
                            payload = (LEAVE_ALT if was else b"") + CLEAR + payload
                        _write_all(fd_out, payload)
                        if terminal:
                            _write_all(fd_out, DA1)
                            keys.fence()
                    elif kind == OUTPUT:
                        alt.saw(payload)
                        _write_all(fd_out, payload)
                    elif kind == END:
                        return Outcome("ended", json.loads(payload).get("status"))
        late = keys.flush()
        if late:
            sock.sendall(frame(INPUT, late))


def _printable(text: str) -> bytes:
    return "".join(c for c in text if c.isprintable()).encode()


def _line(data: bytes, key: DetachKey) -> tuple[bytes, bool]:
    """A pipe session's typed line; the detach key ends a line (and the attachment)."""
    i = data.find(bytes([key.byte]))
    if i >= 0:
        return b"", True  # the unfinished line is not sent
    return data, False
