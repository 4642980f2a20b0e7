"""``tether import --agent claude|codex [PATH]`` and ``tether search`` over agent
conversations, run as a user would: real ``tether`` processes, the agents' homes from
``CLAUDE_CONFIG_DIR`` / ``CODEX_HOME``, transcripts in their real formats, and the fake
claude of tests/agents/fakes to resume one in place."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.agents.transcript_samples import (
    CLAUDE_ID,
    CODEX_ID,
    claude_line,
    claude_transcript,
    codex_transcript,
)

FAKES = Path(__file__).resolve().parents[1] / "agents" / "fakes" / "bin"


@pytest.fixture
def homes(tether, tmp_path):
    """Each agent's home in tmp_path (named by its variable), a project directory (the
    conversations' cwd), and HOME elsewhere (so the default ~/.claude is never read)."""
    tether.env["CLAUDE_CONFIG_DIR"] = str(tmp_path / "claude-home")
    tether.env["CODEX_HOME"] = str(tmp_path / "codex-home")
    tether.env["HOME"] = str(tmp_path / "user")
    project = tmp_path / "project"
    project.mkdir()
    return tmp_path / "claude-home", tmp_path / "codex-home", project


def _ids(tether) -> list[int]:
    return [s["id"] for s in tether.json("ls")]


def test_importing_twice_adds_nothing(tether, homes):
    claude_home, codex_home, project = homes
    claude_transcript(claude_home, project)
    codex_transcript(codex_home, project)
    first = tether("import", "--agent", "claude")
    assert first.returncode == 0, first.stderr
    assert "import as #1  migrate the users table" in first.stdout
    assert "imported 1 claude conversation" in first.stderr
    assert json.loads(tether.ok("import", "--agent", "codex", "--json"))["imported"] == 1
    assert len(_ids(tether)) == 2

    again = tether("import", "--agent", "claude")
    assert again.returncode == 0
    assert f"skip {CLAUDE_ID}" in again.stdout and "already here as #1" in again.stdout
    assert "nothing to import; 1 already here" in again.stderr
    twice = json.loads(tether.ok("import", "--agent", "codex", "--json"))
    assert (twice["imported"], twice["skipped"]) == (0, 1)
    assert len(_ids(tether)) == 2

    shown = tether.json("show", "1")
    assert shown["origin"] == "imported" and shown["status"] == "stopped"
    assert shown["agent"] == {"kind": "claude", "session_id": CLAUDE_ID}
    assert shown["cwd"] == str(project) and shown["argv"] == ["claude"]
    assert shown["context"]["model"] == "claude-opus-4-1-20250805"
    assert tether.json("show", "2")["agent"] == {"kind": "codex", "session_id": CODEX_ID}


def test_the_agents_home_variables_are_honoured(tether, homes, tmp_path):
    claude_home, codex_home, project = homes
    claude_transcript(tmp_path / "user" / ".claude", project)  # the default home: not used
    codex_transcript(tmp_path / "elsewhere", project)
    none = tether("import", "--agent", "codex")
    assert none.returncode == 0
    assert f"no codex transcripts under {codex_home}" in none.stderr
    assert tether("import", "--agent", "claude").stderr.startswith("tether: no claude")
    assert _ids(tether) == []

    tether.env["CODEX_HOME"] = str(tmp_path / "elsewhere")
    assert "import as #1" in tether.ok("import", "--agent", "codex")
    del tether.env["CLAUDE_CONFIG_DIR"]  # now ~/.claude
    assert "import as #2" in tether.ok("import", "--agent", "claude")


def test_a_path_names_a_transcript_or_a_folder(tether, homes, tmp_path):
    _, _, project = homes
    one = claude_transcript(tmp_path / "copied", project)
    assert "import as #1" in tether.ok("import", "--agent", "claude", str(one))
    missing = tether("import", "--agent", "claude", str(tmp_path / "nope"))
    assert missing.returncode == 1
    assert (
        "no such file or directory" in missing.stderr and "Nothing was imported" in missing.stderr
    )
    other = claude_transcript(tmp_path / "copied", project, "11111111-2222-4333-8444-555555555555")
    out = tether.ok("import", "--agent", "claude", str(tmp_path / "copied"))
    assert "import as #2" in out and "already here as #1" in out
    assert other.exists()
    not_one = tmp_path / "notes.jsonl"
    not_one.write_text('{"hello": "world"}\n')
    refused = tether("import", "--agent", "codex", str(not_one))
    assert "not a codex transcript" in refused.stderr and _ids(tether) == [2, 1]


def test_search_finds_the_conversation_and_reads_appended_lines(tether, homes):
    claude_home, _, project = homes
    path = claude_transcript(claude_home, project)
    tether.ok("import", "--agent", "claude")
    found = tether.json("search", "migrate the users table")
    [group] = found["sessions"]
    hits = group["hits"]
    assert [(h["stream"], h["text"]) for h in hits] == [
        ("agent", "migrate the users table to add an email_verified column")
    ]
    assert "Bash: alembic revision" in tether.ok("search", "alembic revision")

    with open(path, "a") as f:  # the agent goes on, with a line cut short in between
        f.write('{"type":"user","message":{"role":"user","content":"cut\n')
        f.write(claude_line(CLAUDE_ID, project, "add an index on users.email"))
    done = tether("search", "index on users")
    assert done.returncode == 0
    assert "add an index on users.email" in done.stdout
    assert f"{path}:8: not a JSON line; skipped" in done.stderr
    assert "not a JSON line" not in tether("search", "index on users").stderr  # said once


def test_an_imported_conversation_resumes_in_place_once_confirmed(tether, homes):
    claude_home, _, project = homes
    claude_transcript(claude_home, project)
    tether.env["PATH"] = f"{FAKES}{os.pathsep}{tether.env['PATH']}"
    tether.ok("import", "--agent", "claude")
    refused = tether("resume", "1")  # no terminal to ask on, no --yes
    assert refused.returncode == 1
    assert f"not running `claude --resume {CLAUDE_ID}` without confirmation" in refused.stderr
    assert tether.json("show", "1")["runs"] == []

    tether.ok("resume", "1", "--yes")
    shown = tether.json("show", "1")
    assert shown["runs"][-1]["argv"] == ["claude", "--resume", CLAUDE_ID]
    # the fake claude found the conversation where it was imported from, and shows it
    out = tether.wait_output("1", "❯ migrate the users table")
    assert "No conversation found" not in out
    tether.ok("stop", "1")


def test_a_claude_session_tether_runs_is_searchable_as_it_goes(tether, homes):
    _, _, project = homes
    tether.env["PATH"] = f"{FAKES}{os.pathsep}{tether.env['PATH']}"
    sid = tether.ok("run", "--pty", "-C", str(project), "--", "claude").strip()
    tether.wait_output(sid, "Welcome to Claude Code")
    tether.ok("send", sid, "summarise the billing module")
    deadline = time.monotonic() + 30
    while True:  # what the terminal showed is output; the conversation is the transcript
        [group] = tether.json("search", "billing module")["sessions"]
        said = [h["text"] for h in group["hits"] if h["stream"] == "agent"]
        if said:
            break
        assert time.monotonic() < deadline, "the prompt never became searchable"
        time.sleep(0.2)
    assert said == ["summarise the billing module"]
    tether.ok("stop", sid)
