"""A desktop notification when a session starts needing you (``[notify] desktop``, off
by default), beside the app's toast and bell (tui/attention_watch.py).

- ``osc9``: ``ESC ] 9 ; BODY BEL`` to the terminal (iTerm2, WezTerm, Windows Terminal,
  kitty, Ghostty);
- ``osc777``: ``ESC ] 777 ; notify ; TITLE ; BODY BEL`` (urxvt, foot, Konsole, WezTerm);
- ``notify-send``: runs it (libnotify: the desktop's notification daemon);
- ``auto``: notify-send where it is on PATH and a desktop session is there, else OSC 777.

The text comes from session names, which anyone who starts a session chooses: control
characters are removed (an escape sequence in a name never reaches the terminal) and
``;`` too in an OSC 777 title (it separates the fields).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Callable, Mapping

__all__ = ["MODES", "DesktopNotifier", "osc"]

MODES = ("off", "osc9", "osc777", "notify-send", "auto")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _clean(text: str, limit: int = 200) -> str:
    return _CONTROL.sub(" ", text)[:limit]


def osc(mode: str, title: str, body: str) -> str:
    """The escape sequence of ``mode`` (``osc9`` or ``osc777``) that shows a
    notification."""
    if mode == "osc9":
        return f"\x1b]9;{_clean(f'{title}: {body}')}\x07"
    return f"\x1b]777;notify;{_clean(title).replace(';', ',')};{_clean(body)}\x07"


def resolve(mode: str, env: Mapping[str, str]) -> str:
    """What ``auto`` means here: notify-send with a desktop to show it on, else OSC 777."""
    if mode != "auto":
        return mode if mode in MODES else "off"
    desktop = any(env.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"))
    if desktop and shutil.which("notify-send", path=env.get("PATH")):
        return "notify-send"
    return "osc777"


class DesktopNotifier:
    """Sends notifications the configured way. ``write`` puts text on the app's terminal
    (the Textual driver's output)."""

    def __init__(
        self, mode: str, write: Callable[[str], None], env: Mapping[str, str] | None = None
    ) -> None:
        self.env = dict(os.environ if env is None else env)
        self.mode = resolve(mode, self.env)
        self.write = write
        self._running: set[asyncio.Task[None]] = set()

    def send(self, title: str, body: str) -> None:
        if self.mode in ("osc9", "osc777"):
            self.write(osc(self.mode, title, body))
        elif self.mode == "notify-send":
            task = asyncio.get_running_loop().create_task(self._notify_send(title, body))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _notify_send(self, title: str, body: str) -> None:
        program = shutil.which("notify-send", path=self.env.get("PATH"))
        if program is None:
            return
        try:
            proc = await asyncio.create_subprocess_exec(
                program,
                "--app-name=tether",
                _clean(title),
                _clean(body),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                env=self.env,
            )
            await proc.wait()  # reaped: no zombie per notification
        except OSError:
            pass  # no notification: the toast and the count still say it

    async def settle(self) -> None:
        """Wait for the notify-send runs under way (tests, and the app's exit)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)
