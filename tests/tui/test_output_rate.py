"""The session list's output-rate sparkline: a running session that writes shows one
in its exit cell (a real supervisor and command); the sampler's cells are bytes a
second over their span, and a quiet session draws nothing."""

from __future__ import annotations

import sys

import pytest

from tests.support.tui_app import Clock, make_app, paths_for, pin_environment
from tests.tui.test_app_live import _start, _stop_all, until
from tui.widgets.output_rate import STEP, OutputRates

SIZE = (120, 36)
WRITER = [
    sys.executable,
    "-u",
    "-c",
    "import time\nfor i in range(3000):\n print('x' * 200, i)\n time.sleep(0.02)",
]


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


def test_cells_are_bytes_a_second_over_their_step() -> None:
    clock = Clock(0.0)
    rates = OutputRates(clock=clock)
    rates.sample(1, 0)
    clock.advance(STEP / 2)
    rates.sample(1, 500)  # too soon for a cell
    assert rates.rates(1) == []
    clock.advance(STEP / 2)
    rates.sample(1, 1000)
    clock.advance(STEP)
    rates.sample(1, 1000)  # quiet for a step
    assert rates.rates(1) == [1000 / STEP, 0.0]
    assert rates.spark(1) == "█▁"
    rates.sample(2, 10)
    clock.advance(STEP)
    rates.sample(2, 10)
    assert rates.spark(2) == ""  # never wrote while watched


async def test_a_running_session_that_writes_shows_its_rate_in_the_list(tmp_path) -> None:
    paths = paths_for(tmp_path)
    paths.ensure()
    session = await _start(paths, WRITER)
    app = make_app(paths, background=True)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await app.wait_loaded()
            table = app.screen.query_one("SessionTable")

            def drawn() -> bool:
                """the exit cell of the running session holds a sparkline"""
                return any(c in "▂▃▄▅▆▇█" for c in table.rates.spark(session.id))

            await until(pilot, drawn, timeout=30)
            lines = [table.render_line(y).text for y in range(1, 3)]
            row = next(line for line in lines if f"#{session.id}" in line)
            assert any(c in row for c in "▂▃▄▅▆▇█"), row
    finally:
        await _stop_all(paths)
