"""How sessions read on screen: status icons, relative times, durations, paths, sizes.

Pure functions of their arguments (the time ``now`` is passed in), so screenshots
taken with a fixed clock are identical on every run. Sizes and durations are
``storage.units``'s, the one home of units.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from storage.units import format_duration, format_size

if TYPE_CHECKING:
    from storage import Session

STATUS_ICON = {
    "pending": "◌",
    "running": "●",
    "paused": "‖",
    "succeeded": "✓",
    "failed": "✗",
    "stopped": "■",
    "lost": "⊘",
}


# A running session's attention (runner/attention.py) shows in place of its status icon.
ATTENTION_ICON = {"needs_you": "◆", "working": "●", "idle": "○"}


def icon(session: Session) -> tuple[str, str]:
    """The list's icon of ``session`` and its style name: the attention of a running
    session (``needs_you``, ``working``, ``idle``), else its status."""
    if session.status == "running" and session.attention in ATTENTION_ICON:
        return ATTENTION_ICON[session.attention], session.attention
    return STATUS_ICON.get(session.status, "?"), session.status


def status_text(status: str, exit_code: int | None, signal: int | None) -> str:
    """``failed (exit 2)``, ``failed (signal 9)``, ``running``..."""
    if status == "failed":
        if signal is not None:
            return f"failed (signal {signal})"
        if exit_code is not None:
            return f"failed (exit {exit_code})"
    return status


def relative(then: float | None, now: float) -> str:
    """``12s ago``, ``5m ago``, ``3h ago``, ``2d ago``, then a date."""
    if then is None:
        return "—"
    delta = max(0.0, now - then)
    if delta < 60:
        return f"{int(delta)}s ago"
    if delta < 3600:
        return f"{int(delta // 60)}m ago"
    if delta < 86400:
        return f"{int(delta // 3600)}h ago"
    if delta < 14 * 86400:
        return f"{int(delta // 86400)}d ago"
    return time.strftime("%Y-%m-%d", time.localtime(then))


def duration(seconds: float | None) -> str:
    """``0.4s``, ``42s``, ``3m05s``, ``2h07m``, ``3d04h``."""
    if seconds is None:
        return "—"
    return format_duration(seconds)


def timestamp(at: float | None) -> str:
    if at is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def home(path: str, home_dir: str | None = None) -> str:
    """``/home/ana/src/app`` -> ``~/src/app``."""
    home_dir = home_dir if home_dir is not None else os.path.expanduser("~")
    if home_dir and home_dir != "/" and (path == home_dir or path.startswith(home_dir + "/")):
        return "~" + path[len(home_dir) :]
    return path


def size(n: int) -> str:
    """Bytes in a human unit: ``812 B``, ``4.2 KiB``, ``1.3 GiB``."""
    return format_size(n)


def count(n: int) -> str:
    """Line counts, short: ``987``, ``12.3k``, ``4.5M``."""
    if n < 10_000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def ellipsize(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` cells with an ellipsis (cells = characters here)."""
    if width <= 0:
        return ""
    text = " ".join(text.split()) if "\n" in text or "\t" in text else text
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def shown(session: Session) -> Session:
    """The session as the TUI may display it: every text field a user or an imported
    file could fill has its control characters made visible (an OSC 52 clipboard write
    in a name would otherwise reach the terminal)."""
    from dataclasses import replace

    from storage.text import visible

    fields = {
        "name": visible(session.name),
        "cwd": visible(session.cwd),
        "notes": visible(session.notes, multiline=True),
        "argv": tuple(visible(a) for a in session.argv),
        "tags": tuple(visible(t) for t in session.tags),
    }
    if session.resume_argv is not None:
        fields["resume_argv"] = tuple(visible(a) for a in session.resume_argv)
    if session.env:
        fields["env"] = {visible(k): visible(v) for k, v in session.env.items()}
    changed = {k: v for k, v in fields.items() if v != getattr(session, k)}
    return replace(session, **changed) if changed else session
