"""Every key binding of the TUI, by id, and the user's remapping from ``[keys]``.

A binding id names an action in the user's words (``stop``, ``new_session``); the same
id on several screens means the same thing, so one line of config remaps it everywhere::

    [keys]
    new_session = "ctrl+n"
    stop = "x,ctrl+x"

This module does not import Textual at import time (the CLI validates ``[keys]``
without loading the TUI); ``bindings()`` imports it when a screen asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage.frozen import Frozen

if TYPE_CHECKING:
    from textual.binding import Binding


class Key(Frozen):
    __slots__ = ("id", "key", "action", "description", "tooltip", "show", "key_display", "priority")

    id: str
    key: str  # Textual key names, comma separated
    action: str
    description: str
    tooltip: str
    show: bool
    key_display: str | None
    priority: bool

    def __init__(
        self,
        id: str,
        key: str,
        action: str,
        description: str,
        tooltip: str,
        show: bool = True,
        key_display: str | None = None,
        priority: bool = False,
    ) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "tooltip", tooltip)
        object.__setattr__(self, "show", show)
        object.__setattr__(self, "key_display", key_display)
        object.__setattr__(self, "priority", priority)


_ALL = [
    # app-wide
    Key("quit", "q", "quit", "Quit", "Save everything and quit (sessions keep running)"),
    Key("help", "question_mark", "help", "Help", "Show every key of this screen", key_display="?"),
    Key(
        "command_palette",
        "ctrl+p",
        "command_palette",
        "Palette",
        "Jump to a session or run a command",
        show=False,
        priority=True,
    ),
    Key("search", "ctrl+f", "search", "Search", "Search the output of every session"),
    Key("cleanup", "c", "cleanup", "Cleanup", "Remove old sessions by a retention policy"),
    Key(
        "usage",
        "U",
        "usage",
        "Usage",
        "Where the space goes: sizes, biggest sessions, growth, metrics",
        show=False,
        key_display="U",
    ),
    Key("back", "escape", "back", "Back", "Back to the previous screen"),
    Key(
        "suspend",
        "ctrl+z",
        "suspend",
        "Suspend",
        "Save, then suspend tether to the shell (fg brings it back)",
        show=False,
    ),
    # acting on the selected session (list, detail, output)
    Key("open", "enter", "open", "Open", "Open the session's details"),
    Key("output", "o", "output", "Output", "Watch the session's output, live"),
    Key(
        "attach",
        "a",
        "attach",
        "Attach",
        "Use the running session from this terminal; its detach key (ctrl+\\) brings you back",
        show=False,
    ),
    Key("new_session", "n", "new_session", "New", "Start a new session"),
    # y / n show (and n answers no instead of starting a session) only on a session that
    # needs you: the list's check_action
    Key("approve", "y", "approve", "Yes", "Answer yes: the agent's approve keys"),
    Key("deny", "n", "deny", "No", "Answer no: the agent's deny keys"),
    Key("resume", "r", "resume", "Resume", "Run the session again (its resume command if set)"),
    Key("stop", "s", "stop", "Stop", "Stop the session (SIGTERM, then SIGKILL)"),
    Key("pause", "p", "pause", "Pause", "Pause or continue the session"),
    Key("delete", "d", "delete", "Delete", "Move the session to the trash"),
    # a session waiting in the queue (run.max_parallel); s (stop) takes it out of line
    Key(
        "queue_up",
        "K",
        "queue_up",
        "Earlier",
        "Move the queued session one place towards the head of the queue",
        key_display="K",
    ),
    Key(
        "queue_down",
        "J",
        "queue_down",
        "Later",
        "Move the queued session one place back in the queue",
        key_display="J",
    ),
    Key(
        "start_now",
        "R",
        "start_now",
        "Start now",
        "Start the queued session now, whatever the limits",
        key_display="R",
    ),
    Key("undo_delete", "u", "undo_delete", "Undo", "Bring back the last deleted session"),
    Key("tags", "t", "tags", "Tags", "Edit the session's tags", show=False),
    Key(
        "pin",
        "P",
        "pin",
        "Pin",
        "Pin or unpin: pinned sessions stay on top",
        show=False,
        key_display="P",
    ),
    Key("export", "e", "export", "Export", "Export sessions to a file", show=False),
    # the session list
    Key(
        "filter",
        "slash",
        "filter",
        "Filter",
        "Filter the list: words, status:failed, tag:ml, cwd:~/src, since:2h, "
        "ctx.model:opus, ctx.tokens>100000, has:ctx.thread",
        key_display="/",
    ),
    Key("status_filter", "f", "status_filter", "Status", "Show only some statuses"),
    Key("sort", "S", "sort", "Sort", "Change the order of the list", key_display="S"),
    Key("cursor_down", "down,j", "cursor_down", "Down", "Next session", show=False),
    Key("cursor_up", "up,k", "cursor_up", "Up", "Previous session", show=False),
    Key("page_down", "pagedown", "page_down", "Page down", "Next page", show=False),
    Key("page_up", "pageup", "page_up", "Page up", "Previous page", show=False),
    Key("first", "home,g", "first", "First", "First session", show=False),
    Key("last", "end,G", "last", "Last", "Last session", show=False),
    Key(
        "mark",
        "space",
        "mark",
        "Mark",
        "Mark or unmark the session; d and e then act on every marked session",
        show=False,
        key_display="space",
    ),
    # the detail screen
    Key("edit_name", "N", "edit_name", "Rename", "Edit the name", key_display="N"),
    Key("edit_notes", "E", "edit_notes", "Notes", "Edit the notes", key_display="E"),
    # the live output
    Key("follow", "end,G", "follow", "Follow", "Go to the end, follow new lines", key_display="G"),
    Key("find", "slash", "find", "Find", "Find in the whole output", key_display="/"),
    Key("find_next", "n", "find_next", "Next", "Next match", show=False),
    Key("find_previous", "N", "find_previous", "Prev", "Previous match", show=False),
    Key("send_input", "i", "send_input", "Input", "Send a line to the session's input"),
    Key(
        "interactive",
        "I",
        "interactive",
        "Interactive",
        "A running terminal session: every key goes to it, right here; its detach key "
        "(ctrl+\\, attach.detach_key) leaves",
        key_display="I",
    ),
    Key("timestamps", "T", "toggle_timestamps", "Times", "Show when lines were written"),
    Key("line_numbers", "L", "toggle_line_numbers", "Numbers", "Show line numbers"),
    Key("wrap", "w", "toggle_wrap", "Wrap", "Wrap long lines"),
    Key(
        "view_mode",
        "v",
        "cycle_view",
        "View",
        "Terminal sessions: switch between the screen, the rendered transcript and the raw stream",
    ),
]

KEYS: dict[str, Key] = {k.id: k for k in _ALL}


class KeyConfigError(ValueError):
    """A ``[keys]`` entry that names no binding."""


def bindings(*ids: str, **changes: dict[str, object]) -> list[Binding]:
    """Textual ``Binding``s for the given ids, each with its id and tooltip.
    ``changes`` adjusts one binding on one screen: ``back={"description": "Clear"}``."""
    from textual.binding import Binding

    from storage.frozen import replace

    out = []
    for binding_id in ids:
        k = KEYS[binding_id]
        if binding_id in changes:
            k = replace(k, **changes[binding_id])  # type: ignore[arg-type]
        out.append(
            Binding(
                k.key,
                k.action,
                k.description,
                show=k.show,
                key_display=k.key_display,
                priority=k.priority,
                tooltip=k.tooltip,
                id=k.id,
            )
        )
    return out


def keymap(configured: dict[str, str]) -> dict[str, str]:
    """The ``[keys]`` section as a Textual keymap (binding id -> keys).

    Unknown ids raise ``KeyConfigError`` listing the known ones, so a typo is not
    silently ignored. Shifted letters may be written ``shift+p`` or ``P``.
    """
    unknown = sorted(set(configured) - set(KEYS))
    if unknown:
        raise KeyConfigError(
            f"unknown key binding id(s) {', '.join(unknown)} in [keys]; known: "
            f"{', '.join(sorted(KEYS))}"
        )
    out = {}
    for binding_id, keys in configured.items():
        parts = [p.strip() for p in str(keys).split(",") if p.strip()]
        if not parts:
            raise KeyConfigError(f"[keys] {binding_id} is empty")
        out[binding_id] = ",".join(_normalise(p) for p in parts)
    return out


_NAMED = {
    "?": "question_mark",
    "/": "slash",
    ".": "full_stop",
    ",": "comma",
    " ": "space",
    "+": "plus",
    "-": "minus",
}


def _normalise(key: str) -> str:
    if key in _NAMED:
        return _NAMED[key]
    if key.lower().startswith("shift+") and len(key) == 7 and key[-1].isalpha():
        return key[-1].upper()
    # Key names and modifiers are lower case in Textual (F1 -> f1, Ctrl+X -> ctrl+x);
    # a single character is taken as typed (P is shift+p).
    return key if len(key) == 1 else key.lower()
