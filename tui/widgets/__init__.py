"""Widgets of the TUI. Names load lazily (PEP 562): importing the package is free."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "OutputView": "output_view",
    "Finder": "output_find",
    "TerminalView": "screen_view",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .output_find import Finder  # noqa: F401
    from .output_view import OutputView  # noqa: F401
    from .screen_view import TerminalView  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tui.widgets' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
