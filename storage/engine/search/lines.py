"""Finding the matching lines inside one chunk of output, fast.

FTS5 says which chunks may hold a match; this module says which lines do, and where
to highlight. Most output is plain printable ASCII. There the lower-cased text is
exactly what the tokenizer compares (tokens are the runs of ``[a-z0-9]``), so:

- an *anchor* (the longest token every match must contain, or a few alternatives
  for an OR) is looked for with ``bytes.find`` over the whole chunk, before anything
  is decoded; only the lines holding it are looked at;
- those lines are tested with regexes compiled from the query, which give the same
  spans as ``query_match.line_matcher`` without tokenizing the line.

Any other chunk (escape sequences, control characters, non-ASCII text) is decoded
to each line's plain text (what the viewer shows) and looked at through its
``ascii_view`` (storage/query/tokens.py: each non-ASCII character replaced by one
character, a space for a separator such as ``●`` or box drawing, the ASCII letter
``é`` folds to): where that view is ASCII, it has the line's tokens at the same places,
so the fast way above applies to it. Only lines with other letters (``ß``, CJK,
combining marks) are tokenized (``line_matcher``), and only when they may hold the
anchor.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from storage.frozen import Frozen
from storage.query import And, Not, Or, Phrase, Query, Term, Word
from storage.query.match import Span, line_matcher
from storage.query.tokens import DIACRITIC, ascii_view
from storage.text import plain

_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\t\n"
_HIGH = bytes(range(0x80, 0x100))
_TOKEN_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789")
_TOKEN_STR = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")

_Eval = Callable[[str], "list[Span] | None"]
Anchor = tuple[tuple[str, bool], ...]  # alternatives: (token, whole token?)


class LineMatch(Frozen):
    __slots__ = ("index", "text", "spans")

    index: int  # 0-based line within the chunk
    text: str  # the plain line
    spans: tuple[Span, ...]

    def __init__(self, index: int, text: str, spans: tuple[Span, ...]) -> None:
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "spans", spans)


def _token_start(token: str) -> str:
    """A regex for ``token`` where no token character comes before it. The literal goes
    first and the look-behind after it: ``re`` then scans for the literal quickly."""
    lit = re.escape(token)
    return f"{lit}(?<![a-z0-9]{lit})"


def _ascii_eval(term: Term) -> _Eval:
    """``term`` as a test of a lower-cased ASCII line: its spans, or None when it does
    not match. A word is a regex match that no token character touches on either side."""
    if isinstance(term, Word | Phrase):
        first, *rest = term.tokens
        body = "".join("[^a-z0-9]+" + re.escape(t) for t in rest)
        tail = "[a-z0-9]*" if term.prefix else "(?![a-z0-9])"
        pattern = re.compile(_token_start(first) + body + tail)
        return lambda low: [m.span() for m in pattern.finditer(low)] or None
    if isinstance(term, Not):
        inner = _ascii_eval(term.term)
        return lambda low: None if inner(low) is not None else []
    parts = [_ascii_eval(t) for t in term.terms]
    if isinstance(term, Or):

        def either(low: str) -> list[Span] | None:
            found = [r for f in parts if (r := f(low)) is not None]
            return [s for r in found for s in r] if found else None

        return either

    def every(low: str) -> list[Span] | None:
        out: list[Span] = []
        for f in parts:
            r = f(low)
            if r is None:
                return None
            out += r
        return out

    return every


def _anchors(term: Term) -> list[Anchor]:
    """Anchors for ``term``, longest tokens first: each is a set of tokens one of which
    every line matching ``term`` holds. Any one of them will do; ``_pick`` chooses per
    chunk. Empty for a NOT."""
    if isinstance(term, Word | Phrase):
        toks = term.tokens
        last = len(toks) - 1
        found = [((t, not (term.prefix and k == last)),) for k, t in enumerate(toks)]
    elif isinstance(term, Not):
        return []
    elif isinstance(term, Or):
        sides = [_anchors(t) for t in term.terms]
        if not all(sides):
            return []
        found = [tuple(alt for side in sides for alt in side[0])]
    else:
        found = [a for t in term.terms for a in _anchors(t)]
    found.sort(key=lambda a: -min(len(t) for t, _ in a))
    return found[:4]


def _pick(low: bytes | str, anchors: list[Anchor]) -> Anchor:
    """The anchor with the fewest occurrences in this chunk (cheap to count)."""
    if len(anchors) == 1:
        return anchors[0]
    if isinstance(low, bytes):
        return min(anchors, key=lambda a: sum(low.count(t.encode()) for t, _ in a))
    return min(anchors, key=lambda a: sum(low.count(t) for t, _ in a))


def _anchor_lines(low: bytes | str, anchor: Anchor) -> list[int]:
    """The (sorted) numbers of the lines of ``low`` holding one of the anchor tokens."""
    chars = _TOKEN_CHARS if isinstance(low, bytes) else _TOKEN_STR
    nl = b"\n" if isinstance(low, bytes) else "\n"
    lines: set[int] = set()
    for token, whole in anchor:
        tok = token.encode() if isinstance(low, bytes) else token
        if isinstance(low, bytes) and not token.isascii():
            continue  # cannot occur in ASCII text
        n = len(tok)
        line, last = 0, 0
        pos = low.find(tok)
        while pos >= 0:
            before = low[pos - 1 : pos]
            after = low[pos + n : pos + n + 1]
            if (not before or before[0] not in chars) and (
                not whole or not after or after[0] not in chars
            ):
                line += low.count(nl, last, pos)
                lines.add(line)
                last = low.find(nl, pos)
                if last < 0:
                    break
                line += 1
                last += 1
                pos = low.find(tok, last)
            else:
                pos = low.find(tok, pos + 1)
    return sorted(lines)


CUT_LINES = 32  # matching lines of a chunk cut out one by one; more: the chunk is split

_CSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]")


def _printable(data: bytes) -> bytes | None:
    """The chunk as printable ASCII, when it is that once colour and cursor sequences
    (CSI) are removed, else None. No CSI spans a newline, so this is what ``plain``
    gives line by line."""
    special = data.translate(None, _PRINTABLE)
    if not special:
        return data
    if special.translate(None, b"\x1b"):
        return None  # control characters other than ESC, or non-ASCII text
    cleaned = _CSI.sub(b"", data)
    return None if cleaned.translate(None, _PRINTABLE) else cleaned


def ascii_lines(data: bytes) -> bytes | None:
    """The ASCII text in which ``ChunkScanner.scan`` finds a chunk's phrases by regex (not
    lower-cased): the chunk without its CSI sequences when that is printable ASCII, else
    its ``ascii_view`` when that is ASCII and the chunk has no control characters. None
    otherwise (the scanner then cleans or tokenizes line by line). The output index's
    word pairs are found in this same text (storage/engine/word_pairs.py)."""
    clean = _printable(data)
    if clean is not None:
        return clean
    if data.translate(None, _PRINTABLE).translate(None, _HIGH):
        return None  # control characters
    view = ascii_view(data.decode("utf-8", "replace"))
    return view.encode("ascii") if view.isascii() else None


def _line_pattern(term: Word | Phrase) -> re.Pattern[bytes] | None:
    """``term`` as one regex over lower-cased printable ASCII lines, whose separators
    between words never cross a newline; None when a token cannot occur in ASCII."""
    first, *rest = (t.encode() for t in term.tokens)
    if not first.isascii() or not all(t.isascii() for t in rest):
        return None
    lit = re.escape(first)
    body = b"".join(b"[^a-z0-9\n]+" + re.escape(t) for t in rest)
    tail = b"" if term.prefix else b"(?![a-z0-9])"
    return re.compile(lit + b"(?<![a-z0-9]" + lit + b")" + body + tail)


def _pattern_lines(
    low: bytes, pattern: re.Pattern[bytes] | None, starts: list[int] | None = None
) -> list[int]:
    """The (sorted) numbers of the lines of ``low`` holding a match of ``pattern``;
    with ``starts``, where each of the first ``CUT_LINES`` of them begins is appended."""
    out: list[int] = []
    if pattern is None:
        return out
    line, last = 0, 0
    matches = pattern.finditer(low)
    if starts is not None:
        for m in matches:
            line += low.count(b"\n", last, m.start())
            last = m.start()
            if not out or out[-1] != line:
                out.append(line)
                starts.append(low.rfind(b"\n", 0, last) + 1)
                if len(starts) == CUT_LINES:
                    break  # (the rest as below)
    for m in matches:
        line += low.count(b"\n", last, m.start())
        last = m.start()
        if not out or out[-1] != line:
            out.append(line)
    return out


def _merge(spans: list[Span]) -> tuple[Span, ...]:
    if not spans:
        return ((0, 0),)  # matched through exclusions only: nothing to highlight
    if len(spans) == 1:
        return (spans[0],)
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return tuple(out)


class ChunkScanner:
    """Matches a query's text terms against the lines of chunks."""

    def __init__(self, query: Query) -> None:
        matcher = line_matcher(query)
        self._match: Callable[[str], list[Span]] = matcher or (lambda _line: [(0, 0)])
        root = And(query.terms)
        self._fast: _Eval = _ascii_eval(root) if query.terms else (lambda _low: [])
        self._anchors = _anchors(root) if query.terms else []
        # Lines with non-ASCII letters may skip tokenizing when the anchor is ASCII.
        self._ascii_anchor = bool(self._anchors) and all(
            tok.isascii() for tok, _ in self._anchors[0]
        )
        # A query of only exclusions: a line without any excluded token matches as is.
        self._excluded: Anchor | None = None
        if query.terms and not self._anchors:
            parts = [_anchors(t.term) for t in query.terms if isinstance(t, Not)]
            if len(parts) == len(query.terms) and all(parts):
                self._excluded = tuple(alt for p in parts for alt in p[0])
        # One word or phrase: its lines found with one regex over the whole chunk.
        term = query.terms[0] if len(query.terms) == 1 else None
        self._single = isinstance(term, Word | Phrase)
        self._pattern = _line_pattern(term) if isinstance(term, Word | Phrase) else None

    def scan(self, data: bytes, open_end: bool) -> list[LineMatch]:
        """The matching lines of a chunk's data, in order."""
        ascii_data = _printable(data)
        if ascii_data is not None:
            return self._scan_ascii(ascii_data, open_end)
        special = data.translate(None, _PRINTABLE)
        lines = self._plain_lines(data, open_end, special)
        if not lines:
            return []
        view = ascii_view("\n".join(lines))
        if view.isascii():  # every token ASCII once folded: the fast way, on the view
            return self._scan_ascii(view.encode("ascii"), True, shown=lines)
        return self._scan_lines(lines, view.split("\n"))

    def count(self, data: bytes, open_end: bool) -> int:
        """How many lines of the chunk match (``len(scan(...))``, with less work)."""
        if self._single:
            ascii_data = _printable(data)
            if ascii_data is not None:
                return len(_pattern_lines(ascii_data.lower(), self._pattern))
        return len(self.scan(data, open_end))

    @staticmethod
    def _plain_lines(data: bytes, open_end: bool, special: bytes) -> list[str]:
        lines = data.decode("utf-8", "replace").split("\n")
        if not open_end and lines and lines[-1] == "":
            lines.pop()  # the empty tail after the final newline
        if special.translate(None, _HIGH):  # control characters: use the plain text
            lines = [plain(line) for line in lines]
        return lines

    def _scan_ascii(
        self, data: bytes, open_end: bool, shown: list[str] | None = None
    ) -> list[LineMatch]:
        """``data``: printable ASCII lines, or the ASCII views of the lines ``shown``."""
        fast = self._fast
        if self._single:  # the lines holding it; each then tested for its spans
            starts: list[int] = []
            candidates = _pattern_lines(data.lower(), self._pattern, starts)
            if not candidates:
                return []
            if self._anchors and len(candidates) == len(starts):
                # A few lines: each cut out where it is. Splitting the whole chunk into
                # lines was a third of scanning for a rare word (tether search on 1 GB:
                # ~50 chunks of ~40 KB, a line each); for many lines a split is cheaper.
                found: list[LineMatch] = []
                for i, start in zip(candidates, starts, strict=True):
                    end = data.find(b"\n", start)
                    line = data[start : end if end >= 0 else len(data)].decode("ascii")
                    spans = fast(line.lower())
                    if spans is not None:
                        found.append(
                            LineMatch(i, line if shown is None else shown[i], _merge(spans))
                        )
                return found
        elif self._anchors:
            low = data.lower()
            candidates = _anchor_lines(low, _pick(low, self._anchors))
            if not candidates:
                return []
        raw = data.split(b"\n")
        if not open_end and raw and raw[-1] == b"":
            raw.pop()
        out: list[LineMatch] = []
        if not self._anchors:
            suspects = set(_anchor_lines(data.lower(), self._excluded)) if self._excluded else None
            for i, line_bytes in enumerate(raw):
                line = line_bytes.decode("ascii")
                text = line if shown is None else shown[i]
                if suspects is not None and i not in suspects:
                    out.append(LineMatch(i, text, ((0, 0),)))
                    continue
                spans = fast(line.lower())
                if spans is not None:
                    out.append(LineMatch(i, text, _merge(spans)))
            return out
        for i in candidates:
            line = raw[i].decode("ascii")
            spans = fast(line.lower())
            if spans is not None:
                out.append(LineMatch(i, line if shown is None else shown[i], _merge(spans)))
        return out

    def _scan_lines(self, lines: list[str], views: list[str]) -> list[LineMatch]:
        """Lines and their ``ascii_view``s, some of which hold other letters."""
        out: list[LineMatch] = []
        anchor = self._anchors[0] if self._anchors else None
        fast, match = self._fast, self._match
        for i, (line, view) in enumerate(zip(lines, views, strict=True)):
            if view.isascii():
                low = view.lower()
                if anchor is not None and not any(tok in low for tok, _ in anchor):
                    continue
                found = fast(low)
                if found is not None:
                    out.append(LineMatch(i, line, _merge(found)))
            else:
                if self._ascii_anchor:
                    # An ASCII token of the line is in its view, marks removed.
                    low = view.replace(DIACRITIC, "").lower()
                    if not any(tok in low for tok, _ in anchor or ()):
                        continue
                spans = match(line)
                if spans:
                    out.append(LineMatch(i, line, tuple(spans)))
        return out
