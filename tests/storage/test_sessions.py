"""``store.sessions``: create, read, list, count, edit, status, tags, trash, purge."""

from __future__ import annotations

import json
import time

import pytest

from storage import (
    ACTIVE,
    ENDED,
    STATUSES,
    IllegalTransition,
    Session,
    SessionNotFound,
    open_store,
)
from storage.engine.search import search_sessions
from storage.models import TRANSITIONS
from tests.support.database import assert_output_index_exact, rows

# -- create and read ---------------------------------------------------------------------


async def test_create_defaults(store):
    before = time.time()
    s = await store.sessions.create(["make", "test"], cwd="/src/app")
    assert isinstance(s, Session)
    assert s.id >= 1
    assert (s.argv, s.cwd, s.name, s.mode, s.status) == (
        ("make", "test"),
        "/src/app",
        "",
        "pipe",
        "pending",
    )
    assert s.env is None and s.context is None and s.resume_argv is None
    assert (s.exit_code, s.signal, s.pid) == (None, None, None)
    assert before <= s.created_at == s.updated_at <= time.time()
    assert (s.started_at, s.ended_at, s.deleted_at, s.last_output_at) == (None, None, None, None)
    assert (s.notes, s.pinned, s.origin, s.run_count) == ("", False, "local", 0)
    assert (s.output_bytes, s.output_lines, s.tags) == (0, 0, ())
    assert len(s.uid) == 36 and s.uid[14] == "7"  # a UUIDv7


async def test_create_with_everything(store, tmp_path):
    s = await store.sessions.create(
        ["claude"],
        cwd=tmp_path,
        name="agent",
        mode="pty",
        tags=["ml", "ai", "ml"],
        context={"model": "x", "tokens": [1, 2]},
        env={"DEBUG": "1"},
        resume_argv=["claude", "--continue"],
    )
    assert s.cwd == str(tmp_path)
    assert s.name == "agent" and s.mode == "pty"
    assert s.tags == ("ai", "ml")  # sorted, no duplicates
    assert s.context == {"model": "x", "tokens": [1, 2]}
    assert s.env == {"DEBUG": "1"}
    assert s.resume_argv == ("claude", "--continue")
    assert s.label == "agent"
    assert s.command == "claude"


async def test_create_defaults_cwd_to_the_current_directory(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = await store.sessions.create(["ls"])
    assert s.cwd == str(tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"argv": []}, "argv"),
        ({"argv": ["ok", 3]}, "argv"),
        ({"argv": ["x"], "mode": "tty"}, "mode"),
        ({"argv": ["x"], "env": {"A": 1}}, "env"),
        ({"argv": ["x"], "tags": ["two words"]}, "tag"),
        ({"argv": ["x"], "tags": ["a,b"]}, "tag"),
        ({"argv": ["x"], "tags": [" "]}, "tag"),
    ],
)
async def test_create_rejects_bad_input_and_stores_nothing(store, kwargs, message):
    with pytest.raises(ValueError, match=message):
        await store.sessions.create(cwd="/", **kwargs)
    assert await store.sessions.count(include_deleted=True) == 0


async def test_get_missing_is_none_never_an_error(store):
    assert await store.sessions.get(12345) is None
    assert await store.sessions.get_by_uid("0190f000-0000-7000-8000-000000000000") is None
    with pytest.raises(SessionNotFound, match="#12345"):
        await store.sessions.require(12345)


async def test_get_by_uid_and_resolve(store):
    a = await store.sessions.create(["a"], cwd="/")
    b = await store.sessions.create(["b"], cwd="/", uid="abcd0000-0000-7000-8000-000000000001")
    c = await store.sessions.create(["c"], cwd="/", uid="abcd0000-0000-7000-8000-000000000002")
    assert await store.sessions.get_by_uid(a.uid) == a
    assert await store.sessions.resolve(a.id) == a
    assert await store.sessions.resolve(str(a.id)) == a
    assert await store.sessions.resolve(f"#{a.id}") == a
    assert await store.sessions.resolve(f"  #{a.id} ") == a
    assert await store.sessions.resolve(a.uid[:13]) == a
    assert await store.sessions.resolve("ABCD0000-0000-7000-8000-000000000002") == c
    with pytest.raises(SessionNotFound, match="several"):
        await store.sessions.resolve("abcd0000")
    with pytest.raises(SessionNotFound):
        await store.sessions.resolve("#999")
    with pytest.raises(SessionNotFound):
        await store.sessions.resolve("zzzz")
    assert b.uid == "abcd0000-0000-7000-8000-000000000001"


async def test_uids_are_time_sortable(store):
    made = [await store.sessions.create(["x"], cwd="/") for _ in range(50)]
    uids = [s.uid for s in made]
    assert len(set(uids)) == 50
    assert uids == sorted(uids)


# -- list, count, ids --------------------------------------------------------------------


@pytest.fixture
async def populated(store):
    """Five sessions with known attributes; returns them by name."""
    t0 = 1_700_000_000.0  # in the past: later edits stamped "now" are newer
    made = {}
    spec = [
        ("build", ["make"], "/src/app", ["ci"], t0 + 1),
        ("test", ["pytest", "-x"], "/src/app/tests", ["ci", "py"], t0 + 2),
        ("web", ["npm", "start"], "/src/app2", [], t0 + 3),
        ("agent", ["claude"], "/home/me", ["ai"], t0 + 4),
        ("zzz", ["sleep", "9"], "/", [], t0 + 5),
    ]
    for name, argv, cwd, tags, at in spec:
        made[name] = await store.sessions.create(argv, cwd=cwd, name=name, tags=tags, created_at=at)
    await store.sessions.set_status(made["build"].id, "running", at=t0 + 10)
    await store.sessions.set_status(made["build"].id, "failed", exit_code=2, at=t0 + 11)
    await store.sessions.set_status(made["test"].id, "running", at=t0 + 12)
    await store.sessions.update(made["agent"].id, pinned=True)
    await store.output.append(made["web"].id, "stdout", b"x" * 5000)
    await store.output.append(made["agent"].id, "stdout", b"x" * 10)
    await store.sessions.trash([made["zzz"].id])
    return {k: await store.sessions.get(v.id) for k, v in made.items()}


def names(sessions):
    return [s.name for s in sessions]


async def test_list_newest_first_and_hides_the_trash(store, populated):
    assert names(await store.sessions.list()) == ["agent", "web", "test", "build"]
    assert names(await store.sessions.list(include_deleted=True)) == [
        "zzz",
        "agent",
        "web",
        "test",
        "build",
    ]
    assert names(await store.sessions.list(only_deleted=True)) == ["zzz"]


async def test_list_filters(store, populated):
    L = store.sessions.list
    assert names(await L(status="failed")) == ["build"]
    assert names(await L(status=["failed", "running"])) == ["test", "build"]
    assert names(await L(status="pending")) == ["agent", "web"]
    assert names(await L(tag="ci")) == ["test", "build"]
    assert names(await L(tag="nope")) == []
    # cwd matches the directory and below it, not a sibling sharing the prefix
    assert names(await L(cwd="/src/app")) == ["test", "build"]
    assert names(await L(cwd="/src/app/")) == ["test", "build"]
    assert names(await L(cwd="/")) == ["agent", "web", "test", "build"]
    assert names(await L(pinned=True)) == ["agent"]
    assert names(await L(pinned=False)) == ["web", "test", "build"]
    assert names(await L(ids=[populated["web"].id, populated["zzz"].id])) == ["web"]
    assert names(await L(ids=[])) == []
    assert names(await L(status="pending", tag="ai")) == ["agent"]
    since = populated["test"].updated_at
    assert set(names(await L(updated_since=since - 0.001))) >= {"test"}
    with pytest.raises(ValueError, match="status"):
        await L(status="done")


async def test_list_orders_limit_offset(store, populated):
    L = store.sessions.list
    assert names(await L(order="oldest")) == ["build", "test", "web", "agent"]
    assert names(await L(order="name")) == ["agent", "build", "test", "web"]
    assert names(await L(order="size"))[:2] == ["web", "agent"]
    assert names(await L(order="id")) == ["build", "test", "web", "agent"]
    assert names(await L(order="status")) == ["build", "agent", "web", "test"]
    assert names(await L(order="oldest", pinned_first=True)) == ["agent", "build", "test", "web"]
    assert names(await L(limit=2)) == ["agent", "web"]
    assert names(await L(limit=2, offset=2)) == ["test", "build"]
    assert names(await L(limit=2, offset=10)) == []
    with pytest.raises(ValueError, match="order"):
        await L(order="random")


async def test_list_order_updated(store, populated):
    await store.sessions.update(populated["build"].id, notes="touched")
    assert names(await store.sessions.list(order="updated"))[0] == "build"


async def test_count_and_ids_agree_with_list(store, populated):
    S = store.sessions
    assert await S.count() == 4
    assert await S.count(include_deleted=True) == 5
    assert await S.count(only_deleted=True) == 1
    assert await S.count(status="pending") == 2
    assert await S.count(tag="ci") == 2
    assert await S.count(cwd="/src/app") == 2
    assert await S.count(pinned=True) == 1
    assert await S.ids() == [s.id for s in await S.list()]
    assert await S.ids(include_deleted=True) == [s.id for s in await S.list(include_deleted=True)]
    assert await S.ids(order="oldest") == [s.id for s in await S.list(order="oldest")]


async def test_all_tags(store, populated):
    assert await store.sessions.all_tags() == [("ai", 1), ("ci", 2), ("py", 1)]


# -- update ------------------------------------------------------------------------------


async def test_update_each_editable_field(store):
    s = await store.sessions.create(["x"], cwd="/a", name="old", env={"A": "1"})
    u = await store.sessions.update(
        s.id,
        name="new",
        notes="some notes",
        context={"thread": "t1", "n": 3},
        pinned=1,
        resume_argv=["x", "--resume"],
        pid=4242,
        env={"B": "2"},
        cwd="/b",
    )
    assert (u.name, u.notes, u.pinned, u.pid, u.cwd) == ("new", "some notes", True, 4242, "/b")
    assert u.context == {"thread": "t1", "n": 3}
    assert u.resume_argv == ("x", "--resume")
    assert u.env == {"B": "2"}
    assert u.updated_at >= s.updated_at
    assert u.argv == s.argv and u.created_at == s.created_at
    cleared = await store.sessions.update(
        s.id, name=None, notes=None, context=None, resume_argv=None, env=None, pinned=False
    )
    assert (cleared.name, cleared.notes, cleared.context, cleared.resume_argv) == (
        "",
        "",
        None,
        None,
    )
    assert cleared.env is None and cleared.pinned is False
    assert await store.sessions.update(s.id) == cleared  # nothing to change


async def test_update_rejects_unknown_fields_and_missing_sessions(store):
    s = await store.sessions.create(["x"], cwd="/")
    with pytest.raises(ValueError, match="status"):
        await store.sessions.update(s.id, status="running")
    with pytest.raises(ValueError, match="uid"):
        await store.sessions.update(s.id, uid="x")
    with pytest.raises(SessionNotFound):
        await store.sessions.update(999, name="x")
    assert await store.sessions.get(s.id) == s


async def test_update_keeps_the_metadata_index_current(store):
    s = await store.sessions.create(["pytest", "-k", "slow"], cwd="/src/proj", name="tests")
    assert await search_sessions(store, "pytest") == [s.id]
    assert await search_sessions(store, "proj") == [s.id]
    await store.sessions.update(s.id, name="nightly", notes="flaky on tuesdays", cwd="/src/other")
    assert await search_sessions(store, "nightly") == [s.id]
    assert await search_sessions(store, "tuesdays") == [s.id]
    assert await search_sessions(store, "other") == [s.id]
    assert await search_sessions(store, "tests") == []
    assert await search_sessions(store, "proj") == []


# -- status ------------------------------------------------------------------------------


ALL_PAIRS = [(a, b) for a in STATUSES for b in STATUSES]


async def _session_in(store, status: str):
    s = await store.sessions.create(["x"], cwd="/")
    path = {
        "pending": [],
        "running": ["running"],
        "paused": ["running", "paused"],
        "succeeded": ["running", "succeeded"],
        "failed": ["failed"],
        "stopped": ["running", "stopped"],
        "lost": ["running", "lost"],
    }[status]
    for step in path:
        s = await store.sessions.set_status(s.id, step)
    assert s.status == status
    return s


@pytest.mark.parametrize(("old", "new"), ALL_PAIRS)
async def test_set_status_enforces_legal_transitions(store, old, new):
    s = await _session_in(store, old)
    legal = new == old or new in TRANSITIONS[old]
    if legal:
        after = await store.sessions.set_status(s.id, new)
        assert after.status == new
    else:
        with pytest.raises(IllegalTransition) as info:
            await store.sessions.set_status(s.id, new)
        assert f"#{s.id}" in str(info.value) and old in str(info.value)
        assert (await store.sessions.get(s.id)) == s  # unchanged


def test_transition_table_is_sensible():
    # Ended sessions can only start again; nothing goes back to pending while active.
    for old in ENDED:
        assert TRANSITIONS[old] == {"pending", "running"}
    for old in ACTIVE:
        assert "pending" not in TRANSITIONS[old]
        assert {"failed", "stopped", "lost"} <= TRANSITIONS[old]


async def test_set_status_times_codes_and_reason(store):
    s = await store.sessions.create(["x"], cwd="/", created_at=100.0)
    r = await store.sessions.set_status(s.id, "running", at=110.0)
    assert (r.started_at, r.ended_at, r.updated_at) == (110.0, None, 110.0)
    await store.runs.set_pid(s.id, 777)
    e = await store.sessions.set_status(
        s.id, "failed", exit_code=3, signal=None, reason="exited with 3", at=120.0
    )
    assert (e.status, e.exit_code, e.signal, e.pid, e.ended_at) == ("failed", 3, None, None, 120.0)
    assert e.ended and not e.live and e.duration(1e9) == 10.0
    lines = await store.output.read_lines(s.id, 0, 10)
    assert [(ln.stream, ln.raw) for ln in lines] == [("system", b"exited with 3")]
    again = await store.sessions.set_status(s.id, "running", at=130.0)
    assert again.ended_at is None and again.started_at == 110.0 and again.live
    with pytest.raises(ValueError, match="status"):
        await store.sessions.set_status(s.id, "finished")
    with pytest.raises(SessionNotFound):
        await store.sessions.set_status(999, "running")


# -- tags --------------------------------------------------------------------------------


async def test_tags_add_remove_set(store):
    s = await store.sessions.create(["x"], cwd="/", tags=["b"])
    s = await store.sessions.add_tags(s.id, ["a", "c", "a", "b"])
    assert s.tags == ("a", "b", "c")
    assert await search_sessions(store, "c") == [s.id]
    s = await store.sessions.remove_tags(s.id, ["b", "not-there"])
    assert s.tags == ("a", "c")
    s = await store.sessions.set_tags(s.id, ["z"])
    assert s.tags == ("z",)
    assert await search_sessions(store, "a") == []
    assert await search_sessions(store, "z") == [s.id]
    with pytest.raises(ValueError):
        await store.sessions.add_tags(s.id, ["no spaces"])
    for call in (store.sessions.add_tags, store.sessions.remove_tags, store.sessions.set_tags):
        with pytest.raises(SessionNotFound):
            await call(999, ["x"])


# -- trash, restore, purge ---------------------------------------------------------------


async def test_trash_and_restore(store):
    a = await store.sessions.create(["a"], cwd="/")
    b = await store.sessions.create(["b"], cwd="/")
    assert await store.sessions.trash([a.id, b.id, 999]) == 2
    assert await store.sessions.trash([a.id]) == 0  # already there
    t = await store.sessions.get(a.id)
    assert t.trashed and t.deleted_at is not None
    assert await store.sessions.list() == []
    assert await store.sessions.restore([a.id]) == 1
    assert await store.sessions.restore([a.id]) == 0
    assert [s.id for s in await store.sessions.list()] == [a.id]
    assert not (await store.sessions.get(a.id)).trashed
    assert await store.sessions.trash([]) == 0 and await store.sessions.restore([]) == 0


async def _rich_session(store, word: str) -> Session:
    s = await store.sessions.create(
        ["run", word], cwd=f"/src/{word}", name=f"name{word}", tags=[f"tag{word}"]
    )
    await store.runs.start(s.id)
    await store.output.append(s.id, "stdout", f"out {word} line\n".encode() * 50)
    await store.output.append(s.id, "stderr", f"err {word} open".encode())
    await store.output.append(s.id, "stdout", f"late {word}\n".encode(), index=False)
    await store.runs.finish(s.id, exit_code=0)
    await store.runs.start(s.id)
    await store.sessions.update(s.id, notes=f"notes {word}")
    return await store.sessions.require(s.id)


async def test_purge_removes_everything_of_the_session_and_nothing_else(store, db_path):
    keep = await _rich_session(store, "keep")
    gone = await _rich_session(store, "gone")
    progress = []
    assert (
        await store.sessions.purge([gone.id, 999], progress=lambda i, n: progress.append((i, n)))
        == 1
    )
    assert progress == [(1, 2), (2, 2)]
    assert await store.sessions.get(gone.id) is None
    for table in ("session_tags", "runs", "output_chunks"):
        assert rows(db_path, f"SELECT count(*) FROM {table} WHERE session_id = ?", [gone.id]) == [
            (0,)
        ]
    assert rows(db_path, "SELECT rowid FROM sessions_fts") == [(keep.id,)]
    assert await search_sessions(store, "gone") == []
    assert await store.search("gone") == []
    assert_output_index_exact(db_path)
    # the other session is untouched
    assert await store.sessions.get(keep.id) == keep
    assert len(await store.search("keep", limit=500)) == 52
    assert (await store.integrity_check()).ok
    # the audit log keeps the record of the purge
    purges = await store.audit.list(gone.id, action="purge")
    assert [e.session_id for e in purges] == [gone.id]


async def test_purge_of_trashed_and_missing(store):
    s = await store.sessions.create(["x"], cwd="/")
    await store.sessions.trash([s.id])
    assert await store.sessions.purge([s.id]) == 1
    assert await store.sessions.purge([s.id]) == 0
    assert await store.sessions.purge([]) == 0


# -- the dataclass -----------------------------------------------------------------------


async def test_session_helpers_and_json(store):
    s = await store.sessions.create(["echo", "a b"], cwd="/", tags=["t"], context={"k": [1]})
    assert s.label == "echo 'a b'" == s.command
    assert s.duration(123.0) is None
    d = s.to_json()
    assert json.loads(json.dumps(d)) == d
    assert d["argv"] == ["echo", "a b"] and d["tags"] == ["t"] and d["context"] == {"k": [1]}
    with pytest.raises(AttributeError):
        s.name = "frozen"  # type: ignore[misc]


async def test_a_session_survives_reopening(db_path):
    async with open_store(db_path) as store:
        s = await _rich_session(store, "persist")
    async with open_store(db_path) as store:
        assert await store.sessions.get(s.id) == s
