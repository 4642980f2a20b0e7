"""The list at every width: a session must be recognisable even in 80 columns."""

from __future__ import annotations

import pytest

from storage import open_store
from tests.support.tui_app import make_app, paths_for, pin_environment
from tui.widgets.session_table import SessionTable, layout


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


@pytest.mark.parametrize("width", [60, 80, 100, 120, 200])
def test_columns_fill_the_width_and_always_say_what_runs(width: int) -> None:
    cols = layout(width)
    keys = [c.key for c in cols]
    assert sum(c.width for c in cols) == width - 1
    # Either a command column, or a label column that falls back to the command.
    assert "command" in keys or "label" in keys
    assert not ("label" in keys and "name" in keys)


async def test_an_unnamed_session_shows_its_command_in_a_narrow_terminal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    paths.ensure()
    async with open_store(paths.db) as store:
        await store.sessions.create(["make", "-j8", "build"], cwd="/src")
        await store.sessions.create(["pytest"], cwd="/src", name="unit tests")
    app = make_app(paths)
    async with app.run_test(size=(80, 24)):
        await app.wait_idle()
        table = app.screen.query_one(SessionTable)
        rows = ["".join(seg.text for seg in table.render_line(y)) for y in (1, 2)]
        assert "unit tests" in rows[0]
        assert "make -j8 build" in rows[1]
