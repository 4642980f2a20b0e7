"""The list's first page at start: ``AppState.load`` reads the top of the list (sessions
that need you, pinned sessions, then the newest ``FIRST_PAGE``) with its rows, and the
whole index follows in the background, so the list shows at once whatever the number of
sessions."""

from __future__ import annotations

import pytest
from textual.app import App

import tui.state
from storage import open_store
from tui.list_query import ListQuery, view_ids
from tui.state import UI_KEY, AppState

NOW = 1_760_000_000.0
PAGE = 5


@pytest.fixture
async def sessions(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """12 sessions, #2 and #4 pinned, and a page of 5."""
    monkeypatch.setattr(tui.state, "FIRST_PAGE", PAGE)
    async with open_store(tmp_path / "t.db") as store:
        for i in range(12):
            s = await store.sessions.create(["make", f"t{i}"], cwd="/", created_at=NOW + i)
            if s.id in (2, 4):
                await store.sessions.update(s.id, pinned=True)
        yield store


async def test_the_top_of_the_list_first_then_all_of_it(sessions) -> None:
    store = sessions
    state = AppState(store, App())
    await state.load()
    # Pinned first (newest first among them), then the newest unpinned: rows at hand.
    assert state.ids == [4, 2, 12, 11, 10, 9, 8]
    assert all(state.row(i) is not None for i in state.ids)
    assert state.selected == 4
    await state.settle()
    assert state.ids == await view_ids(store, ListQuery())
    assert len(state.ids) == 12
    assert state.selected == 4
    await state.close()


async def test_a_saved_selection_below_the_page_waits_for_the_whole_list(sessions) -> None:
    store = sessions
    await store.settings.set(UI_KEY, {"selected": 1})
    state = AppState(store, App())
    await state.load()
    assert len(state.ids) == 12 and state.selected == 1
    await state.close()


async def test_a_text_filter_reads_the_whole_list(sessions) -> None:
    store = sessions
    await store.settings.set(UI_KEY, {"view": {"text": "t1", "statuses": [], "sort": "newest"}})
    state = AppState(store, App())
    await state.load()
    assert set(state.ids) == {2, 11, 12}  # t1, t10, t11 (ids one above: #1 is t0)
    await state.close()


async def test_a_short_list_is_whole_at_once(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tui.state, "FIRST_PAGE", 50)
    async with open_store(tmp_path / "t.db") as store:
        for i in range(3):
            await store.sessions.create(["make"], cwd="/", created_at=NOW + i)
        state = AppState(store, App())
        await state.load()
        assert state.ids == [3, 2, 1]
        assert state._index_task is None  # nothing more to read
        await state.close()


async def test_sessions_that_need_you_top_the_first_page_too(sessions) -> None:
    """Those that need you come first in the whole list (oldest need first), so they do
    in the first page, even from below it: no row moves when the whole index comes."""
    store = sessions
    for sid, since in ((3, NOW + 50), (1, NOW + 40), (11, NOW + 60)):
        await store.runs.start(sid, at=NOW + sid)
        assert await store.sessions.set_attention(sid, "needs_you", since)
    state = AppState(store, App())
    await state.load()
    first = list(state.ids)
    assert first == [1, 3, 11, 4, 2, 12, 10, 9, 8]
    assert all(state.row(i) is not None for i in state.ids)
    await state.settle()
    assert state.ids[: len(first)] == first
    assert state.ids == await view_ids(store, ListQuery())
    await state.close()
