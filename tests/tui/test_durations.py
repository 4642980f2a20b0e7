"""Durations are per run: a session resumed minutes (or days) after its first run reads
as long as its latest run took, in the list's TOOK column, the detail screen (with the
total of every run beside the run count), the end-of-session toast and the CLI's ``ls``
and ``show`` (all through ``Session.duration``). Real SQLite files, a fixed clock."""

from __future__ import annotations

import asyncio

import pytest
from rich.console import Console
from textual.widgets import Static

from storage import open_store
from storage.models import total_duration
from tests.support.tether_cli import Tether
from tests.support.tui_app import NOW, Clock, make_app, paths_for, pin_environment
from tui.screens.detail import DetailScreen

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


async def _two_runs(db, *, second_end: float | None = NOW - 51) -> int:  # type: ignore[no-untyped-def]
    """A first run of 10 s seven minutes ago, a second of 30 s (running when
    ``second_end`` is None)."""
    async with open_store(db) as store:
        s = await store.sessions.create(
            ["make", "test"], "/src", name="tests", created_at=NOW - 600
        )
        await store.runs.start(s.id, at=NOW - 500)
        await store.runs.finish(s.id, exit_code=0, at=NOW - 490)
        await store.sessions.set_status(s.id, "pending", at=NOW - 81)
        await store.runs.start(s.id, at=NOW - 81)
        if second_end is not None:
            await store.runs.finish(s.id, exit_code=0, at=second_end)
        return s.id


async def test_a_session_reads_as_long_as_its_latest_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "t.db"
    sid = await _two_runs(db)
    async with open_store(db) as store:
        s = await store.sessions.require(sid)
        assert s.duration(NOW) == pytest.approx(30.0)  # not 500 - 51 = 449
        assert total_duration(await store.runs.list(sid), NOW) == pytest.approx(40.0)
        listed = await store.sessions.list()
        assert listed[0].duration(NOW) == pytest.approx(30.0)


async def test_a_running_second_run_counts_from_its_own_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "t.db"
    sid = await _two_runs(db, second_end=None)
    async with open_store(db) as store:
        s = await store.sessions.require(sid)
        assert s.duration(NOW) == pytest.approx(81.0)


async def test_list_and_detail_show_the_latest_run_and_the_total(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    paths.ensure()
    await _two_runs(paths.db)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        table = app.screen.query_one("SessionTable")
        header = table.render_line(0).text
        row = table.render_line(1).text
        took = header.index("TOOK")
        cell = row[took - 4 : took + 5]
        assert "30s" in cell, (header, row)
        assert "7m" not in row
        await pilot.press("enter")
        await pilot.pause()
        await app.wait_idle()
        assert isinstance(app.screen, DetailScreen)
        console = Console(width=120, record=True, color_system=None)
        console.print(app.screen.query_one("#facts", Static).content)
        text = console.export_text()
        assert "took" in text and "30s" in text, text
        assert "2 · 40s in all" in text, text
        assert "7m" not in text


async def test_the_end_toast_says_how_long_the_run_took(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    paths.ensure()
    clock = Clock(NOW)
    async with open_store(paths.db) as store:
        s = await store.sessions.create(["make"], "/src", name="build", created_at=NOW - 600)
        await store.runs.start(s.id, at=NOW - 300)
        await store.runs.finish(s.id, exit_code=0, at=NOW - 299)
    app = make_app(paths, clock=clock, background=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await app.wait_idle()
        async with open_store(paths.db) as other:
            await other.sessions.set_status(s.id, "pending", at=NOW + 1)
            await other.runs.start(s.id, at=NOW + 10)
            await other.runs.finish(s.id, exit_code=0, at=NOW + 40)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not [t for t in _toasts(app) if "succeeded" in t]:
            assert loop.time() < deadline, _toasts(app)
            await pilot.pause(0.05)
        toast = next(t for t in _toasts(app) if "succeeded" in t)
        assert "succeeded (30s)" in toast, toast


def test_cli_ls_and_show_say_the_latest_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    paths = paths_for(tmp_path)
    paths.ensure()
    sid = asyncio.run(_two_runs(paths.db))
    tether = Tether(home)
    listing = tether.ok("ls")
    assert " 30s " in listing and "7m" not in listing, listing
    shown = tether.ok("show", str(sid))
    duration = next(line for line in shown.splitlines() if line.startswith("duration"))
    assert duration.split() == ["duration", "30s"], shown


def _toasts(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(t.render()) for t in app.screen.query("Toast")]
