"""``store.settings`` (key -> JSON) and ``store.audit`` (who did what, when)."""

from __future__ import annotations

import time

from storage import AuditEntry, open_store


async def test_settings_round_trip_json(store):
    assert await store.settings.get("missing") is None
    assert await store.settings.get("missing", {"d": 1}) == {"d": 1}
    values = {
        "ui.sort": "newest",
        "ui.columns": [1, 2.5, None, True],
        "recent": {"queries": ["error", "ünïcode"], "n": 2},
        "zero": 0,
        "false": False,
    }
    for k, v in values.items():
        await store.settings.set(k, v)
    for k, v in values.items():
        assert await store.settings.get(k) == v
    assert await store.settings.all() == dict(sorted(values.items()))
    await store.settings.set("ui.sort", "oldest")
    assert await store.settings.get("ui.sort") == "oldest"


async def test_settings_set_many_and_delete(store):
    await store.settings.set_many({"a": 1, "b": [2]})
    await store.settings.set_many({"b": [3], "c": None})
    assert await store.settings.all() == {"a": 1, "b": [3], "c": None}
    assert await store.settings.get("c", "default") is None  # a stored null is a value
    assert await store.settings.delete("a") is True
    assert await store.settings.delete("a") is False
    assert await store.settings.all() == {"b": [3], "c": None}


async def test_settings_survive_reopening(db_path):
    async with open_store(db_path) as store:
        await store.settings.set("where", {"screen": "detail", "session": 4})
    async with open_store(db_path) as store:
        assert await store.settings.get("where") == {"screen": "detail", "session": 4}


async def test_audit_record_and_list(store):
    before = time.time()
    await store.audit.record("export", 7, {"to": "/tmp/x.json"})
    await store.audit.record("doctor", None, actor="cli")
    await store.audit.record("export", 8)
    entries = await store.audit.list()
    assert [e.action for e in entries] == ["export", "doctor", "export"]  # newest first
    assert all(isinstance(e, AuditEntry) for e in entries)
    last = entries[-1]
    assert (last.session_id, last.detail, last.actor) == (7, {"to": "/tmp/x.json"}, "library")
    assert before <= last.at <= time.time()
    assert entries[1].actor == "cli" and entries[1].session_id is None
    assert [e.session_id for e in await store.audit.list(action="export")] == [8, 7]
    assert [e.action for e in await store.audit.list(7)] == ["export"]
    assert len(await store.audit.list(limit=2)) == 2
    assert await store.audit.list(12345) == []


async def test_session_operations_are_audited_with_the_actor(db_path):
    async with open_store(db_path, actor="tui") as store:
        s = await store.sessions.create(["make"], cwd="/")
        await store.sessions.update(s.id, name="build", context={"secret": "not logged"})
        await store.sessions.update(s.id, pid=5)  # bookkeeping, not a user action
        await store.sessions.add_tags(s.id, ["a"])
        await store.sessions.remove_tags(s.id, ["a"])
        await store.sessions.set_tags(s.id, ["b"])
        await store.sessions.trash([s.id])
        await store.sessions.restore([s.id])
        before = list(reversed(await store.audit.list(s.id)))
        await store.sessions.purge([s.id])
        entries = list(reversed(await store.audit.list(s.id)))
    # A purge keeps what was done and when, not the command line (issue 17): the
    # details below are what the log said before it.
    assert entries[0].detail == {"argv": 1, "scrubbed": True}
    assert [(e.at, e.action) for e in entries[:-1]] == [(e.at, e.action) for e in before]
    entries = before + entries[-1:]
    assert [e.action for e in entries] == [
        "create",
        "update",
        "tag",
        "untag",
        "tags",
        "trash",
        "restore",
        "purge",
    ]
    assert {e.actor for e in entries} == {"tui"}
    assert entries[0].detail == {"argv": ["make"]}
    assert entries[1].detail == {"name": "build"}  # context is not copied into the log
    assert entries[2].detail == {"add": ["a"]}
