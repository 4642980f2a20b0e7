"""An edit of several fields and the tags (what the TUI's autosave writes) is one
transaction: all of it is saved, or none of it."""

from __future__ import annotations

import sqlite3

import pytest

from storage import SessionNotFound


async def test_update_with_tags_saves_both(store):
    s = await store.sessions.create(["x"], cwd="/", name="old", tags=["a"])
    s = await store.sessions.update(s.id, name="new", pinned=True, tags=["b", "c", "b"])
    assert (s.name, s.pinned, s.tags) == ("new", True, ("b", "c"))
    assert await store.sessions.get(s.id) == s
    s = await store.sessions.update(s.id, tags=[])
    assert (s.name, s.tags) == ("new", ())


async def test_an_invalid_tag_saves_nothing(store):
    s = await store.sessions.create(["x"], cwd="/", name="old", tags=["a"])
    with pytest.raises(ValueError, match="invalid tag"):
        await store.sessions.update(s.id, name="new", tags=["no spaces"])
    assert await store.sessions.get(s.id) == s


async def test_a_tag_write_failing_in_sqlite_rolls_the_name_back(store, db_path):
    s = await store.sessions.create(["x"], cwd="/", name="old", tags=["a"])
    # Another connection makes every tag insert fail, inside the edit's transaction.
    con = sqlite3.connect(db_path)
    con.execute(
        "CREATE TRIGGER refuse_tags BEFORE INSERT ON session_tags "
        "BEGIN SELECT RAISE(ABORT, 'tags refused'); END"
    )
    con.commit()
    con.close()
    with pytest.raises(sqlite3.IntegrityError, match="tags refused"):
        await store.sessions.update(s.id, name="new", notes="n", tags=["b"])
    after = await store.sessions.get(s.id)
    assert (after.name, after.notes, after.tags) == ("old", s.notes, ("a",))
    assert "update" not in {e.action for e in await store.audit.list() if e.session_id == s.id}


async def test_update_of_a_missing_session_with_tags(store):
    with pytest.raises(SessionNotFound):
        await store.sessions.update(999, name="x", tags=["a"])
    with pytest.raises(SessionNotFound):
        await store.sessions.update(999, tags=["a"])
