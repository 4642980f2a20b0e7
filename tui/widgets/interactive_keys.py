"""Textual's key events as the bytes a terminal sends for them, for the output
screen's interactive mode (``tui.widgets.interactive``).

``tether attach`` needs no such table: the user's terminal sends bytes already. In
the TUI, Textual has parsed those bytes into named keys (``ctrl+c``, ``up``,
``shift+f5``); this turns them back into xterm's encoding, the one programs under a
``TERM=xterm-256color`` pty expect: the key's own character when it has one,
otherwise a CSI or SS3 sequence with xterm's modifier parameter. Cursor keys follow
the program's DECCKM (application cursor keys: ``ESC O A``).
"""

from __future__ import annotations

_CURSOR = {"up": "A", "down": "B", "right": "C", "left": "D", "home": "H", "end": "F"}
_TILDE = {
    "insert": 2,
    "delete": 3,
    "pageup": 5,
    "pagedown": 6,
    "f5": 15,
    "f6": 17,
    "f7": 18,
    "f8": 19,
    "f9": 20,
    "f10": 21,
    "f11": 23,
    "f12": 24,
}
_SS3_F = {"f1": "P", "f2": "Q", "f3": "R", "f4": "S"}
_PLAIN = {
    "enter": "\r",
    "tab": "\t",
    "escape": "\x1b",
    "backspace": "\x7f",
    "space": " ",
}
# ctrl+ a punctuation key, by Textual's name for it: its control byte.
_CTRL_NAMED = {
    "at": 0x00,
    "space": 0x00,
    "left_square_bracket": 0x1B,
    "backslash": 0x1C,
    "right_square_bracket": 0x1D,
    "circumflex_accent": 0x1E,
    "underscore": 0x1F,
}
_MODIFIER_BITS = {"shift": 1, "alt": 2, "meta": 2, "ctrl": 4}


def key_bytes(key: str, character: str | None, *, app_cursor: bool = False) -> bytes:
    """The bytes for a key press; ``b""`` for a key with no terminal encoding."""
    *mods, base = key.split("+")
    if "alt" in mods or "meta" in mods:  # xterm: Escape before the key
        plain = [m for m in mods if m not in ("alt", "meta")]
        if base not in _CURSOR and base not in _TILDE and base not in _SS3_F:
            rest = key_bytes("+".join([*plain, base]), _unaltered(character))
            return b"\x1b" + rest if rest else b""
    code = 1 + sum(_MODIFIER_BITS.get(m, 0) for m in set(mods))
    if base in _CURSOR:
        final = _CURSOR[base]
        if code > 1:
            return f"\x1b[1;{code}{final}".encode()
        return (f"\x1bO{final}" if app_cursor else f"\x1b[{final}").encode()
    if base in _TILDE:
        n = _TILDE[base]
        return (f"\x1b[{n};{code}~" if code > 1 else f"\x1b[{n}~").encode()
    if base in _SS3_F:
        final = _SS3_F[base]
        return (f"\x1b[1;{code}{final}" if code > 1 else f"\x1bO{final}").encode()
    if key == "shift+tab":
        return b"\x1b[Z"
    if character is not None and len(character) == 1:
        return character.encode()  # printable, or the control byte the terminal sent
    if "ctrl" in mods:
        if len(base) == 1 and base.isalpha():
            return bytes([ord(base.lower()) - 0x60])
        if base in _CTRL_NAMED:
            return bytes([_CTRL_NAMED[base]])
    if not mods and base in _PLAIN:
        return _PLAIN[base].encode()
    if not mods and len(base) == 1:
        return base.encode()
    return b""


def _unaltered(character: str | None) -> str | None:
    """Textual may give an alt key the Escape-prefixed text: keep the key's own."""
    if character is not None and len(character) == 2 and character[0] == "\x1b":
        return character[1]
    return character


def paste_bytes(text: str, *, bracketed: bool) -> bytes:
    """Pasted text as a terminal sends it: wrapped when the program asked for
    bracketed paste (mode 2004); line ends as Enter."""
    data = text.replace("\r\n", "\r").replace("\n", "\r").encode()
    if bracketed:
        # A paste holding the end marker must not end the paste early.
        data = data.replace(b"\x1b[201~", b"")
        return b"\x1b[200~" + data + b"\x1b[201~"
    return data
