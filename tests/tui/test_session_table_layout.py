"""The list at every width: a session must be recognisable even in 80 columns."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from storage import open_store
from tests.support.tui_app import make_app, paths_for, pin_environment
from tui.widgets.key_footer import KeyFooter
from tui.widgets.session_table import SessionTable, layout


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


@pytest.mark.parametrize("width", [60, 80, 100, 120, 200])
def test_columns_fill_the_width_and_always_say_what_runs(width: int) -> None:
    cols = layout(width)
    keys = [c.key for c in cols]
    assert sum(c.width for c in cols) == width - 1
    # Either a command column, or a label column that falls back to the command.
    assert "command" in keys or "label" in keys
    assert not ("label" in keys and "name" in keys)


async def test_an_unnamed_session_shows_its_command_in_a_narrow_terminal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    paths.ensure()
    async with open_store(paths.db) as store:
        await store.sessions.create(["make", "-j8", "build"], cwd="/src")
        await store.sessions.create(["pytest"], cwd="/src", name="unit tests")
    app = make_app(paths)
    async with app.run_test(size=(80, 24)):
        await app.wait_idle()
        table = app.screen.query_one(SessionTable)
        rows = ["".join(seg.text for seg in table.render_line(y)) for y in (1, 2)]
        assert "unit tests" in rows[0]
        assert "make -j8 build" in rows[1]


# -- columns share the width by what they hold -------------------------------------------

LONG = [
    "python", "-m", "pipeline.run", "--input", "/data/warehouse/2026/05/events-*.parquet",
    "--output", "/data/out/daily", "--workers", "16", "--verbose", "--retry", "3",
]  # fmt: skip


@given(
    width=st.integers(min_value=60, max_value=400),
    wants=st.fixed_dictionaries(
        {k: st.integers(min_value=0, max_value=300) for k in ("name", "command", "cwd", "tags")}
    ),
)
def test_content_layout_fills_the_width_and_keeps_titles(width: int, wants: dict) -> None:  # type: ignore[type-arg]
    wants["label"] = max(wants["name"], wants["command"])
    cols = layout(width, 4, wants)
    assert sum(c.width for c in cols) == width - 1
    for c in cols:
        assert c.width - 1 >= len(c.title)  # a title is never cut


def test_a_short_name_leaves_its_room_to_a_long_command() -> None:
    wants = {"name": 10, "command": 130, "label": 130, "cwd": 12, "tags": 7}
    cols = {c.key: c.width for c in layout(250, 4, wants)}
    assert cols["name"] == 11  # its longest name and a space, not a quarter of the row
    assert cols["command"] >= 131  # the whole command
    assert cols["cwd"] == 13
    # Too narrow for everything: the short columns keep their text, the long one shrinks.
    cols = {c.key: c.width for c in layout(160, 4, wants)}
    assert (cols["name"], cols["cwd"], cols["tags"]) == (11, 13, 8)
    assert sum(cols.values()) == 159


async def test_a_long_command_is_shown_whole_in_a_wide_terminal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    paths.ensure()
    async with open_store(paths.db) as store:
        await store.sessions.create(LONG, cwd="/src", name="etl")
        await store.sessions.create(["make"], cwd="/src", name="build", tags=("ci",))
    app = make_app(paths)
    async with app.run_test(size=(250, 30)):
        await app.wait_idle()
        table = app.screen.query_one(SessionTable)
        header = table.render_line(0).text
        rows = [table.render_line(y).text for y in (1, 2)]
        assert shlex.join(LONG) in rows[1]
        # NAME is as wide as its longest name, plus the space between columns.
        assert header.index("COMMAND") - header.index("NAME") == len("build") + 1


@pytest.mark.parametrize("width", [80, 100, 120])
async def test_the_footer_drops_whole_key_hints(tmp_path, width: int) -> None:  # type: ignore[no-untyped-def]
    """At 80 columns the footer shows the hints that fit in full (help among them),
    none cut mid-word; wider terminals show more."""
    paths = paths_for(tmp_path)
    paths.ensure()
    async with open_store(paths.db) as store:
        await store.sessions.create(["make"], cwd="/src", name="build")
    app = make_app(paths)
    async with app.run_test(size=(width, 24)) as pilot:
        await app.wait_idle()

        def fitted() -> bool:  # the footer has laid out its hints for this width
            footer = app.screen.query_one(KeyFooter)
            palette = footer.query(".-command-palette")
            shown = [k for k in footer.children if k.display and k not in palette]
            return (
                bool(palette)
                and any(getattr(k, "action", None) == "help" for k in shown)
                and all(
                    k.region.width and k.region.right <= palette.first().region.x for k in shown
                )
            )

        for _ in range(500):  # wait for the state, not for a time: it recomposes on load
            await pilot.pause(0.02)
            if fitted():
                break
        footer = app.screen.query_one(KeyFooter)
        keys = [k for k in footer.children if not k.has_class("-command-palette")]
        palette = footer.query_one(".-command-palette")
        shown = [k for k in keys if k.display]
        if width == 80:
            assert 0 < len(shown) < len(keys)  # some dropped, whole
        assert any(k.action == "help" for k in shown)
        for key in shown:  # each shown hint is whole and ends before the palette key
            assert key.region.width == cell_len(key.render().plain)
            assert key.region.right <= palette.region.x
