"""The attach client's key handling (runner/attach.py): the detach key however it is
encoded or split, and terminal replies dropped up to the DA1 fence."""

from __future__ import annotations

import time

import pytest

from runner.attach_keys import HOLD_FOR, DetachKey, KeyFilter

KEY = DetachKey.parse("ctrl+\\")


def test_the_detach_key_parses_and_knows_its_encodings():
    assert KEY.byte == 0x1C and KEY.codepoint == 92
    assert DetachKey.parse("ctrl+a").sequences[:3] == (
        b"\x01",
        b"\x1b[27;5;97~",
        b"\x1b[97;5u",
    )
    assert DetachKey.parse("ctrl+], x").byte == 0x1D
    for bad in ("x", "alt+a", "ctrl+1", "ctrl+"):
        with pytest.raises(ValueError, match="detach key"):
            DetachKey.parse(bad)


@pytest.mark.parametrize("seq", KEY.sequences)
def test_detach_in_any_encoding_after_typing(seq):
    keys = KeyFilter(KEY)
    assert keys.feed(b"ls" + seq + b"rest") == (b"ls", True)


@pytest.mark.parametrize("seq", KEY.sequences[1:])
def test_detach_split_across_reads(seq):
    keys = KeyFilter(KEY)
    out, detach = keys.feed(b"a" + seq[:4])
    assert (out, detach) == (b"a", False)  # the start of it waits for the rest
    assert keys.feed(seq[4:]) == (b"", True)


def test_a_lone_escape_goes_at_once_and_a_held_piece_goes_after_a_moment():
    keys = KeyFilter(KEY)
    assert keys.feed(b"\x1b") == (b"\x1b", False)
    assert keys.feed(b"\x1b[27") == (b"", False)
    assert keys.flush() == b""  # too early
    time.sleep(HOLD_FOR * 2)
    assert keys.flush() == b"\x1b[27"


def test_replies_before_the_da1_answer_are_dropped_and_keys_kept():
    keys = KeyFilter(KEY)
    keys.fence()
    out, _ = keys.feed(b"\x1b[12;40R" + b"x" + b"\x1b]11;rgb:0000/0000/0000\x1b\\")
    assert out == b"x"
    out, _ = keys.feed(b"\x1b[?1u\x1b[?62;22c" + b"\x1b[12;40Rafter")
    assert out == b"\x1b[12;40Rafter"  # after the fence: the program asked for that one
    assert keys.fence_until is None


def test_a_reply_split_across_reads_is_still_dropped():
    keys = KeyFilter(KEY)
    keys.fence()
    assert keys.feed(b"\x1b[?62;") == (b"", False)
    assert keys.feed(b"22cq") == (b"q", False)


def test_the_attach_defaults_are_the_schemas():
    """runner/attach.py keeps the [attach] defaults for ``tether attach`` without a
    config.toml (no config code loaded); they must be the schema's."""
    from home.config_schema import OPTIONS
    from runner.attach import DETACH_KEY, RECORD_INPUT

    assert OPTIONS["attach.detach_key"].default == DETACH_KEY
    assert OPTIONS["attach.record_input"].default is RECORD_INPUT


def test_the_fast_attach_knows_the_live_statuses():
    """runner.connect.live_socket tells a live session by plain rows."""
    from runner.connect import LIVE
    from storage.models import LIVE as MODEL_LIVE

    assert LIVE == MODEL_LIVE
