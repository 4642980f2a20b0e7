"""The TUI's single source of truth: the session index, selection, list view, edits.

Widgets read from here and subscribe to ``changed``; they never query each other.

- The index is the ordered list of ids the list shows (cheap to fetch for 10 000
  sessions); row details live in a bounded cache filled on demand for the rows on
  screen (``want``). At start, only the first page of the list is read (its rows with
  it) so that it shows at once whatever the number of sessions; the whole index follows
  in the background (``Change(index=True)``).
- Edits (name, notes, tags, pin) are pending until the autosave writes them, after
  ``autosave_interval`` seconds, or on ``flush`` (quit, suspend). ``row`` shows a
  session with its pending edits applied, so the UI reflects them at once.
- ``poll`` notices commits by other processes through the store's change watcher and
  fetches only the rows updated since the last look.
- Where the user was (screen, selection, filter, sort) is saved in ``settings`` and
  restored by ``load``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from textual.signal import Signal

from storage.errors import SessionNotFound
from tui.attention_watch import needs_you_now
from tui.format import shown
from tui.list_query import ListQuery, view_ids

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from storage import ChangeWatcher, Session, Store

UI_KEY = "tui.state"
# The session fields a user edits in the app: a subset of storage's SESSION_EDITABLE,
# plus the tags, which ``sessions.update(tags=...)`` saves in the same transaction
# (tests/test_hygiene.py checks the subset).
USER_EDITABLE = ("name", "notes", "pinned", "tags")
CACHE_ROWS = 4000
FETCH_BATCH = 400
FIRST_PAGE = 120  # rows read at start before the whole index: as many as load wants
# Rows updated up to this many seconds before the newest one seen are read again:
# other writers stamp rows with their own capture times, which can trail ours.
OVERLAP = 5.0


@dataclass(frozen=True)
class Change:
    """What changed, published on ``AppState.changed``."""

    index: bool = False  # the ordered ids (rows added, removed or moved)
    rows: frozenset[int] = frozenset()  # these sessions' details
    selection: bool = False
    saved: bool = False  # the saved/unsaved state
    view: bool = False  # filter or sort

    def merged(self, other: Change) -> Change:
        """Both changes as one (a screen catching up on what it missed)."""
        return Change(
            index=self.index or other.index,
            rows=self.rows | other.rows,
            selection=self.selection or other.selection,
            saved=self.saved or other.saved,
            view=self.view or other.view,
        )


@dataclass(frozen=True)
class Ended:
    """A session ended while the TUI was open (published on ``AppState.ended``)."""

    session: Session


@dataclass(frozen=True)
class Place:
    """Which screen the user is on, to come back to it next time."""

    screen: str = "list"  # list | detail | output
    session_id: int | None = None


@dataclass
class _Pending:
    fields: dict[int, dict[str, Any]] = field(default_factory=dict)
    since: float | None = None  # when the oldest unsaved edit was made


class AppState:
    """See the module docstring. ``owner`` is the app (signals need a DOM node)."""

    def __init__(
        self,
        store: Store,
        owner: DOMNode,
        *,
        clock: Callable[[], float] = time.time,
        autosave_interval: float = 2.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.autosave_interval = autosave_interval
        self._owner = owner
        self.changed: Signal[Change] = Signal(owner, "state-changed")
        self.ended: Signal[Ended] = Signal(owner, "session-ended")
        self.view = ListQuery()
        self.selected: int | None = None
        self.place = Place()
        self.loaded = False
        self.filter_error: str | None = None  # why the filter text is not a valid query
        self._ids: list[int] = []
        self._pos: dict[int, int] = {}
        self._rows: OrderedDict[int, Session] = OrderedDict()
        self._gone: set[int] = set()
        self._wanted: set[int] = set()
        self._fetch_task: asyncio.Task[None] | None = None
        self._index_task: asyncio.Task[None] | None = None
        self._pending = _Pending()
        self._ui_dirty_since: float | None = None
        self._trashed: list[list[int]] = []  # batches, newest last: undo restores one
        self.marked: set[int] = set()
        self._changes: ChangeWatcher | None = None
        self._watermark = 0.0
        self._opened_at = 0.0
        self._announced: set[tuple[int, int, str]] = set()
        self._flush_lock = asyncio.Lock()
        self.queue_places: dict[int, int] = {}  # session -> place in the queue (1: next)

    # -- reading ----------------------------------------------------------------------
    @property
    def ids(self) -> list[int]:
        return self._ids

    def position(self, session_id: int | None) -> int | None:
        return None if session_id is None else self._pos.get(session_id)

    def row(self, session_id: int) -> Session | None:
        """The cached session with pending edits applied, as the TUI may display it
        (``format.shown``), or None if not fetched."""
        s = self._rows.get(session_id)
        if s is None:
            return None
        edits = self._pending.fields.get(session_id)
        if edits:
            s = replace(s, **edits)
        return shown(s)

    def want(self, ids: Iterable[int]) -> None:
        """Ask for these rows' details; a ``Change(rows=...)`` follows when they arrive."""
        missing = {i for i in ids if i not in self._rows and i not in self._gone}
        missing -= self._wanted
        if not missing:
            return
        self._wanted |= missing
        if self._fetch_task is None or self._fetch_task.done():
            self._fetch_task = asyncio.get_running_loop().create_task(self._fetch_wanted())

    async def _fetch_wanted(self) -> None:
        while self._wanted:
            batch = sorted(self._wanted)[:FETCH_BATCH]
            try:
                found = await self.store.sessions.list(ids=batch, include_deleted=True)
            finally:
                self._wanted.difference_update(batch)
            got = {s.id for s in found}
            self._gone.update(set(batch) - got)
            self._remember(found)
            self.changed.publish(Change(rows=frozenset(batch)))

    async def settle(self) -> None:
        """Wait for the whole index and the row fetches in flight (tests, screenshots)."""
        if self._index_task is not None and not self._index_task.done():
            await self._index_task
        while self._fetch_task is not None and not self._fetch_task.done():
            await self._fetch_task

    async def session(self, session_id: int) -> Session | None:
        """The session fresh from the database (pending edits applied), cached."""
        s = await self.store.sessions.get(session_id)
        if s is None:
            self._gone.add(session_id)
            return None
        self._remember([s])
        return self.row(session_id)

    def _remember(self, sessions: Iterable[Session]) -> None:
        for s in sessions:
            self._rows[s.id] = s
            self._rows.move_to_end(s.id)
            self._gone.discard(s.id)
        while len(self._rows) > CACHE_ROWS:
            self._rows.popitem(last=False)

    # -- start --------------------------------------------------------------------------
    async def load(self) -> None:
        """Restore where the user left off, then fetch the index and the first rows."""
        saved = await self.store.settings.get(UI_KEY, {})
        saved = saved if isinstance(saved, dict) else {}
        self.view = ListQuery.from_json(saved.get("view"))
        place = saved.get("place") if isinstance(saved.get("place"), dict) else {}
        screen = place.get("screen") if place.get("screen") in ("detail", "output") else "list"
        sid = place.get("session_id")
        self.place = Place(screen, sid if isinstance(sid, int) else None)
        selected = saved.get("selected")
        self._opened_at = self.clock()
        self._changes = self.store.changes()
        await self._changes.changed()
        self._watermark = self._opened_at
        partial = await self._first_page()
        if partial is None or (partial and isinstance(selected, int) and selected not in self._pos):
            await self._reindex()  # (the saved selection is further down: find it first)
            partial = False
        await self._queue_moved()  # the places of queued sessions, for the first paint
        if isinstance(selected, int) and selected in self._pos:
            self.selected = selected
        else:
            self.selected = self._ids[0] if self._ids else None
        if self.place.session_id is not None and await self.session(self.place.session_id) is None:
            self.place = Place()
        around = self._pos.get(self.selected, 0) if self.selected is not None else 0
        self.want(self._ids[max(0, around - 60) : around + 60])
        await self.settle()
        self.loaded = True
        self.changed.publish(Change(index=True, selection=True, view=True, saved=True))
        if partial:
            self._index_task = asyncio.get_running_loop().create_task(self._whole_index())

    async def _whole_index(self) -> None:
        """The whole index, once the first page is on screen (reading 100 000 ids costs
        the event loop tens of milliseconds: not before the first paint)."""
        if self._owner.is_running:
            painted = asyncio.Event()
            self._owner.call_after_refresh(painted.set)
            await painted.wait()
        await self.reindex()

    async def _first_page(self) -> bool | None:
        """Read the top of the list in ``view_ids``' order (sessions that need you,
        pinned sessions, then the first ``FIRST_PAGE``), rows included, as the index for
        now, so that no row moves when the whole index comes; True if the list may go on
        beyond it, False if that was all of it. None, reading nothing, when the top
        cannot be read so (a text filter, or many pinned): only the whole index will do."""
        if self.view.text.strip():
            return None
        statuses = sorted(self.view.statuses) or None
        sessions = self.store.sessions
        pinned_ids = await sessions.ids(order="id", status=statuses, pinned=True)
        if len(pinned_ids) > FIRST_PAGE:
            return None
        waiting = await needs_you_now(self.store)  # running, oldest need first
        if statuses:
            waiting = [s for s in waiting if s.status in statuses]
        pinned = await sessions.list(ids=pinned_ids, order=self.view.sort, status=statuses)
        head = await sessions.list(
            order=self.view.sort, status=statuses, pinned=False, limit=FIRST_PAGE
        )
        on_top = [s.id for s in waiting]
        first = set(on_top)
        self._ids = on_top + [s.id for s in (*pinned, *head) if s.id not in first]
        self._pos = {sid: i for i, sid in enumerate(self._ids)}
        self.filter_error = None
        for rows in (head, pinned, waiting):
            self._remember(rows)
        return len(head) == FIRST_PAGE

    # -- the list -----------------------------------------------------------------------
    async def _reindex(self) -> None:
        from storage.query import QueryError

        pins = {sid: f["pinned"] for sid, f in self._pending.fields.items() if "pinned" in f}
        try:
            ids = await view_ids(self.store, self.view, pins)
        except QueryError as e:
            # Half-typed queries are common (``status:``): keep the list as it was
            # and say what is wrong.
            self.filter_error = e.message
            return
        self.filter_error = None
        await self._queue_moved()
        # The ids last, with no await after: the caller fixes the selection in the same
        # step, so nothing sees a list whose selection is not in it.
        self._ids = ids
        self._pos = {sid: i for i, sid in enumerate(ids)}

    async def _queue_moved(self) -> set[int]:
        """Fetch the queue's places again; the sessions whose place changed."""
        places = await self.store.queue.positions()
        old, self.queue_places = self.queue_places, places
        return {sid for sid in set(old) | set(places) if old.get(sid) != places.get(sid)}

    async def reindex(self) -> None:
        """Fetch the ordered ids again and keep the selection on the same session, or
        on its neighbour if it left the list."""
        old_index = self._pos.get(self.selected, 0) if self.selected is not None else 0
        await self._reindex()
        if self.selected not in self._pos:
            self.selected = self._ids[min(old_index, len(self._ids) - 1)] if self._ids else None
        self.changed.publish(Change(index=True, selection=True))

    async def set_view(self, view: ListQuery) -> None:
        if view == self.view:
            return
        self.view = view
        self._ui_dirty()
        await self.reindex()
        self.changed.publish(Change(view=True))

    def select(self, session_id: int | None) -> None:
        if session_id == self.selected:
            return
        self.selected = session_id
        self._ui_dirty()
        self.changed.publish(Change(selection=True))

    def set_place(self, screen: str, session_id: int | None = None) -> None:
        place = Place(screen, session_id)
        if place != self.place:
            self.place = place
            self._ui_dirty()

    def _ui_dirty(self) -> None:
        if self._ui_dirty_since is None:
            self._ui_dirty_since = self.clock()

    # -- edits --------------------------------------------------------------------------
    def edit(self, session_id: int, **fields: Any) -> None:
        """Change name, notes, tags or pinned; saved by the autosave or ``flush``."""
        unknown = set(fields) - set(USER_EDITABLE)
        if unknown:
            raise ValueError(f"cannot edit {', '.join(sorted(unknown))}")
        if "tags" in fields:
            fields["tags"] = tuple(fields["tags"])
        base = self._rows.get(session_id)
        pending = self._pending.fields.setdefault(session_id, {})
        for key, value in fields.items():
            if base is not None and getattr(base, key) == value:
                pending.pop(key, None)  # edited back to what is saved
            else:
                pending[key] = value
        if not pending:
            del self._pending.fields[session_id]
        if self._pending.fields and self._pending.since is None:
            self._pending.since = self.clock()
        elif not self._pending.fields:
            self._pending.since = None
        self.changed.publish(Change(rows=frozenset({session_id}), saved=True))
        # A pin moves the row; the caller awaits ``reindex`` (the order honours pins
        # that are not saved yet).

    @property
    def dirty(self) -> bool:
        """Whether some edit is not in the database yet."""
        return bool(self._pending.fields)

    def pending(self, session_id: int) -> dict[str, Any]:
        return dict(self._pending.fields.get(session_id, {}))

    async def autosave_tick(self) -> bool:
        """Write what has waited ``autosave_interval`` seconds; True if something was."""
        now = self.clock()
        due = [
            since
            for since in (self._pending.since, self._ui_dirty_since)
            if since is not None and now - since >= self.autosave_interval
        ]
        if not due:
            return False
        await self.flush()
        return True

    async def flush(self) -> None:
        """Write every pending edit and the UI place now (quit, suspend, autosave)."""
        async with self._flush_lock:
            snapshot = {sid: dict(f) for sid, f in self._pending.fields.items()}
            written: list[int] = []
            for sid, fields in snapshot.items():
                try:
                    # One transaction: the fields and the tags are saved together.
                    s = await self.store.sessions.update(sid, **fields)
                    self._remember([s])
                except (SessionNotFound, ValueError):
                    # Purged elsewhere (nothing left to save to), or a value storage
                    # refuses (a tag it will never take): retrying would not help.
                    pass
                written.append(sid)
                current = self._pending.fields.get(sid, {})
                for key, value in fields.items():
                    if current.get(key) == value:
                        current.pop(key, None)
                if not current:
                    self._pending.fields.pop(sid, None)
            self._pending.since = self.clock() if self._pending.fields else None
            if self._ui_dirty_since is not None or written:
                self._ui_dirty_since = None
                await self.store.settings.set(UI_KEY, self.ui_json())
        self.changed.publish(Change(rows=frozenset(written), saved=True))

    def ui_json(self) -> dict[str, Any]:
        return {
            "view": self.view.to_json(),
            "selected": self.selected,
            "place": {"screen": self.place.screen, "session_id": self.place.session_id},
        }

    # -- marks and trash ------------------------------------------------------------------
    def toggle_mark(self, session_id: int) -> bool:
        """Mark or unmark a session for a batch action; True if it is now marked."""
        if session_id in self.marked:
            self.marked.discard(session_id)
        else:
            self.marked.add(session_id)
        self.changed.publish(Change(rows=frozenset({session_id})))
        return session_id in self.marked

    def clear_marks(self) -> None:
        gone, self.marked = frozenset(self.marked), set()
        if gone:
            self.changed.publish(Change(rows=gone))

    async def trash(self, session_id: int) -> bool:
        """Move a session to the trash now (undo with ``undo_trash``)."""
        return await self.trash_many([session_id]) == 1

    async def trash_many(self, session_ids: Iterable[int]) -> int:
        """Move sessions to the trash as one undoable step; how many moved."""
        ids = list(session_ids)
        moved = await self.store.sessions.trash(ids)
        if moved:
            self._trashed.append(ids)
            for sid in ids:
                self._rows.pop(sid, None)
                self.marked.discard(sid)
            await self.reindex()
        return moved

    @property
    def can_undo(self) -> bool:
        return bool(self._trashed)

    async def undo_trash(self) -> list[int]:
        """Restore the last batch this TUI moved to the trash; the ids that came back."""
        while self._trashed:
            batch = self._trashed.pop()
            if await self.store.sessions.restore(batch):
                for sid in batch:
                    await self.session(sid)
                await self.reindex()
                self.select(batch[0])
                return batch
        return []

    # -- changes from elsewhere ---------------------------------------------------------
    async def poll(self, *, force: bool = False) -> bool:
        """Pick up commits of other processes (and ours with ``force``). True if any."""
        if self._changes is None:
            self._changes = self.store.changes()
        if not await self._changes.changed() and not force:
            return False
        changed = await self.store.sessions.list(
            updated_since=self._watermark - OVERLAP, include_deleted=True, order="updated"
        )
        need_index = self.view.sort in ("updated", "size") and bool(changed)
        rows: set[int] = set()
        for s in changed:
            self._watermark = max(self._watermark, s.updated_at)
            old = self._rows.get(s.id)
            if old is not None or s.id in self._pos:
                rows.add(s.id)
                self._remember([s])
            need_index = need_index or self._moves(old, s)
            self._announce(s)
        if not need_index and not self.view.text.strip():
            count = await self.store.sessions.count(status=sorted(self.view.statuses) or None)
            need_index = count != len(self._ids)
        if need_index:
            await self.reindex()
            # Rows that just entered the list are already here: no second fetch.
            entered = [s for s in changed if s.id in self._pos and s.id not in self._rows]
            self._remember(entered)
            rows.update(s.id for s in entered)
        else:
            rows |= await self._queue_moved()  # moves in line change no session row
        if rows:
            self.changed.publish(Change(rows=frozenset(rows)))
        return bool(changed) or need_index

    def _moves(self, old: Session | None, new: Session) -> bool:
        """Whether a changed row may enter, leave or move within the list."""
        listed = new.id in self._pos
        if new.trashed or (self.view.statuses and new.status not in self.view.statuses):
            return listed
        if not listed:
            return True  # new, restored, or now matching the filter
        if old is None:
            return False
        keys = ["pinned"]
        if self.view.sort == "status" or self.view.statuses:
            keys.append("status")
        if self.view.sort == "name" or self.view.text.strip():
            keys += ["name", "argv", "tags", "cwd", "notes"]
        return any(getattr(old, k) != getattr(new, k) for k in keys)

    def _announce(self, s: Session) -> None:
        if not s.ended or s.ended_at is None or s.ended_at < self._opened_at:
            return
        key = (s.id, s.run_count, s.status)
        if key in self._announced:
            return
        self._announced.add(key)
        self.ended.publish(Ended(s))

    async def close(self) -> None:
        """Flush and stop background fetches."""
        await self.flush()
        if self._index_task is not None:
            self._index_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._index_task
        if self._fetch_task is not None:
            self._fetch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._fetch_task
