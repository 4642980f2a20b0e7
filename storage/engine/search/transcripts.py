"""Search agent conversations: the transcripts of agent sessions (schema v12).

Each entry of a conversation (a prompt, a reply, a tool call and its command; stored by
``storage.engine.transcripts``) is searched like a rendered transcript's rows, from its
own index (``transcript_words``), and its hits are merged into the same pages
(``rendered.merged_hits``). A hit's stream is ``agent``; its ``line`` is the entry's
number in its conversation (not an output line: a viewer opens the session, not the
output at a line), its ``chunk_id`` the entry's id. A query with ``stream:`` names output
streams only, so it finds no conversation.
"""

from __future__ import annotations

from storage.engine.search.rendered import RenderedSearch
from storage.models import SearchHit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from storage.engine.store import Store
    from storage.query import Query

STREAM = "agent"  # the stream shown for a conversation's hit


async def any_agents(db: Any) -> bool:
    """Whether there is any agent conversation to look for or to search: a session of an
    agent kind, or a transcript file known. One query on a ``Store`` or a ``Reader``; a
    command can skip the agents' code when there is none."""
    return bool(
        await db.scalar(
            "SELECT EXISTS (SELECT 1 FROM sessions WHERE agent_kind IS NOT NULL) "
            "OR EXISTS (SELECT 1 FROM transcript_files)"
        )
    )


class TranscriptSearch(RenderedSearch):
    """One query's search of the agent conversations."""

    WORDS = "transcript_words"
    CHUNKS = "transcript_entries"
    COLUMNS = "c.id, c.session_id, c.number, c.at, c.text"
    TEXT = "c.text, NULL"  # (stored as it is)

    def __init__(
        self,
        store: Store,
        query: Query,
        *,
        session_id: int | None = None,
        include_deleted: bool = False,
    ) -> None:
        super().__init__(store, query, session_id=session_id, include_deleted=include_deleted)
        if query.streams is not None:
            self.filters += " AND 0"

    def _hits(self, row: Any) -> list[SearchHit]:
        eid, sid, number, at, text = tuple(row)
        return [
            SearchHit(sid, number, STREAM, at, m.text, m.spans, eid)
            for m in self.scanner.scan(text.encode(), False)
        ]
