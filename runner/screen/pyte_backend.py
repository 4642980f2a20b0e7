"""Screen backend over pyte: pure Python, the fallback when libghostty-vt cannot load.

pyte lacks three things we need, added here: the alternate screen (modes 47,
1047, 1049), colon-form SGR (`38:2::r:g:b`, rewritten to the `;` form before
pyte parses it) and the rendered transcript (rows captured as they scroll off
the top of the main screen). Snapshots are VT redraws: they keep what is on
screen, cursor and modes, but not the main screen hidden under an alternate one.
"""

from __future__ import annotations

import re

import pyte
from pyte import modes as pyte_modes

from .base import (
    DEFAULT_STYLE,
    MODE_NUMBERS,
    CellStyle,
    Colour,
    Cursor,
    SnapshotHeader,
    StyledRun,
)
from .errors import SnapshotIncompatible
from .vt import render_vt

SNAPSHOT_FORMAT = 1
_ALT_MODES = {47, 1047, 1049}
_NAMED = {
    "black": 0,
    "red": 1,
    "green": 2,
    "brown": 3,
    "yellow": 3,
    "blue": 4,
    "magenta": 5,
    "cyan": 6,
    "white": 7,
    "brightblack": 8,
    "brightred": 9,
    "brightgreen": 10,
    "brightbrown": 11,
    "brightyellow": 11,
    "brightblue": 12,
    "brightmagenta": 13,
    "brightcyan": 14,
    "brightwhite": 15,
}
# A CSI sequence whose parameters use ':' (ITU T.416 sub-parameters).
_COLON_CSI = re.compile(rb"\x1b\[([0-9;:]*:[0-9;:]*)([@-~])")
_PARTIAL_CSI = re.compile(rb"\x1b(\[[0-9;:]*)?$")


def _colon_to_semicolon(match: re.Match[bytes]) -> bytes:
    params, final = match.group(1), match.group(2)
    if final != b"m":
        return b"\x1b[" + params.replace(b":", b";") + final
    out: list[bytes] = []
    for group in params.split(b";"):
        sub = group.split(b":")
        if sub[0] in (b"38", b"48", b"58") and len(sub) >= 3 and sub[1] == b"2":
            rgb = sub[-3:]  # 38:2:<colourspace>:r:g:b or 38:2:r:g:b
            out.append(b";".join([sub[0], b"2", *rgb]))
        elif sub[0] == b"4" and len(sub) == 2:
            out.append(b"4" if sub[1] != b"0" else b"24")  # curly, double... -> plain
        else:
            out.append(b";".join(sub))
    return b"\x1b[" + b";".join(out) + b"m"


def _colour(value: str) -> Colour:
    if value == "default":
        return None
    if value in _NAMED:
        return _NAMED[value]
    if len(value) == 6:
        return "#" + value.lower()
    return None


class _PyteScreen(pyte.Screen):
    """pyte's screen plus the alternate screen and a record of rows scrolled off."""

    def __init__(self, columns: int, lines: int) -> None:
        self.alt = False
        self.keep = True  # PyteScreen.keep_transcript
        self.scrolled: list[str] = []
        self.title = ""
        self._saved_main = None
        super().__init__(columns, lines)

    def row_text(self, y: int) -> str:
        line = self.buffer[y]
        return "".join(line[x].data for x in range(self.columns)).rstrip(" ")

    def index(self) -> None:
        top, bottom = self.margins or pyte.screens.Margins(0, self.lines - 1)
        if self.keep and not self.alt and top == 0 and self.cursor.y == bottom:
            self.scrolled.append(self.row_text(0))
        super().index()

    def select_graphic_rendition(self, *attrs: int, private: bool = False) -> None:
        if private:  # CSI > ... m (xterm modifyOtherKeys): a keyboard setting, not a style
            return
        super().select_graphic_rendition(*attrs)

    def set_title(self, param: str) -> None:
        super().set_title(param)
        self.title = param

    def set_mode(self, *modes: int, **kwargs) -> None:
        if kwargs.get("private") and _ALT_MODES & set(modes) and not self.alt:
            if 1049 in modes:
                self.save_cursor()
            self._saved_main = (dict(self.buffer), self.margins)
            self.buffer.clear()
            self.margins = None
            self.alt = True
            self.dirty.update(range(self.lines))
        super().set_mode(*[m for m in modes if m not in _ALT_MODES], **kwargs)

    def reset_mode(self, *modes: int, **kwargs) -> None:
        if kwargs.get("private") and _ALT_MODES & set(modes) and self.alt:
            saved, margins = self._saved_main
            self.buffer.clear()
            self.buffer.update(saved)
            self.margins = margins
            self.alt = False
            self.dirty.update(range(self.lines))
            if 1049 in modes:
                self.restore_cursor()
        super().reset_mode(*[m for m in modes if m not in _ALT_MODES], **kwargs)


class PyteScreen:
    """A `Screen` backed by pyte (pure Python, about 1 MB/s)."""

    backend = "pyte"

    @property
    def keep_transcript(self) -> bool:
        """False: rows that scroll off are dropped (see GhosttyScreen.keep_transcript)."""
        return self._screen.keep

    @keep_transcript.setter
    def keep_transcript(self, keep: bool) -> None:
        self._screen.keep = keep

    def __init__(self, cols: int = 80, rows: int = 24) -> None:
        self._screen = _PyteScreen(cols, rows)
        self._stream = pyte.ByteStream(self._screen)
        self._carry = b""

    def feed(self, data: bytes) -> None:
        data = self._carry + data
        partial = _PARTIAL_CSI.search(data[-64:])
        if partial:  # a CSI cut by the chunk boundary: rewrite it once it is whole
            cut = len(data) - (len(data[-64:]) - partial.start())
            data, self._carry = data[:cut], data[cut:]
        else:
            self._carry = b""
        if b":" in data:
            data = _COLON_CSI.sub(_colon_to_semicolon, data)
        self._stream.feed(data)

    def resize(self, cols: int, rows: int) -> None:
        self._screen.resize(lines=rows, columns=cols)

    @property
    def size(self) -> tuple[int, int]:
        return self._screen.columns, self._screen.lines

    @property
    def cursor(self) -> Cursor:
        c = self._screen.cursor
        # pyte parks the cursor one past the last column while a wrap is pending.
        return Cursor(min(c.x, self._screen.columns - 1), c.y, not c.hidden)

    @property
    def alt_screen(self) -> bool:
        return self._screen.alt

    @property
    def modes(self) -> dict[str, bool]:
        on = self._screen.mode
        result = {name: (n << 5) in on for name, n in MODE_NUMBERS.items()}
        result["autowrap"] = pyte_modes.DECAWM in on
        result["cursor_visible"] = not self._screen.cursor.hidden
        return result

    @property
    def title(self) -> str:
        return self._screen.title

    def lines(self) -> list[str]:
        return [line.rstrip(" ") for line in self._screen.display]

    def scrolled_off(self) -> list[str]:
        out, self._screen.scrolled = self._screen.scrolled, []
        return out

    def styled_lines(self) -> list[list[StyledRun]]:
        screen = self._screen
        rows: list[list[StyledRun]] = []
        for y in range(screen.lines):
            line = screen.buffer[y]
            runs: list[StyledRun] = []
            text: list[str] = []
            current = DEFAULT_STYLE
            for x in range(screen.columns):
                ch = line[x]
                if ch.data == "":  # the right half of a wide character
                    continue
                style = CellStyle(
                    fg=_colour(ch.fg),
                    bg=_colour(ch.bg),
                    bold=ch.bold,
                    italic=ch.italics,
                    underline=ch.underscore,
                    blink=ch.blink,
                    inverse=ch.reverse,
                    strike=ch.strikethrough,
                )
                if style != current and text:
                    runs.append(StyledRun("".join(text), current))
                    text = []
                current = style
                text.append(ch.data)
            if text:
                runs.append(StyledRun("".join(text), current))
            while runs and runs[-1].style == DEFAULT_STYLE:
                stripped = runs[-1].text.rstrip(" ")
                if stripped:
                    runs[-1] = StyledRun(stripped, DEFAULT_STYLE)
                    break
                runs.pop()
            rows.append(runs)
        return rows

    def to_vt(self) -> bytes:
        return render_vt(self.styled_lines(), self.cursor, self.modes, self.alt_screen)

    def snapshot(self) -> bytes:
        cols, rows = self.size
        return SnapshotHeader(self.backend, SNAPSHOT_FORMAT, cols, rows).pack(self.to_vt())

    @classmethod
    def restore(cls, blob: bytes) -> PyteScreen:
        header, payload = SnapshotHeader.unpack(blob)
        if header.backend != cls.backend or header.format != SNAPSHOT_FORMAT:
            raise SnapshotIncompatible(
                f"snapshot is {header.backend} format {header.format}, "
                f"not {cls.backend} format {SNAPSHOT_FORMAT}"
            )
        screen = cls(header.cols, header.rows)
        screen.feed(payload)
        screen.scrolled_off()
        return screen
