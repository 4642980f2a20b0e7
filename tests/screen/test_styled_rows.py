"""``styled_lines`` of the ghostty backend takes rows without styled cells from the
formatter's plain text (runner/screen/ghostty.py, ``PLAIN_ROWS``): the screen view
redraws a scrolled screen several times faster. Whatever the path, the rows must be
the same as reading every cell: checked on every recorded fixture, at each line end.
It also reads again only the rows the library marks dirty (``DIRTY_ROWS``), keeping
the others from its last call: those must be the rows a full read gives, however the
bytes are split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.screen import available_backends, open_screen

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "terminal").glob("*.bin"))

pytestmark = pytest.mark.skipif(
    "ghostty" not in available_backends(), reason="the ghostty backend is not installed"
)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_plain_rows_read_as_every_cell_would(fixture: Path, monkeypatch) -> None:
    from runner.screen import ghostty

    meta = json.loads(fixture.with_suffix(".json").read_text())
    screen = open_screen(meta["cols"], meta["rows"], "ghostty")
    data = fixture.read_bytes()
    ends = [i + 1 for i in range(len(data)) if data[i] == 0x0A]
    points = sorted({*ends[:: max(1, len(ends) // 20)], len(data)})
    fed, plain_rows = 0, 0
    for point in points:
        screen.feed(data[fed:point])
        fed = point
        monkeypatch.setattr(ghostty, "DIRTY_ROWS", False)  # (both read every row)
        monkeypatch.setattr(ghostty, "PLAIN_ROWS", True)
        quick = screen.styled_lines()
        monkeypatch.setattr(ghostty, "PLAIN_ROWS", False)
        assert quick == screen.styled_lines(), f"{fixture.stem} at byte {point}"
        plain_rows += sum(1 for row in quick if all(not run.style.fg for run in row))
    assert plain_rows  # the quick path was taken somewhere


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_rows_kept_from_the_last_read_are_what_a_full_read_gives(
    fixture: Path, monkeypatch
) -> None:
    from runner.screen import ghostty

    meta = json.loads(fixture.with_suffix(".json").read_text())
    kept = open_screen(meta["cols"], meta["rows"], "ghostty")
    full = open_screen(meta["cols"], meta["rows"], "ghostty")
    data = fixture.read_bytes()
    # Splits anywhere, in the middle of sequences too.
    points = sorted({*range(7, len(data), max(7, len(data) // 60)), len(data)})
    fed = 0
    for point in points:
        kept.feed(data[fed:point])
        full.feed(data[fed:point])
        fed = point
        monkeypatch.setattr(ghostty, "DIRTY_ROWS", True)
        rows = kept.styled_lines()
        monkeypatch.setattr(ghostty, "DIRTY_ROWS", False)
        assert rows == full.styled_lines(), f"{fixture.stem} at byte {point}"


def test_a_row_rewritten_on_a_coloured_screen_is_the_only_one_read_again() -> None:
    fixture = next(p for p in FIXTURES if p.stem == "htop")
    meta = json.loads(fixture.with_suffix(".json").read_text())
    screen = open_screen(meta["cols"], meta["rows"], "ghostty")
    screen.feed(fixture.read_bytes())
    screen.feed(b"\x1b[1;1H")  # the cursor on the first row, where it stays
    before = screen.styled_lines()
    screen.feed(b"\x1b[1;1H\x1b[31mchanged\x1b[0m")
    after = screen.styled_lines()
    assert after[0][0].text == "changed"
    assert [y for y in range(len(after)) if after[y] is not before[y]] == [0]
    assert screen.styled_lines() == after  # nothing new: the same rows
