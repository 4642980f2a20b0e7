"""The footer of every screen: key hints that never end mid-word.

Textual's ``Footer`` lays its hints in one row and cuts the last one wherever the
width ends (``q Q`` of ``q Quit`` at 80 columns). ``KeyFooter`` drops whole hints from
the end instead, keeping the help key (``?`` shows them all) and the palette key
docked on the right; a wider terminal brings them back.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from textual.widget import Widget
from textual.widgets import Footer

__all__ = ["KeyFooter"]


class KeyFooter(Footer):
    """A ``Footer`` that shows only the key hints that fit whole."""

    KEEP: ClassVar[frozenset[str]] = frozenset({"help"})
    """Actions whose hint stays when others are dropped."""

    def on_mount(self) -> None:
        self.call_after_refresh(self.fit)

    def on_resize(self) -> None:
        self.fit()

    async def recompose(self) -> None:
        await super().recompose()
        self.fit()

    def fit(self) -> None:
        """Show the hints that fit in full, in order, dropping from the end."""
        items = [w for w in self.children if not w.has_class("-command-palette")]
        palette = [w for w in self.children if w.has_class("-command-palette")]
        room = self.size.width - sum(_width(w) for w in palette)
        widths = [_width(w) for w in items]
        shown = [True] * len(items)
        for i in reversed(range(len(items))):
            if sum(w for w, s in zip(widths, shown, strict=True) if s) <= room:
                break
            if getattr(items[i], "action", None) not in self.KEEP:
                shown[i] = False
        for item, show in zip(items, shown, strict=True):
            if item.display != show:
                item.display = show


def _width(widget: Widget) -> int:
    """Cells ``widget`` takes in the row: its text, padding, border and margin."""
    if hasattr(widget, "key_display"):  # a FooterKey (not exported by textual.widgets)
        text = cell_len(widget.render().plain)
    else:
        text = sum(_width(child) for child in widget.children) or widget.outer_size.width
    styles = widget.styles
    gutter = styles.padding.width + styles.border.spacing.width
    return text + gutter + styles.margin.width
