"""Cleaning up a home: ``auto_cleanup`` (what the app runs at start) follows
``general.auto_cleanup`` and ``[retention]``, on a real database in a temporary
TETHER_HOME. Old sessions are made through the storage API."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from home.cleanup import auto_cleanup
from home.config import load_config
from home.paths import resolve_paths
from storage import open_store

DAY = 86_400.0


def seed(home: Path, n: int, *, age_days: float = 40) -> list[int]:
    """``n`` ended sessions, the oldest ``age_days + n - 1`` days old."""

    async def go() -> list[int]:
        t = time.time()
        ids = []
        async with open_store(home / "tether.db") as store:
            for i in range(n):
                at = t - (age_days + n - 1 - i) * DAY
                s = await store.sessions.create(
                    ["make", f"t{i}"], cwd="/src", created_at=at, name=f"job{i}"
                )
                await store.runs.start(s.id, at=at)
                await store.output.append(s.id, "stdout", b"step %d\n" % i * 300, at=at)
                await store.runs.finish(s.id, exit_code=i % 2, at=at + 60)
                ids.append(s.id)
        return ids

    return asyncio.run(go())


def ids_in(home: Path) -> set[int]:
    con = sqlite3.connect(home / "tether.db")
    try:
        return {r[0] for r in con.execute("SELECT id FROM sessions")}
    finally:
        con.close()


def test_auto_cleanup_follows_the_config(tether_home):
    old = seed(tether_home, 3, age_days=40)
    recent = seed(tether_home, 1, age_days=1)
    paths = resolve_paths(env={"TETHER_HOME": str(tether_home)})
    config_file = tether_home / "config.toml"

    async def run():
        async with open_store(paths.db) as store:
            return await auto_cleanup(store, load_config(config_file), paths)

    config_file.write_text("[retention]\nmax_age_days = 30\n")  # auto_cleanup off
    assert asyncio.run(run()) is None
    assert ids_in(tether_home) == set(old) | set(recent)
    config_file.write_text("[general]\nauto_cleanup = true\n[retention]\nmax_age_days = 30\n")
    result = asyncio.run(run())
    assert result is not None and sorted(result.purged) == old
    assert ids_in(tether_home) == set(recent)
    assert asyncio.run(run()) is None  # nothing left to do
