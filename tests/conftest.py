"""Fixtures shared by every area of the suite. Helper modules live in ``tests/support/``
and are imported as ``tests.support.<thing>`` (see tests/support/__init__.py).

- ``tether_home``: a temporary TETHER_HOME (also set in this process's environment) whose
  ``config.toml`` is ``tether_config`` (an area's conftest may override that fixture);
- ``tether``: ``tether`` run as a real subprocess on ``tether_home``
  (``tests.support.tether_cli.Tether``); supervisors it leaves running are stopped after;
- ``paths``: the paths of a temporary home (nothing set in the environment), for tests
  that start real supervisors; those left running are stopped afterwards;
- ``store``: an open store on the real SQLite file of ``paths``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Helper modules assert too: show their failures as clearly as a test's own.
pytest.register_assert_rewrite("tests.support")

from home.paths import Paths  # noqa: E402
from storage import open_store  # noqa: E402
from tests.support.supervisors import supervised_paths  # noqa: E402
from tests.support.tether_cli import Tether  # noqa: E402


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """Whatever a test pins in the environment (``TZ`` and ``HOME`` for screenshots:
    tests.support.tui_app.pin_environment) is undone after it, so that no later test
    depends on which ran before it."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)
        time.tzset()


@pytest.fixture
def tether_config() -> str:
    """The ``config.toml`` of ``tether_home``: a short stop grace, so that leftover
    sessions end quickly."""
    return "[general]\nstop_grace = 1.0\n"


@pytest.fixture
def tether_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tether_config: str) -> Path:
    """A temporary TETHER_HOME (also set in this process's environment)."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(tether_config)
    monkeypatch.setenv("TETHER_HOME", str(home))
    monkeypatch.delenv("TETHER_DB", raising=False)
    return home


@pytest.fixture
def tether(tether_home: Path):
    t = Tether(tether_home)
    yield t
    t.stop_leftovers()


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    yield from supervised_paths(tmp_path / "home")


@pytest.fixture
async def store(paths: Paths):
    async with open_store(paths.db, actor="test") as s:
        yield s
