"""Command palette (ctrl+p): jump to any session by name, command or id, and run the
app's own commands (new session, search, cleanup, sort, filter by status)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui import format as fmt
from tui.host import tether_app

if TYPE_CHECKING:
    from storage import Session
    from tui.host import TetherHost

RECENT = 300  # sessions fuzzy-matched by name and command, newest first
FOUND = 100  # sessions found by the metadata index for words typed


class SessionCommands(Provider):
    """Sessions as palette entries: ``#42``, a name, or words of the command."""

    @property
    def tether(self) -> TetherHost:
        return tether_app(self.app)

    async def startup(self) -> None:
        self._recent: list[Session] = await self.tether.store.sessions.list(limit=RECENT)

    def _open(self, session: Session) -> None:
        self.tether.state.select(session.id)
        self.tether.open_detail(session.id)

    def _title(self, s: Session) -> str:
        return f"#{s.id} {fmt.shown(s).label}"

    def _help(self, s: Session) -> str:
        what = fmt.status_text(s.status, s.exit_code, s.signal)
        s = fmt.shown(s)
        return f"{what} · {s.command} · {fmt.home(s.cwd)}"

    async def discover(self) -> Hits:
        for s in self._recent[:20]:
            yield DiscoveryHit(self._title(s), partial(self._open, s), help=self._help(s))

    async def search(self, query: str) -> Hits:
        from storage.engine.search import search_sessions

        matcher = self.matcher(query)
        store = self.tether.store
        seen: set[int] = set()
        candidates = list(self._recent)
        digits = query.strip().lstrip("#")
        if digits.isdigit():
            exact = await store.sessions.get(int(digits))
            if exact is not None and not exact.trashed:
                seen.add(exact.id)
                yield Hit(
                    1.0, self._title(exact), partial(self._open, exact), help=self._help(exact)
                )
        found = await search_sessions(store, query, limit=FOUND)
        extra = [i for i in found if i not in {s.id for s in candidates}]
        if extra:
            candidates += await store.sessions.list(ids=extra)
        for s in candidates:
            if s.id in seen:
                continue
            title = self._title(s)
            score = max(matcher.match(title), matcher.match(s.command) * 0.9)
            if score <= 0 and s.id in found:
                score = 0.3  # matched a tag, the directory or the notes
            if score > 0:
                seen.add(s.id)
                yield Hit(
                    score, matcher.highlight(title), partial(self._open, s), help=self._help(s)
                )


class AppCommands(Provider):
    """The app's actions, by name."""

    def _commands(self) -> list[tuple[str, str, str]]:
        return [
            ("New session", "Start a command as a new session", "new_session"),
            ("Search output", "Search the output of every session", "search"),
            ("Cleanup", "Remove old sessions by a retention policy", "cleanup"),
            ("Usage", "Where the space goes, growth and metrics, as plots", "usage"),
            ("Show all statuses", "Clear the status filter", "clear_filter"),
            ("Show running sessions", "Filter the list to running sessions", "filter_running"),
            ("Show failed and lost sessions", "Filter the list to problems", "filter_problems"),
            ("Keys", "Every key of this screen", "help"),
        ]

    async def discover(self) -> Hits:
        for title, help_text, action in self._commands():
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), partial(self._run, action), help=help_text
                )

    async def _run(self, action: str) -> None:
        await self.app.run_action(f"palette_{action}")
