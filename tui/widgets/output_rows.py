"""Screen rows of the output view: what each row shows, cached.

``RowPainter`` turns a stored line into the strips of its screen rows: its text is
parsed once (``line_text``), its wrapped pieces once per width, and whole rows (gutter
and body) once per look, so following a busy session renders only the new lines even
though every row moves. ``wrap_rows`` and ``end_top`` lay out a screen of wrapped
lines from a top line, or from the end upwards.

The caches hold a few screens, not thousands of lines: every ``Strip`` carries seven
small caches of its own, so a cached line is some 50 objects that the garbage collector
walks on each full collection. While following a live session the caches fill up
(new lines in, old ones out); sized for thousands of lines, they grew the TUI's heap
by 18 000 objects in its first 25 s of following a ticking session, and on. An
unwrapped line's whole body is not kept beside its row (issue 14).
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.text import Text
from textual.cache import LRUCache
from textual.strip import Strip

from storage.models import Line

from .output_find import Finder
from .output_lines import line_key
from .output_render import GutterLayout, LineStyles, gutter_text, line_text, text_strip

ROWS_KEPT = 256  # screen rows: several screens, enough to scroll back and forth


class RowPainter:
    """Rows of lines in the current styles, with the current find highlighted."""

    def __init__(self) -> None:
        self.styles = LineStyles()
        self.finder: Finder | None = None
        self.current: int | None = None  # the line of the current match
        self.widest = 0  # the widest line body rendered so far (unwrapped), in cells
        self._texts: LRUCache[tuple, Text] = LRUCache(ROWS_KEPT)
        self._pieces: LRUCache[tuple, list[Strip]] = LRUCache(ROWS_KEPT)
        self._rows: LRUCache[tuple, Strip] = LRUCache(ROWS_KEPT)

    @property
    def cached(self) -> int:
        """Renderings held (texts, wrapped or whole bodies, rows): bounded."""
        return len(self._texts) + len(self._pieces) + len(self._rows)

    def forget(self) -> None:
        """Drop every cached rendering (styles or find changed)."""
        self._texts.clear()
        self._pieces.clear()
        self._rows.clear()

    def pieces(
        self, line: Line, wrap_width: int | None, console: Console, keep: bool = True
    ) -> list[Strip]:
        """The line's body: one strip, or one per row when wrapped at ``wrap_width``
        (``keep`` False: not cached, its row is)."""
        current = self.current == line.number
        key = (*line_key(line), self.finder, current)
        strips = self._pieces.get(key + (wrap_width,))
        if strips is not None:
            return strips
        text = self._texts.get(key)
        if text is None:
            text = line_text(line, self.styles, self.finder, current)
            self._texts.set(key, text)
        if wrap_width is None:
            strips = [text_strip(text, console)]
        else:
            rows = text.wrap(console, max(wrap_width, 1), overflow="fold", no_wrap=False)
            strips = [text_strip(row, console) for row in rows] or [Strip.blank(0)]
        if keep:
            self._pieces.set(key + (wrap_width,), strips)
        return strips

    def row_count(self, line: Line | None, wrap_width: int, console: Console) -> int:
        return 1 if line is None else len(self.pieces(line, wrap_width, console))

    def row(
        self,
        line: Line | None,
        number: int,
        part: int,
        gutter: GutterLayout,
        width: int,
        scroll_x: int | None,
        console: Console,
    ) -> Strip:
        """Screen row ``part`` of line ``number`` (``line`` None: not loaded yet), its
        body ``width`` cells wide, scrolled by ``scroll_x`` (None: wrapped)."""
        if line is None:
            return self._compose(None, number, part, gutter, width, scroll_x, console)
        key = (line_key(line), self.finder, self.current == number, part, gutter, width, scroll_x)
        strip = self._rows.get(key)
        if strip is None:
            strip = self._compose(line, number, part, gutter, width, scroll_x, console)
            self._rows.set(key, strip)
        return strip

    def _compose(
        self,
        line: Line | None,
        number: int,
        part: int,
        gutter: GutterLayout,
        width: int,
        scroll_x: int | None,
        console: Console,
    ) -> Strip:
        base = self.styles.base
        head = text_strip(
            gutter_text(gutter, self.styles, line, number, continuation=part > 0), console
        )
        if line is None:
            body = text_strip(Text("…", base + self.styles.placeholder), console)
            body = body.extend_cell_length(width, base)
        elif scroll_x is None:
            parts = self.pieces(line, width, console)
            body = parts[part] if part < len(parts) else Strip.blank(0)
            body = body.extend_cell_length(width, base).crop(0, width)
        else:
            # Not kept: the row is, and a whole body is only needed again to scroll
            # sideways (then made again from the kept text).
            body = self.pieces(line, None, console, keep=False)[0]
            self.widest = max(self.widest, body.cell_length)
            body = body.crop_extend(scroll_x, scroll_x + width, base)
        return Strip.join([head, body])

    def with_badge(self, strip: Strip, width: int, pending: int, console: Console) -> Strip:
        """``strip`` with "+N new lines" over its right end."""
        label = f" +{pending:,} new line{'s' if pending != 1 else ''} · G follows "
        badge = Text(label, self.styles.base + self.styles.badge, end="")
        if badge.cell_len >= width:
            return strip
        keep = width - badge.cell_len - 1
        return Strip.join(
            [
                strip.crop_extend(0, keep, self.styles.base),
                text_strip(badge, console),
                Strip.blank(1, self.styles.base),
            ]
        )


def wrap_rows(
    top: int, height: int, count: int, rows_of: Callable[[int], int]
) -> tuple[list[tuple[int, int]], bool]:
    """(line, row of that line) for each of ``height`` screen rows from line ``top``;
    when the lines run out first, the screen is filled from the end upwards instead.
    The second value says whether it was."""
    rows: list[tuple[int, int]] = []
    number = top
    while len(rows) < height and number < count:
        rows += [(number, k) for k in range(rows_of(number))]
        number += 1
    if len(rows) >= height or top == 0:
        return rows[:height], False
    rows = []
    number = count
    while number > 0 and len(rows) < height:
        number -= 1
        rows = [(number, k) for k in range(rows_of(number))] + rows
    return rows[-height:], True


def end_top(height: int, count: int, rows_of: Callable[[int], int]) -> int:
    """The first line wholly on screen when ``height`` rows are filled from the end."""
    rows, number = 0, count
    while number > 0 and rows < height:
        number -= 1
        rows += rows_of(number)
    return number if rows <= height else number + 1
