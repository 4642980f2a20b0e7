"""The ghostty backend takes runs of plain lines at the bottom of the main screen without
the library (runner/screen/ghostty.py, ``PLAIN_LINES``): only the lines that stay on the
screen are fed to it, those before go straight to the transcript. A pty burst of a
build's or ``seq``'s output is then no longer held to the library's scrolling speed.
Whatever the bytes and however they are cut, the transcript, the screen, its styles and
the cursor must be what feeding every byte gives: checked on generated streams that mix
plain lines with what makes the shortcut wrong (scrolling regions, other character
sets, partial rows, long lines that wrap or (autowrap off) do not, the alternate screen),
and on every recorded fixture."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.screen import available_backends, open_screen, restore_screen

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "terminal").glob("*.bin"))

pytestmark = pytest.mark.skipif(
    "ghostty" not in available_backends(), reason="the ghostty backend is not installed"
)


def _fed(data: bytes, cuts: list[int], cols: int, rows: int, *, plain: bool):
    """Feed ``data`` cut at ``cuts`` into a new screen; what it shows and kept."""
    from runner.screen import ghostty

    was, ghostty.PLAIN_LINES = ghostty.PLAIN_LINES, plain
    try:
        screen = open_screen(cols, rows, "ghostty")
        transcript: list[str] = []
        start = 0
        for cut in [*cuts, len(data)]:
            screen.feed(data[start:cut])
            start = cut
            transcript += screen.scrolled_off()
        shown = screen.lines(), screen.styled_lines(), screen.cursor, screen.alt_screen
    finally:
        ghostty.PLAIN_LINES = was
    return transcript, *shown


def _same_either_way(data: bytes, cuts: list[int], cols: int, rows: int) -> None:
    quick = _fed(data, cuts, cols, rows, plain=True)
    every = _fed(data, cuts, cols, rows, plain=False)
    assert quick[0] == every[0]  # the transcript
    assert quick[1:] == every[1:]  # the screen, its styles, the cursor


def _plain(i: int, width: int) -> bytes:
    return (b"%d " % i + b"x" * (i * 7 % (width + 3))).rstrip(b" ") + b"  " * (i % 3 == 0)


PIECES = [
    b"",  # (a plain run)
    b"\x1b[1;31mred\x1b[0m\r\n",
    b"50%\r",  # a progress line: the row is not empty when the next line comes
    b"100%\r\n",
    b"\x1b[2;6r",  # a scrolling region...
    b"\x1b[1;3r\x1b[99;1H",  # ...with the cursor below it, where a line feed scrolls nothing
    b"\x1b[r",  # ...and back to the whole screen
    b"\x1b(0qqq\x1b(B\r\n",  # line drawing, then ASCII again
    b"\x0eabc\x0f\r\n",  # shift out / in
    b"\x1b[?1049hfull screen\x1b[?1049l",
    b"\x1b[5;1Hmoved\r\n",
    b"prompt$ ",  # a line without its end
    b"\ttab\r\n",
    b"\x1b[?7lno wrap, a line longer than the screen is wide\x1b[?7h\r\n",
    b"\x1b[?7l",  # autowrap off, and left off: a long line no longer wraps
    b"\x1b[44m\x1b[K\x1b[0m\r\n",  # a coloured empty row
    b"\xc3\xa9t\xc3\xa9\r\n",  # not ASCII
    b"\x1b[3S",  # scroll up three rows
]


@st.composite
def streams(draw):
    cols = draw(st.integers(8, 40))
    rows = draw(st.integers(2, 8))
    parts = []
    for _ in range(draw(st.integers(1, 12))):
        piece = draw(st.sampled_from(PIECES))
        if piece:
            parts.append(piece)
            continue
        start = draw(st.integers(0, 10_000))
        n = draw(st.integers(1, 60))
        parts.append(b"".join(_plain(i, cols) + b"\r\n" for i in range(start, start + n)))
    data = b"".join(parts)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    return data, cuts, cols, rows


@settings(max_examples=300, deadline=None)
@given(stream=streams())
def test_generated_streams_show_and_keep_the_same(stream) -> None:
    data, cuts, cols, rows = stream
    _same_either_way(data, cuts, cols, rows)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_recorded_programs_show_and_keep_the_same(fixture: Path) -> None:
    meta = json.loads(fixture.with_suffix(".json").read_text())
    data = fixture.read_bytes()
    rng = random.Random(fixture.stem)
    cuts = sorted(rng.randrange(len(data)) for _ in range(30))
    _same_either_way(data, cuts, meta["cols"], meta["rows"])
    # The same after a burst of plain lines, cut anywhere.
    burst = b"".join(b"line %d of the build\r\n" % i for i in range(5000))
    more = data + b"\r\n" + burst + data[:2000]
    cuts = sorted(rng.randrange(len(more)) for _ in range(60))
    _same_either_way(more, cuts, meta["cols"], meta["rows"])


def _library_bytes(screen) -> list[int]:
    """Counts the bytes ``screen`` hands to the library from now on."""
    fed = [0]
    real = screen._feed_vt

    def counting(data: bytes) -> None:
        fed[0] += len(data)
        real(data)

    screen._feed_vt = counting
    return fed


def test_a_burst_of_plain_lines_barely_reaches_the_library() -> None:
    screen = open_screen(100, 30, "ghostty")
    fed = _library_bytes(screen)
    burst = b"".join(b"%d\r\n" % i for i in range(200_000))
    for i in range(0, len(burst), 65536):
        screen.feed(burst[i : i + 65536])
    rows = screen.scrolled_off()
    assert rows == [str(i) for i in range(200_000 - 29)]
    assert fed[0] < len(burst) // 20


def test_after_a_scrolling_region_every_byte_goes_to_the_library() -> None:
    screen = open_screen(100, 30, "ghostty")
    screen.feed(b"\x1b[1;29r\x1b[r")  # set and reset: the screen no longer takes the shortcut
    fed = _library_bytes(screen)
    burst = b"".join(b"%d\r\n" % i for i in range(2000))
    screen.feed(burst)
    assert fed[0] == len(burst)


def test_a_progress_line_left_in_the_bottom_row_is_written_over_as_the_library_would() -> None:
    """The cursor at the start of the bottom row is not enough: a line printed there
    overwrites what a progress line left (``a`` over ``50%`` shows ``a0%``)."""
    head = b"".join(b"%d\r\n" % i for i in range(20)) + b"50%\r"
    burst = b"".join(b"%d\r\n" % (i % 10) for i in range(100))
    data = head + burst
    _same_either_way(data, [len(head)], 20, 5)
    transcript = _fed(data, [len(head)], 20, 5, plain=True)[0]
    assert transcript[16:21] == ["16", "17", "18", "19", "00%"]


def test_a_restored_screen_knows_its_scrolling_region() -> None:
    """A snapshot holds a scrolling region the restored screen was never fed: below it
    a line feed scrolls nothing, and lines printed there overwrite one another."""
    from runner.screen import ghostty

    screen = open_screen(30, 10, "ghostty")
    screen.feed(b"a\r\nb\r\n\x1b[1;8r\x1b[10;1H")
    burst = b"".join(b"%d\r\n" % i for i in range(500))
    again = restore_screen(screen.snapshot())
    again.feed(burst)
    was, ghostty.PLAIN_LINES = ghostty.PLAIN_LINES, False
    try:
        every = restore_screen(screen.snapshot())
        every.feed(burst)
    finally:
        ghostty.PLAIN_LINES = was
    assert every.lines()[-1] == "499"  # (written over, never scrolled)
    assert again.scrolled_off() == every.scrolled_off()
    assert again.lines() == every.lines()
    plain = open_screen(30, 10, "ghostty")
    plain.feed(b"a\r\nb\r\n")
    again = restore_screen(plain.snapshot())
    fed = _library_bytes(again)
    again.feed(burst)
    assert fed[0] < len(burst) // 4  # (no region: the shortcut)


def test_a_sequence_cut_between_two_feeds_is_still_seen() -> None:
    head = b"".join(b"%d\r\n" % i for i in range(20))
    region = b"\x1b[1;3r\x1b[8;1H"
    burst = b"".join(b"%d\r\n" % i for i in range(100))
    data = head + region + burst
    for cut in range(len(head) + 1, len(head) + 6):  # inside the scrolling region's sequence
        _same_either_way(data, [cut, len(head) + len(region)], 20, 8)


def test_long_lines_go_to_the_library_as_they_are() -> None:
    """The library scrolls long lines as fast as the shortcut takes them (its cost is per
    line): a burst of lines averaging ``_SHORT_LINE`` bytes or more is fed as it is."""
    from runner.screen import ghostty

    screen = open_screen(200, 50, "ghostty")
    fed = _library_bytes(screen)
    line = b"x" * (ghostty._SHORT_LINE + 10)
    burst = b"".join(line + b" %d\r\n" % i for i in range(3000))
    screen.feed(burst)
    assert fed[0] == len(burst)
    assert len(screen.scrolled_off()) == 3000 - 49
