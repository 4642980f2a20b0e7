"""Marking sessions in the list with space, then acting on all of them at once."""

from __future__ import annotations

import pytest

from tests.support.tui_app import (
    make_app,
    paths_for,
    pin_environment,
    read_session,
    seed_every_status,
)
from tui.screens.modals import ConfirmModal

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


@pytest.fixture
async def seeded(tmp_path):  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    paths.ensure()
    return paths, await seed_every_status(paths.db)


async def _press(pilot, *keys: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*keys)
    await pilot.pause()
    await pilot.app.wait_idle()


async def test_space_marks_and_d_trashes_every_marked_session_undo_brings_all_back(
    seeded,
) -> None:  # type: ignore[no-untyped-def]
    paths, _ = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        order = list(app.state.ids)
        await _press(pilot, "down", "space", "space")  # marks rows 1 and 2, cursor moves on
        assert app.state.marked == {order[1], order[2]}
        assert app.state.selected == order[3]
        await _press(pilot, "space", "up", "space")  # mark 3, then unmark it again
        assert app.state.marked == {order[1], order[2]}
        await _press(pilot, "d")
        assert isinstance(app.screen, ConfirmModal)
        await _press(pilot, "y")
        for sid in (order[1], order[2]):
            assert (await read_session(paths.db, sid)).deleted_at is not None
            assert sid not in app.state.ids
        # the unmarked ones stay
        assert (await read_session(paths.db, order[0])).deleted_at is None
        assert (await read_session(paths.db, order[3])).deleted_at is None
        assert not app.state.marked
        await _press(pilot, "u")  # one undo brings the whole batch back
        for sid in (order[1], order[2]):
            assert (await read_session(paths.db, sid)).deleted_at is None
        assert not app.state.can_undo


async def test_escape_clears_the_marks_and_d_without_marks_acts_on_the_cursor(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        order = list(app.state.ids)
        await _press(pilot, "space", "space")
        assert len(app.state.marked) == 2
        await _press(pilot, "escape")
        assert not app.state.marked
        app.state.select(order[4])
        await _press(pilot, "d")
        assert isinstance(app.screen, ConfirmModal)
        assert f"#{order[4]}" in str(app.screen.title_text)
        await _press(pilot, "y")
        assert (await read_session(paths.db, order[4])).deleted_at is not None
        assert (await read_session(paths.db, order[0])).deleted_at is None


def test_marked_rows_snapshot(snap_compare, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    paths = paths_for(tmp_path)
    paths.ensure()
    asyncio.run(seed_every_status(paths.db))

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.app.wait_idle()
        await pilot.press("down", "space", "down", "space")
        await pilot.pause()
        await pilot.app.wait_idle()

    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=run_before)
