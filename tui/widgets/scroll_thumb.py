"""A scroll view whose vertical scrollbar is drawn again only when its thumb moves.

Textual draws a scroll view's vertical scrollbar again (every row of it) each time
the view's virtual height or its scroll position changes. A followed session changes
both with every line it prints, while the thumb, drawn in eighths of a cell, moves by
one eighth every few dozen lines (a 1 000-line session on 34 rows: every ~100 lines).
Redrawing it cost as much as drawing the output view itself (0.8 ms of a ~2.5 ms frame,
bench/cases/live_latency.py, issue 14). ``QuietThumb`` keeps the scrollbar's numbers
exact (dragging, clicking and the tests read them) but asks for a repaint only when
what it would draw changes: the thumb's first and last eighth and the bar's height.

``thumb_span`` is Textual's own arithmetic (``ScrollBar._render_bar`` and
``ScrollBarRender.render_bar``, Textual 8); tests/tui/test_output_thumb.py checks that
every change it draws changes the span.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from math import ceil

from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar, ScrollBarRender

EIGHTHS = len(ScrollBarRender.VERTICAL_BARS)


def thumb_span(
    size: int, virtual_size: float, window_size: float, position: float
) -> tuple[int, int] | None:
    """Where a vertical scrollbar of ``size`` cells draws its thumb, in eighths of a
    cell (first, end), as Textual draws it; None when it draws no thumb."""
    window = ceil(window_size if window_size < virtual_size else 0)
    virtual = ceil(virtual_size)
    if not (window and size and virtual and size != virtual):
        return None
    thumb = max(1, window / (virtual / size))
    at = (size - thumb) * (position / (virtual - window))
    start = int(at * EIGHTHS)
    return start, start + ceil(thumb * EIGHTHS)


class QuietThumb(ScrollView):
    """A ``ScrollView`` whose vertical scrollbar repaints only when its thumb moves.

    Overrides two of Textual's methods: ``_scroll_update`` (its own, with the vertical
    bar's numbers set without a repaint) and ``watch_scroll_y``."""

    _thumb_drawn: tuple[int, tuple[int, int] | None] | None = None
    _thumb_held = 0

    @contextmanager
    def thumb_held(self) -> Iterator[None]:
        """Look at the thumb once, at the end: a view that grows and then scrolls to
        its new end passes through a thumb a little above the end (the old position in
        the new height), which would be drawn for nothing."""
        self._thumb_held += 1
        try:
            yield
        finally:
            self._thumb_held -= 1
            if not self._thumb_held and self.show_vertical_scrollbar:
                self._repaint_thumb(self.vertical_scrollbar)

    def _scroll_update(self, virtual_size: Size) -> None:
        # Textual 8's Widget._scroll_update, but for the quiet vertical bar.
        self._refresh_scrollbars()
        width, height = self.container_size
        if self.show_vertical_scrollbar and self.styles.scrollbar_size_vertical:
            bar = self.vertical_scrollbar
            bar.set_reactive(ScrollBar.window_virtual_size, virtual_size.height)
            bar.set_reactive(ScrollBar.window_size, height - self.scrollbar_size_horizontal)
            self._repaint_thumb(bar)
        if self.show_horizontal_scrollbar and self.styles.scrollbar_size_horizontal:
            self.horizontal_scrollbar.window_virtual_size = virtual_size.width
            self.horizontal_scrollbar.window_size = width - self.scrollbar_size_vertical
            self.horizontal_scrollbar.refresh()
        self.scroll_x = self.validate_scroll_x(self.scroll_x)
        self.scroll_y = self.validate_scroll_y(self.scroll_y)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        # ScrollView.watch_scroll_y, but for the quiet vertical bar.
        if self.show_vertical_scrollbar:
            bar = self.vertical_scrollbar
            bar.set_reactive(ScrollBar.position, bar.validate_position(new_value))
            self._repaint_thumb(bar)
        if round(old_value) != round(new_value):
            self.refresh(self.size.region)

    def _repaint_thumb(self, bar: ScrollBar) -> None:
        if self._thumb_held:
            return
        size = bar.size.height
        drawn = (size, thumb_span(size, bar.window_virtual_size, bar.window_size, bar.position))
        if drawn != self._thumb_drawn:
            self._thumb_drawn = drawn
            bar.refresh()
