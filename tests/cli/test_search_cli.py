"""``tether search``, run as a user would: a real ``tether`` process over a seeded store."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import time
from pathlib import Path

import pytest

from home.paths import resolve_paths
from storage import open_store
from tests.support.tether_cli import TETHER

T0 = 1_790_000_000.0


async def _seed(db: Path) -> dict[str, int]:
    async with open_store(db) as store:
        s = store.sessions
        api = await s.create(["uvicorn", "app"], cwd="/srv/api", name="api", created_at=T0)
        evil = await s.create(
            ["sh"], cwd="/tmp", name="evil\x1b]0;pwned\x07 name", tags=["ml"], created_at=T0 + 1
        )
        await store.output.append(api.id, "stdout", b"GET / 200\nupstream connection refused\n", T0)
        await store.output.append(api.id, "stderr", b"connection reset\n", T0 + 5)
        await store.output.append(evil.id, "stdout", b"\x1b[31mconnection\x1b[0m lost\n", T0 + 9)
        await s.set_status(api.id, "running", at=T0)
        await s.set_status(api.id, "failed", exit_code=3, at=T0 + 10)
        await s.set_status(evil.id, "running", at=T0 + 1)
        await s.set_status(evil.id, "succeeded", exit_code=0, at=T0 + 10)
        return {"api": api.id, "evil": evil.id}


@pytest.fixture
def seeded(tether, tether_home):
    db = resolve_paths(env={"TETHER_HOME": str(tether_home)}).db
    db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return tether, asyncio.run(_seed(db))


def test_results_are_grouped_by_session_with_counts(seeded):
    tether, ids = seeded
    out = tether.ok("search", "connection")
    blocks = [b.splitlines() for b in out.strip().split("\n\n")]
    assert [b[0].split()[0] for b in blocks] == [f"#{ids['evil']}", f"#{ids['api']}"]
    header, *hits = blocks[1]
    assert header == f"#{ids['api']}  api  [failed (exit 3)]  — 2 lines"
    assert [h.split()[:2] for h in hits] == [["3", "stderr"], ["2", "stdout"]]  # 1-based
    assert hits[0].endswith("connection reset")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(T0 + 5))
    assert stamp in hits[0]


def test_output_is_terminal_safe_and_plain_without_a_tty(seeded):
    tether, ids = seeded
    out = tether.ok("search", "lost")
    assert "\x1b" not in out and "\x07" not in out
    assert out.splitlines()[0] == f"#{ids['evil']}  evil name  [succeeded]  — 1 line"
    assert out.splitlines()[1].endswith("connection lost")


def test_matches_are_highlighted_on_a_terminal(seeded):
    tether, _ = seeded
    env = {k: v for k, v in tether.env.items() if k != "NO_COLOR"}
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [*TETHER, "search", "refused"], env=env, stdout=child, stderr=subprocess.PIPE
    )
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=30) == 0
    os.close(main)
    text = b"".join(chunks).decode()
    assert "\x1b[1;7mrefused\x1b[0m" in text
    assert "\x07" not in text and "]0;" not in text


def test_json_output(seeded):
    tether, ids = seeded
    data = tether.json("search", '"connection refused"', "--limit", "5")
    assert data["query"] == '"connection refused"' and data["next_page"] is None
    (group,) = data["sessions"]
    assert (group["id"], group["count"], group["count_exact"]) == (ids["api"], 1, True)
    (hit,) = group["hits"]
    assert hit == {
        "line": 2,
        "stream": "stdout",
        "at": T0,
        "text": "upstream connection refused",
        "spans": [[9, 27]],
    }


def test_limit_and_paging(seeded):
    tether, ids = seeded
    first = tether("search", "connection", "--limit", "1")
    assert first.returncode == 0
    assert first.stdout.count("connection") == 1
    assert "more: tether search connection --page " in first.stderr
    cursor = first.stderr.split("--page ")[1].split()[0]
    rest = tether.json("search", "connection", "--page", cursor)
    lines = [h["text"] for g in rest["sessions"] for h in g["hits"]]
    assert lines == ["connection reset", "upstream connection refused"]


def test_no_counts(seeded):
    tether, _ = seeded
    data = tether.json("search", "connection", "--no-counts", "--limit", "1")
    (group,) = data["sessions"]
    assert (group["count"], group["count_exact"]) == (1, False)  # only what the page holds


def test_rank_orders_by_relevance(seeded):
    tether, _ = seeded
    data = tether.json("search", "connection", "--rank")
    assert data["ranked"] is True
    assert sum(len(g["hits"]) for g in data["sessions"]) == 3


def test_filters_only_list_sessions(seeded):
    tether, ids = seeded
    data = tether.json("search", "tag:ml")
    assert data["sessions_only"] and [g["id"] for g in data["sessions"]] == [ids["evil"]]


@pytest.mark.parametrize(
    ("query", "message", "caret"),
    [
        ('"unclosed', "unbalanced quotes", "^"),
        ("error stauts:failed", "did you mean 'status:'", "      ^^^^^^^"),
        ("since:yesterdayy", "bad time", "      ^^^^^^^^^^"),
    ],
)
def test_a_bad_query_points_at_the_culprit_and_exits_2(seeded, query, message, caret):
    tether, _ = seeded
    done = tether("search", query)
    assert done.returncode == 2 and done.stdout == ""
    first, shown, marks = done.stderr.splitlines()
    assert first.startswith("tether: ") and message in first
    assert (shown, marks) == (query, caret)


def test_new_output_of_a_running_session_is_found(tether):
    sid = tether.ok("run", "--", "sh", "-c", "echo needle-in-haystack; sleep 30").strip()
    deadline = time.monotonic() + 30  # a deadline for a broken build, not a timing check
    while True:
        data = tether.json("search", '"needle in haystack"', "is:running")
        if data["sessions"]:
            break
        assert time.monotonic() < deadline, "the output never became searchable"
        time.sleep(0.1)
    (group,) = data["sessions"]
    assert group["id"] == int(sid) and group["hits"][0]["text"] == "needle-in-haystack"
    tether.ok("stop", sid)
    assert json.loads(tether.ok("search", "needle", "--json"))["sessions"][0]["status"] in (
        "stopped",
        "failed",
    )
