"""Word pairs in the output index: what makes a phrase of common words fast (schema v18).

``output_words`` has no positions (``detail=none``, storage/engine/output_index.py), so
a phrase is asked of it as its words and each candidate chunk is read to check the
phrase in its lines. When both words are common and the phrase is rare, that is most
of the chunks: ``"nemowo rifep"`` on 1 GB of logs read 20 600 chunks (890 MB) to find
its 50 newest lines, 0.7 s (bench/cases/search.py).

So since v18 a chunk's entry also holds its *pairs*: one token per two adjacent words
of a line, ``ǂnemowoǂrifep``, for words made only of the letters a-z (``ǂ``, U+01C2, is
a letter to FTS5's tokenizer: the pair is one token; leading with it keeps pairs out
of a prefix query's terms: ``nem*`` matching every pair that starts with ``nemowo``
made prefix queries half as slow again). A phrase then asks for its pairs
(``output_index.fts_words(pairs=True)``), and only the chunks that may hold it are
read. Digits are left out on purpose: numbers, ids and hashes are most of the distinct
pairs in logs (an index of every pair was 2.4x the word index), while a phrase holding
one is rare enough to be fast from its words. Costs: on realistic logs
(bench/cases/disk.py) the pairs take 0.035x of the raw size (the words 0.12x; the whole
file went from 0.41x to 0.45x), on the search benchmark's Zipf-distributed invented
words 0.05x; finding them runs at 20-40 MB/s of logs in Python, so they are added
after the words, by the upkeep (``output_index.pairs_step``).

Exact, never approximate: the pairs are found where ``search/lines.py`` looks for a
phrase, in the same text (escape sequences removed, lower-cased, non-ASCII letters
folded by ``ascii_view``). A chunk where that cannot be done the fast way (control
characters, carriage returns, letters with no ASCII fold) gets the token ``ǂ``
instead, "pairs unknown", and a phrase matches it through its words as before. Extra
pairs only cost a chunk read: every candidate's lines are checked anyway.

``entry_text`` is frozen like ``storage.text.index_text``: the index is contentless,
so deleting an entry repeats its text. A chunk is indexed with its words alone and
listed in ``unpaired`` until the upkeep adds its pairs (``output_index.pairs_step``);
meanwhile search finds it through its words (``search/hits.py``). A database from
before v18 lists every chunk at its upgrade.
"""

from __future__ import annotations

import re

from storage.engine.search.lines import ascii_lines
from storage.text import index_text

MARK = "\u01c2"  # ǂ: starts and joins a pair token; alone, it says "pairs unknown"
_MARK = MARK.encode()


def pair_token(a: str, b: str) -> str:
    """The index's token for the words ``a`` and ``b`` next to each other in a line."""
    return MARK + a + MARK + b


_found: list[re.Pattern[bytes]] = []  # compiled on first use (one-query commands never do)


def _patterns() -> list[re.Pattern[bytes]]:
    if not _found:
        _found.append(re.compile(rb"[a-z][^a-z0-9\n]+[a-z]"))  # any pair at all?
        # Two adjacent words of a line, a-z only; the second is looked ahead at (not
        # consumed), so that it starts the next pair.
        _found.append(re.compile(rb"(?<![a-z0-9])([a-z]+)[^a-z0-9\n]+(?=([a-z]+)(?![a-z0-9]))"))
    return _found


def pairs(data: bytes) -> str:
    """The pair tokens of a chunk's plain bytes, sorted, space-separated; ``MARK`` when
    they cannot be found where ``search/lines.py`` matches phrases by regex."""
    text = ascii_lines(data)
    if text is None:
        return MARK
    low = text.lower()
    any_pair, pair = _patterns()
    if not any_pair.search(low):
        return ""  # (numbers only, as ``seq``: no regex pass over every digit)
    return b" ".join(sorted({_MARK + a + _MARK + b for a, b in pair.findall(low)})).decode()


def entry_text(data: bytes) -> str:
    """The text ``output_words`` holds for a chunk that has its pairs (two entries
    under its id: its words, ``index_text``, then its pairs)."""
    return index_text(data) + "\n" + pairs(data)


def pairable(a: str, b: str) -> bool:
    """Whether two adjacent tokens of a phrase have a pair token in the index."""
    return a.isascii() and b.isascii() and a.isalpha() and b.isalpha()
