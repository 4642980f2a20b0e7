"""A scroll view's screen rows drawn as Textual draws them, the same ``Strip`` for the
same row from one frame to the next.

Textual draws a widget's rows through its ``StylesCache``, which caches them by screen
row: a followed session's new line moves every row up by one, so each frame made a new
``Strip`` for every row, and everything Textual then does with a strip (cutting it
where the widgets overlap, turning it into escape codes) was done again for all of
them, although only one row was new: about half of the frame (issue 14's live latency).
Textual caches that work inside each ``Strip``; the rows of the output view come from
its own cache of rows (``RowPainter``), so giving Textual back the very strip it had
for that row content last frame makes all of it cached.

``KeptStrips.render`` does what ``StylesCache.render_widget`` does for a widget with
no border, outline, padding, hatch, tint or opacity (the output view's CSS; anything
else is left to Textual): the row fitted to the content width, wrapped in a strip of
the widget's width, the app's line filters applied, cropped to what is asked for.
tests/tui/test_output_strips.py checks the rows against Textual's own.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.cache import LRUCache
from textual.geometry import Region
from textual.strip import Strip
from textual.style import Style
from textual.widget import Widget


class KeptStrips:
    """The last frames' finished rows of one widget, by the row strip they came from."""

    def __init__(self) -> None:
        self._context: tuple | None = None
        self._kept: LRUCache[int, tuple[Strip, Strip]] = LRUCache(8)

    def render(
        self, widget: Widget, crop: Region, render_line: Callable[[int], Strip]
    ) -> list[Strip] | None:
        """The rows of ``crop``, or None when ``widget`` has styles drawn around or over
        its rows (then Textual's ``render_lines`` does it)."""
        if not plain(widget):
            return None
        width = widget.region.width
        content = widget.content_region.size
        base_background, background = widget.background_colors
        filters = tuple(widget.get_line_filters())
        context = (width, content, base_background, background, filters)
        if context != self._context:
            self._context = context
            # Two frames of rows: a followed line finds every other row of the last one.
            self._kept = LRUCache(2 * content.height + 8)
        inner = Style(background=base_background + background).rich_style
        kept = self._kept
        strips: list[Strip] = []
        for y in crop.line_range:
            line = render_line(y) if y < content.height else Strip.blank(content.width, inner)
            hit = kept.get(id(line))
            if hit is not None and hit[0] is line:
                strip = hit[1]
            else:
                strip = Strip(line.adjust_cell_length(content.width, inner), width)
                for line_filter in filters:
                    strip = strip.apply_filter(line_filter, background)
                kept.set(id(line), (line, strip))  # the row is kept too: its id stays its own
            strips.append(strip)
        if crop.column_span != (0, width):
            x1, x2 = crop.column_span
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips


def plain(widget: Widget) -> bool:
    """Nothing drawn around or over the rows: what ``KeptStrips`` can stand in for."""
    styles = widget.styles
    if any(styles.padding) or any(kind for kind, _ in styles.border):
        return False
    if any(kind for kind, _ in styles.outline):
        return False
    if styles.has_rule("hatch") and styles.hatch != "none":
        return False
    if styles.tint.a or widget.opacity != 1.0 or styles.text_opacity != 1.0:
        return False
    hover = widget.hover_style  # a hovered link is restyled by Textual
    return not (widget.auto_links and hover._link_id and hover._meta and "@click" in hover.meta)
