"""Fixtures for the CLI tests: a temporary TETHER_HOME (``tether_home``) and ``tether``
run as a real subprocess with it (``tether``, a ``cli_helpers.Tether``). Supervisors a
test leaves running are stopped afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import Tether


@pytest.fixture
def tether_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary TETHER_HOME (also set in this process's environment), with a short
    stop grace so that leftover sessions end quickly."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text("[general]\nstop_grace = 1.0\n")
    monkeypatch.setenv("TETHER_HOME", str(home))
    monkeypatch.delenv("TETHER_DB", raising=False)
    return home


@pytest.fixture
def tether(tether_home: Path):
    t = Tether(tether_home)
    yield t
    t.stop_leftovers()
