"""Reading the audit log (``store.audit.list``, ``count``, ``purged_session``) and what a
purge leaves of a session's entries: what was done and when, never its command line,
name, notes, env or the text sent to it (checked in the database file's bytes)."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage import open_store
from storage.engine import audit
from storage.engine.audit import PurgedSession, describe, scrubbed
from storage.engine.purge import purge_sessions
from storage.models import AuditEntry
from tests.support.database import file_bytes

# One word each, so that the search indexes hold each one whole as a term.
SECRET_ARG = "hunter2argv7f3a9c"
SECRET_SENT = "swordfishsent41d2e8"
SECRET_NOTE = "opensesamenote93b1"
SECRET_ENV = "envvaluec0ffee55"
SECRETS = (SECRET_ARG, SECRET_SENT, SECRET_NOTE, SECRET_ENV)


async def test_list_filters_and_count(store):
    a = await store.sessions.create(["true"], cwd="/")
    b = await store.sessions.create(["false"], cwd="/")
    await store.sessions.add_tags(a.id, ["x"])
    cut = time.time()
    await store.sessions.trash([a.id])
    entries = await store.audit.list(a.id)
    assert [e.action for e in entries] == ["trash", "tag", "create"]  # newest first
    assert [e.action for e in await store.audit.list(a.id, since=cut)] == ["trash"]
    assert await store.audit.count(a.id) == 3
    assert await store.audit.count(since=cut) == 1
    assert await store.audit.count() == 4
    assert [e.session_id for e in await store.audit.list(limit=None)] == [a.id, a.id, b.id, a.id]
    assert len(await store.audit.list(limit=2)) == 2


async def _session_with_secrets(store):
    s = await store.sessions.create(["sh", "-c", f"echo {SECRET_ARG}"], cwd="/", name="deploy")
    await store.sessions.update(s.id, notes=SECRET_NOTE, env={"PLAIN": SECRET_ENV})
    await store.sessions.add_tags(s.id, ["a", "b"])
    await store.output.append(s.id, "stdout", b"ok\n")
    await store.output.append(s.id, "input", f"{SECRET_SENT}\n".encode())  # `tether send`
    return s


async def _purge_sessions_per_chunk(store, sid):
    await purge_sessions(store, [sid], strategy="per-chunk")


async def _purge_sessions_rebuild(store, sid):
    await purge_sessions(store, [sid], strategy="rebuild")


async def _sessions_purge(store, sid):  # `tether rm --purge`
    await store.sessions.purge([sid])
    await store.reclaim_space()


# Every way of purging, and every secret: the text sent is in the output index, where a
# delete leaves the words in older segments (FTS5 tombstones) until a merge (forget_terms).
PURGES = [
    pytest.param(_purge_sessions_per_chunk, SECRETS, id="per-chunk"),
    pytest.param(_purge_sessions_rebuild, SECRETS, id="rebuild"),
    pytest.param(_sessions_purge, SECRETS, id="sessions.purge"),
]


@pytest.mark.parametrize(("purge", "secrets"), PURGES)
async def test_purge_keeps_what_was_done_but_no_byte_of_secrets(db_path, purge, secrets):
    async with open_store(db_path, actor="cli") as store:
        # Another session stays, with its own output and index entries.
        other = await store.sessions.create(["make"], cwd="/src")
        await store.output.append(other.id, "stdout", b"building the thing\n" * 50)
        s = await _session_with_secrets(store)
        before = await store.audit.list(s.id)
        assert any(SECRET_ARG in json.dumps(e.detail) for e in before)  # it was there
        await purge(store, s.id)
        await store.db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
        entries = list(reversed(await store.audit.list(s.id)))
    # What was done, by whom and when, is kept.
    assert [e.action for e in entries] == ["create", "update", "tag", "purge"]
    assert [e.at for e in entries] == [e.at for e in reversed(before)] + [entries[-1].at]
    assert {e.actor for e in entries} == {"cli"}
    assert entries[0].detail == {"argv": 3, "scrubbed": True}
    assert entries[1].detail == {"env": 1, "removed": ["notes"], "scrubbed": True}
    assert describe(entries[1]) == "1 env values · notes removed at purge"
    assert entries[2].detail == {"add": 2, "scrubbed": True}
    purge_entry = entries[-1].detail
    assert purge_entry["uid"] == s.uid and purge_entry["runs"] == 0
    assert purge_entry["lines"] == 2 and purge_entry["bytes"] > 0
    # No byte of the command line, the notes, the env (or the text sent) survives.
    data = file_bytes(db_path)
    wal = db_path.with_name(db_path.name + "-wal")
    if wal.exists():
        data += file_bytes(wal)
    for secret in secrets:
        assert secret.encode() not in data, secret
    assert b"building the thing" in data  # the other session is still there
    con = sqlite3.connect(db_path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()


async def test_purge_keeps_the_cleanup_reason(store):
    s = await store.sessions.create(["true"], cwd="/")
    await purge_sessions(store, [s.id], details={s.id: {"rule": "age", "reason": "older than 30d"}})
    (entry,) = await store.audit.list(s.id, action="purge")
    assert entry.detail["reason"] == "older than 30d" and entry.detail["uid"] == s.uid
    assert describe(entry).startswith("older than 30d · 0 runs")


async def test_a_second_purge_scrubs_nothing_twice(store):
    s = await store.sessions.create(["echo", SECRET_ARG], cwd="/")
    await purge_sessions(store, [s.id])
    await purge_sessions(store, [s.id])  # already gone: nothing recorded
    assert [e.action for e in await store.audit.list(s.id)] == ["purge", "create"]


async def test_purged_session_is_found_by_id_and_uid(store):
    s = await store.sessions.create(["true"], cwd="/")
    kept = await store.sessions.create(["true"], cwd="/")
    assert await store.audit.purged_session(s.id) is None  # not purged yet
    await purge_sessions(store, [s.id])
    found = await store.audit.purged_session(f"#{s.id}")
    assert isinstance(found, PurgedSession) and (found.id, found.uid) == (s.id, s.uid)
    assert await store.audit.purged_session(str(s.id)) == found
    assert await store.audit.purged_session(s.uid[-12:]) is None  # a prefix, not any part
    assert await store.audit.purged_session(s.uid) == found
    assert await store.audit.purged_session(s.uid[:4].upper()) == found  # one purged only
    assert await store.audit.purged_session(kept.uid) is None
    assert await store.audit.purged_session("not-an-id") is None


def _entry(action: str, detail: object) -> AuditEntry:
    return AuditEntry(1, 0.0, "cli", action, 1, detail)


def test_describe_masks_env_and_reads_naturally():
    assert describe(_entry("create", {"argv": ["make", "a b"]})) == "make 'a b'"
    assert describe(_entry("tag", {"add": ["x", "y"]})) == "+x +y"
    assert describe(_entry("untag", {"remove": ["x"]})) == "-x"
    shown = describe(_entry("update", {"env": {"API_TOKEN": "sk-1", "A": "1"}, "name": "n"}))
    assert shown == "env A=1 API_TOKEN=[REDACTED:env]  name 'n'"
    assert describe(_entry("trash", None)) == ""
    gone = _entry("update", scrubbed({"notes": "x", "name": "y"}))
    assert describe(gone) == "name, notes removed at purge"
    assert describe(_entry("create", scrubbed({"argv": ["a", "b"]}))) == (
        "command of 2 words · removed at purge"
    )


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_KEYS = st.sampled_from(["argv", "name", "notes", "env", "add", "runs", "bytes", "other"])


@given(st.dictionaries(_KEYS | st.text(), _json, max_size=6))
def test_scrubbed_keeps_no_text_of_the_detail(detail):
    out = scrubbed(detail)
    assert out["scrubbed"] is True
    json.loads(json.dumps(out))  # stays JSON
    # Every string left is one of tether's own names (or a hex uid), never detail text.
    names = audit._NUMBERS | audit._COUNTED | audit._NAMED | {"removed", "scrubbed", "uid"}
    left = set(_strings(out)) - names
    assert left <= {out.get("uid")}
    assert all(c in "0123456789abcdefABCDEF-" for c in out.get("uid", ""))


def _strings(value: object):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
