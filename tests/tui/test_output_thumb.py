"""The output view's vertical scrollbar repaints only when its thumb moves
(tui/widgets/scroll_thumb.py)."""

from __future__ import annotations

import random
from pathlib import Path

from rich.color import Color
from textual.scrollbar import ScrollBarRender

from tests.support.output_screen import (
    append,
    calls_to,
    open_output,
    output_app,
    seed_lines,
    settle,
)
from tui.widgets.scroll_thumb import thumb_span

SIZE = (120, 36)


def drawn(size: int, virtual: int, window: int, position: float) -> list:
    """The bar as Textual draws it (ScrollBar._render_bar's sizes, then render_bar)."""
    window = window if window < virtual else 0
    bar = ScrollBarRender.render_bar(
        size=size,
        virtual_size=virtual,
        window_size=window,
        position=position,
        back_color=Color.parse("#555555"),
        bar_color=Color.parse("#ff00ff"),
    )
    return [(s.text, s.style) for s in bar.segments]


def test_the_span_changes_whenever_textual_draws_the_bar_differently() -> None:
    """Two bars with the same span are drawn the same: a bar is never left stale."""
    rng = random.Random(14)
    seen: dict[tuple, list] = {}
    for _ in range(4000):
        size = rng.choice([1, 2, 5, 20, 34, 35])
        virtual = rng.choice([size, size + 1, rng.randint(1, 300), rng.randint(1, 100_000)])
        window = rng.choice([size, size - 1, rng.randint(0, size + 3)])
        position = int(rng.uniform(0, max(virtual - window, 0)) * 8) / 8
        key = (size, thumb_span(size, virtual, window, position))
        bar = drawn(size, virtual, window, position)
        assert seen.setdefault(key, bar) == bar, (size, virtual, window, position)
    assert len(seen) > 500


async def test_a_followed_line_repaints_the_scrollbar_only_when_its_thumb_moves(
    tmp_path: Path,
) -> None:
    """Textual repaints a scroll view's bar (every row of it) whenever its virtual
    height or position changes: every followed line. In a 5 000-line session the
    thumb does not move for a few lines: nothing repaints it, and it stays true."""
    db = tmp_path / "t.db"
    sid = await seed_lines(db, 5000)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_output(pilot, sid)
        bar = view.vertical_scrollbar
        assert view.follow and view.show_vertical_scrollbar
        repaints = calls_to(bar, "refresh")
        for n in range(1, 6):
            await append(db, sid, "stdout", b"fresh %d\n" % n)
            view = await settle(pilot, lambda v, n=n: v.line_count == 5000 + n)
            assert (bar.window_virtual_size, bar.position) == (5000 + n, view.max_scroll_y)
        assert repaints == []
        # Back at the top, the thumb moves: it is drawn there.
        await pilot.press("home")
        view = await settle(pilot, lambda v: v.scroll_y == 0)
        assert repaints and bar.position == 0
