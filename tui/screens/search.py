"""The search screen (``ctrl+f`` from anywhere): every session's output, as you type.

The query language is ``storage.query``'s. Each keystroke restarts a short debounce
in an exclusive worker, so a stale search is cancelled and typing never waits for
one; the search itself runs on the store's connection thread and yields between
chunks. Results come first without counts, then the per-session counts.

The input keeps the focus: ``up``/``down``/``pageup``/``pagedown`` move through the
hits, ``enter`` opens the live output view at the hit's line with the words
highlighted (a hit on a terminal session's rendered transcript: where it was seen, on
the screen its run ended on or in the transcript at its row, ``open_hit``; on a
session header, or a hit in an agent's conversation: its detail screen), ``escape``
goes back. With an empty query the list offers the recent queries (saved in
``settings`` as soon as a query has shown results for a moment, or is used).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui import search_render as render
from tui.keys import bindings
from tui.screens.base import TetherScreen
from tui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from storage import Store
    from storage.engine.search.core import SearchResults, SessionHits
    from storage.models import SearchHit
    from storage.query import Query

RECENT_KEY = "search.recent"
DEBOUNCE = 0.15  # seconds of quiet typing before a search starts
REMEMBER_AFTER = 1.5  # seconds a query shows results before it joins the recent ones
PAGE = 100  # hits per page; more load when the cursor reaches the end
PLACEHOLDER = 'words, "a phrase", prefix*, -not, a OR b, status:failed tag:ml since:2h …'
HELP = (
    "Search the output of every session. Words must all be on one line; "
    '"exact phrases", prefix*, -excluded, a OR b. Filters: status: tag: name: cmd: cwd: '
    "exit: stream: since: until: is:pinned is:running in:output in:meta; the session's "
    "context: ctx.model:opus ctx.tokens>100000 ctx.usage.input_tokens<=5 has:ctx.thread."
)


@dataclass
class _Row:
    """What an option of the list stands for."""

    kind: str  # hit, session, recent, more
    hit: SearchHit | None = None
    session_id: int | None = None
    text: str = ""


class SearchScreen(TetherScreen[None]):
    """Search as you type across every session."""

    HELP_TITLE = "search"
    BINDINGS: ClassVar = [
        *bindings("back", "open"),
        Binding("down", "move(1)", "Move", key_display="↑↓"),
        Binding("up", "move(-1)", "Previous", show=False),
        Binding("pagedown", "move(10)", "Page down", show=False),
        Binding("pageup", "move(-10)", "Page up", show=False),
        Binding("ctrl+f", "focus_query", "Search", show=False),
        Binding("ctrl+r", "toggle_rank", "Newest/ranked", tooltip="Most relevant first, or newest"),
    ]
    DEFAULT_CSS = """
    SearchScreen {
        #search-input { margin: 0 1; }
        #search-bar { height: 1; margin: 0 2; }
        #search-chips { width: 1fr; height: 1; }
        .chip {
            background: $primary-muted;
            color: $text-primary;
            padding: 0 1;
            margin-right: 1;
        }
        #search-status { width: auto; color: $text-muted; }
        #search-error {
            display: none;
            margin: 0 0 0 4;
            color: $text-error;
            height: auto;
            &.-shown { display: block; }
        }
        #search-results { height: 1fr; border: none; margin-top: 1; }
        #search-help { color: $text-muted; margin: 1 2; height: auto; }
    }
    """

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self._initial = text
        self._rows: list[_Row] = []
        self._results: SearchResults | None = None
        self._query: Query | None = None
        self._groups: dict[int, SessionHits] = {}
        self._recent: list[str] = []
        self._asked = 0  # searches asked for (a generation number)
        self._answered = 0  # the newest of them that has finished
        self._asked_text = ""  # the text the newest search was asked for
        self._remember_timer: Timer | None = None
        self._loading_more = False
        self._mounted = False  # recent searches read and shown (or the first search asked)
        self._warmed = False  # the terminal emulator asked to load (a pty session's hit)
        self.ranked = False  # most relevant first instead of newest first

    # -- parts ------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        return self.tether.store

    @property
    def ready(self) -> bool:
        """No search waiting or running (tests and screenshots wait for this)."""
        # The newest search answered, and it was for what the input holds now (a
        # keystroke whose change is not handled yet has not asked for its search).
        return (
            self._mounted
            and self._answered == self._asked
            and self._asked_text == self._typed()
            and not self._loading_more
        )

    def _typed(self) -> str:
        inputs = self.query("#search-input")
        return inputs.first(Input).value if inputs else ""

    @property
    def results(self) -> SearchResults | None:
        return self._results

    @property
    def input(self) -> Input:
        return self.query_one("#search-input", Input)

    @property
    def _showing(self) -> bool:
        """Whether results can still be shown: the screen is attached and its widgets
        are there (on closing, the app removes a screen's widgets before the screen, and
        a search that finishes in between has nothing to show them on)."""
        return self.is_attached and bool(self.query("#search-results"))

    @property
    def options(self) -> OptionList:
        return self.query_one("#search-results", OptionList)

    def _now(self) -> float:
        return self.tether.clock()

    def compose(self) -> ComposeResult:
        yield Input(self._initial, placeholder=PLACEHOLDER, id="search-input")
        with Horizontal(id="search-bar"):
            yield Horizontal(id="search-chips")
            yield Label("", id="search-status")
        yield Static("", id="search-error", markup=False)
        yield OptionList(id="search-results")
        yield Static(HELP, id="search-help")
        yield KeyFooter(compact=True)

    async def on_mount(self) -> None:
        self.input.cursor_blink = self.tether.cursor_blink
        self.options.can_focus = False  # the input keeps the focus; keys move the list
        self.input.focus()
        self._recent = await self._load_recent()
        if self._initial.strip():
            self._schedule(self._initial, debounce=False)
        else:
            self._show_recent()
        self._mounted = True
        self._read_transcripts()

    @work(exclusive=True, group="transcripts")
    async def _read_transcripts(self) -> None:
        """Agent conversations up to now (agents/transcripts: what their transcripts
        gained since the last look); the search shown is asked again if they grew."""
        import os

        from agents.kinds import kinds_from_config
        from agents.transcripts.index import sync
        from storage.errors import StoreError

        try:
            kinds = kinds_from_config(self.tether.config.section("agents"))
            report = await sync(self.store, kinds, os.environ)
        except (StoreError, ValueError):
            return  # read-only or busy: what is indexed already is searched
        if report.entries and self._showing and self._asked_text.strip():
            self._schedule(self._asked_text, debounce=False)

    # -- typing -----------------------------------------------------------------------
    @on(Input.Changed, "#search-input")
    def _changed(self, event: Input.Changed) -> None:
        self._schedule(event.value)

    def _schedule(self, text: str, *, debounce: bool = True) -> None:
        if self._remember_timer is not None:
            self._remember_timer.stop()
            self._remember_timer = None
        self._asked += 1
        self._asked_text = text
        self._search(text, DEBOUNCE if debounce else 0.0, self._asked)

    @work(exclusive=True, group="search")
    async def _search(self, text: str, delay: float, generation: int) -> None:
        from storage.engine import metrics
        from storage.engine.search.core import count_hits, search
        from storage.query import QueryError, parse

        try:
            if delay:
                await asyncio.sleep(delay)  # cancelled by the next keystroke
            if not self._showing:
                return  # the screen was closed meanwhile: nothing to show it on
            if not text.strip():
                self._query = self._results = None
                self._show_error(None)
                self._show_chips(None)
                self._show_recent()
                return
            try:
                query = parse(text, now=self._now())
                started = asyncio.get_running_loop().time()
                results = await search(
                    self.store, query, limit=PAGE, counts=False, rank=self.ranked
                )
                took = asyncio.get_running_loop().time() - started
                await metrics.note(self.store, "search_ms", took * 1000)  # the usage screen's
            except QueryError as e:
                if not self._showing:
                    return
                # The same screen whatever searches finished before: no stale results.
                self._query = self._results = None
                self._show_error(e)
                self._show_chips(None)
                self._rows = []
                self._set_options([])
                self.query_one("#search-help").display = True
                return
            if not self._showing:
                return  # closed while it searched
            self._show_error(None)
            self._show_chips(query)
            self._query, self._results = query, results
            self._show_results(results, counting=True)
            self._warm_terminal(results)
            if results.hits:
                self._remember_timer = self.set_timer(REMEMBER_AFTER, self._remember_current)
            ids = [g.session.id for g in results.groups if g.count is None or g.hits]
            counts = await count_hits(self.store, query, ids)
            if self._showing:
                self._apply_counts(counts)
        finally:
            # A cancelled search may never have started: the newest one decides.
            if generation == self._asked:
                self._answered = generation

    # -- showing ----------------------------------------------------------------------
    def _show_error(self, error: Exception | None) -> None:
        from storage.query import QueryError

        box = self.query_one("#search-error", Static)
        box.set_class(error is not None, "-shown")
        if isinstance(error, QueryError):
            # Start where the input's text starts, so the carets sit under the culprit.
            box.styles.margin = (0, 0, 0, max(0, self.input.content_region.x - self.region.x))
            box.update(render.error_lines(error, self.input.content_size.width))
        else:
            box.update(str(error) if error is not None else "")
        if error is not None:
            self.query_one("#search-status", Label).update("")

    def _show_chips(self, query: Query | None) -> None:
        bar = self.query_one("#search-chips", Horizontal)
        bar.remove_children()
        if query is not None:
            bar.mount_all(Label(chip, classes="chip") for chip in render.chips(query))

    def _show_recent(self) -> None:
        self._rows = []
        options: list[Option] = []
        if self._recent:
            options.append(Option(Text("Recent searches", style="bold"), disabled=True))
            self._rows.append(_Row("title"))
            for text in self._recent:
                options.append(Option(Text(f"  {text}", no_wrap=True, overflow="ellipsis")))
                self._rows.append(_Row("recent", text=text))
        self._set_options(options)
        self.query_one("#search-help").display = True
        self.query_one("#search-status", Label).update("")

    def _show_results(self, results: SearchResults, *, counting: bool = False) -> None:
        self._groups = {g.session.id: g for g in results.groups}
        self.query_one("#search-help").display = False
        options, rows = self._build_options(results, counting=counting)
        self._rows = rows
        self._set_options(options)
        self._update_status()

    def _build_options(
        self, results: SearchResults, *, counting: bool
    ) -> tuple[list[Option], list[_Row]]:
        width = max(40, self.size.width - 4)
        now = self._now()
        options: list[Option] = []
        rows: list[_Row] = []
        for group in results.groups:
            options.append(Option(render.session_header(group, now, counting=counting)))
            rows.append(_Row("session", session_id=group.session.id))
            for m in group.meta:
                options.append(Option(render.meta_line(m)))
                rows.append(_Row("session", session_id=group.session.id))
            for hit in group.hits:
                options.append(Option(render.hit_line(hit, width)))
                rows.append(_Row("hit", hit=hit, session_id=hit.session_id))
        if results.next_page:
            options.append(Option(Text("    more…", style="dim italic")))
            rows.append(_Row("more"))
        if not options:
            options.append(Option(Text("No matches.", style="dim"), disabled=True))
            rows.append(_Row("none"))
        return options, rows

    def _set_options(self, options: list[Option]) -> None:
        lst = self.options
        lst.clear_options()
        lst.add_options(options)
        first = next((i for i, o in enumerate(options) if not o.disabled), None)
        lst.highlighted = first

    def _update_status(self) -> None:
        r = self._results
        status = self.query_one("#search-status", Label)
        if r is None:
            status.update("")
            return
        if r.sessions_only:
            n = len(r.groups)
            text = f"{n} session{'s' * (n != 1)}" + ("+" if r.next_page else "")
        else:
            hits = sum(len(g.hits) for g in r.groups)
            n = len(r.groups)
            more = "+" if r.next_page else ""
            text = f"{hits}{more} hit{'s' * (hits != 1)} in {n} session{'s' * (n != 1)}"
            if hits:
                text += " · enter opens"
        if r.ranked:
            text += " · most relevant first" + (" (of the newest)" if r.rank_limited else "")
        if r.unindexed_bytes:
            text += f" · {r.unindexed_bytes / 1e6:.1f} MB not indexed yet"
        status.update(text)

    def _apply_counts(self, counts: dict[int, tuple[int, bool]]) -> None:
        from dataclasses import replace

        if self._results is None:
            return
        groups = tuple(
            replace(g, count=counts[g.session.id][0], exact=counts[g.session.id][1])
            if g.session.id in counts
            else g
            for g in self._results.groups
        )
        self._results = replace(self._results, groups=groups)
        highlighted = self.options.highlighted
        self._show_results(self._results)
        if highlighted is not None and highlighted < self.options.option_count:
            self.options.highlighted = highlighted

    # -- moving and opening -----------------------------------------------------------
    def action_move(self, delta: int) -> None:
        lst = self.options
        if lst.option_count == 0:
            return
        current = lst.highlighted if lst.highlighted is not None else -1
        target = max(0, min(lst.option_count - 1, current + delta))
        step = 1 if delta > 0 else -1
        while 0 <= target < lst.option_count and lst.get_option_at_index(target).disabled:
            target += step
        if 0 <= target < lst.option_count:
            lst.highlighted = target
        if self._rows and self._rows[-1].kind == "more" and target >= lst.option_count - 1:
            self._load_more()

    def action_focus_query(self) -> None:
        self.input.focus()

    def action_toggle_rank(self) -> None:
        self.ranked = not self.ranked
        self._schedule(self.input.value, debounce=False)

    @on(Input.Submitted, "#search-input")
    def _submitted(self) -> None:
        self.action_open()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.options.highlighted = event.option_index
        self.action_open()

    def action_open(self) -> None:
        index = self.options.highlighted
        if index is None or index >= len(self._rows):
            return
        row = self._rows[index]
        if row.kind == "recent":
            self.input.value = row.text
            self.input.cursor_position = len(row.text)
            return
        if row.kind == "more":
            self._load_more()
            return
        if row.kind not in ("hit", "session") or row.session_id is None:
            return
        self._remember_current()
        if row.kind == "hit" and row.hit is not None and row.hit.stream == "agent":
            self.tether.open_detail(row.session_id)  # a conversation's entry: no output line
        elif row.kind == "hit" and row.hit is not None and self._query is not None:
            self.open_hit(row.hit, render.highlight_words(self._query))
        else:
            self.tether.open_detail(row.session_id)

    def _warm_terminal(self, results: SearchResults) -> None:
        """A terminal session's hit opens on its emulated screen: load the emulator (a
        few hundred milliseconds the first time, in a thread) while the results are
        read, not after enter."""
        if self._warmed or not any(h.row is not None for h in results.hits):
            return
        from tui.widgets.screen_view import load_emulator

        self._warmed = True
        self.app.run_worker(
            asyncio.to_thread(load_emulator), group="warm-terminal", exit_on_error=False
        )

    def open_hit(self, hit: SearchHit, words: list[str]) -> None:
        """The output screen at ``hit``, its words highlighted: a pipe session's stream
        at its line; a terminal session's hit (a row of its rendered transcript) where
        it was seen, on a screen or in the transcript (tui.widgets.screen_place)."""
        from tui.widgets.screen_place import HitPlace

        place = HitPlace.of(hit)
        if place is None:
            self.tether.open_output(hit.session_id, line=hit.line, highlight=words or None)
            return
        from tui.screens.output import OutputScreen

        self.app.push_screen(OutputScreen(hit.session_id, highlight=words or None, place=place))

    def action_back(self) -> None:
        self._remember_current()
        self.app.pop_screen()

    @work(exclusive=True, group="more")
    async def _load_more(self) -> None:
        from dataclasses import replace

        from storage.engine.search.core import search

        r, query = self._results, self._query
        if r is None or query is None or not r.next_page or self._loading_more:
            return
        self._loading_more = True
        try:
            more = await search(
                self.store, query, limit=PAGE, page=r.next_page, counts=False, rank=r.ranked
            )
            if self._results is not r or not self._showing:
                return  # the query changed or the screen closed meanwhile
            groups = list(r.groups)
            where = {g.session.id: i for i, g in enumerate(groups)}
            for g in more.groups:
                if g.session.id in where:
                    old = groups[where[g.session.id]]
                    groups[where[g.session.id]] = replace(old, hits=old.hits + g.hits)
                else:
                    where[g.session.id] = len(groups)
                    groups.append(g)
            merged = replace(
                r, groups=tuple(groups), next_page=more.next_page, hits=r.hits + more.hits
            )
            self._results = merged
            highlighted = self.options.highlighted
            self._show_results(merged)
            if highlighted is not None:
                self.options.highlighted = min(highlighted, self.options.option_count - 1)
        finally:
            self._loading_more = False

    # -- recent queries ---------------------------------------------------------------
    async def _load_recent(self) -> list[str]:
        value = await self.store.settings.get(RECENT_KEY, [])
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    def _remember_current(self) -> None:
        if self._remember_timer is not None:
            self._remember_timer.stop()
            self._remember_timer = None
        r = self._results
        if r is None or not (r.groups or r.hits):
            return
        updated = render.remember(self._recent, r.query.text)
        if updated != self._recent:
            self._recent = updated
            # The app's worker, not the screen's: it must finish after the screen closes.
            self.app.run_worker(self.store.settings.set(RECENT_KEY, updated), group="search-recent")
