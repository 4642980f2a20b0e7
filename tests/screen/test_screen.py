"""The Screen interface, tested once per backend that loads here."""

from __future__ import annotations

import pytest

from runner.screen import (
    BackendUnavailable,
    Screen,
    SnapshotIncompatible,
    available_backends,
    open_screen,
    restore_screen,
)

BACKENDS = available_backends()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


def test_lines_are_exactly_the_rows_with_trailing_spaces_stripped(backend: str) -> None:
    s = open_screen(20, 4, backend)
    assert isinstance(s, Screen)
    s.feed(b"ab   \r\n\r\n  c")
    assert s.lines() == ["ab", "", "  c", ""]
    assert s.size == (20, 4)
    assert (s.cursor.x, s.cursor.y) == (3, 2)


def test_rows_that_scroll_off_become_the_transcript_once(backend: str) -> None:
    s = open_screen(20, 3, backend)
    s.feed(b"\r\n".join(b"line %d" % i for i in range(10)))
    assert s.scrolled_off() == [f"line {i}" for i in range(7)]
    assert s.scrolled_off() == []
    assert s.lines() == ["line 7", "line 8", "line 9"]


def test_a_long_stream_keeps_every_transcript_row(backend: str) -> None:
    s = open_screen(40, 5, backend)
    n = 3000 if backend == "pyte" else 50_000
    rows: list[str] = []
    data = b"".join(b"row %d\r\n" % i for i in range(n))
    for i in range(0, len(data), 65536):
        s.feed(data[i : i + 65536])
        rows += s.scrolled_off()
    assert rows == [f"row {i}" for i in range(n - 4)]


def test_the_alternate_screen_adds_nothing_to_the_transcript(backend: str) -> None:
    s = open_screen(20, 3, backend)
    s.feed(b"main 1\r\nmain 2\r\n\x1b[?1049h\x1b[H")
    assert s.alt_screen
    s.feed(b"\r\n".join(b"alt %d" % i for i in range(10)))
    assert s.scrolled_off() == []
    s.feed(b"\x1b[?1049l")
    assert not s.alt_screen
    assert s.lines()[:2] == ["main 1", "main 2"]


def test_modes_and_title(backend: str) -> None:
    s = open_screen(20, 3, backend)
    s.feed(b"\x1b]2;hello\x07\x1b[?2004h\x1b[?1h\x1b[?25l")
    modes = s.modes
    assert modes["bracketed_paste"] and modes["app_cursor_keys"]
    assert not modes["mouse_any"]
    assert not s.cursor.visible
    assert s.title == "hello"


def test_colours_in_both_sgr_forms(backend: str) -> None:
    s = open_screen(30, 2, backend)
    s.feed(b"\x1b[38;5;196mA\x1b[0m\x1b[38:2::1:2:3mB\x1b[0m\x1b[1;48;2;0;80;160mC\x1b[0m")
    assert s.lines()[0] == "ABC"
    runs = s.styled_lines()[0]
    styles = {run.text: run.style for run in runs}
    assert styles["A"].fg in (196, "#ff0000")
    assert styles["B"].fg == "#010203"
    assert styles["C"].bold and styles["C"].bg == "#0050a0"


def test_to_vt_redraws_the_same_screen(backend: str) -> None:
    s = open_screen(30, 5, backend)
    s.feed(b"\x1b[31mred\x1b[0m text\r\n\xe6\x97\xa5\xe6\x9c\xac\r\n\x1b[?2004h\x1b[4;7Hx\x1b[2;3H")
    copy = open_screen(30, 5, backend)
    copy.feed(s.to_vt())
    assert copy.lines() == s.lines()
    assert copy.cursor == s.cursor
    assert copy.modes == s.modes
    assert copy.styled_lines() == s.styled_lines()


def test_snapshot_restores_the_screen(backend: str) -> None:
    s = open_screen(30, 5, backend)
    s.feed(b"one\r\ntwo\r\n\x1b[?1049h\x1b[Hfull screen\x1b[3;4H")
    blob = s.snapshot()
    r = restore_screen(blob)
    assert r.backend == backend
    assert r.lines() == s.lines()
    assert r.cursor == s.cursor
    assert r.alt_screen
    r.feed(b" more")
    s.feed(b" more")
    assert r.lines() == s.lines()


def test_ghostty_snapshot_keeps_the_main_screen_under_the_alternate_one() -> None:
    if "ghostty" not in BACKENDS:
        pytest.skip("libghostty-vt not available")
    s = open_screen(30, 5, "ghostty")
    s.feed(b"main text\r\n\x1b[?1049hfull screen")
    r = restore_screen(s.snapshot())
    r.feed(b"\x1b[?1049l")
    assert r.lines()[0] == "main text"


def test_bad_snapshots_and_names_are_typed_errors() -> None:
    with pytest.raises(SnapshotIncompatible):
        restore_screen(b"garbage")
    with pytest.raises(BackendUnavailable):
        open_screen(10, 2, "nope")
