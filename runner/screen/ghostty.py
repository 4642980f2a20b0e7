"""Screen backend over Ghostty's libghostty-vt, through pyghostty's raw cffi layer.

We use pyghostty's layer 0 (`ffi`, `lib`: the whole C API) rather than its
small convenience class, so this module controls the terminal's lifetime and
can rebuild one from a snapshot.

The rendered transcript: libghostty-vt keeps scrolled-off rows as history. We
feed in slices no larger than the history cap (one byte scrolls at most one
row), and after each slice, once the parser is between sequences, read the new
history rows and erase them (`CSI 3 J`), so history never overflows its cap
and memory stays flat however long the session runs.
"""

from __future__ import annotations

import re

from pyghostty import ffi, lib

from .base import (
    DEFAULT_STYLE,
    MODE_NUMBERS,
    CellStyle,
    Colour,
    Cursor,
    SnapshotHeader,
    StyledRun,
)
from .errors import ScreenError, SnapshotIncompatible

SNAPSHOT_FORMAT = 1
_HISTORY_CAP = 32768  # rows the library keeps between two drains
_HISTORY_BYTES = 64 * 1024 * 1024  # and bytes (its own default prunes after ~10 KB)
# Drain at least every this many bytes: one byte scrolls at most one row (CSI n S
# aside), so the history never reaches its cap before we read it.
_DRAIN_EVERY = 16384
_ERASE_HISTORY = b"\x1b[3J"
_POINT_TAGS = {
    "history": lib.GHOSTTY_POINT_TAG_HISTORY,
    "active": lib.GHOSTTY_POINT_TAG_ACTIVE,
}
_STYLE_FLAGS = ("bold", "faint", "italic", "blink", "inverse", "invisible")


def _check(result: int, what: str) -> None:
    if result:
        raise ScreenError(f"libghostty-vt: {what} failed ({result})")


def _sized(ctype: str):
    """`ffi.new` a struct following libghostty's size-field convention (nested too)."""
    p = ffi.new(ctype + "*")
    _set_sizes(p)
    return p


# ``styled_lines`` takes a row without styled cells from the formatter's plain text (tests
# turn this off to compare with reading every cell).
PLAIN_ROWS = True
# ``feed`` takes runs of plain lines at the bottom of the main screen without the
# library (tests turn this off to compare with feeding every byte).
PLAIN_LINES = True
_PLAIN_SLICE = 32 * 1024
# The library's cost is per line scrolled more than per byte: it feeds lines of 8 bytes
# at 13 MB/s, of 32 at 44 and of 48 at 148 (120x40), the shortcut at 72-150 MB/s. So a
# slice whose lines average this many bytes or more goes to the library as it is.
_SHORT_LINE = 48
_PRINTABLE = bytes(range(0x20, 0x7F))
# Complete lines of printable ASCII, each ending in CR LF: what a build, a log or
# ``seq`` prints through a terminal.
_PLAIN_RUN = re.compile(rb"(?:[\x20-\x7e]*\r\n)+")


def _plain_lines(block: bytes) -> list[str] | None:
    """The lines of ``block`` if it is all plain lines (as ``_PLAIN_RUN`` matches, in
    fewer steps: the common case of a burst)."""
    if block.translate(None, _PRINTABLE) != b"\r\n" * block.count(b"\r\n"):
        return None  # (a control byte, or a CR or LF alone)
    lines = block.decode("ascii").split("\r\n")
    lines.pop()
    return lines


def _rows(lines: list[str], cols: int) -> list[str]:
    """The screen rows ``lines`` take, ``cols`` wide (a longer line wraps), as the
    formatter gives them (trailing spaces trimmed)."""
    if max(map(len, lines), default=0) <= cols:
        rows = lines
    else:
        rows = []
        for line in lines:
            if len(line) <= cols:
                rows.append(line)
            else:
                rows.extend(line[i : i + cols] for i in range(0, len(line), cols))
    return [r.rstrip(" ") for r in rows] if any(r.endswith(" ") for r in rows) else rows


# Sequences after which printing a plain line at the bottom may not simply put it in the
# row (and the rows below it, wrapped) and scroll the whole screen up into the history:
# a scrolling region (DECSTBM, and left/right margins, DECLRMM/DECSLRM), a character set
# other than ASCII in G0 or shifts to another (designations, SO, single and locking
# shifts), autowrap off. Seen once, a screen feeds every byte to the library from then on.
_UNSAFE = re.compile(
    rb"\x1b\[[0-9;]*r|\x1b\[\?[0-9;]*69|\x1b\([^B]|\x1b[)*+\-./]|[\x0e\x0f]|\x1b[NOno|}~]"
    rb"|\x1b\[\?(?:[0-9]*;)*7(?:;[0-9]*)*l"  # (and autowrap off: a long line would not wrap)
)
_CARRY = 64  # bytes of a feed kept to find a sequence cut between two feeds

# ``styled_lines`` rebuilds only the rows the library marks dirty since its last call,
# keeping the others' runs (tests turn this off to compare with rebuilding every row).
DIRTY_ROWS = True


def _set_sizes(p) -> None:
    t = ffi.typeof(p).item
    for name, f in t.fields:
        if name == "size":
            p.size = ffi.sizeof(t)
        elif f.type.kind == "struct":
            _set_sizes(ffi.addressof(p[0], name))


def _colour(c) -> Colour:
    if c.tag == lib.GHOSTTY_STYLE_COLOR_PALETTE:
        return int(c.value.palette)
    if c.tag == lib.GHOSTTY_STYLE_COLOR_RGB:
        rgb = c.value.rgb
        return f"#{rgb.r:02x}{rgb.g:02x}{rgb.b:02x}"
    return None


def _style(st) -> CellStyle:
    return CellStyle(
        fg=_colour(st.fg_color),
        bg=_colour(st.bg_color),
        underline=st.underline != 0,
        strike=bool(st.strikethrough),
        **{f: bool(getattr(st, f)) for f in _STYLE_FLAGS},
    )


class GhosttyScreen:
    """A `Screen` backed by libghostty-vt (fast, complete: alternate screen, SGR forms, modes)."""

    backend = "ghostty"
    # False: rows that scroll off are dropped unread (formatting them is most of the
    # cost of a scrolling stream); for a holder that rebuilds the transcript elsewhere.
    keep_transcript = True

    def __init__(self, cols: int = 80, rows: int = 24) -> None:
        handle = ffi.new("GhosttyTerminal*")
        _check(lib.ghostty_terminal_new(ffi.NULL, handle, cols, rows), "terminal_new")
        self._adopt(handle)

    def _adopt(self, handle) -> None:
        self._handle = handle
        self._t = handle[0]
        cap = ffi.new("size_t*", _HISTORY_CAP)
        _check(
            lib.ghostty_terminal_set(self._t, lib.GHOSTTY_TERMINAL_OPT_SCROLLBACK_MAX_LINES, cap),
            "set scrollback",
        )
        # The library also caps history by bytes (10 000 by default: a few hundred
        # rows), pruning rows before we drain them: lift it. Memory is taken only as
        # rows arrive, and they are drained every _DRAIN_EVERY bytes.
        cap_bytes = ffi.new("size_t*", _HISTORY_BYTES)
        _check(
            lib.ghostty_terminal_set(
                self._t, lib.GHOSTTY_TERMINAL_OPT_SCROLLBACK_MAX_BYTES, cap_bytes
            ),
            "set scrollback bytes",
        )
        self._pending: list[str] = []
        self._since_drain = 0
        self._plain_ok = True  # no _UNSAFE sequence fed yet (restore: none in its state)
        self._carry = b""
        self._buf = ffi.new("uint8_t[]", 1 << 16)
        self._render = None
        self._styled: list[list[StyledRun]] | None = None  # rows as styled_lines last read
        self._out_u16 = ffi.new("uint16_t*")
        self._out_size = ffi.new("size_t*")
        self._out_bool = ffi.new("bool*")
        self._out_screen = ffi.new("GhosttyTerminalScreen*")
        self._out_dirty = ffi.new("GhosttyRenderStateDirty*")
        self._false = ffi.new("bool*", False)
        self._clean = ffi.new("GhosttyRenderStateDirty*", lib.GHOSTTY_RENDER_STATE_DIRTY_FALSE)
        # What reading rows takes, made once: the transcript is read every _DRAIN_EVERY
        # bytes, and building these structs cost as much as formatting the rows.
        self._point = ffi.new("GhosttyPointS*")
        self._grid_ref = _sized("GhosttyGridRef")
        self._selection = _sized("GhosttySelection")
        opts = self._select_opts = _sized("GhosttyTerminalSelectionFormatOptions")
        opts.emit = lib.GHOSTTY_FORMATTER_FORMAT_PLAIN
        opts.unwrap, opts.trim, opts.selection = False, True, self._selection

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Free the native terminal now (it is freed on garbage collection otherwise)."""
        t = getattr(self, "_t", None)
        if t is not None:
            self._t = None
            if self._render is not None:
                lib.ghostty_render_state_free(self._render[0])
                self._render = None
            lib.ghostty_terminal_free(t)

    # -- feeding -----------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self._plain_ok:
            seen = self._carry + data
            if (b"\x1b" in seen or b"\x0e" in seen or b"\x0f" in seen) and _UNSAFE.search(seen):
                self._plain_ok = False
            else:
                self._carry = data[-_CARRY:]
        if not (self._plain_ok and PLAIN_LINES):
            self._feed_vt(data)
            return
        # In slices of whole lines: the checks below run in C holding the GIL, which the
        # capture needs for each 4 KiB it reads of a pty (a pty holds ~20 KiB).
        while data:
            cut = len(data)
            if cut > _PLAIN_SLICE:
                cut = data.rfind(b"\r\n", 0, _PLAIN_SLICE) + 2
                if cut < 2:
                    cut = len(data)
            piece, data = data[:cut], data[cut:]
            if piece.count(b"\n") * _SHORT_LINE < len(piece):
                self._feed_vt(piece)  # long lines: the library scrolls them as fast
            else:
                self._feed_vt(self._feed_plain(piece))

    def _feed_plain(self, data: bytes) -> bytes:
        """What is left of ``data`` once the run of plain lines it starts with is taken
        (``_take_plain``); a feed that starts inside a line (a read cuts anywhere), or
        before the cursor reached the bottom, gives the library the lines up to a
        screen's height first."""
        rest = self._take_plain(data)
        if rest is not None:
            return rest
        cut = 0
        for _ in range(self.size[1]):
            cut = data.find(b"\r\n", cut) + 2
            if cut == 1:
                return data
        self._feed_vt(data[:cut])
        rest = self._take_plain(data[cut:])
        return data[cut:] if rest is None else rest

    def _take_plain(self, data: bytes) -> bytes | None:
        """Take the run of plain lines ``data`` starts with, if the cursor waits at the
        start of an empty bottom row of the main screen: each line would go into that
        row and scroll the screen up one row into the history. Only the lines that stay
        on the screen are fed to the library; those before go straight to the transcript,
        after the rows they scroll off. What is left of ``data`` is returned (None:
        nothing was taken)."""
        cols, rows = self.size
        taken = data.rfind(b"\r\n") + 2
        lines = _plain_lines(data[:taken]) if taken >= 2 else None
        if lines is None:  # (not all plain: the plain lines it starts with, if any)
            m = _PLAIN_RUN.match(data)
            if m is None:
                return None
            taken = m.end()
            lines = data[:taken].decode("ascii").split("\r\n")
            lines.pop()  # (after the last CR LF)
        stay = rows - 1  # the rows left on the screen above the empty cursor row
        if len(lines) <= stay or rows < 2 or not self._at_empty_bottom(cols, rows):
            return None
        # The lines fed: the last ones, enough to fill the rows that stay (a line longer
        # than the screen is wide wraps into several).
        first, need = len(lines), stay
        while need > 0 and first > 0:
            first -= 1
            need -= max(1, -(-len(lines[first]) // cols))
        if first == 0:
            return None
        self._drain_history()  # (what scrolled off before: it comes first)
        mark = len(self._pending)
        self._feed_vt(data[taken - sum(len(line) + 2 for line in lines[first:]) : taken])
        self._drain_history()
        # Those scrolled off the rows the screen had (stay of them), then any of the
        # fed lines' first rows; the lines not fed scrolled off between the two.
        if self.keep_transcript:
            self._pending[mark + stay : mark + stay] = _rows(lines[:first], cols)
        return data[taken:]

    def _at_empty_bottom(self, cols: int, rows: int) -> bool:
        if self.alt_screen or not self._get_bool(lib.GHOSTTY_TERMINAL_DATA_VT_GROUND):
            return False
        if self._get_u16(lib.GHOSTTY_TERMINAL_DATA_CURSOR_X) != 0:  # (or a wrap pending)
            return False
        if self._get_u16(lib.GHOSTTY_TERMINAL_DATA_CURSOR_Y) != rows - 1:
            return False
        return self._format_rows("active", rows - 1, rows - 1, cols) == [""]

    def _feed_vt(self, data: bytes) -> None:
        t = self._t
        n = len(data)
        pos = 0
        while pos < n:
            room = _DRAIN_EVERY - self._since_drain
            piece = data[pos : pos + room] if pos or n > room else data
            lib.ghostty_terminal_vt_write(t, piece, len(piece))
            pos += len(piece)
            self._since_drain += len(piece)
            if self._since_drain < _DRAIN_EVERY:
                continue
            if pos < n and not self._get_bool(lib.GHOSTTY_TERMINAL_DATA_VT_GROUND):
                # Finish the sequence in progress so the history can be drained safely.
                rest = data[pos:]
                done = ffi.new("size_t*")
                res = lib.ghostty_terminal_vt_write_until_ground(t, rest, len(rest), done)
                pos = n if res == lib.GHOSTTY_NO_VALUE else pos + done[0]
            self._drain_history()

    def resize(self, cols: int, rows: int) -> None:
        self._drain_history()  # rows already scrolled off keep the width they had
        _check(lib.ghostty_terminal_resize(self._t, cols, rows, 8, 16), "resize")

    def _get_u16(self, key: int) -> int:
        _check(lib.ghostty_terminal_get(self._t, key, self._out_u16), "terminal_get")
        return self._out_u16[0]

    def _get_bool(self, key: int) -> bool:
        _check(lib.ghostty_terminal_get(self._t, key, self._out_bool), "terminal_get")
        return bool(self._out_bool[0])

    def _history_rows(self) -> int:
        key = lib.GHOSTTY_TERMINAL_DATA_SCROLLBACK_ROWS
        _check(lib.ghostty_terminal_get(self._t, key, self._out_size), "terminal_get")
        return self._out_size[0]

    def _drain_history(self) -> None:
        """Move rows that scrolled off the main screen from the library to `_pending`."""
        n = self._history_rows()
        if not n:
            self._since_drain = 0
            return
        if self.alt_screen or not self._get_bool(lib.GHOSTTY_TERMINAL_DATA_VT_GROUND):
            return  # the main screen's history waits; the alternate screen adds none
        self._since_drain = 0
        if self.keep_transcript:
            cols = self.size[0]
            self._pending.extend(self._format_rows("history", 0, n - 1, cols))
        lib.ghostty_terminal_vt_write(self._t, _ERASE_HISTORY, len(_ERASE_HISTORY))

    # -- reading -----------------------------------------------------------------

    @property
    def settled(self) -> bool:
        """Between escape sequences: a snapshot can be taken (the library refuses one
        mid-sequence, whose start it could not give back)."""
        return self._get_bool(lib.GHOSTTY_TERMINAL_DATA_VT_GROUND)

    @property
    def size(self) -> tuple[int, int]:
        return (
            self._get_u16(lib.GHOSTTY_TERMINAL_DATA_COLS),
            self._get_u16(lib.GHOSTTY_TERMINAL_DATA_ROWS),
        )

    @property
    def cursor(self) -> Cursor:
        return Cursor(
            self._get_u16(lib.GHOSTTY_TERMINAL_DATA_CURSOR_X),
            self._get_u16(lib.GHOSTTY_TERMINAL_DATA_CURSOR_Y),
            self._get_bool(lib.GHOSTTY_TERMINAL_DATA_CURSOR_VISIBLE),
        )

    @property
    def alt_screen(self) -> bool:
        out = self._out_screen
        _check(
            lib.ghostty_terminal_get(self._t, lib.GHOSTTY_TERMINAL_DATA_ACTIVE_SCREEN, out), "get"
        )
        return out[0] == lib.GHOSTTY_TERMINAL_SCREEN_ALTERNATE

    def mode(self, number: int, ansi: bool = False) -> bool:
        """Whether DEC private mode `number` (or ANSI mode, with `ansi`) is set."""
        c = ffi.new("GhosttyTerminalModeConfig*")
        # The packing of ghostty_mode_new, a static inline function cffi cannot call.
        c.mode = (number & 0x7FFF) | (int(ansi) << 15)
        _check(lib.ghostty_terminal_get(self._t, lib.GHOSTTY_TERMINAL_DATA_MODE, c), "mode")
        return bool(c.value)

    @property
    def modes(self) -> dict[str, bool]:
        return {name: self.mode(n) for name, n in MODE_NUMBERS.items()}

    @property
    def title(self) -> str:
        s = ffi.new("GhosttyString*")
        _check(lib.ghostty_terminal_get(self._t, lib.GHOSTTY_TERMINAL_DATA_TITLE, s), "title")
        return ffi.buffer(s.ptr, s.len)[:].decode("utf-8", "replace") if s.len else ""

    def _ref(self, tag: int, x: int, y: int):
        """The grid reference of cell x, y of area ``tag`` (valid until the next call)."""
        pt, ref = self._point, self._grid_ref
        pt.tag = tag
        pt.value.x, pt.value.y = x, y
        _check(_grid_ref_fn()(self._t, pt[0], ref), f"grid_ref {tag} {x},{y}")
        return ref

    def _format_rows(self, area: str, y0: int, y1: int, cols: int) -> list[str]:
        """Rows y0..y1 of ``area`` (history, active) as plain text, one string per row."""
        tag = _POINT_TAGS[area]
        sel, opts, t = self._selection, self._select_opts[0], self._t
        sel.start = self._ref(tag, 0, y0)[0]
        sel.end = self._ref(tag, cols - 1, y1)[0]
        text = self._read(
            lambda b, n, w: lib.ghostty_terminal_selection_format_buf(t, opts, b, n, w)
        ).decode("utf-8", "replace")
        rows = text.split("\n")[: y1 - y0 + 1]
        if " \n" in text or text.endswith(" "):  # (it trims them already: a safeguard)
            rows = [r.rstrip(" ") for r in rows]
        # The formatter drops trailing blank rows; put them back.
        return rows + [""] * (y1 - y0 + 1 - len(rows))

    def lines(self) -> list[str]:
        cols, rows = self.size
        return self._format_rows("active", 0, rows - 1, cols)

    def _read(self, call) -> bytes:
        """Like `_read_buf`, in one call while the text fits the screen's reusable buffer."""
        written = self._out_size
        res = call(self._buf, len(self._buf), written)
        while res == lib.GHOSTTY_OUT_OF_SPACE:  # (what it reports may not be all it needs)
            self._buf = ffi.new("uint8_t[]", max(written[0], 2 * len(self._buf)))
            res = call(self._buf, len(self._buf), written)
        _check(res, "format")
        return ffi.buffer(self._buf, written[0])[:]

    def scrolled_off(self) -> list[str]:
        self._drain_history()
        out, self._pending = self._pending, []
        return out

    def styled_lines(self) -> list[list[StyledRun]]:
        """The rows as styled runs. Only the rows the library marks dirty since the last
        call are read again (a program redrawing a line or two of a coloured screen
        costs those rows, not the screen's every cell); a scroll, a resize or a switch
        of screen marks them all."""
        if self._render is None:
            self._render = ffi.new("GhosttyRenderState*")
            _check(lib.ghostty_render_state_new(ffi.NULL, self._render), "render_state_new")
        rs = self._render[0]
        _check(lib.ghostty_render_state_update(rs, self._t), "render_state_update")
        dirty = self._out_dirty
        _check(
            lib.ghostty_render_state_get(rs, lib.GHOSTTY_RENDER_STATE_DATA_DIRTY, dirty), "dirty"
        )
        kept = self._styled if DIRTY_ROWS else None
        if kept is not None and len(kept) != self.size[1]:
            kept = None
        if kept is not None and dirty[0] == lib.GHOSTTY_RENDER_STATE_DIRTY_FALSE:
            return list(kept)
        if dirty[0] == lib.GHOSTTY_RENDER_STATE_DIRTY_FULL:
            kept = None
        rows_it = ffi.new("GhosttyRenderStateRowIterator*")
        cells = ffi.new("GhosttyRenderStateRowCells*")
        _check(lib.ghostty_render_state_row_iterator_new(ffi.NULL, rows_it), "row_iterator_new")
        _check(lib.ghostty_render_state_row_cells_new(ffi.NULL, cells), "row_cells_new")
        raw = ffi.new("GhosttyCell*")
        style = _sized("GhosttyStyle")
        glen = ffi.new("uint32_t*")
        gbuf = ffi.new("uint32_t[16]")
        row, styled = ffi.new("GhosttyRow*"), ffi.new("bool*")
        row_dirty, clean = ffi.new("bool*"), self._false
        plain: list[str] | None = None
        out: list[list[StyledRun]] = []
        try:
            it, cl = rows_it[0], cells[0]
            _check(
                lib.ghostty_render_state_get(
                    rs, lib.GHOSTTY_RENDER_STATE_DATA_ROW_ITERATOR, rows_it
                ),
                "row iterator",
            )
            while lib.ghostty_render_state_row_iterator_next(it):
                if kept is not None:
                    _check(
                        lib.ghostty_render_state_row_get(
                            it, lib.GHOSTTY_RENDER_STATE_ROW_DATA_DIRTY, row_dirty
                        ),
                        "row dirty",
                    )
                    if not row_dirty[0] and len(out) < len(kept):
                        out.append(kept[len(out)])
                        continue
                # Read now: not dirty until it changes again.
                lib.ghostty_render_state_row_set(
                    it, lib.GHOSTTY_RENDER_STATE_ROW_OPTION_DIRTY, clean
                )
                # A row without styled cells (most of a log, a shell) is its plain text:
                # one formatter call for the screen instead of reading cell by cell,
                # which is most of the cost of redrawing a screen that scrolled.
                # (The flag may say styled when nothing is; never the other way.)
                _check(
                    lib.ghostty_render_state_row_get(
                        it, lib.GHOSTTY_RENDER_STATE_ROW_DATA_RAW, row
                    ),
                    "row raw",
                )
                lib.ghostty_row_get(row[0], lib.GHOSTTY_ROW_DATA_STYLED, styled)
                if PLAIN_ROWS and not styled[0]:
                    if plain is None:
                        plain = self.lines()
                    text = plain[len(out)] if len(out) < len(plain) else ""
                    out.append([StyledRun(text, DEFAULT_STYLE)] if text else [])
                    continue
                _check(
                    lib.ghostty_render_state_row_get(
                        it, lib.GHOSTTY_RENDER_STATE_ROW_DATA_CELLS, cells
                    ),
                    "row cells",
                )
                out.append(self._row_runs(cl, raw, style, glen, gbuf))
        finally:
            lib.ghostty_render_state_row_cells_free(cells[0])
            lib.ghostty_render_state_row_iterator_free(rows_it[0])
        _check(
            lib.ghostty_render_state_set(rs, lib.GHOSTTY_RENDER_STATE_OPTION_DIRTY, self._clean),
            "clean",
        )
        self._styled = out
        return list(out)  # (a list of its own: the caller may keep it)

    def _row_runs(self, cl, raw, style, glen, gbuf) -> list[StyledRun]:
        runs: list[StyledRun] = []
        text: list[str] = []
        current = DEFAULT_STYLE
        get = lib.ghostty_render_state_row_cells_get
        wide_key = lib.GHOSTTY_CELL_DATA_WIDE
        cp_key = lib.GHOSTTY_CELL_DATA_CODEPOINT
        wide = ffi.new("GhosttyCellWide*")
        cp = ffi.new("uint32_t*")
        while lib.ghostty_render_state_row_cells_next(cl):
            _check(get(cl, lib.GHOSTTY_RENDER_STATE_ROW_CELLS_DATA_RAW, raw), "cell raw")
            lib.ghostty_cell_get(raw[0], wide_key, wide)
            if wide[0] in (lib.GHOSTTY_CELL_WIDE_SPACER_TAIL, lib.GHOSTTY_CELL_WIDE_SPACER_HEAD):
                continue
            _check(get(cl, lib.GHOSTTY_RENDER_STATE_ROW_CELLS_DATA_STYLE, style), "cell style")
            cell_style = _style(style)
            _check(get(cl, lib.GHOSTTY_RENDER_STATE_ROW_CELLS_DATA_GRAPHEMES_LEN, glen), "glen")
            if glen[0] > 1:
                buf = gbuf if glen[0] <= len(gbuf) else ffi.new("uint32_t[]", glen[0])
                _check(get(cl, lib.GHOSTTY_RENDER_STATE_ROW_CELLS_DATA_GRAPHEMES_BUF, buf), "gbuf")
                ch = "".join(chr(buf[i]) for i in range(glen[0]))
            else:
                lib.ghostty_cell_get(raw[0], cp_key, cp)
                ch = chr(cp[0]) if cp[0] else " "
            if cell_style != current and text:
                runs.append(StyledRun("".join(text), current))
                text = []
            current = cell_style
            text.append(ch)
        if text:
            runs.append(StyledRun("".join(text), current))
        # Trailing blanks in the default style carry nothing to draw.
        while runs and runs[-1].style == DEFAULT_STYLE:
            stripped = runs[-1].text.rstrip(" ")
            if stripped:
                runs[-1] = StyledRun(stripped, DEFAULT_STYLE)
                break
            runs.pop()
        return runs

    # -- persisting --------------------------------------------------------------

    def to_vt(self) -> bytes:
        self._drain_history()  # draw the screen, not the history not yet handed out
        opts = _sized("GhosttyFormatterTerminalOptions")
        opts.emit = lib.GHOSTTY_FORMATTER_FORMAT_VT
        opts.unwrap, opts.trim = False, False
        extra = opts.extra
        # The palette is left out: programs rarely change it and it costs 4 KB every time.
        for name in ("modes", "scrolling_region", "tabstops", "pwd", "keyboard"):
            setattr(extra, name, True)
        for name in ("cursor", "style", "hyperlink", "protection", "kitty_keyboard", "charsets"):
            setattr(extra.screen, name, True)
        opts.selection = ffi.NULL
        fmt = ffi.new("GhosttyFormatter*")
        _check(lib.ghostty_formatter_terminal_new(ffi.NULL, fmt, self._t, opts[0]), "formatter")
        try:
            return _read_buf(lambda b, n, w: lib.ghostty_formatter_format_buf(fmt[0], b, n, w))
        finally:
            lib.ghostty_formatter_free(fmt[0])

    def snapshot(self) -> bytes:
        """Ghostty's own binary snapshot: both screens, modes, colours, cursor, history."""
        self._drain_history()  # history already handed out must not come back on restore
        cols, rows = self.size
        payload = _read_buf(lambda b, n, w: lib.ghostty_snapshot_encode_buf(self._t, b, n, w))
        return SnapshotHeader(self.backend, SNAPSHOT_FORMAT, cols, rows).pack(payload)

    @classmethod
    def restore(cls, blob: bytes) -> GhosttyScreen:
        """Rebuild a screen from `snapshot()`; `SnapshotIncompatible` means replay the bytes."""
        header, payload = SnapshotHeader.unpack(blob)
        if header.backend != cls.backend or header.format != SNAPSHOT_FORMAT:
            raise SnapshotIncompatible(
                f"snapshot is {header.backend} format {header.format}, "
                f"not {cls.backend} format {SNAPSHOT_FORMAT}"
            )
        decoder = ffi.new("GhosttySnapshotDecoder*")
        _check(
            lib.ghostty_snapshot_decoder_new_buf(ffi.NULL, decoder, payload, len(payload)),
            "snapshot decoder",
        )
        handle = ffi.new("GhosttyTerminal*")
        try:
            res = lib.ghostty_snapshot_decoder_decode(decoder[0], handle)
        finally:
            lib.ghostty_snapshot_decoder_free(decoder[0])
        if res:
            raise SnapshotIncompatible(f"libghostty-vt could not decode this snapshot ({res})")
        screen = cls.__new__(cls)
        screen._adopt(handle)
        # Its scrolling region and character sets are in its state, not in bytes fed.
        screen._plain_ok = not _UNSAFE.search(screen.to_vt())
        return screen


def _read_buf(call) -> bytes:
    """The C API's size-query-then-fill dance over `call(buf, buf_len, out_written)`."""
    n = ffi.new("size_t*")
    call(ffi.NULL, 0, n)  # reports OUT_OF_SPACE with the size it needs
    buf = ffi.new("uint8_t[]", max(n[0], 1))
    _check(call(buf, len(buf), n), "format")
    return ffi.buffer(buf, n[0])[:]


_GRID_REF = None


def _grid_ref_fn():
    """ghostty_terminal_grid_ref with its by-value union parameter declared as a struct twin.

    cffi's ABI mode cannot pass unions by value; pyghostty declares a
    layout-identical struct (`GhosttyPointS`) for exactly this call.
    """
    global _GRID_REF
    if _GRID_REF is None:
        from pyghostty._ffi import union_fn

        _GRID_REF = union_fn(
            "ghostty_terminal_grid_ref",
            "GhosttyResult(*)(GhosttyTerminal, GhosttyPointS, GhosttyGridRef*)",
        )
    return _GRID_REF
