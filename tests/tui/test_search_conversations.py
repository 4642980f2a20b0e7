"""The search screen finds agent conversations: opening it reads what transcripts gained
(a claude session linked to its transcript on the way), a conversation's hit is shown as
``ai``, and ``enter`` on it opens the session's detail screen (it has no output line)."""

from __future__ import annotations

from storage import open_store
from tests.agents.transcript_samples import CLAUDE_ID, claude_transcript
from tests.support.tui_app import make_app, paths_for, press_to_open
from tui.screens.detail import DetailScreen
from tui.screens.search import SearchScreen

SIZE = (120, 36)


async def _agent_session(db, cwd, home) -> int:
    async with open_store(db) as store:
        s = await store.sessions.create(
            ["claude", "--session-id", CLAUDE_ID],
            cwd,
            name="shop agent",
            env={"CLAUDE_CONFIG_DIR": str(home)},
            agent_kind="claude",
            agent_session_id=CLAUDE_ID,
        )
        await store.sessions.set_status(s.id, "stopped")
        return s.id


async def test_a_conversation_hit_is_shown_and_opens_the_session(tmp_path) -> None:
    paths = paths_for(tmp_path)
    paths.ensure()
    home = tmp_path / "claude"
    claude_transcript(home, tmp_path)
    sid = await _agent_session(paths.db, tmp_path, home)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await pilot.press("ctrl+f")
        for ch in "alembic":
            await pilot.press(ch)
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        for _ in range(250):  # the transcript is read by a worker, then searched again
            if screen.results is not None and screen.results.hits:
                break
            await pilot.pause(0.02)
        hits = screen.results.hits
        assert [(h.session_id, h.stream, h.text) for h in hits] == [
            (sid, "agent", "Bash: alembic revision -m 'users email_verified'"),
            (
                sid,
                "agent",
                "I'll look at the current schema first, then write an Alembic revision.",
            ),
        ]
        shown = str(screen.options.get_option_at_index(1).prompt)
        assert " ai " in shown and "Bash: alembic revision" in shown
        await pilot.press("down")  # from the session header to the first hit
        await pilot.press("enter")
        await pilot.pause()
        await app.wait_idle()
        assert isinstance(app.screen, DetailScreen) and app.screen.session_id == sid


async def test_the_detail_screen_reads_the_model_and_tokens_from_the_transcript(tmp_path) -> None:
    paths = paths_for(tmp_path)
    paths.ensure()
    home = tmp_path / "claude"
    claude_transcript(home, tmp_path)
    sid = await _agent_session(paths.db, tmp_path, home)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        detail = await press_to_open(pilot, "enter", DetailScreen)  # the only session
        assert detail.session_id == sid
        for _ in range(250):  # a worker reads the transcript, then the screen shows it
            screen = app.screen
            if isinstance(screen, DetailScreen) and "claude-opus" in _context(screen):
                break
            await pilot.pause(0.02)
        shown = _context(app.screen)
        assert '"model": "claude-opus-4-1-20250805"' in shown and '"tokens": 208' in shown


def _context(screen) -> str:  # type: ignore[no-untyped-def]
    shown = screen.query_one("#context").render()
    return getattr(getattr(shown, "text", None), "plain", None) or str(shown)
