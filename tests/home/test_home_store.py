"""Opening a home's store: the directories are made private first, and changes are
audited under the caller's name."""

from __future__ import annotations

import stat

from home.paths import resolve_paths
from home.store import open_store


async def test_open_store_makes_the_directories_and_records_the_actor(tmp_path):
    paths = resolve_paths(env={"TETHER_HOME": str(tmp_path / "home")})
    async with open_store(paths, actor="cli") as store:
        s = await store.sessions.create(["true"], cwd="/")
        await store.audit.record("backup", s.id, {})
        entries = await store.audit.list()
    assert store.path == paths.db
    assert {e.actor for e in entries} == {"cli"}
    for d in (paths.data_dir, paths.runtime):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
