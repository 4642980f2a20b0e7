"""A session's number is its identity for users: it must never point at another session."""

from __future__ import annotations

from storage import open_store


async def test_a_purged_sessions_number_is_never_reused(tmp_path) -> None:
    async with open_store(tmp_path / "t.db") as store:
        first = await store.sessions.create(["true"], cwd="/")
        newest = await store.sessions.create(["true"], cwd="/")
        await store.sessions.purge([newest.id])
        again = await store.sessions.create(["true"], cwd="/")
        assert again.id > newest.id > first.id
    # ...and not after reopening either.
    async with open_store(tmp_path / "t.db") as store:
        await store.sessions.purge([again.id])
        later = await store.sessions.create(["true"], cwd="/")
        assert later.id > again.id
        entries = await store.audit.list(session_id=newest.id)
        assert [e.action for e in entries] == ["purge", "create"]
