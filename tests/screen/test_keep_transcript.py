"""A screen that keeps no transcript (the supervisor's): rows that scroll off are
dropped unread, the screen itself is the same, and memory stays flat."""

from __future__ import annotations

import pytest

from runner.screen import Screen, available_backends, open_screen


@pytest.mark.parametrize("backend", available_backends())
def test_without_a_transcript_rows_scroll_off_unkept(backend: str) -> None:
    data = b"".join(b"row %d\r\n" % i for i in range(3000)) + b"\x1b[1;32mlast\x1b[0m"
    kept, dropped = open_screen(40, 5, backend), open_screen(40, 5, backend)
    dropped.keep_transcript = False
    assert isinstance(dropped, Screen) and kept.keep_transcript
    for i in range(0, len(data), 1000):
        kept.feed(data[i : i + 1000])
        dropped.feed(data[i : i + 1000])
    assert dropped.scrolled_off() == []
    assert len(kept.scrolled_off()) == 2996
    assert (
        dropped.lines() == kept.lines() == ["row 2996", "row 2997", "row 2998", "row 2999", "last"]
    )
    assert dropped.styled_lines() == kept.styled_lines()
    assert dropped.cursor == kept.cursor
