"""What the session list is asked to show (``ListQuery``: filter text, statuses, sort),
and the ordered ids that answer it.

Only ids are fetched for the whole list (two cheap queries, whatever the number of
sessions); row details are fetched by the state store for the rows on screen.

The quick filter is the search query language over metadata (name, command, cwd,
tags, notes, and filters such as ``status:failed`` or ``tag:ml``), the last word as
a prefix, so the list narrows as the user types. ``matching_ids`` is the one place
that turns filter text into ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage import Store
    from storage.engine.search.filters import Matches

SORTS = ("newest", "updated", "name", "status", "size", "oldest")
SORT_LABELS = {
    "newest": "newest first",
    "updated": "recently active",
    "name": "by name",
    "status": "by status",
    "size": "largest output",
    "oldest": "oldest first",
}
_ID = re.compile(r"#?(\d+)")


@dataclass(frozen=True)
class ListQuery:
    """The user's choice of what the list shows. Empty ``statuses`` means all."""

    text: str = ""
    statuses: frozenset[str] = field(default_factory=frozenset)
    sort: str = "newest"

    def to_json(self) -> dict:
        return {"text": self.text, "statuses": sorted(self.statuses), "sort": self.sort}

    @classmethod
    def from_json(cls, data: object) -> ListQuery:
        from storage.models import STATUSES

        if not isinstance(data, dict):
            return cls()
        text = data.get("text")
        statuses = data.get("statuses")
        sort = data.get("sort")
        return cls(
            text=text if isinstance(text, str) else "",
            statuses=frozenset(
                s for s in (statuses if isinstance(statuses, list) else []) if s in STATUSES
            ),
            sort=sort if sort in SORTS else "newest",
        )

    @property
    def filtered(self) -> bool:
        return bool(self.text.strip() or self.statuses)

    def describe(self) -> str:
        parts = []
        if self.text.strip():
            parts.append(f"“{self.text.strip()}”")
        if self.statuses:
            parts.append(", ".join(sorted(self.statuses)))
        parts.append(SORT_LABELS.get(self.sort, self.sort))
        return " · ".join(parts)


def next_sort(sort: str) -> str:
    i = SORTS.index(sort) if sort in SORTS else -1
    return SORTS[(i + 1) % len(SORTS)]


async def matching_ids(store: Store, text: str) -> Matches | None:
    """The live sessions ``text`` asks for (``in`` tells), in the search query language
    over metadata (``ci status:failed tag:ml cwd:~/src since:2h``; the last word is a
    prefix while typing), plus the id itself for ``42`` or ``#42``. None when ``text``
    constrains nothing. Raises ``storage.query.QueryError`` for a query that does not
    parse; its message and position say what to fix."""
    from storage.engine.search.filters import matching_session_ids
    from storage.query import parse

    text = text.strip()
    if not text:
        return None
    found = await matching_session_ids(store, parse(text), typing=True)
    m = _ID.fullmatch(text)
    return found.with_id(int(m.group(1))) if m else found


async def view_ids(
    store: Store, view: ListQuery, pin_overrides: Mapping[int, bool] | None = None
) -> list[int]:
    """The ids the list shows, in order: sessions that need you (oldest first), then
    pinned ones, then by ``view.sort``.

    ``pin_overrides`` are pins edited in the UI and not saved yet; the order honours
    them so pinning moves a row at once.
    """
    statuses = sorted(view.statuses) or None
    ordered = await store.sessions.ids(order=view.sort, status=statuses)
    pinned = set(await store.sessions.ids(order="id", status=statuses, pinned=True))
    for sid, pin in (pin_overrides or {}).items():
        (pinned.add if pin else pinned.discard)(sid)
    match = await matching_ids(store, view.text)
    if match is not None:
        ordered = match.keep(ordered)
    from tui.attention_watch import needs_you_first, needs_you_now

    waiting = [s.id for s in await needs_you_now(store)]  # on top, oldest first
    return needs_you_first(pinned_first(ordered, pinned), waiting)


def pinned_first(ordered: Iterable[int], pinned: set[int]) -> list[int]:
    """A stable partition: pinned ids first, each part keeping its order."""
    ordered = list(ordered)
    if not pinned:
        return ordered  # the usual case: two passes over 100 000 ids saved at start
    return [i for i in ordered if i in pinned] + [i for i in ordered if i not in pinned]
