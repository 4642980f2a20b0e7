"""Context filters from the command line: ``tether ls QUERY`` and ``tether search``, run as
a user would (a real ``tether`` process over a seeded store)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from home.paths import resolve_paths
from storage import open_store

T0 = 1_790_000_000.0


async def _seed(db: Path) -> dict[str, int]:
    async with open_store(db) as store:
        s = store.sessions
        opus = await s.create(
            ["claude"], cwd="/src/a", name="opus agent", tags=["ml"], created_at=T0,
            context={"model": "claude-opus-4-1", "tokens": 150_000, "thread": "abc",
                     "usage": {"input_tokens": 120_000}},
        )  # fmt: skip
        sonnet = await s.create(
            ["claude"], cwd="/src/b", name="sonnet agent", created_at=T0 + 1,
            context={"model": "sonnet", "tokens": 9_000, "usage": {"input_tokens": 4}},
        )  # fmt: skip
        plain = await s.create(["make"], cwd="/src/c", name="build", created_at=T0 + 2)
        await store.output.append(opus.id, "stdout", b"error: rate limited\n", T0 + 3)
        await store.output.append(sonnet.id, "stdout", b"error: tool failed\n", T0 + 4)
        await s.set_status(opus.id, "running", at=T0)
        await s.set_status(opus.id, "failed", exit_code=1, at=T0 + 5)
        return {"opus": opus.id, "sonnet": sonnet.id, "plain": plain.id}


@pytest.fixture
def seeded(tether, tether_home):
    db = resolve_paths(env={"TETHER_HOME": str(tether_home)}).db
    db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return tether, asyncio.run(_seed(db))


def _ids(tether, *args: str) -> list[int]:
    return [s["id"] for s in json.loads(tether.ok("ls", "--json", *args))]


def test_ls_with_context_filters(seeded):
    tether, ids = seeded
    assert _ids(tether, "ctx.model:claude-opus-4-1") == [ids["opus"]]
    assert _ids(tether, "ctx.model:CLAUDE*") == [ids["opus"]]
    assert _ids(tether, "ctx.model:opus,sonnet") == [ids["sonnet"]]
    assert _ids(tether, "ctx.thread:abc") == [ids["opus"]]
    assert _ids(tether, "ctx.tokens>100000") == [ids["opus"]]
    assert _ids(tether, "ctx.tokens<=9000") == [ids["sonnet"]]
    assert _ids(tether, "ctx.usage.input_tokens>5") == [ids["opus"]]
    assert _ids(tether, "has:ctx.model") == [ids["sonnet"], ids["opus"]]
    assert _ids(tether, "--", "-has:ctx.model") == [ids["plain"]]
    assert _ids(tether, "--", "-ctx.model:sonnet") == [ids["plain"], ids["opus"]]
    assert _ids(tether, "build -ctx.model:sonnet") == [ids["plain"]]  # one argument


def test_ls_query_combines_with_other_filters_and_options(seeded):
    tether, ids = seeded
    assert _ids(tether, "has:ctx.model", "status:failed") == [ids["opus"]]
    assert _ids(tether, "has:ctx.model", "--status", "pending") == [ids["sonnet"]]
    assert _ids(tether, "has:ctx.model", "--tag", "ml") == [ids["opus"]]
    assert _ids(tether, "has:ctx.model", "--limit", "1") == [ids["sonnet"]]
    assert _ids(tether, "agent", "has:ctx.thread") == [ids["opus"]]  # words in the metadata
    out = tether.ok("ls", "ctx.model:sonnet")
    assert "sonnet agent" in out and "opus agent" not in out


@pytest.mark.parametrize(
    ("query", "message", "caret"),
    [
        ("ctx.tokens>abc", "'abc' is not a number", "           ^^^"),
        ("ctx.:x", "needs a key after 'ctx.'", "^^^^"),
        ("ctx.a$b:x", "'$' cannot be in a context key", "     ^"),
        ("has:", "'has:' needs a value, like has:ctx.model", "^^^^"),
    ],
)
@pytest.mark.parametrize("command", ["ls", "search"])
def test_a_bad_context_filter_exits_2_with_a_caret(seeded, command, query, message, caret):
    tether, _ = seeded
    done = tether(command, query)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert message in lines[0]
    assert lines[1:] == [query, caret]
    assert done.stdout == ""


def test_search_with_context_filters(seeded):
    tether, ids = seeded
    found = tether.json("search", "error", "ctx.tokens>100000")
    assert [g["id"] for g in found["sessions"]] == [ids["opus"]]
    assert [h["text"] for h in found["sessions"][0]["hits"]] == ["error: rate limited"]
    found = tether.json("search", "error -ctx.model:claude*")
    assert [g["id"] for g in found["sessions"]] == [ids["sonnet"]]
    listed = tether.json("search", "has:ctx.model")  # no words: the matching sessions
    assert listed["sessions_only"] and [g["id"] for g in listed["sessions"]] == [
        ids["sonnet"],
        ids["opus"],
    ]
