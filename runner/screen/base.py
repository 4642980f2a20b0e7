"""The emulated screen of a pty session: one small interface, several backends.

A `Screen` is fed the bytes a program wrote to its terminal and answers what a
person would see: the rows of text, their colours, the cursor, whether the
program is on the alternate screen, which terminal modes it turned on, and the
rows that scrolled off the top of the main screen (the rendered transcript).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .errors import SnapshotIncompatible

# DEC private modes worth knowing to attach a client or to describe a session.
MODE_NUMBERS: dict[str, int] = {
    "app_cursor_keys": 1,  # DECCKM
    "autowrap": 7,  # DECAWM
    "cursor_visible": 25,  # DECTCEM
    "mouse_x10": 9,
    "mouse_normal": 1000,
    "mouse_button": 1002,
    "mouse_any": 1003,
    "focus_events": 1004,
    "mouse_sgr": 1006,
    "bracketed_paste": 2004,
    "synchronized_output": 2026,
}

# One colour: None (the terminal's default), a palette index 0-255, or "#rrggbb".
Colour = int | str | None


@dataclass(frozen=True, slots=True)
class CellStyle:
    """How a run of cells is drawn. Colours are None, a palette index or '#rrggbb'."""

    fg: Colour = None
    bg: Colour = None
    bold: bool = False
    faint: bool = False
    italic: bool = False
    underline: bool = False
    blink: bool = False
    inverse: bool = False
    invisible: bool = False
    strike: bool = False


DEFAULT_STYLE = CellStyle()


@dataclass(frozen=True, slots=True)
class StyledRun:
    """Consecutive cells of one row drawn in the same style."""

    text: str
    style: CellStyle


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the cursor is (0-based column and row) and whether it is shown."""

    x: int
    y: int
    visible: bool = True


@runtime_checkable
class Screen(Protocol):
    """A terminal emulator holding one session's screen."""

    backend: str
    keep_transcript: bool  # False: rows scrolling off are dropped unread (cheaper)

    def feed(self, data: bytes) -> None:
        """Process bytes the program wrote (any split: sequences may span calls)."""

    def resize(self, cols: int, rows: int) -> None:
        """Change the terminal size, as a SIGWINCH would."""

    @property
    def size(self) -> tuple[int, int]:
        """(cols, rows)."""

    @property
    def cursor(self) -> Cursor: ...

    @property
    def alt_screen(self) -> bool:
        """Whether the alternate screen (vim, less, top...) is showing."""

    @property
    def modes(self) -> dict[str, bool]:
        """The state of each mode in `MODE_NUMBERS`."""

    @property
    def title(self) -> str:
        """The window title the program set (OSC 0/2), or ''."""

    def lines(self) -> list[str]:
        """Exactly `rows` strings: the visible rows, trailing spaces stripped."""

    def styled_lines(self) -> list[list[StyledRun]]:
        """The visible rows as runs of styled text (trailing default blanks dropped)."""

    def scrolled_off(self) -> list[str]:
        """Rows that scrolled off the top of the main screen since the last call.

        This is the rendered transcript, oldest first, rows as displayed
        (soft-wrapped rows stay separate), trailing spaces stripped. The
        alternate screen never adds to it, as in a real terminal's scrollback.
        """

    def to_vt(self) -> bytes:
        """VT sequences that redraw this screen, its cursor and modes on a clean terminal."""

    def snapshot(self) -> bytes:
        """Opaque bytes from which `restore` rebuilds this screen exactly."""


@dataclass(frozen=True)
class SnapshotHeader:
    """The self-describing head of a snapshot, so a reader knows whether it can restore it."""

    backend: str
    format: int
    cols: int
    rows: int

    def pack(self, payload: bytes) -> bytes:
        head = json.dumps(
            {"backend": self.backend, "format": self.format, "cols": self.cols, "rows": self.rows},
            separators=(",", ":"),
        ).encode()
        return b"TSCR" + len(head).to_bytes(4, "big") + head + payload

    @staticmethod
    def unpack(blob: bytes) -> tuple[SnapshotHeader, bytes]:
        if len(blob) < 8 or blob[:4] != b"TSCR":
            raise SnapshotIncompatible("not a tether screen snapshot")
        n = int.from_bytes(blob[4:8], "big")
        try:
            head = json.loads(blob[8 : 8 + n])
            header = SnapshotHeader(head["backend"], head["format"], head["cols"], head["rows"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SnapshotIncompatible(f"damaged screen snapshot header: {exc}") from exc
        return header, blob[8 + n :]
