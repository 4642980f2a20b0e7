"""Terminal screen emulation for pty sessions, behind one small interface.

    screen = open_screen(cols, rows)          # the default backend
    screen = open_screen(cols, rows, "pyte")  # or one by name
    screen.feed(data); screen.lines(); screen.scrolled_off(); screen.snapshot()
    restore_screen(blob)                      # rebuild from a snapshot

Backends load lazily: importing this package loads neither libghostty-vt nor pyte.
The default, "ghostty", was chosen by measurement (see bench/emulator.py and the
conformance tests in tests/screen/); "pyte" is the pure-Python fallback.
"""

from __future__ import annotations

from importlib import import_module

from .base import (
    DEFAULT_STYLE,
    MODE_NUMBERS,
    CellStyle,
    Cursor,
    Screen,
    SnapshotHeader,
    StyledRun,
)
from .errors import BackendUnavailable, ScreenError, SnapshotIncompatible

BACKENDS: dict[str, tuple[str, str]] = {
    "ghostty": ("runner.screen.ghostty", "GhosttyScreen"),
    "pyte": ("runner.screen.pyte_backend", "PyteScreen"),
}
DEFAULT_BACKEND = "ghostty"

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_STYLE",
    "MODE_NUMBERS",
    "BackendUnavailable",
    "CellStyle",
    "Cursor",
    "Screen",
    "ScreenError",
    "SnapshotIncompatible",
    "StyledRun",
    "available_backends",
    "open_screen",
    "restore_screen",
    "screen_class",
]


def screen_class(backend: str | None = None) -> type:
    """The class implementing `backend` (default: `DEFAULT_BACKEND`, else any that loads)."""
    names = (
        [backend] if backend else [DEFAULT_BACKEND, *[b for b in BACKENDS if b != DEFAULT_BACKEND]]
    )
    errors = []
    for name in names:
        if name not in BACKENDS:
            raise BackendUnavailable(
                f"unknown screen backend {name!r}; known: {', '.join(BACKENDS)}"
            )
        module, cls = BACKENDS[name]
        try:
            return getattr(import_module(module), cls)
        except (ImportError, OSError) as exc:
            errors.append(f"{name}: {exc}")
    raise BackendUnavailable("no screen backend could load (" + "; ".join(errors) + ")")


def open_screen(cols: int, rows: int, backend: str | None = None) -> Screen:
    """A new, empty screen of `cols` x `rows`."""
    return screen_class(backend)(cols, rows)


def restore_screen(blob: bytes) -> Screen:
    """Rebuild a screen from `snapshot()`; `SnapshotIncompatible` means replay the raw bytes."""
    header, _ = SnapshotHeader.unpack(blob)
    return screen_class(header.backend).restore(blob)


def available_backends() -> list[str]:
    """The backends that load in this environment."""
    names = []
    for name in BACKENDS:
        try:
            screen_class(name)
        except BackendUnavailable:
            continue
        names.append(name)
    return names
