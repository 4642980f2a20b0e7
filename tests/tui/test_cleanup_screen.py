"""The cleanup screen: snapshots (a plan, an empty plan, progress) at 120x36, and pilot
tests that edit the policy and purge for real.

Pinned like the other TUI tests: seeded sessions with fixed times, a fixed clock, UTC,
HOME=/home/ana, no cursor blink, no background polling.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from home.config import Config, General
from storage import open_store
from storage.engine.purge import PurgeProgress
from tests.support.tui_app import NOW, Clock, paths_for, pin_environment
from tui.app import TetherApp

SIZE = (120, 36)
DAY = 86_400.0


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


def make_app(paths, retention: dict | None = None) -> TetherApp:
    config = Config(
        general=General(),
        sections={"retention": retention if retention is not None else {"max_age_days": 30}},
    )
    return TetherApp(paths, config, clock=Clock(), background=False, cursor_blink=False)


async def _seed(db: Path) -> dict[str, int]:
    ids: dict[str, int] = {}
    async with open_store(db) as store:

        async def ended(key, argv, days, status="succeeded", lines=200, tags=(), name=""):
            at = NOW - days * DAY
            s = await store.sessions.create(
                argv, "/home/ana/src/app", name=name, tags=tags, created_at=at - 600,
                uid=f"0190f000-0000-7000-8000-{len(ids) + 1:012x}",
            )  # fmt: skip
            await store.runs.start(s.id, at=at - 600)
            data = b"".join(b"%s line %d\n" % (argv[0].encode(), i) for i in range(lines))
            await store.output.append(s.id, "stdout", data, at=at - 300)
            code = {"succeeded": 0, "failed": 1}.get(status)
            await store.runs.finish(
                s.id, exit_code=code, status=None if code is not None else status, at=at
            )
            ids[key] = s.id

        await ended("build", ["make", "build"], 62, lines=4000, name="nightly build")
        await ended("tests", ["pytest", "-x"], 45, status="failed", lines=900)
        await ended("kept", ["make", "release"], 50, tags=("keep",), name="release 1.0")
        await ended("pinned", ["cargo", "bench"], 40)
        await ended("logs", ["tail", "-f", "app.log"], 33, status="stopped", lines=12000)
        await ended("recent", ["npm", "test"], 2)
        await ended("trashed", ["make", "clean"], 20)
        await store.sessions.update(ids["pinned"], pinned=True)
        await store.sessions.trash([ids["trashed"]])
        s = await store.sessions.create(
            ["claude"], "/home/ana/src/app", created_at=NOW - 70 * DAY,
            uid="0190f000-0000-7000-8000-0000000000ff",
        )  # fmt: skip
        await store.runs.start(s.id, at=NOW - 70 * DAY)
        ids["running"] = s.id
    con = sqlite3.connect(db)  # the trash date on the app's clock, not the real one
    con.execute("UPDATE sessions SET deleted_at = ? WHERE id = ?", (NOW - 9 * DAY, ids["trashed"]))
    con.commit()
    con.close()
    return ids


@pytest.fixture
def seeded(tmp_path):
    paths = paths_for(tmp_path)
    paths.ensure()
    ids = asyncio.run(_seed(paths.db))
    return paths, ids


async def open_cleanup(pilot) -> None:
    app = pilot.app
    await app.wait_idle()
    await pilot.press("c")
    await until(pilot, lambda: getattr(app.screen, "ready", False))
    # What a snapshot shows besides the text: the first field focused (its value
    # selected) and the delete button as the plan left it. Both arrive as messages of
    # their own, after the plan on a loaded machine.
    screen = app.screen
    first = screen.query_one("#older-than")
    button = screen.query_one("#confirm")
    await until(
        pilot,
        lambda: (
            app.focused is first
            and (first.selection.end - first.selection.start) == len(first.value)
            and button.disabled == (not screen.plan.items or screen.busy)
        ),
    )
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def until(pilot, condition, limit: float = 20.0) -> None:
    """Wait for ``condition`` (a deadline for a broken build, not a timing test)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        assert loop.time() < deadline, "the screen never got there"
        await pilot.pause(0.02)
    await pilot.pause()


# -- snapshots -------------------------------------------------------------------------
def test_cleanup_plan(snap_compare, seeded) -> None:
    paths, _ = seeded
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=open_cleanup)


def test_cleanup_empty_plan(snap_compare, tmp_path) -> None:
    paths = paths_for(tmp_path)
    paths.ensure()
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=open_cleanup)


def test_cleanup_progress(snap_compare, seeded) -> None:
    paths, _ = seeded

    async def run_before(pilot) -> None:
        await open_cleanup(pilot)
        screen = pilot.app.screen
        screen.set_busy(True)
        screen.show_progress(PurgeProgress("purge", 2, 4, 350_000, 1_000_000))
        await pilot.pause()

    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=run_before)


# -- behaviour -------------------------------------------------------------------------
def planned(app) -> set[int]:
    return set(app.screen.plan.ids)


async def test_plan_follows_the_policy(seeded) -> None:
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_cleanup(pilot)
        # 30 days, the trash after 7: never the pinned, the running or the tagged one.
        assert planned(app) == {ids["build"], ids["tests"], ids["logs"], ids["trashed"]}
        older = app.screen.query_one("#older-than")
        older.value = "50d"
        await until(pilot, lambda: planned(app) == {ids["build"], ids["trashed"]})
        app.screen.query_one("#status-succeeded").value = False
        await until(pilot, lambda: planned(app) == {ids["trashed"]})
        older.value = "soon"
        error = app.screen.query_one("#policy-error")
        await until(pilot, lambda: "ended over" in str(error.render()))
        assert app.screen.query_one("#confirm").disabled
        older.value = ""
        app.screen.query_one("#keep").value = "0"
        app.screen.query_one("#status-succeeded").value = True
        await until(
            pilot,
            lambda: (
                planned(app)
                == {ids["build"], ids["tests"], ids["logs"], ids["recent"], ids["trashed"]}
            ),
        )
        assert not app.screen.query_one("#confirm").disabled


async def test_confirm_purges_and_says_so(seeded) -> None:
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_cleanup(pilot)
        doomed = planned(app)
        await pilot.press("ctrl+d")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmModal")
        await pilot.press("n")  # changed my mind: nothing happens
        await until(pilot, lambda: type(app.screen).__name__ == "CleanupScreen")
        assert planned(app) == doomed
        await pilot.press("ctrl+d")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmModal")
        await pilot.press("y")
        await until(pilot, lambda: not app.screen.busy and not app.screen.plan.items)
        assert app.screen.last_message.startswith("Deleted 4 sessions")  # the toast's text
        assert [await app.store.sessions.get(i) for i in doomed] == [None] * 4
        (entry,) = await app.store.audit.list(action="cleanup")
        assert entry.actor == "tui" and entry.detail["sessions"] == 4
        assert await app.store.sessions.get(ids["pinned"]) is not None
        assert app.state.position(ids["build"]) is None  # the list forgot them too
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ == "SessionsScreen")


async def test_c_on_the_cleanup_screen_does_not_open_another(seeded) -> None:
    paths, _ = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_cleanup(pilot)
        app.screen.query_one("#plan").focus()
        depth = len(app.screen_stack)
        await pilot.press("c")
        await pilot.pause()
        assert len(app.screen_stack) == depth
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ == "SessionsScreen")
