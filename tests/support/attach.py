"""``tether attach`` in a real terminal: a tmux pane (on the tests' own tmux server)
whose shell runs the client, then says how it exited."""

from __future__ import annotations

import shlex
import sys
import time
import uuid
from pathlib import Path

from tests.support.tmux import Tmux


def tether_command() -> str:
    script = Path(sys.executable).parent / "tether"
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -c 'import sys; from cli import main; sys.exit(main())'"


class Pane(Tmux):
    """One tmux session of ``cols`` x ``rows`` (no status line) running ``command``
    under ``home``; the line ``EXIT=<code>`` shows when it ends."""

    def __init__(self, home: Path, command: str, *, cols: int = 80, rows: int = 24) -> None:
        super().__init__(f"tether-attach-{uuid.uuid4().hex[:8]}")
        env = f"TETHER_HOME={shlex.quote(str(home))} TERM=xterm-256color"
        shell = f"env {env} {command}; echo EXIT=$?; sleep 600"
        self.run("new-session", "-d", "-s", self.name, "-x", str(cols), "-y", str(rows), shell)
        self.run("set-option", "-t", self.name, "status", "off")
        self.resize(cols, rows)

    def resize(self, cols: int, rows: int) -> None:
        self.run("resize-window", "-t", self.name, "-x", str(cols), "-y", str(rows))

    def flag(self, name: str) -> str:
        """A tmux format of the pane: ``alternate_on``, ``cursor_flag``..."""
        return self.run("display-message", "-p", "-t", self.name, f"#{{{name}}}").strip()

    def hex(self, data: bytes) -> None:
        """Type raw bytes (an escape sequence as a terminal would send it)."""
        self.run("send-keys", "-t", self.name, "-H", *(f"{b:02x}" for b in data))

    def pid(self) -> int:
        return int(self.run("display-message", "-p", "-t", self.name, "#{pane_pid}").strip())

    def wait_until(self, check, what: str, timeout: float = 30.0) -> str:  # type: ignore[no-untyped-def]
        """Until ``check(screen)`` holds (a deadline for a broken build only)."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if check(shown):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"never {what}; the screen shows:\n{shown}")
            time.sleep(0.05)


def attach_pane(home: Path, session: str, *, cols: int = 80, rows: int = 24) -> Pane:
    return Pane(home, f"{tether_command()} attach {session}", cols=cols, rows=rows)
