"""Fixtures for the runner tests: a temporary tether home, a real store, real
supervisors. Every supervisor a test leaves behind is stopped afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_helpers import stop_leftover_supervisors

from home.paths import Paths, resolve_paths
from storage import open_store


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    p = resolve_paths(env={"TETHER_HOME": str(tmp_path / "home")})
    p.ensure()
    yield p
    stop_leftover_supervisors(p.runtime)


@pytest.fixture
async def store(paths: Paths):
    async with open_store(paths.db, actor="test") as s:
        yield s
