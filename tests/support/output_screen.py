"""Seeded databases and a small host app for the live output tests.

The database is built through the storage API with fixed timestamps, so screenshots
are the same on every run. ``output_app`` is tether's own app; ``open_output``
shows the output screen in it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot

from home.paths import Paths, resolve_paths
from storage import open_store
from tests.support.tui_app import make_app
from tui.app import TetherApp
from tui.screens.output import OutputScreen
from tui.widgets.output_view import OutputView

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def utc() -> None:
    """Timestamps on screen are local time: pin the zone for screenshots."""
    os.environ["TZ"] = "UTC"
    time.tzset()


async def seed(
    db: Path,
    records: Sequence[tuple[str, bytes]],
    *,
    name: str = "build",
    argv: Sequence[str] = ("make", "test"),
    status: str = "succeeded",
    exit_code: int | None = 0,
    step: float = 0.5,
) -> int:
    """A session whose output is ``records`` (stream, bytes), each written ``step``
    seconds after the one before, from ``T0``. Returns its id."""
    async with open_store(db) as store:
        session = await store.sessions.create(argv, cwd="/src/app", name=name, created_at=T0)
        await store.runs.start(session.id, at=T0)
        at = T0
        batch = [(session.id, stream, data, (at := at + step)) for stream, data in records]
        if batch:
            await store.output.append_many(batch)
        if status != "running":
            await store.runs.finish(session.id, exit_code=exit_code, status=status, at=at + step)
        return session.id


async def seed_lines(db: Path, count: int, *, status: str = "running", prefix: str = "line") -> int:
    """A session of ``count`` numbered stdout lines, written in big batches."""
    async with open_store(db) as store:
        session = await store.sessions.create(["yes"], cwd="/src/app", name="big", created_at=T0)
        await store.runs.start(session.id, at=T0)
        step = 20_000
        for start in range(0, count, step):
            data = "".join(f"{prefix} {i}\n" for i in range(start, min(count, start + step)))
            await store.output.append(session.id, "stdout", data.encode(), T0 + 1, index=False)
        if status != "running":
            await store.runs.finish(session.id, exit_code=0, at=T0 + 2)
        return session.id


async def append(db: Path, session_id: int, stream: str, data: bytes, at: float = T0 + 100) -> None:
    """Write output as another process would: through a second connection."""
    async with open_store(db) as store:
        await store.output.append(session_id, stream, data, at)


def paths_of(db: Path) -> Paths:
    """The tether paths of a test database: home (locks, sockets) next to it."""
    return resolve_paths(db=db, env={"TETHER_HOME": str(db.parent / "home")})


def output_app(db: Path) -> TetherApp:
    """tether's own app over ``db``: background polling off, cursors still."""
    return make_app(paths_of(db))


async def open_output(pilot: Pilot, session_id: int, **screen: Any) -> OutputView:
    """Wait for the app to load, show the output screen of ``session_id`` and let it
    settle (``screen``: ``line``, ``highlight``, ``follow``)."""
    await pilot.app.wait_loaded()  # type: ignore[attr-defined]
    await pilot.app.push_screen(OutputScreen(session_id, **screen))
    return await settle(pilot)


def view_of(app: App) -> OutputView:
    return app.screen.query_one(OutputView)


def scrollbars_settled(view: OutputView) -> bool:
    """Each shown scrollbar's thumb is drawn where the view is scrolled to."""
    return (
        not view.show_vertical_scrollbar or view.vertical_scrollbar.position == view.scroll_y
    ) and (
        not view.show_horizontal_scrollbar or view.horizontal_scrollbar.position == view.scroll_x
    )


async def settle(pilot: Pilot, until: Any = None, rounds: int = 500) -> OutputView:
    """Let the view load what is on screen (and ``until(view)`` hold, if given)."""
    view: OutputView | None = None
    for _ in range(rounds):
        await pilot.pause(0.01)
        if not isinstance(pilot.app.screen, OutputScreen):
            continue
        view = view_of(pilot.app)
        if view.idle and scrollbars_settled(view) and (until is None or until(view)):
            await pilot.pause()
            return view
    raise AssertionError(f"the output view did not settle (idle={view and view.idle})")


def calls_to(target: Any, method: str) -> list[tuple[Any, ...]]:
    """Record each call of ``target.method`` (it still runs): the arguments of each, in
    a list that grows as it is called. ``del target.<method>`` stops recording."""
    calls: list[tuple[Any, ...]] = []
    original = getattr(target, method)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    setattr(target, method, recorded)
    return calls


def run(coro: Any) -> Any:
    return asyncio.run(coro)
