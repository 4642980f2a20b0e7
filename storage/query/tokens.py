"""Text as SQLite FTS5's ``unicode61 remove_diacritics 2`` tokenizer sees it.

Tokens are runs of letters, digits and private-use characters; everything else separates
them (so ``foo-bar`` is two tokens). Tokens are case-folded, and Latin letters lose their
accents (``Été`` -> ``ete``) while Greek and Cyrillic keep theirs, as unicode61 does. This
was measured against SQLite 3.40 over all of Unicode: the known differences are
characters newer than SQLite's Unicode tables (recent emoji and scripts).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# The combining marks unicode61 treats as removable diacritics (measured on SQLite 3.40).
_DIACRITICS = frozenset(
    "\u0300\u0301\u0302\u0303\u0304\u0306\u0307\u0308\u0309\u030a\u030b\u030c\u030f"
    "\u0311\u031b\u0323\u0324\u0325\u0326\u0327\u0328\u032d\u032e\u0330\u0331"
)
_TOKEN = re.compile(
    "(?:[^\\W_]|[" + "".join(sorted(_DIACRITICS)) + "\ue000-\uf8ff\U000f0000-\U0010fffd])+"
)


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    if ch in _DIACRITICS:
        return ""
    parts = unicodedata.normalize("NFD", ch)
    # Like unicode61: only Latin letters lose their accents (é -> e), not Greek or Cyrillic.
    if len(parts) > 1 and parts[0].isascii() and all(p in _DIACRITICS for p in parts[1:]):
        ch = parts[0]
    for folded in (ch.casefold(), ch.lower()):
        if len(folded) == 1:
            return folded
    return ch


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Split ``text`` into (folded token, start, end) like FTS5's unicode61 tokenizer."""
    out = []
    for m in _TOKEN.finditer(text):
        tok = m.group()
        tok = tok.lower() if tok.isascii() else "".join(_fold_char(c) for c in tok)
        if tok:
            out.append((tok, m.start(), m.end()))
    return out


DIACRITIC, OTHER = "\ufffe", "\uffff"  # what ``ascii_view`` puts for those characters


class _AsciiFold(dict):
    """Non-ASCII character -> one character, as the tokenizer sees it (filled as they are
    met: at most one entry per character seen)."""

    def __missing__(self, ch: str) -> str:
        if not _TOKEN.fullmatch(ch):
            out = " "  # a separator, like any ASCII punctuation
        elif ch in _DIACRITICS:
            out = DIACRITIC  # dropped from its token
        else:
            folded = _fold_char(ch)
            out = folded if len(folded) == 1 and folded in _ASCII_TOKEN else OTHER
        self[ch] = out
        return out


_ASCII_TOKEN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_FOLD = _AsciiFold()
_NON_ASCII = re.compile("[^\x00-\x7f]+")
_ASCII_BYTES = bytes(range(128))


def ascii_view(text: str) -> str:
    """``text`` with each non-ASCII character replaced by one character (so positions
    stay): a space for a separator (``●``, box drawing, emoji), the ASCII letter a token
    character folds to (``é`` -> ``e``), ``DIACRITIC`` for a removable combining mark and
    ``OTHER`` for any other token character (``ß``, CJK). Where the result is ASCII, its
    tokens and their spans are those of ``tokenize(text)``."""
    if text.isascii():
        return text
    chars = set(
        text.encode(errors="surrogatepass")
        .translate(None, _ASCII_BYTES)
        .decode(errors="surrogatepass")
    )
    if len(chars) > 16 or DIACRITIC in chars or OTHER in chars:  # each run once
        return _NON_ASCII.sub(lambda m: "".join([_FOLD[c] for c in m.group()]), text)
    for ch in chars:  # a few symbols (``●``, box drawing, accents): a pass each
        text = text.replace(ch, _FOLD[ch])
    return text
