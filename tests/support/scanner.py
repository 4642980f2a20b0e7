"""The fast line scanner (storage/engine/search/lines.py) checked against the reference
matcher (``line_matcher`` over each line's plain text), for property tests."""

from __future__ import annotations

from storage.engine.search.lines import ChunkScanner
from storage.query import parse
from storage.query.match import line_matcher
from storage.text import plain


def assert_scanner_agrees(lines: list[str], text: str, now: float) -> None:
    """``ChunkScanner`` finds in the chunk of ``lines`` what ``line_matcher`` finds."""
    query = parse(text, now=now)
    data = "\n".join(lines).encode()
    reference = line_matcher(query)
    assert reference is not None
    got = [(m.index, m.text, m.spans) for m in ChunkScanner(query).scan(data, open_end=True)]
    want = []
    for i, raw in enumerate(data.decode().split("\n")):
        shown = plain(raw)
        spans = reference(shown)
        if spans:
            want.append((i, shown, tuple(spans)))
    assert got == want
    assert ChunkScanner(query).count(data, True) == len(want)
