"""The context key table (``storage.engine.context_keys``): the ``ctx.`` filters read it,
so it must hold exactly each session's reachable context members, whoever wrote the
context: create, update, a raw SQL statement, an import; purges leave nothing behind, and
an older database gets it filled by the migration."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from storage import SCHEMA_VERSION, open_store
from storage.engine.schema import MIGRATIONS
from storage.engine.search.filters import filter_session_ids
from storage.query import parse
from storage.transfer.importer import import_file
from tests.support.database import rows
from tests.support.transfer import export_doc, write

NOW = 1_760_000_000.0
AGENT = {"model": "opus", "tokens": 150_000, "usage": {"input_tokens": 7, "cache": {"hit": 1}}}


def members(db: Path) -> dict[int, set[tuple]]:
    """Each session's reachable rows as (key path, type, value), the path rebuilt from the
    tree (a member under a key no filter can name has no way up: left out)."""
    table = rows(db, "SELECT session_id, parent, key, node, type, value FROM session_context")
    by_node = {(sid, node): (parent, key) for sid, parent, key, node, _, _ in table}
    out: dict[int, set[tuple]] = {}
    for sid, parent, key, _, kind, value in table:
        path = [key]
        while parent and (sid, parent) in by_node:
            parent, up = by_node[sid, parent]
            path.insert(0, up)
        if not parent:
            out.setdefault(sid, set()).add((".".join(path), kind, value))
    return out


def expected(context: object, prefix: str = "") -> set[tuple]:
    """The members a filter can reach, from the Python value (the oracle)."""
    if not isinstance(context, dict):
        return set()
    out = set()
    for key, value in context.items():
        path = prefix + key
        if isinstance(value, bool):
            out.add((path, str(value).lower(), int(value)))
        elif isinstance(value, int | float):
            out.add((path, "integer" if isinstance(value, int) else "real", value))
        elif isinstance(value, str):
            out.add((path, "text", value))
        else:
            kind = {dict: "object", list: "array", type(None): "null"}[type(value)]
            out.add((path, kind, None))
            out |= expected(value, path + ".")
    return out


async def ids(store, text: str) -> set[int]:
    return set(await filter_session_ids(store, parse(text, now=NOW)))


async def test_rows_follow_create_update_and_raw_sql(store, db_path) -> None:
    a = await store.sessions.create(["claude"], cwd="/", context=AGENT, created_at=NOW)
    odd = {"a b": {"c": 1}, "list": [{"model": "x"}, 2], "dots.in": 3, "ok": None, "t": True}
    b = await store.sessions.create(["bot"], cwd="/", context=odd, created_at=NOW + 1)
    c = await store.sessions.create(["plain"], cwd="/", created_at=NOW + 2)
    assert members(db_path) == {
        a.id: expected(AGENT),
        b.id: {("list", "array", None), ("ok", "null", None), ("t", "true", 1)},
    }
    assert await ids(store, "ctx.usage.cache.hit:1") == {a.id}

    await store.sessions.update(a.id, context={"model": "sonnet", "tokens": 5})
    await store.sessions.update(c.id, context={"model": "opus"})
    assert members(db_path)[a.id] == expected({"model": "sonnet", "tokens": 5})
    assert await ids(store, "ctx.model:opus") == {c.id}
    assert await ids(store, "has:ctx.usage") == set()

    await store.sessions.update(c.id, context=None)
    assert c.id not in members(db_path)

    # Behind the storage layer's back, as another program would write it.
    con = sqlite3.connect(db_path)
    with con:
        con.execute("UPDATE sessions SET context = ? WHERE id = ?", ('{"k":1,"k":2}', a.id))
        con.execute("UPDATE sessions SET context = ? WHERE id = ?", ('{"model":NaN}', b.id))
    con.close()
    assert members(db_path)[a.id] == {("k", "integer", 1)}  # the first, as json_extract reads
    assert b.id not in members(db_path)  # SQLite cannot read it: matches nothing
    assert await ids(store, "ctx.k:1") == {a.id} and await ids(store, "ctx.k:2") == set()


async def test_purge_and_trash(store, db_path) -> None:
    a = await store.sessions.create(["claude"], cwd="/", context=AGENT, created_at=NOW)
    b = await store.sessions.create(["claude"], cwd="/", context=AGENT, created_at=NOW + 1)
    await store.sessions.trash([a.id])
    assert await ids(store, "ctx.model:opus") == {b.id}
    assert set(members(db_path)) == {a.id, b.id}  # the trash keeps its context
    await store.sessions.purge([a.id])
    assert set(members(db_path)) == {b.id}
    assert rows(db_path, "SELECT count(*) FROM session_context WHERE session_id = ?", [a.id]) == [
        (0,)
    ]


async def test_imported_sessions_are_in_the_table(tmp_path) -> None:
    src, dst = tmp_path / "a.db", tmp_path / "b.db"
    async with open_store(src) as a:
        s = await a.sessions.create(["claude"], cwd="/", context=AGENT, created_at=NOW)
        doc = await export_doc(a, [s.id])
    async with open_store(dst) as b:
        await b.sessions.create(["other"], cwd="/", context={"model": "haiku"})
        result = await import_file(b, write(tmp_path / "x.json", doc))
        assert result.imported == 1
        (imported,) = await ids(b, "ctx.usage.input_tokens>5")
        assert members(dst)[imported] == expected(AGENT)


def _make_v7(path: Path, contexts: list[object]) -> None:
    """A database as tether wrote it before the key table (schema v7)."""
    con = sqlite3.connect(path)
    for step in MIGRATIONS[:7]:
        for statement in step:
            con.execute(statement)
    for i, context in enumerate(contexts):
        con.execute(
            "INSERT INTO sessions (uid, argv, cwd, created_at, updated_at, context) "
            "VALUES (?, '[\"x\"]', '/', ?, ?, ?)",
            (f"uid-{i}", NOW + i, NOW + i, None if context is None else json.dumps(context)),
        )
    con.execute("PRAGMA user_version = 7")
    con.commit()
    con.close()


async def test_migration_fills_the_table_from_existing_sessions(db_path) -> None:
    contexts = [AGENT, None, {"model": "haiku", "tokens": 1.5}, ["model"], {"a": {"b": "c"}}]
    _make_v7(db_path, contexts)
    assert rows(db_path, "SELECT count(*) FROM sqlite_master WHERE name = 'session_context'") == [
        (0,)
    ]
    async with open_store(db_path) as store:
        assert await ids(store, "ctx.tokens>1") == {1, 3}
        assert await ids(store, "ctx.a.b:c") == {5}
        assert await ids(store, "-has:ctx.model") == {2, 4, 5}
    assert rows(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert members(db_path) == {i + 1: expected(c) for i, c in enumerate(contexts) if expected(c)}
