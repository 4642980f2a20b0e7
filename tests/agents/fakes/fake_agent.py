"""Fake Claude Code and Codex for tests: the screens of the real ones (as recorded in
tests/fixtures/agents/) and their transcripts in the real on-disk formats, without a
model. Each request asks permission to run ``echo REQUEST``; ``1``/``y`` approves (the
answer is written to the transcript), Esc denies.

- claude: ``--session-id ID`` (or a new id), ``--resume ID`` (refused when
  ``${CLAUDE_CONFIG_DIR:-~/.claude}/projects/<cwd slug>/ID.jsonl`` is missing);
- codex: a new session writes ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl``
  (first line ``session_meta`` with id and cwd); ``codex resume ID`` continues it.

Both run the hooks they are given as the real ones do: claude the ``hooks`` of
``--settings JSON|FILE`` (a shell command, the event's JSON on its stdin:
UserPromptSubmit, PreToolUse, Notification with ``permission_prompt``, PostToolUse,
Stop), codex the ``-c notify=[...]`` program (the JSON of ``agent-turn-complete`` as its
last argument). A request starting with ``quietly`` asks (claude) or ends its turn
(codex) without drawing anything prompt-like: only the hook tells.
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
import termios
import tomllib
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
        self.hooks: dict = {}
        if "--settings" in argv:
            given = argv[argv.index("--settings") + 1]
            if not given.lstrip().startswith("{"):
                with open(given, encoding="utf-8") as f:
                    given = f.read()
            self.hooks = json.loads(given).get("hooks", {})

    def fire(self, event: str, **extra: str) -> None:
        """Run the hooks of ``event`` as Claude Code does: each command through the
        shell, the event's JSON on stdin, its output taken (not shown)."""
        payload = {"session_id": self.id, "transcript_path": self.path, "cwd": os.getcwd(),
                   "hook_event_name": event, **extra}  # fmt: skip
        for group in self.hooks.get(event, []):
            for hook in group.get("hooks", []):
                subprocess.run(hook["command"], shell=True, input=json.dumps(payload),
                               capture_output=True, text=True, timeout=60)  # fmt: skip

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
            self.fire("UserPromptSubmit", prompt=prompt)
            self.write("user", prompt)
            tool = {"tool_name": "Bash", "tool_input": {"command": f"echo {prompt}"}}
            self.fire("PreToolUse", **tool)
            if prompt.startswith("quietly"):
                out(f"❯ {prompt}", "● Thinking it over")
            else:
                out(f"❯ {prompt}", f"● Bash(echo {prompt})", "  ⎿  Waiting…", "─" * 60,
                    " Bash command", f"   echo {prompt}", " This command requires approval",
                    " Do you want to proceed?", " ❯ 1. Yes", "   2. No",
                    " Esc to cancel · Tab to amend")  # fmt: skip
            self.fire("Notification", message="Claude needs your permission to use Bash",
                      notification_type="permission_prompt")  # fmt: skip
            answer = key()
            if answer == "1":
                self.write("assistant", [{"type": "text", "text": f"Ran: echo {prompt}"}])
                self.fire("PostToolUse", **tool)
                out(f"● Ran: echo {prompt}", "")
                self.fire("Stop", stop_hook_active=False)
            else:
                out("  ⎿  Interrupted · What should Claude do instead?", "")


class Codex:
    def __init__(self, argv: list[str]) -> None:
        home = os.environ.get("CODEX_HOME") or os.path.expanduser("~/.codex")
        self.history: list[str] = []
        self.notify: list[str] = []
        while argv[:1] == ["-c"]:  # -c key=value: a TOML value overriding config.toml
            key_name, _, value = argv[1].partition("=")
            if key_name == "notify":
                self.notify = tomllib.loads(f"v = {value}")["v"]
            argv = argv[2:]
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

    def turn_complete(self, prompt: str, said: str) -> None:
        """Run the notify program as codex does: the JSON its last argument, not waited."""
        if self.notify:
            payload = {"type": "agent-turn-complete", "thread-id": self.id, "turn-id": now(),
                       "cwd": os.getcwd(), "input-messages": [prompt],
                       "last-assistant-message": said}  # fmt: skip
            subprocess.Popen([*self.notify, json.dumps(payload)])

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
            if prompt.startswith("quietly"):
                out(f"› {prompt}", "• Working (0s • esc to interrupt)")
                self.turn_complete(prompt, "done")  # its screen says nothing more
                continue
            out(f"› {prompt}", "", "  Would you like to run the following command?", "",
                f"  $ echo {prompt}", "", "› 1. Yes, proceed (y)",
                "  2. No, and tell Codex what to do differently (esc)", "",
                "  Press enter to confirm or esc to cancel")  # fmt: skip
            if key() in ("y", "1", "\r"):
                out(f"• Ran echo {prompt}", "")
                self.turn_complete(prompt, f"Ran echo {prompt}")
            else:
                out("■ Denied", "")


class Aider:
    """aider: every exchange appended to ``.aider.chat.history.md`` in its cwd (its real
    format: a ``# aider chat started at`` header per run, ``#### prompt`` lines, the
    answer as plain text); ``--restore-chat-history`` shows the earlier ones again."""

    HISTORY = ".aider.chat.history.md"

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.history: list[str] = []
        if "--restore-chat-history" in argv and os.path.exists(self.HISTORY):
            for raw in _lines(self.HISTORY):
                if raw.startswith("#### "):
                    self.history.append(raw[5:].rstrip("\n"))
        started = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        self.append(f"\n# aider chat started at {started}\n\n")

    def append(self, text: str) -> None:
        with open(self.HISTORY, "a", encoding="utf-8") as f:
            f.write(text)

    def run(self) -> None:
        out("Aider v0.0.0-fake", f"Arguments: {' '.join(self.argv)}", "Main model: fake")
        for prompt in self.history:
            out(f"> {prompt}", "(earlier answer)", "")
        while True:
            sys.stdout.write("> ")
            sys.stdout.flush()
            prompt = line()
            self.append(f"#### {prompt}\n\nOk: {prompt}\n\n")
            out(f"Ok: {prompt}", "")


def main(which: str) -> None:
    agents = {"claude": Claude, "codex": Codex, "aider": Aider}
    agent = agents[which](sys.argv[1:])
    saved = termios.tcgetattr(0) if os.isatty(0) else None
    if saved is not None:
        tty.setraw(0)
    try:
        agent.run()
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
