"""Restore on start, key remapping, the palette, the lazy list, and the parts of the
state store that need no screen (list view, formatting, keymap validation)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from storage import open_store
from tests.support.tui_app import (
    HOME,
    NOW,
    make_app,
    paths_for,
    pin_environment,
    read_setting,
    seed_every_status,
)
from tui import format as fmt
from tui.keys import KEYS, KeyConfigError, keymap
from tui.list_query import ListQuery, matching_ids, pinned_first, view_ids
from tui.screens.detail import DetailScreen
from tui.screens.help import HelpModal
from tui.screens.modals import NewSessionModal, complete_directory, parse_tags
from tui.screens.sessions import SessionsScreen
from tui.state import UI_KEY

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


async def test_restores_screen_selection_filter_and_sort(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await pilot.press("S", "S")  # sort by name
        await pilot.press("f", "down", "down", "down", "space", "down", "space", "enter")
        await app.wait_idle()
        assert app.state.view.statuses == {"succeeded", "failed"}
        app.state.select(ids["tests"])
        await pilot.press("enter")
        await app.wait_idle()
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("q")
    saved = await read_setting(paths.db, UI_KEY)
    assert saved["place"] == {"screen": "detail", "session_id": ids["tests"]}

    again = make_app(paths)
    async with again.run_test(size=SIZE) as pilot:
        await again.wait_idle()
        assert again.state.view == ListQuery(
            statuses=frozenset({"succeeded", "failed"}), sort="name"
        )
        assert again.state.selected == ids["tests"]
        assert isinstance(again.screen, DetailScreen)
        assert again.screen.session_id == ids["tests"]
        await pilot.press("escape")
        await again.wait_idle()
        assert isinstance(again.screen, SessionsScreen)
        assert set(again.state.ids) == {ids["build"], ids["tests"], ids["pty"], ids["imported"]}


async def test_restore_survives_a_session_that_is_gone(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    async with open_store(paths.db) as store:
        await store.settings.set(
            UI_KEY,
            {
                "view": {"sort": "bogus"},
                "selected": 999,
                "place": {"screen": "detail", "session_id": 999},
            },
        )
    app = make_app(paths)
    async with app.run_test(size=SIZE):
        await app.wait_idle()
        assert isinstance(app.screen, SessionsScreen)
        assert app.state.view == ListQuery()
        assert app.state.selected == app.state.ids[0]


async def test_keys_remapped_from_config(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ids = seeded
    app = make_app(paths, keys={"new_session": "a", "help": "F1"})
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await pilot.press("n")
        await app.wait_idle()
        assert isinstance(app.screen, SessionsScreen)  # n does nothing now
        await pilot.press("a")
        await app.wait_idle()
        assert isinstance(app.screen, NewSessionModal)
        await pilot.press("escape", "f1")
        await app.wait_idle()
        assert isinstance(app.screen, HelpModal)
        rows = {k.id: k.keys for k in app.screen.keys}
        assert rows["new_session"] == "a"  # the help shows the new key


async def test_unknown_key_id_in_config_is_reported(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ids = seeded
    app = make_app(paths, keys={"new_sesion": "a"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await app.wait_idle()
        await pilot.pause()
        toasts = [str(t.render()) for t in app.screen.query("Toast")]
        assert any("new_sesion" in t for t in toasts)


async def _palette_offers(pilot, text: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """Wait until the command palette's highlighted command names ``text`` (its search
    runs in the background; a fixed pause raced it on a loaded machine)."""
    from textual.command import CommandList, CommandPalette

    deadline = time.monotonic() + timeout
    while True:
        screen = pilot.app.screen
        if isinstance(screen, CommandPalette):
            commands = screen.query_one(CommandList)
            i = commands.highlighted
            if i is not None and text in str(commands.get_option_at_index(i).prompt):
                return
        assert time.monotonic() < deadline, f"the palette never offered {text!r}"
        await pilot.pause(0.02)


async def test_palette_jumps_to_a_session_by_id_or_name(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await pilot.press("ctrl+p", *"#4")
        await _palette_offers(pilot, "#4")
        await pilot.press("enter")
        await app.wait_idle()
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.session_id == ids["lost"]
        await pilot.press("escape", "ctrl+p", *"training")
        await _palette_offers(pilot, "training")
        await pilot.press("enter")
        await app.wait_idle()
        assert app.screen.session_id == ids["paused"]


async def test_a_long_list_fetches_only_rows_near_the_screen(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    paths.ensure()
    n = 1500
    async with open_store(paths.db) as store:
        for i in range(n):
            await store.sessions.create(["echo", str(i)], "/w", name=f"job {i}", created_at=NOW + i)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        assert len(app.state.ids) == n
        cached = len(app.state._rows)
        assert cached < 200, cached
        await pilot.press("G")
        await app.wait_idle()
        assert app.state.selected == app.state.ids[-1]
        # The table asks for the rows it lacks as it draws them: wait for that drawing
        # (a fixed pause is not enough on a loaded machine), not for a time.
        for _ in range(3000):
            if app.state.row(app.state.ids[-1]) is not None:
                break
            await pilot.pause(0.01)
            await app.wait_idle()
        assert app.state.row(app.state.ids[-1]).name == "job 0"
        assert len(app.state._rows) < 400


def test_the_cli_does_not_import_textual() -> None:
    code = textwrap.dedent(
        """
        import sys
        from cli import build_parser
        build_parser().parse_args(["demo", "--no-tui"])
        import tui.keys, tui.format, tui.list_query, cli.demo
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich")))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- pieces without a screen -----------------------------------------------------------------


async def test_view_ids_filters_sorts_and_pins(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    async with open_store(paths.db) as store:
        assert (await view_ids(store, ListQuery()))[0] == ids["running"]
        assert await view_ids(store, ListQuery(text="agent ref")) == [ids["lost"]]
        assert await view_ids(store, ListQuery(text="#3")) == [ids["stopped"]]
        assert await view_ids(store, ListQuery(text="zzz")) == []
        only_failed = ListQuery(statuses=frozenset({"failed"}))
        assert await view_ids(store, only_failed) == [ids["tests"]]
        pinned_build = await view_ids(
            store, ListQuery(), {ids["build"]: True, ids["running"]: False}
        )
        assert pinned_build[0] == ids["build"]
        assert await matching_ids(store, "   ") is None


def test_pinned_first_is_stable() -> None:
    assert pinned_first([5, 4, 3, 2, 1], {2, 4}) == [4, 2, 5, 3, 1]


def test_list_query_json_round_trip_and_junk() -> None:
    view = ListQuery(text="ci", statuses=frozenset({"failed"}), sort="name")
    assert ListQuery.from_json(view.to_json()) == view
    assert ListQuery.from_json({"statuses": ["nope", "lost"], "sort": 3}) == ListQuery(
        statuses=frozenset({"lost"})
    )
    assert ListQuery.from_json("junk") == ListQuery()


def test_format_helpers() -> None:
    assert fmt.relative(NOW - 30, NOW) == "30s ago"
    assert fmt.relative(NOW - 7200, NOW) == "2h ago"
    assert fmt.relative(None, NOW) == "—"
    assert fmt.duration(0.42) == "0.4s"
    assert fmt.duration(185) == "3m05s"
    assert fmt.duration(7620) == "2h07m"
    assert fmt.home(f"{HOME}/src", HOME) == "~/src"
    assert fmt.home(f"{HOME}x/src", HOME) == f"{HOME}x/src"
    assert fmt.size(812) == "812 B"
    assert fmt.size(4300) == "4.2 KiB"
    assert fmt.count(12_345) == "12.3k"
    assert fmt.status_text("failed", 2, None) == "failed (exit 2)"
    assert fmt.status_text("failed", None, 9) == "failed (signal 9)"


def test_keymap_validation() -> None:
    assert keymap({"new_session": "a", "pin": "shift+x", "filter": "/"}) == {
        "new_session": "a",
        "pin": "X",
        "filter": "slash",
    }
    with pytest.raises(KeyConfigError, match="new_sesion"):
        keymap({"new_sesion": "a"})
    with pytest.raises(KeyConfigError, match="empty"):
        keymap({"stop": " "})
    assert all(k.id == key for key, k in KEYS.items())


def test_parse_tags_and_complete_directory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert parse_tags(" ml, nightly  ml gpu ") == ("ml", "nightly", "gpu")
    (tmp_path / "project").mkdir()
    (tmp_path / "photos").mkdir()
    (tmp_path / "private.txt").write_text("")
    assert complete_directory(str(tmp_path / "pr")) == str(tmp_path / "project") + "/"
    assert complete_directory(str(tmp_path / "ph")) == str(tmp_path / "photos") + "/"
    assert complete_directory(str(tmp_path / "zz")) is None
