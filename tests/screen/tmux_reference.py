"""tmux as the reference emulator: what a real terminal shows for a byte stream.

Each capture runs in its own tmux server (`-L` with a unique name, no user
config, no status line) so tests never touch the user's tmux. The pane cats the
bytes with echo off (so replies tmux sends to terminal queries are not echoed
back onto the screen), then sets the pane title to a marker: the title is
processed in order with the bytes, so once tmux reports it, everything before
it has been drawn. We wait for that state, never for a fixed time.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Capture:
    lines: list[str]
    cursor: tuple[int, int]
    alt_screen: bool


def tmux_available() -> bool:
    return shutil.which("tmux") is not None


class TmuxReference:
    """One private tmux server that renders fixture files."""

    def __init__(self, workdir: Path) -> None:
        self.socket = f"tether-screen-{uuid.uuid4().hex[:12]}"
        self.conf = workdir / "tmux.conf"
        self.conf.write_text("set -g status off\nset -g history-limit 100\n")
        # A session that lives as long as we do: otherwise killing the last capture's
        # session makes the server exit while the next capture is starting one.
        self._tmux("new-session", "-d", "-s", "keep", "-x", "20", "-y", "5", "sleep", "86400")

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, "-f", str(self.conf), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode:
            raise RuntimeError(f"tmux {args[0]} failed: {result.stderr.strip()}")
        return result.stdout

    def capture(self, path: Path, cols: int, rows: int, timeout: float = 60.0) -> Capture:
        marker = f"done-{uuid.uuid4().hex[:10]}"
        name = f"f{uuid.uuid4().hex[:8]}"
        script = (
            f"stty -echo; cat {shlex.quote(str(path))}; "
            f"printf '\\033]2;{marker}\\033\\\\'; exec sleep 86400"
        )
        self._tmux(
            "new-session", "-d", "-s", name, "-x", str(cols), "-y", str(rows), "sh", "-c", script
        )
        try:
            deadline = time.monotonic() + timeout
            while (
                self._tmux("display-message", "-p", "-t", name, "#{pane_title}").strip() != marker
            ):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"tmux never finished drawing {path.name}")
                time.sleep(0.02)  # polling for the marker, not waiting a fixed time
            text = self._tmux("capture-pane", "-p", "-t", name)
            info = self._tmux(
                "display-message", "-p", "-t", name, "#{cursor_x} #{cursor_y} #{alternate_on}"
            ).split()
        finally:
            self._tmux("kill-session", "-t", name)
        lines = [line.rstrip(" ") for line in text.split("\n")[:rows]]
        lines += [""] * (rows - len(lines))
        # With a wrap pending, tmux reports the cursor one past the last column where
        # other emulators report the last column and a flag: the same state.
        x = min(int(info[0]), cols - 1)
        return Capture(lines, (x, int(info[1])), info[2] == "1")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)
