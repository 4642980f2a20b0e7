"""``styled_lines`` of the ghostty backend takes rows without styled cells from the
formatter's plain text (runner/screen/ghostty.py, ``PLAIN_ROWS``): the screen view
redraws a scrolled screen several times faster. Whatever the path, the rows must be
the same as reading every cell: checked on every recorded fixture, at each line end."""

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
        monkeypatch.setattr(ghostty, "PLAIN_ROWS", True)
        quick = screen.styled_lines()
        monkeypatch.setattr(ghostty, "PLAIN_ROWS", False)
        assert quick == screen.styled_lines(), f"{fixture.stem} at byte {point}"
        plain_rows += sum(1 for row in quick if all(not run.style.fg for run in row))
    assert plain_rows  # the quick path was taken somewhere
