"""``r`` (resume) in the app under ``run.max_parallel``: the ended session waits in the
queue as ``tether run`` would, the toast says so, and the supervisor that frees the slot
starts its new run. Real supervisors, a real database."""

from __future__ import annotations

import pytest

from home.config import Config, General
from runner import control
from storage import open_store
from tests.support.supervisors import eventually, stop_leftover_supervisors, wait_ended
from tests.support.tui_app import make_app, paths_for, pin_environment

GATED = "while [ ! -e {gate} ]; do sleep 0.02; done"


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


@pytest.fixture
def paths(tmp_path):  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    paths.ensure()
    yield paths
    (tmp_path / "gate").touch()
    stop_leftover_supervisors(paths.runtime)


async def test_r_on_an_ended_session_queues_it_when_the_slot_is_taken(paths, tmp_path) -> None:
    gate = tmp_path / "gate"
    async with open_store(paths.db) as store:
        done = await control.start_session(store, paths, argv=["true"], cwd=tmp_path, name="done")
        await wait_ended(store, paths, done.id)
        busy = await control.start_session(
            store, paths, argv=["sh", "-c", GATED.format(gate=gate)], cwd=tmp_path, name="busy"
        )
        assert busy.status == "running"
    app = make_app(paths)
    app.config = Config(
        general=General(autosave_interval=2.0, reconcile_interval=2.0),
        sections={"run": {"max_parallel": 1}},
    )
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_idle()
        app.state.select(done.id)
        await pilot.press("r")
        await app.workers.wait_for_complete()
        toasts = [str(n.message) for n in app._notifications]  # noqa: SLF001 - no public list
        assert f"Queued #{done.id}" in toasts
    async with open_store(paths.db) as store:
        assert (await store.sessions.require(done.id)).status == "pending"
        assert await store.queue.positions() == {done.id: 1}
        gate.touch()  # busy ends: its supervisor starts the resumed run

        async def two_runs():  # type: ignore[no-untyped-def]
            s = await store.sessions.require(done.id)
            return s if s.run_count == 2 and s.ended else None

        await eventually(two_runs, what="the resumed run to start and end")
