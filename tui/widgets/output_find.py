"""Find in a session's output, for the output view: which words to look for, and
where the next match is.

``Finder`` (the words and the smart-case rule) is storage's, ``storage.query.find``;
``find_line`` asks the store for the next or previous matching line, so ``n``/``N``
reach every line of the session, not only the ones the view has loaded. No SQL here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage.query.find import Finder

if TYPE_CHECKING:
    from storage import Store

__all__ = ["Finder", "find_line"]


async def find_line(
    store: Store, session_id: int, finder: Finder, start: int, *, forward: bool = True
) -> int | None:
    """The number of the first line at or after ``start`` (``forward``), or at or before
    it (backward), whose plain text matches ``finder``; ``None`` when there is none."""
    return await store.output.find_line(session_id, finder, start, forward=forward)
