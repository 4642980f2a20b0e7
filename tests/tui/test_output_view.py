"""The live output view, driven with the pilot over real SQLite files."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Container
from textual.screen import Screen

from tests.support.output_screen import (
    append,
    calls_to,
    open_output,
    output_app,
    seed,
    seed_lines,
    settle,
)
from tui.widgets.output_view import PAGE_LINES, OutputView

SIZE = (120, 36)


def rows(view: OutputView) -> list[str]:
    return [view.row_text(y) for y in range(view.scrollable_content_region.height)]


def last_row(view: OutputView) -> str:
    return rows(view)[-1]


def found(view: OutputView) -> bool:
    return view.find_status not in ("", "searching…")


async def test_follows_the_tail_and_shows_new_lines_without_a_key(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    sid = await seed_lines(db, 50)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_output(pilot, sid)
        assert view.follow
        assert "line 49" in last_row(view)
        await append(db, sid, "stdout", b"".join(b"fresh %d\n" % i for i in range(10)))
        view = await settle(pilot, lambda v: v.line_count == 60)
        assert view.follow
        assert last_row(view).strip() == "fresh 9"
        assert view.pending_lines == 0


async def test_scrolling_up_stops_following_and_counts_new_lines(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    sid = await seed_lines(db, 100)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_output(pilot, sid)
        await pilot.press("home")
        view = await settle(pilot)
        assert not view.follow
        assert rows(view)[0].strip() == "line 0"
        await append(db, sid, "stdout", b"".join(b"fresh %d\n" % i for i in range(7)))
        view = await settle(pilot, lambda v: v.line_count == 107)
        assert rows(view)[0].strip() == "line 0"  # not yanked to the end
        assert view.pending_lines == 7
        assert "+7 new lines" in last_row(view)
        await pilot.press("G")
        view = await settle(pilot)
        assert view.follow and view.pending_lines == 0
        assert last_row(view).strip() == "fresh 6"


async def test_scrolling_back_down_to_the_end_follows_again(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    sid = await seed_lines(db, 300)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_output(pilot, sid)
        await pilot.press("pageup", "pageup")
        view = await settle(pilot)
        assert not view.follow
        await pilot.press("pagedown", "pagedown", "pagedown")
        view = await settle(pilot)
        assert view.follow
        await append(db, sid, "stdout", b"after\n")
        view = await settle(pilot, lambda v: v.line_count == 301)
        assert last_row(view).strip() == "after"


async def test_a_line_that_grows_is_shown_whole(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    sid = await seed(db, [("stdout", b"start\n"), ("stdout", b"progress 10%")], status="running")
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_output(pilot, sid)
        assert rows(view)[1].strip() == "progress 10%"
        await append(db, sid, "stdout", b" 20% done\nnext\n")
        view = await settle(pilot, lambda v: v.line_count == 3)
        assert rows(view)[1].strip() == "progress 10% 20% done"
        assert rows(view)[2].strip() == "next"


async def test_control_sequences_are_neutralised_and_cr_collapsed(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    data = b"get 10%\rget 100%\x1b[2K\x1b[1A ok \x1b]52;c;aGk=\x07\x1b[31mred\x1b[0m\x07\n"
    sid = await seed(db, [("stdout", data)])
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_output(pilot, sid)
        strip = view.render_line(0)
        assert strip.text.strip() == "get 100% ok red"
        red = [seg for seg in strip if seg.text == "red"]
        assert red and red[0].style is not None and red[0].style.color is not None
        assert red[0].style.color.number == 1  # ANSI red


async def test_streams_are_marked_in_the_gutter(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    records = [("stdout", b"out\n"), ("stderr", b"err\n"), ("system", b"sys\n"), ("input", b"in\n")]
    sid = await seed(db, records)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_output(pilot, sid)
        assert [r[:5] for r in rows(view)[:4]] == ["  out", "▌ err", "· sys", "› in "]
        await pilot.press("L")
        view = await settle(pilot)
        assert rows(view)[1].startswith("  2 ▌ err")
        await pilot.press("L")
        await pilot.pause()
        assert not view.show_line_numbers


async def test_toggles_timestamps_line_numbers_and_wrap(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    long = b"x" * 250
    sid = await seed(db, [("stdout", b"short\n"), ("stdout", long + b"\n"), ("stdout", b"end\n")])
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_output(pilot, sid)
        width = view.scrollable_content_region.width
        assert rows(view)[2].strip() == "end"
        await pilot.press("T")
        view = await settle(pilot)
        assert view.show_timestamps
        assert rows(view)[0][2:4] == ":1" and rows(view)[0][5] == ":"  # HH:MM:SS
        await pilot.press("T", "w")
        view = await settle(pilot)
        assert view.wrap
        shown = rows(view)
        # The long line takes three rows of the screen; the rest moves down.
        assert shown[1].strip() == "x" * (width - 2)
        assert shown[2].strip() == "x" * (width - 2)
        assert shown[3].strip() == "x" * (250 - 2 * (width - 2))
        assert shown[4].strip() == "end"
        await pilot.press("w")
        view = await settle(pilot)
        assert rows(view)[2].strip() == "end"


async def test_find_next_and_previous_cross_pages_and_wrap_around(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    needles = {5, 900, 1900}
    lines = [
        ("stdout", (f"a needle here {i}\n" if i in needles else f"hay {i}\n").encode())
        for i in range(2000)
    ]
    sid = await seed(db, lines, step=0.001)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_output(pilot, sid)
        await pilot.press("slash", *"needle", "enter")
        view = await settle(pilot, found)
        # From the end nothing follows, so it went round to the top.
        assert view.current_match == 5 and "wrapped" in view.find_status
        seen = []
        for key in ("n", "n", "n", "N", "N"):
            await pilot.press(key)
            view = await settle(pilot, lambda v: found(v) and v.current_match not in seen[-1:])
            seen.append(view.current_match)
            assert view.current_match in view.visible_lines
            assert any(f"a needle here {view.current_match}" in r for r in rows(view))
        assert seen == [900, 1900, 5, 1900, 900]
        assert not view.follow
        # The view read the pages it showed, not the 2000 lines in between.
        assert view.stats.lines < 2000


async def test_find_sees_words_split_by_colour_codes_and_uses_smart_case(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    lines = [("stdout", b"nothing\n")] * 50 + [("stdout", b"\x1b[1mNee\x1b[0mdle\n")]
    lines += [("stdout", b"nothing\n")] * 50 + [("stdout", b"needle\n")]
    sid = await seed(db, lines, step=0.001)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_output(pilot, sid, follow=False)
        view.find("needle")
        view = await settle(pilot, found)
        assert view.current_match == 50  # lowercase words ignore case
        view.find("Needle")
        view = await settle(pilot, found)
        assert view.current_match == 50
        await pilot.press("n")
        view = await settle(pilot, found)
        assert view.current_match == 50 and "wrapped" in view.find_status  # the only match
        view.find("NEEDLE")
        view = await settle(pilot, found)
        assert view.find_status == "no match" and view.current_match is None


async def test_escape_closes_the_find_bar_then_goes_back(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    sid = await seed_lines(db, 40, status="succeeded")
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_output(pilot, sid)
        await pilot.press("slash", *"line 3", "enter")
        view = await settle(pilot, found)
        assert view.current_match == 30  # the first match from the top of the screen down
        bar = app.screen.query_one("#find-bar")
        assert bar.has_class("-open")
        await pilot.press("escape")
        await pilot.pause()
        assert not bar.has_class("-open") and view.current_match is None
        await pilot.press("escape")
        await pilot.pause()
        assert not app.screen.query(OutputView)


async def test_opens_at_a_line_with_words_highlighted(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    sid = await seed_lines(db, 5000, status="succeeded")
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_output(pilot, sid, line=3210, highlight="line 3210")
        assert not view.follow
        assert 3210 in view.visible_lines
        assert view.current_match == 3210
        row = next(y for y, r in enumerate(rows(view)) if r.strip() == "line 3210")
        styled = [seg for seg in view.render_line(row) if "line 3210" in seg.text]
        assert styled and styled[0].style is not None and styled[0].style.bgcolor is not None
        await pilot.press("n")  # the only match: round the whole session back to it
        view = await settle(pilot, lambda v: "wrapped" in v.find_status)
        assert view.current_match == 3210


async def test_a_200k_line_session_fetches_only_what_is_on_screen(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    total = 200_000
    sid = await seed_lines(db, total)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_output(pilot, sid)
        assert view.line_count == total
        assert last_row(view).strip() == f"line {total - 1}"
        # The screen's lines and a page above: nothing near the start was read.
        assert view.stats.lines <= 3 * PAGE_LINES
        assert min(start for start, _ in view.stats.ranges) >= total - 3 * PAGE_LINES
        await pilot.press("home")
        view = await settle(pilot)
        assert rows(view)[0].strip() == "line 0"
        assert view.stats.lines <= 6 * PAGE_LINES
        assert len(view.lines) <= 6  # pages in memory


class Unsized(Screen[None]):
    """An output view in a box with no height yet: ready before it can be placed."""

    DEFAULT_CSS = "#box { height: 1fr; } #box OutputView { height: 0; }"

    def __init__(self, session_id: int) -> None:
        super().__init__()
        self.session_id = session_id

    def compose(self) -> ComposeResult:
        with Container(id="box"):
            yield OutputView(self.session_id)


async def test_a_frame_before_the_view_is_placed_reads_nothing(tmp_path: Path) -> None:
    """On a loaded machine a frame can come after the view has its session but before
    it has its size and has scrolled to the end: that frame is drawn at the top, and
    must not ask for the top's pages (it read page 0 of a 200 000-line session opened
    at its end, now and then beside two busy loops)."""
    db = tmp_path / "t.db"
    total = 200_000
    sid = await seed_lines(db, total)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_loaded()  # type: ignore[attr-defined]
        await app.push_screen(Unsized(sid))
        view = app.screen.query_one(OutputView)
        for _ in range(1000):
            if view._ready:
                break
            await pilot.pause(0.01)
        drawn = [view.render_line(y).text for y in range(SIZE[1])]
        assert not "".join(drawn).strip()  # blank, not the top's lines
        assert not view.lines.busy  # and no page asked for
        view.styles.height = SIZE[1] - 2
        for _ in range(1000):
            if view.scrollable_content_region.height and view.idle and last_row(view).strip():
                break
            await pilot.pause(0.01)
        assert last_row(view).strip() == f"line {total - 1}"
        assert min(start for start, _ in view.stats.ranges) >= total - 3 * PAGE_LINES


async def test_wrapped_view_follows_the_end_and_scrolls_up_by_lines(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    records = [("stdout", (f"{i:03d}-" + "w" * 246 + "\n").encode()) for i in range(60)]
    sid = await seed(db, records, status="running", step=0.001)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_output(pilot, sid)
        await pilot.press("w")
        view = await settle(pilot)
        shown = rows(view)
        assert shown[-3].strip().startswith("059-")  # the last line's three rows end it
        assert view.follow
        before = shown[0]
        await pilot.press("up")
        view = await settle(pilot)
        assert not view.follow
        after = rows(view)
        assert after[0] != before  # one press moves the screen
        assert after[-3:] != shown[-3:]  # and the end is no longer at the bottom
        await append(db, sid, "stdout", b"060 short\n")
        view = await settle(pilot, lambda v: v.line_count == 61)
        assert "+1 new line" in last_row(view)
        await pilot.press("G")
        view = await settle(pilot)
        assert last_row(view).strip() == "060 short"


async def test_a_followed_line_lays_out_nothing_and_keeps_the_scrollbar_true(
    tmp_path: Path,
) -> None:
    """Each line a followed session prints grows the view's virtual height. Set through
    Textual's reactive, that laid out and drew the whole screen again (header, footer,
    every widget) for each line; the view's region does not change, so only the view
    and its scrollbar are drawn again, and the scrollbar still says where the view is."""
    db = tmp_path / "t.db"
    sid = await seed_lines(db, 100)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_output(pilot, sid)
        assert view.follow and view.show_vertical_scrollbar
        screen = app.screen
        layouts = calls_to(screen, "_refresh_layout")
        for n in range(1, 6):
            await append(db, sid, "stdout", b"fresh %d\n" % n)
            view = await settle(pilot, lambda v, n=n: v.line_count == 100 + n)
            assert last_row(view).strip() == f"fresh {n}"
            bar = view.vertical_scrollbar
            assert (bar.window_virtual_size, bar.position) == (100 + n, view.max_scroll_y)
        assert layouts == []


async def test_a_followed_line_wider_than_the_view_stays_above_the_horizontal_bar(
    tmp_path: Path,
) -> None:
    """The first line wider than the view brings the horizontal scrollbar, which takes
    the bottom row: the view still ends with the last line (it was left under the bar
    until the next line came)."""
    db = tmp_path / "t.db"
    sid = await seed_lines(db, 100)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_output(pilot, sid)
        assert not view.show_horizontal_scrollbar
        await append(db, sid, "stdout", b"wide " + b"x" * 300 + b"\n")
        view = await settle(pilot, lambda v: v.line_count == 101 and v.show_horizontal_scrollbar)
        assert view.follow and view.scroll_y == view.max_scroll_y
        assert last_row(view).strip().startswith("wide xxx")
