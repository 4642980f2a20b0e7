"""The session list's filter box takes context filters (``ctx.model:opus``,
``ctx.tokens.in>40000``, ``has:ctx.thread``): typed as a user would, checked on the list
the app shows, and a mistake shown with its message while the list stays as it was."""

from __future__ import annotations

import pytest

from tests.support.tui_app import make_app, paths_for, pin_environment, seed_every_status
from tui.screens.help import HelpModal

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


@pytest.fixture
async def seeded(tmp_path):  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    paths.ensure()
    # The lost agent's context: {"model": "opus", "thread": "th_42", "tokens": {"in": 48210, ...}}
    return paths, await seed_every_status(paths.db)


async def _type(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("slash", "ctrl+u", *text, "enter")
    await pilot.pause()
    await pilot.app.wait_idle()


async def _paste_over(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    """Select the filter's text and paste ``text`` over it: one change, so no text in
    between is applied (typed key by key on a loaded machine, a pause longer than the
    filter's 0.15 s wait applies what is typed so far, and that is then the list "as it
    was")."""
    from textual import events

    await pilot.press("slash", "ctrl+shift+a")
    pilot.app.focused.post_message(events.Paste(text))
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    await pilot.app.wait_idle()


async def test_typing_context_filters_narrows_the_list(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        everything = list(app.state.ids)
        await _type(pilot, "ctx.model:OPUS")
        assert app.state.filter_error is None
        assert app.state.ids == [ids["lost"]]
        await _type(pilot, "ctx.tokens.in>40000 has:ctx.thread")
        assert app.state.ids == [ids["lost"]]
        await _type(pilot, "ctx.tokens.in>50000")
        assert app.state.ids == []
        await _type(pilot, "-has:ctx.model")
        assert app.state.ids == [i for i in everything if i != ids["lost"]]


async def test_a_bad_context_filter_is_shown_and_keeps_the_list(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await _type(pilot, "ctx.model:opus")
        await _paste_over(pilot, "ctx.tokens.in>lots")
        assert app.screen.query_one("#filter").value == "ctx.tokens.in>lots"
        assert app.state.ids == [ids["lost"]]  # the list as it was
        assert "'lots' is not a number" in app.state.filter_error
        bar = str(app.screen.query_one("#status-message").render())
        assert "not a number" in bar


async def test_help_lists_the_context_filters(seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpModal)
        tooltips = " ".join(k.tooltip for k in app.screen.keys)
        assert "ctx.model:opus" in tooltips and "has:ctx.thread" in tooltips
