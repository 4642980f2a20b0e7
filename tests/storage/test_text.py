"""``storage.text``: what the index sees, what a terminal may be sent, carriage returns."""

from __future__ import annotations

import re
import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.text import (
    collapse_cr,
    decode,
    index_text,
    plain,
    shell_join,
    shell_quote,
    strip_ansi,
    terminal_safe,
)

ESC = "\x1b"
SGR_RED, SGR_RESET = "\x1b[31m", "\x1b[0m"

# -- terminal_safe -----------------------------------------------------------------------

KEPT_SGR = [
    "\x1b[m",
    "\x1b[0m",
    "\x1b[1;31m",
    "\x1b[38;5;208m",
    "\x1b[38;2;10;20;30m",
    "\x1b[38:2::10:20:30m",
    "\x1b[4:3m",
]

REMOVED = {
    "OSC 52 clipboard write, BEL": "\x1b]52;c;ZWNobyBwd25lZA==\x07",
    "OSC 52 clipboard write, ST": "\x1b]52;c;ZWNobyBwd25lZA==\x1b\\",
    "OSC 52 clipboard write, 8-bit": "\x9d52;c;ZWNobw==\x9c",
    "OSC 0 title": "\x1b]0;you have been hacked\x07",
    "OSC 2 title": "\x1b]2;title\x1b\\",
    "OSC 8 hyperlink": "\x1b]8;;http://evil.example\x1b\\",
    "cursor up": "\x1b[5A",
    "cursor position": "\x1b[10;20H",
    "clear screen": "\x1b[2J",
    "erase line": "\x1b[K",
    "alternate screen": "\x1b[?1049h",
    "hide cursor": "\x1b[?25l",
    "device status query": "\x1b[6n",
    "8-bit CSI cursor move": "\x9b5A",
    "DCS string": "\x1bP1$r0m\x1b\\",
    "APC string": "\x1b_hidden\x1b\\",
    "save cursor": "\x1b7",
    "full reset": "\x1bc",
    "charset switch": "\x1b(0",
    "identify query": "\x1bZ",
    "bell": "\x07",
    "backspace": "\x08",
    "NUL": "\x00",
    "DEL": "\x7f",
    "C1 NEL": "\x85",
    "C1 ST alone": "\x9c",
}


@pytest.mark.parametrize("sgr", KEPT_SGR)
def test_terminal_safe_keeps_colour(sgr):
    assert terminal_safe(f"a{sgr}b{SGR_RESET}") == f"a{sgr}b{SGR_RESET}"
    assert terminal_safe(f"a{sgr}b{SGR_RESET}", keep_colour=False) == "ab"


@pytest.mark.parametrize("name", sorted(REMOVED))
def test_terminal_safe_removes_what_acts_on_the_terminal(name):
    seq = REMOVED[name]
    got = terminal_safe(f"{SGR_RED}before{seq}after{SGR_RESET}")
    assert got == f"{SGR_RED}beforeafter{SGR_RESET}"


def test_terminal_safe_unterminated_osc_runs_to_the_end():
    assert terminal_safe("ok \x1b]52;c;AAAA never ends") == "ok "
    assert terminal_safe("ok \x1b") == "ok "


def test_terminal_safe_keeps_tabs_newlines_and_text():
    text = "col1\tcol2\nnext line ünïcödé 漢字 🎉\n"
    assert terminal_safe(text) == text


def test_terminal_safe_collapses_carriage_returns_per_line():
    assert terminal_safe("10%\r50%\r100%\nnext\r\n") == "100%\nnext\n"
    progress = f"{SGR_RED}downloading{SGR_RESET} 10%\rDONE"
    got = terminal_safe(progress)
    assert "\r" not in got
    assert plain(got) == "DONEloading 10%"
    assert got.count(ESC) == 2  # both SGRs survive, neither is cut


# -- collapse_cr, plain, strip_ansi, decode, index_text -----------------------------------


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("plain", "plain"),
        ("abc\rX", "Xbc"),
        ("abc\r", "abc"),
        ("a\r\r", "a"),
        ("\rabc", "abc"),
        ("50%\r100%", "100%"),
        ("long line\rshort", "shortline"),
        ("x\ry\rz", "z"),
    ],
)
def test_collapse_cr(line, shown):
    assert collapse_cr(line) == shown


def test_collapse_cr_never_cuts_an_escape_sequence():
    assert collapse_cr(f"{SGR_RED}red{SGR_RESET} ok\rOK") == f"{SGR_RED}OKd{SGR_RESET} ok"
    assert collapse_cr("\x1b]0;title\x07ab\rc") == "\x1b]0;title\x07cb"
    assert collapse_cr(f"a{SGR_RED}\rb") == f"b{SGR_RED}"


def test_plain():
    assert plain(f"{SGR_RED}error{SGR_RESET}: \x1b]0;t\x07boom\x00\x07") == "error: boom"
    assert plain(f"{SGR_RED}red{SGR_RESET} \ufffd ok\rOK") == "OKd \ufffd ok"
    assert plain("tab\tstays") == "tab\tstays"


def test_strip_ansi_keeps_controls_other_than_escapes():
    assert strip_ansi(f"{SGR_RED}x{SGR_RESET}\x00\r") == "x\x00\r"
    assert strip_ansi("no escapes") == "no escapes"
    assert strip_ansi("ü\x9b31mred") == "üred"


def test_decode_replaces_invalid_utf8():
    assert decode(b"ok \xff\xfe \xe2\x82") == "ok \ufffd\ufffd \ufffd"
    assert decode("ünï".encode()) == "ünï"


def test_index_text():
    data = b"\x1b[1;31merror:\x1b[0m connection \xffrefused \x00 \x1b]52;c;eA==\x07done\n"
    assert index_text(data) == "error: connection \ufffdrefused \x00 done\n"
    assert index_text(b"") == ""
    assert index_text(b"plain text\n") == "plain text\n"


# -- laws --------------------------------------------------------------------------------

_TERMINALISH = st.lists(
    st.one_of(
        st.text(max_size=8),
        st.sampled_from(KEPT_SGR + list(REMOVED.values()) + ["\r", "\n", "\t", ESC, "\x9b"]),
        st.characters(min_codepoint=0, max_codepoint=0x9F).map(str),
    ),
    max_size=30,
).map("".join)

_SGR_RE = re.compile(r"\x1b\[[0-9;:]*m")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


@settings(max_examples=300, deadline=None)
@given(_TERMINALISH)
def test_terminal_safe_output_cannot_act_on_a_terminal(text):
    safe = terminal_safe(text)
    without_sgr = _SGR_RE.sub("", safe)
    assert ESC not in without_sgr
    assert not _CONTROL_RE.search(without_sgr)
    assert terminal_safe(safe) == safe  # idempotent
    bare = terminal_safe(text, keep_colour=False)
    assert ESC not in bare and not _CONTROL_RE.search(bare)
    assert _SGR_RE.sub("", safe) == bare
    assert safe.count("\n") == text.count("\n")


@settings(max_examples=300, deadline=None)
@given(_TERMINALISH)
def test_plain_has_no_controls_and_matches_terminal_safe(text):
    p = plain(text)
    assert not _CONTROL_RE.search(p.replace("\n", "")) and ESC not in p
    for line in text.split("\n"):
        assert plain(line) == terminal_safe(line, keep_colour=False)


@settings(max_examples=300, deadline=None)
@given(_TERMINALISH | st.text(max_size=20))
def test_plain_and_terminal_safe_skip_the_patterns_only_when_they_would_change_nothing(text):
    """Printable text is returned as it is, without compiling a pattern: the same as
    running the patterns, for any text."""
    from storage.text import _pattern

    unsafe = _pattern("unsafe")
    crs = "\n".join(collapse_cr(part) for part in text.split("\n"))
    assert plain(text) == unsafe.sub("", collapse_cr(text))
    assert terminal_safe(text, keep_colour=False) == unsafe.sub("", crs)
    kept = unsafe.sub(lambda m: m.group(0) if _SGR_RE.fullmatch(m.group(0)) else "", crs)
    assert terminal_safe(text) == kept


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_index_text_is_total_and_deterministic(data):
    text = index_text(data)  # never raises, whatever the bytes
    assert index_text(data) == text  # the contentless index depends on this
    if b"\x1b" not in data:
        assert text == decode(data)


def test_a_terminal_never_sees_a_sequence_made_by_removing_another():
    # Removing the inner sequence leaves "ESC [" behind; that must go too.
    assert terminal_safe("\x1b\x1b[31m[2J") == "\x1b[31m[2J"
    assert "\x1b[2J" not in terminal_safe("\x1b\x1b[31m[2J", keep_colour=False)


def test_an_unterminated_string_sequence_does_not_hide_later_lines():
    text = "build\x1b]0;title never closed\nline 2\n\x9d8-bit too\nline 4\x1bPdcs\nline 5\n"
    assert terminal_safe(text) == "build\nline 2\n\nline 4\nline 5\n"
    assert index_text(text.encode()) == "build\nline 2\n\nline 4\nline 5\n"


def _index_text_reference(data: bytes) -> str:
    """index_text by its definition: decode, then the full escape pattern."""
    from storage.text import _ESCAPES

    text = data.decode("utf-8", "replace")
    return re.compile(_ESCAPES, re.VERBOSE).sub("", text) if "\x1b" in text else text


@settings(max_examples=400, deadline=None)
@given(_TERMINALISH)
def test_index_text_fast_path_is_exactly_the_definition(text):
    # The index is contentless: a delete must reproduce the inserted text exactly, so
    # the colour-only shortcut must never change a single character.
    data = text.encode("utf-8", "surrogatepass")
    assert index_text(data) == _index_text_reference(data)


@pytest.mark.parametrize(
    "text",
    [
        "\x1b]0;ti\x1b[31mtle\x07 after",
        "\x1bPdcs\x1b[1mbody\x1b\\ x",
        "a\x1b\x1b[0m[2J",
        "\x9b\x1b[31m1mred",
        "ü\x1b[32m\x9dosc\x07",
        "\x1b[38:5:1mcolon form",
    ],
)
def test_index_text_fast_path_tricky_cases(text):
    data = text.encode()
    assert index_text(data) == _index_text_reference(data)


# -- shell_quote, shell_join (shlex's, without importing shlex) ----------------------------


@given(st.lists(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("'\" _-@%"))))
@settings(max_examples=500)
def test_shell_quote_and_join_give_what_shlex_gives(words):
    assert [shell_quote(w) for w in words] == [shlex.quote(w) for w in words]
    assert shell_join(words) == shlex.join(words)


@pytest.mark.parametrize(
    "word", ["", "a", "it's", "a b", "café", "$HOME", "x*", "a_b.c/d:e,f@g%h+i=j-k"]
)
def test_shell_quote_examples(word):
    assert shell_quote(word) == shlex.quote(word)
