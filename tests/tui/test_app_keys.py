"""Every key of the list and detail screens: its effect on the state store and, for
edits and deletions, on the database (read back through a second connection)."""

from __future__ import annotations

import pytest
from textual import events
from textual.widgets import Input

from tests.support.tui_app import (
    NOW,
    Clock,
    make_app,
    paths_for,
    pin_environment,
    read_session,
    seed_every_status,
)
from tui.list_query import ListQuery
from tui.screens.detail import DetailScreen
from tui.screens.modals import ConfirmModal, NewSessionModal, StatusFilterModal, TagsModal
from tui.screens.sessions import SessionsScreen

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


@pytest.fixture
async def seeded(tmp_path):  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    paths.ensure()
    ids = await seed_every_status(paths.db)
    return paths, ids


async def _press(pilot, *keys: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*keys)
    await pilot.pause()
    await pilot.app.wait_idle()


# -- moving -------------------------------------------------------------------------------


async def test_cursor_keys_move_the_selection(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        order = app.state.ids
        # pinned first, then newest first; the trashed session is not listed
        assert order[0] == ids["running"]
        assert ids["trashed"] not in order
        assert app.state.selected == order[0]
        await _press(pilot, "down")
        assert app.state.selected == order[1]
        await _press(pilot, "j", "j")
        assert app.state.selected == order[3]
        await _press(pilot, "k")
        assert app.state.selected == order[2]
        await _press(pilot, "G")
        assert app.state.selected == order[-1]
        await _press(pilot, "g")
        assert app.state.selected == order[0]
        await _press(pilot, "pagedown")
        assert app.state.selected == order[-1]  # fewer rows than a page


async def test_keys_that_arrive_together_each_move_the_cursor(seeded) -> None:  # type: ignore[no-untyped-def]
    """Five downs in one burst (a held key, tmux send-keys) move five rows: each key is
    queued before the first is handled, as a terminal delivers them on a busy machine."""
    paths, _ = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        order = app.state.ids
        await pilot.press("down", "down", "down", "down", "down")
        assert app.state.selected == order[5]
        for _ in range(4):
            app.post_message(events.Key("up", None))
        await pilot.pause()
        await app.wait_idle()
        assert app.state.selected == order[1]
        for key in ("j", "j", "j", "k", "j", "j"):
            app.post_message(events.Key(key, key))
        await pilot.pause()
        await app.wait_idle()
        assert app.state.selected == order[5]
        assert app.screen.query_one("#preview").border_title.startswith(f"#{order[5]} ")


async def test_a_late_highlight_message_does_not_move_the_cursor_back(seeded) -> None:  # type: ignore[no-untyped-def]
    """The table selects at once and then tells the screen; on a busy machine that
    message is handled after the next key has moved on, and selecting its session again
    put the cursor back (a held key lost rows: the tmux test stuck at 5/12)."""
    from tui.widgets.session_table import SessionTable

    paths, _ = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        order = app.state.ids
        await pilot.press("down", "down")
        assert app.state.selected == order[2]
        table = app.screen.query_one(SessionTable)
        table.post_message(SessionTable.Highlighted(table, order[1]))  # the first, late
        await pilot.pause()
        await app.wait_idle()
        assert app.state.selected == order[2]


async def test_enter_opens_detail_and_escape_goes_back(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        app.state.select(ids["tests"])
        await _press(pilot, "enter")
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.session_id == ids["tests"]
        assert app.state.place.screen == "detail"
        await _press(pilot, "escape")
        assert isinstance(app.screen, SessionsScreen)
        assert app.state.place.screen == "list"


# -- edits: pending until the autosave ----------------------------------------------------


async def test_pin_moves_the_row_at_once_and_is_saved_by_the_autosave(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    clock = Clock()
    app = make_app(paths, clock=clock, autosave=2.0)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        app.state.select(ids["build"])
        await _press(pilot, "P")
        assert app.state.row(ids["build"]).pinned
        assert app.state.ids[:2] == [ids["running"], ids["build"]]  # pinned first
        assert app.state.dirty
        await app.state.autosave_tick()
        assert not (await read_session(paths.db, ids["build"])).pinned  # not yet
        clock.advance(2.0)
        assert await app.state.autosave_tick()
        assert (await read_session(paths.db, ids["build"])).pinned
        assert not app.state.dirty
        await _press(pilot, "P")  # unpin
        assert app.state.ids[1] != ids["build"]


async def test_tags_key_edits_tags(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        app.state.select(ids["build"])
        await _press(pilot, "t")
        assert isinstance(app.screen, TagsModal)
        await _press(pilot, "ctrl+u", *"release nightly", "enter")
        assert app.state.row(ids["build"]).tags == ("release", "nightly")
        assert app.state.pending(ids["build"]) == {"tags": ("release", "nightly")}
        await app.state.flush()
        assert (await read_session(paths.db, ids["build"])).tags == ("nightly", "release")


async def test_tags_modal_escape_changes_nothing(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        app.state.select(ids["tests"])
        await _press(pilot, "t", *" extra", "escape")
        assert app.state.row(ids["tests"]).tags == ("ci", "test")
        assert not app.state.dirty


async def test_detail_edits_name_notes_and_tags(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    clock = Clock()
    app = make_app(paths, clock=clock, autosave=2.0)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        app.state.select(ids["tests"])
        await _press(pilot, "enter", "N", "ctrl+u", *"api tests", "enter")
        await _press(pilot, "E", *"flaky on CI", "escape")
        await _press(pilot, "t", " ", *"flaky", "enter")
        assert app.state.pending(ids["tests"]) == {
            "name": "api tests",
            "notes": "flaky on CI",
            "tags": ("ci", "test", "flaky"),
        }
        assert str(app.screen.query_one("SaveIndicator").render()) == "● unsaved"
        clock.advance(1.9)
        await app.state.autosave_tick()
        before = await read_session(paths.db, ids["tests"])
        assert (before.name, before.notes) == ("unit tests", "")
        clock.advance(0.2)
        await app.state.autosave_tick()
        await pilot.pause()
        after = await read_session(paths.db, ids["tests"])
        assert (after.name, after.notes, after.tags) == (
            "api tests",
            "flaky on CI",
            ("ci", "flaky", "test"),
        )
        assert str(app.screen.query_one("SaveIndicator").render()) == "✓ saved"


async def test_detail_keys_pin_and_delete(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        app.state.select(ids["build"])
        await _press(pilot, "enter", "P")
        assert app.state.row(ids["build"]).pinned
        assert "★ pinned" in str(app.screen.query_one("#topbar").render())
        await _press(pilot, "d", "y")
        assert isinstance(app.screen, SessionsScreen)  # back to the list
        assert ids["build"] not in app.state.ids
        assert (await read_session(paths.db, ids["build"])).deleted_at is not None


async def test_quit_flushes_pending_edits(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths, autosave=3600)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        app.state.select(ids["build"])
        await _press(pilot, "enter", "N", "ctrl+u", *"release build", "enter")
        assert (await read_session(paths.db, ids["build"])).name == "build"
        await pilot.press("q")
        await pilot.pause()
    assert (await read_session(paths.db, ids["build"])).name == "release build"


async def test_ctrl_z_saves_before_suspending(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths, autosave=3600)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        app.state.select(ids["build"])
        await _press(pilot, "P")
        assert not (await read_session(paths.db, ids["build"])).pinned
        await _press(pilot, "ctrl+z")  # headless: the suspend itself does nothing
        assert (await read_session(paths.db, ids["build"])).pinned
        assert not app.state.dirty


async def test_an_edit_to_a_session_purged_elsewhere_is_dropped(seeded) -> None:  # type: ignore[no-untyped-def]
    from storage import open_store

    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        app.state.select(ids["build"])
        await _press(pilot, "P")
        async with open_store(paths.db) as other:
            await other.sessions.purge([ids["build"]])
        await app.state.flush()  # no error: there is nothing left to save the pin to
        assert not app.state.dirty
        await app.state.poll()
        assert ids["build"] not in app.state.ids


# -- trash ----------------------------------------------------------------------------------


async def test_delete_asks_then_trashes_and_undo_restores(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        app.state.select(ids["tests"])
        position = app.state.position(ids["tests"])
        await _press(pilot, "d")
        assert isinstance(app.screen, ConfirmModal)
        await _press(pilot, "n")  # no: nothing happens
        assert (await read_session(paths.db, ids["tests"])).deleted_at is None
        await _press(pilot, "d", "y")
        assert (await read_session(paths.db, ids["tests"])).deleted_at is not None
        assert ids["tests"] not in app.state.ids
        assert app.state.selected == app.state.ids[position]  # the neighbour
        await _press(pilot, "u")
        assert (await read_session(paths.db, ids["tests"])).deleted_at is None
        assert app.state.selected == ids["tests"]
        assert not app.state.can_undo


# -- what the list shows --------------------------------------------------------------------


async def test_slash_filters_as_you_type_and_escape_clears(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await _press(pilot, "slash", *"trai")  # a prefix of "training"
        await pilot.pause(0.3)  # the filter waits for a pause in typing
        await app.wait_idle()
        assert app.state.ids == [ids["paused"]]
        await _press(pilot, "enter")
        assert app.state.view.text == "trai"
        await _press(pilot, "slash", "ctrl+u", *"ci", "enter")
        assert set(app.state.ids) == {ids["build"], ids["tests"]}
        await _press(pilot, "escape")
        assert app.state.view == ListQuery()
        assert len(app.state.ids) == 9


async def test_filter_speaks_the_query_language(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await _press(pilot, "slash")
        # Pasted in one go: typed, the filter applies once typing pauses for 0.15 s,
        # and on a loaded machine it would apply "statu" (no match) first.
        app.screen.query_one("#filter", Input).insert_text_at_cursor("status:")
        await _press(pilot, "enter")
        assert len(app.state.ids) == 9  # a half-typed query keeps the list
        assert "needs a value" in app.state.filter_error
        bar = str(app.screen.query_one("#status-message").render())
        assert "needs a value" in bar
        await _press(pilot, "slash", *"failed tag:ci", "enter")
        assert app.state.filter_error is None
        assert app.state.ids == [ids["tests"]]


async def test_status_filter_key(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await _press(pilot, "f")
        assert isinstance(app.screen, StatusFilterModal)
        # pending, running, paused, succeeded, failed, stopped, lost: pick failed and lost
        await _press(pilot, "down", "down", "down", "down", "space", "down", "down", "space")
        await _press(pilot, "enter")
        assert app.state.view.statuses == {"failed", "lost"}
        assert set(app.state.ids) == {ids["tests"], ids["lost"]}
        await _press(pilot, "f", "a")
        assert app.state.view.statuses == frozenset()


async def test_sort_key_cycles_orders(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await _press(pilot, "S")
        assert app.state.view.sort == "updated"
        await _press(pilot, "S")
        assert app.state.view.sort == "name"
        names = [app.state.row(i).label.lower() for i in app.state.ids[1:]]
        assert names == sorted(names)  # after the pinned one
        for _ in range(4):
            await _press(pilot, "S")
        assert app.state.view.sort == "newest"


async def test_escape_on_the_list_without_a_filter_does_nothing(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await _press(pilot, "escape")
        assert isinstance(app.screen, SessionsScreen)


# -- where the keys lead -----------------------------------------------------------------------


async def test_n_opens_the_new_session_modal_and_escape_cancels(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await _press(pilot, "n")
        assert isinstance(app.screen, NewSessionModal)
        await _press(pilot, *"echo hi", "escape")
        assert isinstance(app.screen, SessionsScreen)
        assert len(app.state.ids) == 9


async def test_new_session_modal_refuses_a_missing_directory(seeded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths, _ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await _press(pilot, "n", *"echo hi", "tab")
        app.screen.query_one("#cwd").value = str(tmp_path / "nope")
        await _press(pilot, "enter")
        assert isinstance(app.screen, NewSessionModal)
        error = str(app.screen.query_one("#new-session-error").render())
        assert "is not a directory" in error
        await _press(pilot, "shift+tab", "ctrl+u", "enter")
        assert "Type the command" in str(app.screen.query_one("#new-session-error").render())


async def test_keys_that_open_other_screens(seeded) -> None:  # type: ignore[no-untyped-def]
    from tui.screens.help import HelpModal
    from tui.screens.output import OutputScreen
    from tui.screens.search import SearchScreen

    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await app.wait_idle()
        app.state.select(ids["tests"])
        await _press(pilot, "o")
        assert isinstance(app.screen, OutputScreen)
        assert app.state.place.screen == "output"
        await _press(pilot, "escape", "ctrl+f")
        assert isinstance(app.screen, SearchScreen)
        await _press(pilot, "escape", "question_mark")
        assert isinstance(app.screen, HelpModal)
        assert {"open", "resume", "filter", "quit"} <= {k.id for k in app.screen.keys}
        assert "stop" not in {k.id for k in app.screen.keys}  # a failed session cannot stop
        await _press(pilot, "escape", "c")
        try:
            from tui.screens.cleanup import CleanupScreen
        except ImportError:  # not built yet: the key says so instead of failing
            assert any("not available" in str(t.render()) for t in app.screen.query("Toast"))
        else:
            assert isinstance(app.screen, CleanupScreen)
            await _press(pilot, "escape")
        await _press(pilot, "e")
        try:
            from tui.screens.export import ExportModal
        except ImportError:
            assert isinstance(app.screen, SessionsScreen)
            assert any("not available" in str(t.render()) for t in app.screen.query("Toast"))
        else:
            assert isinstance(app.screen, ExportModal)


async def test_page_up_and_down_move_by_a_page(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from storage import open_store

    paths = paths_for(tmp_path)
    paths.ensure()
    async with open_store(paths.db) as store:
        for i in range(60):
            await store.sessions.create(["echo", str(i)], "/w", created_at=NOW + i)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        table = app.screen.query_one("SessionTable")
        page = table.page_height
        await _press(pilot, "pagedown")
        assert app.state.position(app.state.selected) == page
        await _press(pilot, "pagedown", "pageup")
        assert app.state.position(app.state.selected) == page
        assert int(table.scroll_y) > 0  # the cursor row stays on screen


async def test_keys_that_make_no_sense_are_hidden(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        screen = app.screen
        app.state.select(ids["build"])  # ended: resume yes, stop and pause no
        await pilot.pause()
        assert screen.check_action("resume", ()) is True
        assert screen.check_action("stop", ()) is False
        assert screen.check_action("pause", ()) is False
        app.state.select(ids["running"])
        await pilot.pause()
        assert screen.check_action("resume", ()) is False
        assert screen.check_action("stop", ()) is True
        assert screen.check_action("undo_delete", ()) is False


async def test_fixed_clock_drives_relative_times(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    clock = Clock(NOW)
    app = make_app(paths, clock=clock)
    async with app.run_test(size=SIZE):
        await app.wait_idle()
        running = app.state.row(ids["running"])
        assert running.duration(app.state.clock()) == 1800
