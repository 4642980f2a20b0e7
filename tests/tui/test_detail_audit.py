"""The detail screen's Activity section: the session's newest audit entries (who did
what, when), secret env values masked, the older ones counted ("+N more")."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from storage import open_store
from tests.support.tui_app import NOW, make_app, paths_for, pin_environment, seed
from tui.screens.detail import AUDIT_SHOWN, DetailScreen

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


async def _busy_session(db) -> dict[str, int]:
    async with open_store(db, actor="tui") as store:
        s = await store.sessions.create(
            ["make", "deploy"],
            "/home/ana/src/app",
            name="deploy",
            created_at=NOW - 3600,
            uid="0190f000-0000-7000-8000-0000000000a1",
        )
        for tag in ("a", "b", "c", "d", "e"):
            await store.sessions.add_tags(s.id, [tag])
        await store.sessions.remove_tags(s.id, ["c"])
    async with open_store(db, actor="cli") as store:
        await store.sessions.update(s.id, env={"API_TOKEN": "sk-live-123", "STAGE": "prod"})
        await store.sessions.update(s.id, name="deploy prod", notes="ship it")
        await store.sessions.trash([s.id])
        await store.sessions.restore([s.id])
        quiet = await store.sessions.create(
            ["true"], "/", created_at=NOW - 60, uid="0190f000-0000-7000-8000-0000000000a2"
        )
    return {"busy": s.id, "quiet": quiet.id}


@pytest.fixture
def seeded(tmp_path):  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    paths.ensure()
    return paths, seed(paths.db, _busy_session)


def _open(select: int, *keys: str):  # type: ignore[no-untyped-def]
    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        await app.wait_idle()
        app.state.select(select)
        await app.wait_idle()
        await pilot.press("enter")
        await pilot.wait_for_scheduled_animations()
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        while not screen.ready:
            await pilot.pause()
        for key in keys:
            await pilot.press(key)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    return run


def test_detail_shows_the_newest_audit_entries(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    run = _open(ids["busy"], "end")
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=run)


async def test_activity_lists_newest_first_and_counts_the_rest(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await _open(ids["busy"])(pilot)
        text = _plain(app.screen.query_one("#audit", Static).content)
    lines = [line.split() for line in text.splitlines()]
    assert len(lines) == AUDIT_SHOWN + 1
    assert [ln[3] for ln in lines[:3]] == ["restore", "trash", "update"]  # newest first
    assert "API_TOKEN=[REDACTED:env]" in text and "sk-live-123" not in text
    assert lines[-1] == ["+3", "more", "tether", "audit", str(ids["busy"])]  # 11 in all


async def test_activity_of_a_session_with_one_entry(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await _open(ids["quiet"])(pilot)
        text = _plain(app.screen.query_one("#audit", Static).content)
    assert text.split() == ["2026-05-28", "20:25:40", "cli", "create", "true"]


def _plain(renderable) -> str:  # type: ignore[no-untyped-def]
    from rich.console import Console

    console = Console(width=SIZE[0], record=True, color_system=None)
    console.print(renderable)
    return console.export_text()
