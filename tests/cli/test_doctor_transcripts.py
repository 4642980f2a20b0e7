"""Terminal sessions recorded without their screens (before tether stored them, or a
supervisor killed mid-run): ``tether doctor`` says their transcript is missing (search
reads their raw stream meanwhile) and ``--fix`` builds it; then ``tether search`` finds
what a person saw and ``tether screen --at`` the hit's line shows it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from home.paths import resolve_paths
from runner.screen.state import size_line
from storage import open_store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "terminal"
STEPS = b"".join(
    b"\x1b[1m\xe2\x97\x8f\x1b[0m step %d: read\x1b[1Cthe\x1b[1Cparser\r\n" % i for i in range(60)
)


async def _record(db: Path) -> tuple[int, int]:
    """Two ended pty sessions' bytes alone, as a killed supervisor leaves them."""
    ids = []
    async with open_store(db) as store:
        for name, cols, rows, data in (
            ("claude", 100, 30, (FIXTURES / "claude_first.bin").read_bytes()),
            ("agent", 40, 5, STEPS),
        ):
            s = await store.sessions.create([name], cwd="/", mode="pty", name=name)
            await store.runs.start(s.id)
            await store.output.append(s.id, "system", size_line(cols, rows))
            await store.output.append(s.id, "stdout", data)
            await store.runs.finish(s.id, exit_code=0)
            ids.append(s.id)
    return ids[0], ids[1]


def _finding(report: dict, key: str = "findings") -> dict:
    (found,) = [f for f in report[key] if f["check"] == "terminal-transcripts"]
    return found


def test_doctor_fix_builds_missing_transcripts_and_search_finds_what_was_seen(tether, tether_home):
    db = resolve_paths(env={"TETHER_HOME": str(tether_home)}).db
    claude, agent = asyncio.run(_record(db))
    before = _finding(json.loads(tether("doctor", "--json").stdout))
    assert (before["level"], before["count"]) == ("info", 2)
    assert "2 ended terminal sessions" in before["message"]
    assert tether.json("search", '"Welcome to Claude"')["sessions"] == []

    done = json.loads(tether("doctor", "--fix", "--json").stdout)
    assert "built the rendered transcript of 2 terminal sessions" in done["fixed"]
    assert _finding(done, "after")["level"] == "ok"
    (group,) = tether.json("search", '"Welcome to Claude"')["sessions"]
    (hit,) = group["hits"]
    assert (group["id"], hit["stream"], hit["text"]) == (
        claude,
        "screen",
        "Welcome to Claude Code v2.1.197",
    )
    # A hit on a row that scrolled off: the screen at its line shows it.
    (group,) = tether.json("search", '"step 31: read the parser"')["sessions"]
    (hit,) = group["hits"]
    assert (group["id"], hit["stream"]) == (agent, "screen")
    shown = tether.ok("screen", str(agent), "--at", str(hit["line"]))
    assert "● step 31: read the parser" in shown.splitlines()


def test_import_builds_the_transcripts_of_the_terminal_sessions_it_brings(
    tether, tether_home, tmp_path
):
    db = resolve_paths(env={"TETHER_HOME": str(tether_home)}).db
    claude, _agent = asyncio.run(_record(db))
    out = tmp_path / "claude.json"
    tether.ok("export", str(claude), "-o", str(out))
    tether.ok("import", "--duplicate", str(out))
    found = tether.json("search", '"Welcome to Claude"')["sessions"]
    # The copy is searchable as seen at once (the original once its transcript is built).
    assert [(g["id"], [h["stream"] for h in g["hits"]]) for g in found] == [(3, ["screen"])]
    assert _finding(json.loads(tether("doctor", "--json").stdout))["count"] == 2  # the originals
