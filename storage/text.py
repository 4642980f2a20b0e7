"""Turning raw output bytes into text: for the index, for display, for a terminal.

Three different needs, three functions:

- ``index_text``: what the full-text index sees. Decoded, every escape sequence
  removed. Its meaning is frozen (the contentless index needs the same text again
  to delete a chunk), so change it only together with a migration that reindexes.
- ``decode``: text for display with SGR colour sequences kept; the TUI renders them.
- ``terminal_safe``: what may be printed to the user's terminal. Colours are kept,
  everything that could act on the terminal (OSC clipboard writes, titles, cursor
  movement, screen clears, device queries, C1 controls) is removed, and carriage
  returns are collapsed the way a terminal would show the line.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

# Any escape sequence: CSI, OSC (terminated, or running to the end of its line),
# DCS/SOS/PM/APC strings (likewise), and the short two- and three-character forms.
# Also the 8-bit C1 forms. An unterminated string stops at a newline so that one
# truncated title sequence cannot hide every line after it.
_ESCAPES = r"""
      \x1b\[ [0-?]* [ -/]* [@-~]                 # CSI ... final
    | \x9b   [0-?]* [ -/]* [@-~]                 # 8-bit CSI
    | (?:\x1b\]|\x9d) [^\x07\x1b\x9c\n]* (?:\x07|\x1b\\|\x9c|(?=\n)|$)   # OSC
    | (?:\x1b[PX^_]|[\x90\x98\x9e\x9f]) [^\x1b\x9c\n]* (?:\x1b\\|\x9c|(?=\n)|$)  # DCS SOS PM APC
    | \x1b [ -/]+ [0-~]                          # nF (charset selection ...)
    | \x1b [0-~]                                 # Fp Fe Fs (ESC 7, ESC c, ...)
    | \x1b $                                     # a lone trailing ESC
    """
# C0 controls other than tab and newline, DEL, and C1 controls.
_CONTROLS = r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]"
_PATTERNS = {
    "escapes": (_ESCAPES, re.VERBOSE),
    "sgr": (r"\x1b\[[0-9;:]*m", 0),
    "plain_sgr": (r"\x1b\[[0-9;]*m", 0),
    "c1_introducer": (r"[\x90\x98\x9b\x9d\x9e\x9f]", 0),
    "unsafe": (_ESCAPES + "|" + _CONTROLS, re.VERBOSE),
    "cell": (f"(?P<esc>{_ESCAPES})|(?P<ch>.)", re.VERBOSE | re.DOTALL),
    "invisible": (_CONTROLS, 0),
    "invisible_one_line": (r"[\x00-\x08\x0a-\x1f\x7f\x80-\x9f]", 0),
}


@functools.cache
def _pattern(name: str) -> re.Pattern[str]:
    """One of ``_PATTERNS``, compiled when first used: compiling them all costs about a
    millisecond of every command that imports this module, and printing lines that
    are printable already (most of a search's) needs none of them."""
    pattern, flags = _PATTERNS[name]
    return re.compile(pattern, flags)


# What ``shlex.quote`` leaves bare: ``[\w@%+=:,./-]`` in ASCII. (``shlex`` itself loads
# ``re``'s compiler for a pattern, ``io`` and a lexer: a one-query command that prints a
# command line need not; tests/storage/test_text.py checks both agree.)
_SHELL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")


def shell_quote(word: str) -> str:
    """``word`` as one shell word, as ``shlex.quote`` gives it."""
    if not word:
        return "''"
    if all(c in _SHELL_SAFE for c in word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def shell_join(argv: Iterable[str]) -> str:
    """``argv`` as a shell line, as ``shlex.join`` gives it."""
    return " ".join(shell_quote(word) for word in argv)


def decode(data: bytes) -> str:
    """Decode output bytes for display; invalid UTF-8 becomes U+FFFD, nothing is lost
    from the stored bytes themselves."""
    return data.decode("utf-8", "replace")


def strip_ansi(text: str) -> str:
    """Remove every escape sequence, keep all other characters."""
    if "\x1b" not in text and not _has_c1(text):
        return text
    return _pattern("escapes").sub("", text)


def _has_c1(text: str) -> bool:
    return any("\x80" <= ch <= "\x9f" for ch in text) if not text.isascii() else False


def index_text(data: bytes) -> str:
    """The text the full-text index holds for a chunk. Frozen semantics: see module doc."""
    text = data.decode("utf-8", "replace")
    if "\x1b" in text:
        # Most output's only escapes are colours: removing those with a simple pattern
        # is several times faster, and when nothing else is left it is exactly what
        # the full pattern would have removed. Otherwise use the full pattern.
        bare = _pattern("plain_sgr").sub("", text)
        if "\x1b" in bare or (not bare.isascii() and _pattern("c1_introducer").search(bare)):
            bare = _pattern("escapes").sub("", text)
        text = bare
    return text


def collapse_cr(line: str) -> str:
    """Show a line the way a terminal leaves it after carriage returns: each ``\\r``
    returns to column 0 and later text overwrites earlier text. Escape sequences take
    no column and are never cut; those of overwritten text are kept (so a colour
    reset is not lost)."""
    if "\r" not in line:
        return line
    line = line.rstrip("\r")
    if "\r" not in line:
        return line
    if "\x1b" not in line and not _has_c1(line):
        shown = ""
        for part in line.split("\r"):
            shown = part + shown[len(part) :]
        return shown
    cells: list[list[str]] = []  # [the escapes before it, one shown character]
    tail = ""  # escapes after the last character
    for part in line.split("\r"):
        col, escapes = 0, ""
        for m in _pattern("cell").finditer(part):
            if m.lastgroup == "esc":
                escapes += m.group(0)
                continue
            if col < len(cells):
                cells[col] = [cells[col][0] + escapes, m.group(0)]  # keep the old escapes
            else:
                cells.append([tail + escapes, m.group(0)])
                tail = ""
            col, escapes = col + 1, ""
        if escapes:
            if col < len(cells):
                cells[col][0] += escapes
            else:
                tail += escapes
    return "".join(e + c for e, c in cells) + tail


def terminal_safe(text: str, *, keep_colour: bool = True) -> str:
    """Text that cannot act on the terminal it is printed to (one line or many).
    SGR colour sequences survive when ``keep_colour``; every other escape sequence and
    control character (except tab and newline) is removed."""
    if text.isprintable():  # no escape, control character or CR: nothing to remove
        return text
    if "\r" in text:
        text = "\n".join(collapse_cr(part) for part in text.split("\n"))
    if keep_colour:
        return _pattern("unsafe").sub(_keep_sgr, text)
    return _pattern("unsafe").sub("", text)


def _keep_sgr(m: re.Match[str]) -> str:
    seq = m.group(0)
    return seq if _pattern("sgr").fullmatch(seq) else ""


def plain(text: str) -> str:
    """Plain text of a line: no escapes, no control characters, CRs collapsed."""
    if text.isprintable():  # (as in ``terminal_safe``)
        return text
    return _pattern("unsafe").sub("", collapse_cr(text))


def visible(text: str, *, multiline: bool = False) -> str:
    """Control characters shown as escapes (``\\x1b]52;...``) instead of acting on the
    terminal or being hidden: for names, commands and notes, which may come from an
    imported file or another program, and where the user must see what is really
    there (the exact command an imported session would run)."""
    pattern = _pattern("invisible" if multiline else "invisible_one_line")
    if not pattern.search(text):
        return text
    return pattern.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)
