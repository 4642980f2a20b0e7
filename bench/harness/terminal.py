"""A terminal to watch, for benchmarks that measure what a user sees: one tmux pane on
a private tmux server (``Pane``: launch a command, send keys, poll the screen until some
text is there), and a process's peak memory (``peak_rss_mb``).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

SIZE = (120, 36)
POLL = 0.005  # seconds between two looks at the screen


class Pane:
    """One tmux pane on a private tmux server."""

    def __init__(self) -> None:
        self.server = ["tmux", "-L", f"tether-bench-{os.getpid()}"]
        cols, rows = SIZE
        subprocess.run(
            [*self.server, "-f", "/dev/null", "new-session", "-d", "-s", "b"]
            + ["-x", str(cols), "-y", str(rows), "sleep 100000"],
            check=True,
        )
        subprocess.run([*self.server, "set-option", "-g", "status", "off"], check=True)

    def launch(self, command: str, env: dict[str, str] | None = None) -> float:
        """Start ``command`` in the pane (replacing what ran there); returns its start time."""
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        line = f"exec env {prefix} {command}" if prefix else f"exec {command}"
        start = time.perf_counter()
        subprocess.run([*self.server, "respawn-pane", "-k", "-t", "b", line], check=True)
        return start

    def text(self) -> str:
        return subprocess.run(
            [*self.server, "capture-pane", "-p", "-t", "b"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def pid(self) -> int:
        out = subprocess.run(
            [*self.server, "display", "-p", "-t", "b", "#{pane_pid}"],
            check=True,
            capture_output=True,
            text=True,
        )
        return int(out.stdout.strip())

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.server, "send-keys", "-t", "b", *keys], check=True)

    def wait_for(self, found: Callable[[str], bool], timeout: float = 120.0) -> float:
        """Poll until ``found(text)``; the time it was seen (midpoint of the last poll)."""
        before = time.perf_counter()
        deadline = before + timeout
        while True:
            text = self.text()
            now = time.perf_counter()
            if found(text):
                return (before + now) / 2
            if now > deadline:
                raise TimeoutError(f"gave up after {timeout}s; the pane shows:\n{text}")
            before = now
            time.sleep(POLL)

    def stop(self) -> None:
        subprocess.run([*self.server, "respawn-pane", "-k", "-t", "b", "sleep 100000"])

    def close(self) -> None:
        subprocess.run([*self.server, "kill-server"], capture_output=True)


def peak_rss_mb(pid: int) -> tuple[float, float]:
    """(peak RSS, current anonymous RSS) of a process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    hwm = int(fields["VmHWM"].split()[0]) / 1024
    anon = int(fields.get("RssAnon", "0 kB").split()[0]) / 1024
    return hwm, anon
