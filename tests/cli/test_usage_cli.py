"""``tether usage`` on real databases made by real sessions, the quota line of every
command, the doctor's quota finding, and ``on_quota = "cleanup"`` with real
supervisors: it purges ended sessions and never a pinned or a running one."""

from __future__ import annotations

import asyncio
import json

import pytest

from storage import open_store


def _run(tether, *argv: str, name: str) -> str:  # type: ignore[no-untyped-def]
    sid = tether.ok("run", "-n", name, "-t", "ci" if name != "lint" else "style", "--", *argv)
    return sid.strip()


@pytest.fixture
def made(tether):  # type: ignore[no-untyped-def]
    ids = {
        "build": _run(tether, "seq", "1", "40000", name="build"),
        "tests": _run(tether, "seq", "1", "9000", name="tests"),
        "lint": _run(tether, "seq", "1", "100", name="lint"),
    }
    for sid in ids.values():
        tether.wait_status(sid, ("succeeded",))
    return ids


def _config(tether_home, text: str) -> None:  # type: ignore[no-untyped-def]
    (tether_home / "config.toml").write_text("[general]\nstop_grace = 1.0\n" + text)


def test_usage_json_says_where_the_space_goes(tether, made) -> None:  # type: ignore[no-untyped-def]
    out = tether.json("usage")
    assert {"database", "at", "space", "sessions", "trashed", "top", "days", "db_sizes"} <= set(out)
    assert {"trend", "metrics", "quota"} <= set(out) and out["quota"] is None
    space = out["space"]
    assert space["exact"] is True
    assert space["total"] == space["database"] + space["wal"] + space["backups"]
    parts = sum(space[k] for k in ("output", "trash", "index", "other", "free"))
    assert 0.9 * space["content"] <= parts <= space["content"]
    assert [t["label"] for t in out["top"]] == ["build", "tests", "lint"]
    seq = len("".join(f"{i}\n" for i in range(1, 40001)))
    assert seq < out["top"][0]["bytes"] < seq + 200  # and its system line at the end
    assert out["sessions"] == 3 and out["trashed"] == 0
    assert sum(d["bytes"] for d in out["days"]) == sum(t["bytes"] for t in out["top"])
    # tether usage took a size sample: the next one shows it
    assert len(tether.json("usage")["db_sizes"]) == 1
    assert tether.json("usage", "--estimate")["space"]["exact"] is False


def test_usage_by_each_grouping(tether, made) -> None:  # type: ignore[no-untyped-def]
    tags = tether.json("usage", "--by", "tag")
    assert tags["by"] == "tag"
    groups = {g["key"]: g for g in tags["groups"]}
    assert set(groups) == {"ci", "style"} and groups["ci"]["sessions"] == 2
    status = tether.json("usage", "--by", "status")["groups"]
    assert [(g["key"], g["sessions"]) for g in status] == [("succeeded", 3)]
    sessions = tether.json("usage", "--by", "session", "--limit", "2")["groups"]
    assert [g["key"] for g in sessions] == [f"#{made['build']} build", f"#{made['tests']} tests"]
    text = tether.ok("usage", "--by", "cwd")
    assert "by cwd" in text and "DIRECTORY" in text
    text = tether.ok("usage")
    for word in ("on disk", "output", "index", "biggest sessions", "output per day", "build"):
        assert word in text, text


def test_bad_usage_options(tether) -> None:  # type: ignore[no-untyped-def]
    done = tether("usage", "--by", "colour")
    assert done.returncode == 2 and "invalid choice" in done.stderr
    done = tether("usage", "--by", "tag", "--limit", "0")
    assert done.returncode == 2 and "--limit" in done.stderr


def test_the_quota_line_at_80_and_100_percent(tether, tether_home, made) -> None:  # type: ignore[no-untyped-def]
    listed = tether("ls")
    assert listed.returncode == 0 and "quota" not in listed.stderr
    total = tether.json("usage")["space"]["total"]
    _config(tether_home, f'[storage]\nquota = "{int(total * 1.6)}"\n')
    assert "quota" not in tether("ls").stderr  # about 60%
    _config(tether_home, f'[storage]\nquota = "{int(total / 0.9)}"\n')
    near = tether("ls")
    assert near.returncode == 0 and f"#{made['build']}" in near.stdout
    (line,) = near.stderr.splitlines()
    assert line.startswith("tether: tether takes") and "quota (8" in line or "quota (9" in line
    assert "tether usage" in line
    doctor = tether.json("doctor")
    (finding,) = [f for f in doctor["findings"] if f["check"] == "quota"]
    assert finding["level"] == "warning"
    _config(tether_home, '[storage]\nquota = "100K"\n')
    over = tether("search", "40000")
    assert over.returncode == 0 and "over its 100.0 KiB quota" in over.stderr
    doctor = tether("doctor", "--json")
    assert doctor.returncode == 1
    (finding,) = [f for f in json.loads(doctor.stdout)["findings"] if f["check"] == "quota"]
    assert finding["level"] == "problem"
    assert "quota" not in tether("usage").stderr  # it says so itself
    assert json.loads(tether.ok("usage", "--json"))["quota"]["level"] == "over"
    _config(tether_home, '[storage]\non_quota = "delete"\n')
    bad = tether("ls")
    assert (
        bad.returncode == 2 and "storage.on_quota" in bad.stderr and "warn, cleanup" in bad.stderr
    )


def test_cleanup_on_quota_never_touches_pinned_or_running_sessions(tether, tether_home, made):  # type: ignore[no-untyped-def]
    running = tether.ok("run", "-n", "server", "--", "sh", "-c", "seq 1 5000; sleep 300").strip()
    tether.wait_output(running, "5000")

    async def pin() -> None:
        async with open_store(tether_home / "tether.db") as store:
            await store.sessions.update(int(made["tests"]), pinned=True)

    asyncio.run(pin())
    _config(tether_home, '[storage]\nquota = "1K"\non_quota = "cleanup"\n')
    done = tether("ls")
    assert done.returncode == 0, done.stderr
    assert "applying the retention policy" in done.stderr
    assert "the quota cleanup purged 2 sessions" in done.stderr, done.stderr
    left = {s["id"]: s for s in json.loads(tether.ok("ls", "--all", "--json"))}
    assert set(left) == {int(made["tests"]), int(running)}
    assert left[int(running)]["status"] == "running"
    assert left[int(made["tests"])]["pinned"] is True
    assert "5000" in tether.ok("logs", running)
    # tried lately: the next command warns, and does not plan again
    again = tether("ls")
    assert "over its" in again.stderr and "purged" not in again.stderr
    tether.ok("stop", running)
