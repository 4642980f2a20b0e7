"""The output view hands Textual the same strip for a row that only moved, drawn as
Textual's own StylesCache draws it (tui/widgets/kept_strips.py)."""

from __future__ import annotations

from pathlib import Path

from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from tests.support.output_screen import append, open_output, output_app, seed, settle
from tui.widgets.output_view import OutputView

SIZE = (120, 36)


def records() -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for i in range(80):
        out.append(("stdout", b"plain line %d\n" % i))
        out.append(("stderr", b"\x1b[31mred\x1b[0m and \x1b[1;44mbold on blue\x1b[0m %d\n" % i))
        if i % 9 == 0:
            out.append(("system", b"a system line " + b"long " * 60 + b"\n"))
        if i % 13 == 0:
            out.append(("input", b"typed %d\n" % i))
    return out


def textual_rows(view: OutputView, crop: Region) -> list[Strip]:
    """The rows as Textual's StylesCache draws them."""
    view._styles_cache.clear()
    return Widget.render_lines(view, crop)


def same(ours: list[Strip], theirs: list[Strip]) -> bool:
    return [(list(s), s.cell_length) for s in ours] == [(list(s), s.cell_length) for s in theirs]


async def test_the_rows_are_those_textual_draws(tmp_path: Path) -> None:
    """In each look (colours, streams, the gutter's numbers and times, wrapped lines,
    found words, the "+N new lines" badge) and for a crop, row for row."""
    db = tmp_path / "t.db"
    sid = await seed(db, records(), status="running", step=0.001)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_output(pilot, sid)

        def check() -> None:
            whole = view.size.region
            assert same(view.render_lines(whole), textual_rows(view, whole))
            part = Region(3, 2, 50, 7)
            assert same(view.render_lines(part), textual_rows(view, part))

        check()
        for key in ("L", "T", "w", "w"):
            await pilot.press(key)
            view = await settle(pilot)
            check()
        view.find("bold")
        view = await settle(pilot, lambda v: v.current_match is not None)
        check()
        await pilot.press("home")
        await append(db, sid, "stdout", b"new\n")
        view = await settle(pilot, lambda v: v.pending_lines == 1)
        check()
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        view = await settle(pilot)
        check()


async def test_a_followed_line_keeps_the_strips_of_the_rows_that_moved(tmp_path: Path) -> None:
    """Each new line moves every row up one: the rows handed to Textual are the very
    strips of the frame before (so Textual's work on them, cached in each strip, is
    not done again); only the new row is new."""
    db = tmp_path / "t.db"
    sid = await seed(db, records(), status="running", step=0.001)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_output(pilot, sid)
        whole = view.size.region
        before = view.render_lines(whole)
        count = view.line_count
        await append(db, sid, "stdout", b"fresh\n")
        view = await settle(pilot, lambda v: v.line_count == count + 1)
        after = view.render_lines(whole)
        height = view.scrollable_content_region.height
        assert all(after[y] is before[y + 1] for y in range(height - 1))
        assert after[height - 1].text.strip() == "fresh"
