"""Your terminal as a session's terminal: the client side of ``tether attach``.

Blocking and small (no event loop): it runs as ``tether attach`` and inside the TUI
while the app is suspended. It reads the frames of the supervisor's stream
(runner/stream.py) onto the terminal and sends every key back, until the detach key,
the end of the run, or the supervisor going away; then it leaves the terminal clean
whatever the program turned on (``RESET``).

A pty session: the terminal is in raw mode, so every key reaches the program (ctrl+c
too); the detach key and the terminal's replies are sorted out in
runner/attach_keys.py.

A pipe session: the terminal stays in line mode (its own echo and editing); each line
typed goes to the command's stdin. The detach key ends a line there (``VEOL``).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import select
import signal
import termios
import tty
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .attach_keys import DA1, HOLD_FOR, DetachKey, KeyFilter
from .frames import END, INPUT, OUTPUT, RESIZE, SCREEN, FrameReader, frame

if TYPE_CHECKING:
    import socket

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


class Outcome:
    """How an attachment ended: ``detached``, ``ended`` (status) or ``lost``. A plain
    class: ``tether attach`` draws its first screen before any dataclass is built
    (``dataclasses`` imports ``inspect`` and ``ast``, ~10 ms of its start)."""

    __slots__ = ("how", "status")

    def __init__(self, how: str, status: str | None = None) -> None:
        self.how = how
        self.status = status

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return (self.how, self.status) == (other.how, other.status)

    def __repr__(self) -> str:
        return f"Outcome(how={self.how!r}, status={self.status!r})"


def terminal_size(fd: int) -> tuple[int, int]:
    """The terminal's columns and rows; 80x24 where it has none (not a terminal, or a
    pty nobody gave a size: 0x0, which no program can draw in)."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return 80, 24
    return size.columns or 80, size.lines or 24


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
    on_screen: Callable[[], None] | None = None,
) -> Outcome:
    """Drive the session through ``sock`` (after its hello) until detach, end or loss.
    ``title`` is shown as the window's title meanwhile (the detach key); ``on_screen``
    runs once the first screen is on the terminal (what ``tether attach`` leaves until
    then). The terminal is left clean in every case."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    try:
        with _signals_to(wake_w), _terminal_mode(fd_in, raw=terminal, key=key):
            if title:  # the window title is pushed, then popped on the way out
                _write_all(fd_out, b"\x1b[22;0t\x1b]2;" + _printable(title) + b"\x07")
            alt = AltScreen()
            try:
                return _loop(sock, terminal, key, fd_in, fd_out, wake_r, alt, on_screen)
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
    on_screen: Callable[[], None] | None,
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
                got = frames.feed(data)
                ended = _draw(got, terminal, fd_out, alt, keys)
                if ended is not None:
                    return ended
                if on_screen is not None and any(kind == SCREEN for kind, _ in got):
                    on_screen, later = None, on_screen
                    later()
        late = keys.flush()
        if late:
            sock.sendall(frame(INPUT, late))


def _draw(
    got: list[tuple[bytes, bytes]], terminal: bool, fd_out: int, alt: AltScreen, keys: KeyFilter
) -> Outcome | None:
    """Put what one read of the stream brought on the terminal, in one write; the
    outcome if the run ended."""
    out: list[bytes] = []
    ended = None
    for kind, payload in got:
        if kind == SCREEN:
            if terminal:
                alt.on, was = False, alt.on
                alt.saw(payload)
                out += (LEAVE_ALT if was else b"", CLEAR, payload, DA1)
                keys.fence()
            else:
                out.append(payload)
        elif kind == OUTPUT:
            alt.saw(payload)
            out.append(payload)
        elif kind == END:
            ended = Outcome("ended", json.loads(payload).get("status"))
            break
    if out:
        _write_all(fd_out, b"".join(out))
    return ended


def _printable(text: str) -> bytes:
    return "".join(c for c in text if c.isprintable()).encode()


def _line(data: bytes, key: DetachKey) -> tuple[bytes, bool]:
    """A pipe session's typed line; the detach key ends a line (and the attachment)."""
    i = data.find(bytes([key.byte]))
    if i >= 0:
        return b"", True  # the unfinished line is not sent
    return data, False


# -- what the commands that attach share (tether attach, the TUI's a) ----------------------


# The defaults of attach.detach_key and attach.record_input (home/config_schema.py;
# tests/runner/test_attach_keys.py checks that they agree), here so that ``tether
# attach`` without a config.toml loads no config code.
DETACH_KEY, RECORD_INPUT = "ctrl+\\", False


def attach_settings(config: Any) -> tuple[DetachKey, bool]:
    """The detach key and whether typed input is recorded, from ``[attach]`` (None:
    no config.toml, the defaults)."""
    section = {} if config is None else config.section("attach")
    key = section.get("detach_key", DETACH_KEY)
    record = bool(section.get("record_input", RECORD_INPUT))
    return DetachKey.parse(key), record


def who() -> str:
    """The user and terminal attaching, for the session's attach line."""
    try:
        tty = os.ttyname(0)
    except OSError:
        tty = "no terminal"
    return f"{getpass.getuser()} on {tty}"


def attach_request(record: bool, fd: int = 1) -> dict[str, Any]:
    cols, rows = terminal_size(fd)
    return {"cols": cols, "rows": rows, "who": who(), "record_input": record}


def greeting(session_id: int, terminal: bool, key: DetachKey) -> str:
    if terminal:
        return f"tether: attached to session #{session_id}; {key.shown} detaches"
    return (
        f"tether: attached to pipe session #{session_id}: its output shows here and each "
        f"line you type goes to its stdin; {key.shown} detaches"
    )


def farewell(session_id: int, outcome: Outcome) -> tuple[str, int]:
    """The line printed after an attachment, and the exit code."""
    if outcome.how == "ended":
        return f"tether: session #{session_id} ended ({outcome.status or 'ended'})", 0
    if outcome.how == "lost":
        return (
            f"tether: lost the connection to session #{session_id}'s supervisor "
            f"(`tether show {session_id}` says what became of it)",
            1,
        )
    return f"tether: detached from session #{session_id} (it keeps running)", 0
