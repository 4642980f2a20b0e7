"""The recorded-format transcripts of tests/fixtures/agents/transcripts, laid out where
Claude Code and Codex keep them (their conversation's cwd made a directory of the test).
"""

from __future__ import annotations

import json
from pathlib import Path

from agents.kinds import cwd_slug

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "agents" / "transcripts"
CLAUDE_FIXTURE = FIXTURES / "claude-session.jsonl"
CODEX_FIXTURE = next(FIXTURES.glob("rollout-*.jsonl"))
CLAUDE_ID = "7f9c2b1e-4a3d-4e8f-9b6a-2c1d0e5f8a7b"
CODEX_ID = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
CLAUDE_CWD = "/home/ada/src/shop"
CODEX_CWD = "/home/ada/src/api"


def _moved(path: Path, old: str, new: str, native_id: str, new_id: str) -> str:
    text = path.read_text()
    # the cwd is a JSON string: replace it as one (escaped the way json.dumps writes it)
    return text.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1]).replace(native_id, new_id)


def claude_transcript(home: Path, cwd: Path, native_id: str = CLAUDE_ID) -> Path:
    """The claude fixture as ``home/projects/<slug of cwd>/<native_id>.jsonl``."""
    folder = home / "projects" / cwd_slug(str(cwd))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{native_id}.jsonl"
    path.write_text(_moved(CLAUDE_FIXTURE, CLAUDE_CWD, str(cwd), CLAUDE_ID, native_id))
    return path


def codex_transcript(home: Path, cwd: Path, native_id: str = CODEX_ID) -> Path:
    """The codex fixture as ``home/sessions/2026/11/21/rollout-...-<native_id>.jsonl``."""
    folder = home / "sessions" / "2026" / "11" / "21"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rollout-2026-11-21T14-02-11-{native_id}.jsonl"
    path.write_text(_moved(CODEX_FIXTURE, CODEX_CWD, str(cwd), CODEX_ID, native_id))
    return path


def claude_line(native_id: str, cwd: Path, text: str, at: str = "2026-11-20T10:00:00.000Z") -> str:
    """A prompt line as Claude Code appends it."""
    entry = {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": str(cwd),
        "sessionId": native_id,
        "version": "1.0.98",
        "type": "user",
        "message": {"role": "user", "content": text},
        "uuid": "a1b2c3d4-0099-4000-8000-000000000099",
        "timestamp": at,
    }
    return json.dumps(entry) + "\n"
