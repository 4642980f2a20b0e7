"""Fixtures for the storage tests: real SQLite files in ``tmp_path`` (``store`` here is
a bare store on ``db_path``, not the root conftest's store in a tether home). Helpers
that look inside the database or run subprocesses are in ``tests/support/database.py``."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from storage import open_store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tether.db"


@pytest.fixture
async def store(db_path: Path):
    async with open_store(db_path) as s:
        yield s


@pytest.fixture
def shared_tmp():
    """A temporary directory other users can enter (``tmp_path`` is private to root),
    for tests that run a process as ``nobody``."""
    d = tempfile.mkdtemp(prefix="tether-perm-")
    os.chmod(d, 0o755)
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
