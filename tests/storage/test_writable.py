"""``Store.check_writable`` tells at once whether anything could be saved."""

from __future__ import annotations

import subprocess

import pytest

from storage import StoreReadOnly, open_store


async def test_a_writable_store_passes_and_keeps_no_trace(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with open_store(tmp_path / "t.db") as store:
        await store.check_writable()
        assert await store.settings.all() == {}


async def test_a_read_only_file_is_refused_before_any_edit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "t.db"
    async with open_store(db) as store:
        await store.sessions.create(["true"], cwd="/")
    # Root ignores file modes: make the file read-only with a read-only bind mount.
    if subprocess.run(["mount", "--bind", str(db), str(db)], capture_output=True).returncode:
        pytest.skip("bind mounts are not permitted here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(db)], check=True)
        before = db.read_bytes()
        async with open_store(db) as store:
            with pytest.raises(StoreReadOnly, match="cannot be written"):
                await store.check_writable()
            assert len(await store.sessions.list()) == 1  # reading still works
        assert db.read_bytes() == before
    finally:
        subprocess.run(["umount", str(db)], check=False)
