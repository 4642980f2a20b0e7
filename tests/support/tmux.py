"""Driving a real terminal: a tmux session that tests type into and read back.

Each test process has a tmux server of its own (``-L``), so that nothing else that
uses tmux on the machine (a user's sessions, another test run, a ``kill-server``) can
touch the tests' terminals, and they touch nothing else.
"""

from __future__ import annotations

import os
import subprocess
import time

SERVER = ["tmux", "-L", f"tether-tests-{os.getpid()}"]


class Tmux:
    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, *args: str) -> str:
        return subprocess.run([*SERVER, *args], capture_output=True, text=True, check=True).stdout

    def kill(self) -> None:
        """End the session (nothing if it is already gone)."""
        subprocess.run([*SERVER, "kill-session", "-t", self.name], capture_output=True)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", self.name, "-l", text)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text in shown:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen shows:\n{shown}")
            time.sleep(0.1)
