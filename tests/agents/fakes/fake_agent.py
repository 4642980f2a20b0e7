"""Fake Claude Code and Codex for tests: the screens of the real ones (as recorded in
tests/fixtures/agents/) and their transcripts in the real on-disk formats, without a
model. Each request asks permission to run ``echo REQUEST``; ``1``/``y`` approves (the
answer is written to the transcript), Esc denies.

- claude: ``--session-id ID`` (or a new id), ``--resume ID`` (refused when
  ``${CLAUDE_CONFIG_DIR:-~/.claude}/projects/<cwd slug>/ID.jsonl`` is missing);
- codex: a new session writes ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl``
  (first line ``session_meta`` with id and cwd); ``codex resume ID`` continues it.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys
import termios
import tty
import uuid
from datetime import UTC, datetime


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def out(*lines: str) -> None:
    sys.stdout.write("".join(line + "\r\n" for line in lines))
    sys.stdout.flush()


def key() -> str:
    ch = os.read(0, 1).decode(errors="replace")
    return ch


def _lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return f.readlines()


def line() -> str:
    text = ""
    while True:
        ch = key()
        if ch in ("\r", "\n"):
            out("")
            return text
        if ch == "":
            sys.exit(0)
        text += ch
        sys.stdout.write(ch)
        sys.stdout.flush()


class Claude:
    def __init__(self, argv: list[str]) -> None:
        home = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.expanduser("~/.claude")
        slug = re.sub(r"[^A-Za-z0-9-]", "-", os.getcwd())
        folder = os.path.join(home, "projects", slug)
        self.history: list[str] = []
        if "--resume" in argv:
            self.id = argv[argv.index("--resume") + 1]
            self.path = os.path.join(folder, self.id + ".jsonl")
            if not os.path.exists(self.path):
                out(f"No conversation found with session ID: {self.id}")
                sys.exit(1)
            for raw in _lines(self.path):
                entry = json.loads(raw)
                if entry.get("type") == "user":
                    self.history.append(entry["message"]["content"])
        else:
            given = argv[argv.index("--session-id") + 1] if "--session-id" in argv else None
            self.id = given or str(uuid.uuid4())
            self.path = os.path.join(folder, self.id + ".jsonl")
            os.makedirs(folder, exist_ok=True)
        self.parent: str | None = None

    def write(self, kind: str, content: object) -> None:
        entry_id = str(uuid.uuid4())
        role = "user" if kind == "user" else "assistant"
        message = {"role": role, "content": content}
        entry = {
            "parentUuid": self.parent, "isSidechain": False, "type": kind, "message": message,
            "uuid": entry_id, "timestamp": now(), "cwd": os.getcwd(), "sessionId": self.id,
            "version": "0.0.0-fake", "userType": "external",
        }  # fmt: skip
        self.parent = entry_id
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def box(self) -> None:
        out("─" * 60, "❯ ", "─" * 60, "  ? for shortcuts")

    def run(self) -> None:
        out(" ✻ Welcome to Claude Code (fake)", "")
        for prompt in self.history:
            out(f"❯ {prompt}", "● (earlier answer)", "")
        while True:
            self.box()
            prompt = line()
            self.write("user", prompt)
            out(f"❯ {prompt}", f"● Bash(echo {prompt})", "  ⎿  Waiting…", "─" * 60,
                " Bash command", f"   echo {prompt}", " This command requires approval",
                " Do you want to proceed?", " ❯ 1. Yes", "   2. No",
                " Esc to cancel · Tab to amend")  # fmt: skip
            answer = key()
            if answer == "1":
                self.write("assistant", [{"type": "text", "text": f"Ran: echo {prompt}"}])
                out(f"● Ran: echo {prompt}", "")
            else:
                out("  ⎿  Interrupted · What should Claude do instead?", "")


class Codex:
    def __init__(self, argv: list[str]) -> None:
        home = os.environ.get("CODEX_HOME") or os.path.expanduser("~/.codex")
        self.history: list[str] = []
        if argv[:1] == ["resume"]:
            self.id = argv[1]
            pattern = os.path.join(home, "sessions", "*", "*", "*", f"rollout-*-{self.id}.jsonl")
            found = glob.glob(pattern)
            if not found:
                out(f"Error: no rollout found for session id {self.id}")
                sys.exit(1)
            self.path = found[0]
            for raw in _lines(self.path):
                entry = json.loads(raw)
                payload = entry.get("payload", {})
                if payload.get("type") == "message" and payload.get("role") == "user":
                    self.history.append(payload["content"][0]["text"])
        else:
            self.id = str(uuid.uuid4())
            t = datetime.now(UTC)
            folder = os.path.join(home, "sessions", f"{t:%Y}", f"{t:%m}", f"{t:%d}")
            os.makedirs(folder, exist_ok=True)
            self.path = os.path.join(folder, f"rollout-{t:%Y-%m-%dT%H-%M-%S}-{self.id}.jsonl")
            meta = {"id": self.id, "session_id": self.id, "timestamp": now(), "cwd": os.getcwd(),
                    "originator": "codex-tui", "cli_version": "0.0.0-fake"}  # fmt: skip
            self.append({"timestamp": now(), "type": "session_meta", "payload": meta})

    def append(self, entry: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def run(self) -> None:
        out("", "  >_ OpenAI Codex (fake)", f"     {os.getcwd()}", "")
        for prompt in self.history:
            out(f"› {prompt}", "• (earlier answer)", "")
        while True:
            out("› Ask Codex to do anything", "", "  ← for agents · ? for shortcuts")
            prompt = line()
            content = [{"type": "input_text", "text": prompt}]
            item = {"type": "message", "role": "user", "content": content}
            self.append({"timestamp": now(), "type": "response_item", "payload": item})
            out(f"› {prompt}", "", "  Would you like to run the following command?", "",
                f"  $ echo {prompt}", "", "› 1. Yes, proceed (y)",
                "  2. No, and tell Codex what to do differently (esc)", "",
                "  Press enter to confirm or esc to cancel")  # fmt: skip
            if key() in ("y", "1", "\r"):
                out(f"• Ran echo {prompt}", "")
            else:
                out("■ Denied", "")


def main(which: str) -> None:
    agent = Claude(sys.argv[1:]) if which == "claude" else Codex(sys.argv[1:])
    saved = termios.tcgetattr(0) if os.isatty(0) else None
    if saved is not None:
        tty.setraw(0)
    try:
        agent.run()
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
