"""The usage screen (``U`` from the list): opened by its key, showing what the library
measures of a real database, drawn the same every time (snapshot at 120x36 with seeded
sessions, output on fixed days and metrics samples at fixed times, a fixed clock, a
quota), and the quota toast at 80% and 100%."""

from __future__ import annotations

from pathlib import Path

import pytest

from home.config import Config, General
from storage import open_store
from storage.engine import metrics
from tests.support.tui_app import NOW, Clock, paths_for, pin_environment
from tui.app import TetherApp

SIZE = (120, 36)
DAY = 86400.0


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


async def seed_usage(db: Path) -> dict[str, int]:
    """Sessions of several sizes written on several days, one in the trash, one
    pinned; db_bytes samples over two weeks and a day of the other metrics."""
    ids = {}
    sizes = {"build": 900, "tests": 400, "server": 250, "lint": 60, "old-run": 120}
    async with open_store(db) as store:
        for n, (name, lines) in enumerate(sizes.items()):
            at = NOW - (len(sizes) - n) * 2 * DAY
            s = await store.sessions.create(
                ["make", name],
                cwd="/home/ana/src/app",
                name=name,
                created_at=at,
                uid=f"0190f000-0000-7000-8000-{n + 1:012x}",
            )
            await store.runs.start(s.id, at=at)
            text = "".join(f"{name} line {i} of the output\n" for i in range(lines * 10))
            await store.output.append(s.id, "stdout", text.encode(), at + 60)
            await store.runs.finish(s.id, exit_code=0, at=at + 120)
            ids[name] = s.id
        await store.sessions.update(ids["server"], pinned=True)
        await store.sessions.trash([ids["old-run"]])
        samples = [("db_bytes", 100_000 + i * 9_000, None) for i in range(14)]
        for i, (name, value, sid) in enumerate(samples):
            await metrics.record(store, name, value, session_id=sid, at=NOW - (13 - i) * DAY)
        for i in range(24):
            at = NOW - (23 - i) * 3600
            await metrics.record(store, "capture_rate", 1000 * (i % 6 + 1), session_id=1, at=at)
            await metrics.record(store, "index_lag", 0.2 * (i % 4), session_id=1, at=at)
            await metrics.record(store, "search_ms", 5 + 3 * (i % 5), at=at)
    return ids


def _app(paths, quota: str | None = "1M") -> TetherApp:  # type: ignore[no-untyped-def]
    sections = {"storage": {"quota": quota}} if quota else {}
    config = Config(general=General(), sections=sections)
    return TetherApp(paths, config, clock=Clock(), background=False, cursor_blink=False)


async def _open_usage(pilot) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    await app.wait_idle()
    await pilot.press("U")
    await app.wait_idle()
    await pilot.pause()


def fixed_figures():  # type: ignore[no-untyped-def]
    """Figures of a 1.4 GB home, by hand: the screen's drawing, apart from the database
    (the real path is the test below)."""
    from storage.engine.metrics import Sample
    from storage.engine.usage import Group, SessionUse, Space, Usage, trend_of
    from storage.quota import QuotaState
    from tui.screens.usage import Figures

    mb = 1 << 20
    space = Space(
        1180 * mb,
        4 * mb,
        1184 * mb,
        210 * mb,
        3,
        760 * mb,
        12 * mb,
        392 * mb,
        5 * mb,
        15 * mb,
        True,
    )
    top = (
        SessionUse(
            12, "nightly: build every target", "succeeded", 310 * mb, 4_100_000, False, True
        ),
        SessionUse(40, "pytest -x tests/", "failed", 122 * mb, 900_000, False, False),
        SessionUse(41, "npm run dev", "running", 96 * mb, 700_000, False, False),
        SessionUse(7, "train --epochs 40", "succeeded", 61 * mb, 200_000, True, False),
        SessionUse(33, "cargo build --release", "succeeded", 18 * mb, 90_000, False, False),
    )
    per_day = [0, 3, 40, 12, 0, 88, 61, 5, 0, 150, 33, 20, 71, 9]
    days = tuple(
        Group(f"2026-05-{15 + i:02d}", 2 if n else 0, n * mb, n * 9000)
        for i, n in enumerate(per_day)
    )
    sizes = tuple(Sample(NOW - (13 - i) * DAY, (900 + 20 * i) * mb) for i in range(14))
    usage = Usage(NOW, space, 52, 3, top, days, sizes, trend_of(list(sizes), list(days), NOW), {})
    series = {
        "capture_rate": [Sample(NOW - h * 3600, 2000 * (h % 7 + 1), 41) for h in range(24, 0, -1)],
        "index_lag": [Sample(NOW - h * 3600, 0.1 * (h % 5), 41) for h in range(24, 0, -1)],
        "search_ms": [Sample(NOW - h * 1800, 8 + 4 * (h % 6)) for h in range(48, 0, -1)],
    }
    return Figures(usage, QuotaState(2 << 30, space.total), series, NOW)


def test_usage_screen(snap_compare, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tui.screens.usage import UsageScreen

    paths = paths_for(tmp_path)
    paths.ensure()

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.app.wait_idle()
        await pilot.app.push_screen(UsageScreen(fixed_figures()))
        await pilot.app.wait_idle()
        await pilot.pause()

    assert snap_compare(_app(paths, "2G"), terminal_size=SIZE, run_before=run_before)


async def test_U_opens_the_usage_screen_with_the_figures_of_the_database(tmp_path) -> None:
    from storage.engine.usage import usage

    paths = paths_for(tmp_path)
    paths.ensure()
    ids = await seed_usage(paths.db)
    async with open_store(paths.db) as store:
        expected = await usage(store, now=NOW)
    app = _app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await _open_usage(pilot)
        screen = app.screen
        assert type(screen).__name__ == "UsageScreen" and screen.ready
        shown = screen.usage
        assert [s.id for s in shown.top] == [s.id for s in expected.top]
        assert shown.top[0].id == ids["build"]
        assert [d.bytes for d in shown.days] == [d.bytes for d in expected.days]
        assert sum(d.bytes for d in shown.days) == sum(s.bytes for s in expected.top)
        text = str(screen.query_one("#top").render())
        assert "build" in text and "trash" in text  # old-run is in the trash
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "SessionsScreen"


async def _toasts(tmp_path, quota: str) -> list[str]:  # type: ignore[no-untyped-def]
    from tui.quota_watch import QuotaWatch

    paths = paths_for(tmp_path)
    paths.ensure()
    await seed_usage(paths.db)
    app = _app(paths, quota)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        watch = QuotaWatch(app)
        await watch.check()
        await watch.check()  # the same level again: no second toast
        await pilot.pause()
        return [str(n.message) for n in app._notifications]


async def test_the_quota_toasts_at_80_and_100_percent_once(tmp_path) -> None:
    from storage.quota import database_bytes

    used = database_bytes(paths_for(tmp_path).db) or 0
    assert used == 0  # not made yet: sizes below come from the seeded file
    over = await _toasts(tmp_path / "a", "1K")
    assert len(over) == 1 and "over its 1.0 KiB quota" in over[0]
    seeded = paths_for(tmp_path / "a")
    size = database_bytes(seeded.db) + sum(f.stat().st_size for f in seeded.backups.glob("*"))
    near = await _toasts(tmp_path / "b", str(int(size / 0.9)))
    assert len(near) == 1 and "quota (9" in near[0] or "quota (8" in near[0], near
    calm = await _toasts(tmp_path / "c", "1G")
    assert calm == []
