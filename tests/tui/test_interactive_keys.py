"""Textual's key names back to the bytes a terminal sends (the interactive mode's
encoder): characters as they are, named keys in xterm's encoding, modifiers as
xterm's parameter, cursor keys in the program's DECCKM mode, paste bracketed when
asked."""

from __future__ import annotations

import pytest

from tui.widgets.interactive_keys import key_bytes, paste_bytes


@pytest.mark.parametrize(
    ("key", "character", "sent"),
    [
        ("a", "a", b"a"),
        ("A", "A", b"A"),
        ("question_mark", "?", b"?"),
        ("enter", "\r", b"\r"),
        ("enter", None, b"\r"),
        ("tab", None, b"\t"),
        ("escape", None, b"\x1b"),
        ("backspace", None, b"\x7f"),
        ("space", None, b" "),
        ("ctrl+c", None, b"\x03"),
        ("ctrl+c", "\x03", b"\x03"),
        ("ctrl+backslash", None, b"\x1c"),
        ("ctrl+right_square_bracket", None, b"\x1d"),
        ("up", None, b"\x1b[A"),
        ("left", None, b"\x1b[D"),
        ("ctrl+right", None, b"\x1b[1;5C"),
        ("shift+up", None, b"\x1b[1;2A"),
        ("alt+up", None, b"\x1b[1;3A"),
        ("home", None, b"\x1b[H"),
        ("end", None, b"\x1b[F"),
        ("delete", None, b"\x1b[3~"),
        ("pagedown", None, b"\x1b[6~"),
        ("ctrl+pageup", None, b"\x1b[5;5~"),
        ("f1", None, b"\x1bOP"),
        ("shift+f1", None, b"\x1b[1;2P"),
        ("f5", None, b"\x1b[15~"),
        ("f12", None, b"\x1b[24~"),
        ("shift+tab", None, b"\x1b[Z"),
        ("alt+x", None, b"\x1bx"),
        ("alt+x", "\x1bx", b"\x1bx"),
        ("alt+ctrl+c", None, b"\x1b\x03"),
        ("super+q", None, b""),  # no terminal encoding: nothing is sent
    ],
)
def test_key_bytes(key: str, character: str | None, sent: bytes) -> None:
    assert key_bytes(key, character) == sent


def test_cursor_keys_follow_the_programs_mode() -> None:
    assert key_bytes("up", None, app_cursor=True) == b"\x1bOA"
    assert key_bytes("home", None, app_cursor=True) == b"\x1bOH"
    assert key_bytes("ctrl+up", None, app_cursor=True) == b"\x1b[1;5A"  # modifiers: CSI


def test_paste() -> None:
    assert paste_bytes("one\ntwo\r\n", bracketed=False) == b"one\rtwo\r"
    assert paste_bytes("ls\n", bracketed=True) == b"\x1b[200~ls\r\x1b[201~"
    # a paste cannot end the bracket early and run what follows
    assert paste_bytes("a\x1b[201~rm -rf x\n", bracketed=True) == (b"\x1b[200~arm -rf x\r\x1b[201~")
