"""Queued sessions in the list: their place, and the keys for the queue (K earlier, J
later, R start now, s cancel), read back from the database."""

from __future__ import annotations

import pytest

from runner.locations import is_alive
from storage import open_store
from tests.support.supervisors import eventually, stop_leftover_supervisors
from tests.support.tui_app import (
    NOW,
    make_app,
    paths_for,
    pin_environment,
    seed,
    seed_every_status,
)
from tui.screens.modals import ConfirmModal

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


async def seed_with_queue(db):  # type: ignore[no-untyped-def]
    """Every status, plus three sessions waiting in the queue (one in a group, one
    after another session)."""
    ids = await seed_every_status(db)
    async with open_store(db) as store:
        for i, (name, group, after) in enumerate(
            [("nightly", "", None), ("train", "gpu", None), ("report", "", ids["running"])]
        ):
            s = await store.sessions.create(["true"], "/", name=name, created_at=NOW - 3 + i)
            await store.queue.add(s.id, group=group, after=after)
            ids[name] = s.id
    return ids


@pytest.fixture
def queued(tmp_path):  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    paths.ensure()
    ids = seed(paths.db, seed_with_queue)
    yield paths, ids
    stop_leftover_supervisors(paths.runtime)


def test_list_with_queued_sessions(snap_compare, queued) -> None:  # type: ignore[no-untyped-def]
    paths, ids = queued

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        await app.wait_idle()
        app.state.select(ids["train"])  # the queue's keys show in the footer
        await app.wait_idle()
        await pilot.pause()

    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=run_before)


async def _press(pilot, *keys: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*keys)
    await pilot.pause()
    await pilot.app.wait_idle()


async def _places(paths):  # type: ignore[no-untyped-def]
    async with open_store(paths.db) as store:
        return await store.queue.positions()


async def test_queue_keys_move_start_and_cancel(queued) -> None:  # type: ignore[no-untyped-def]
    paths, ids = queued
    nightly, train, report = ids["nightly"], ids["train"], ids["report"]
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        assert app.state.queue_places == {nightly: 1, train: 2, report: 3}
        app.state.select(report)
        await _press(pilot, "K")  # one place earlier
        assert await _places(paths) == {nightly: 1, report: 2, train: 3}
        await _press(pilot, "J")
        assert await _places(paths) == {nightly: 1, train: 2, report: 3}
        assert app.state.queue_places == {nightly: 1, train: 2, report: 3}

        app.state.select(nightly)
        await _press(pilot, "s")  # stop on a queued session: cancel, once confirmed
        assert isinstance(app.screen, ConfirmModal)
        await _press(pilot, "enter")
        await app.workers.wait_for_complete()
        async with open_store(paths.db) as store:
            assert (await store.sessions.require(nightly)).status == "stopped"
        assert await _places(paths) == {train: 1, report: 2}

        app.state.select(train)
        await _press(pilot, "R")  # start now, a real supervisor
        await app.workers.wait_for_complete()

        async def ended():  # type: ignore[no-untyped-def]
            async with open_store(paths.db) as store:
                s = await store.sessions.require(train)
            return s.ended and not is_alive(paths, train)

        await eventually(ended, what="the started session to run and end")
        async with open_store(paths.db) as store:
            assert (await store.sessions.require(train)).status == "succeeded"
            assert len(await store.runs.list(train)) == 1
        assert await _places(paths) == {report: 1}
        await app.state.poll(force=True)
        assert app.state.queue_places == {report: 1}
