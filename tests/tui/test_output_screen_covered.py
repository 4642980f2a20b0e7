"""The list under the output screen repaints nothing there (tui/screens/base.py)."""

from __future__ import annotations

from pathlib import Path

from tests.support.output_screen import calls_to, open_output, output_app, seed_lines
from tui.screens.base import TetherScreen
from tui.screens.output import OutputScreen

SIZE = (120, 36)


async def test_a_repaint_of_the_covered_list_does_not_repaint_the_output_screen(
    tmp_path: Path,
) -> None:
    """Textual draws the screen under the top one as if it showed through, and its
    repaint repainted the output screen whole (and asked for itself again): each
    message the list handled under a ticking session cost a whole-screen frame."""
    db = tmp_path / "t.db"
    sid = await seed_lines(db, 100)
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_output(pilot, sid)
        top, below = app.screen, app.screen_stack[-2]
        assert isinstance(top, OutputScreen) and isinstance(below, TetherScreen)
        assert below.covered and not top.covered
        asked = calls_to(top, "refresh")
        widgets = list(below.query("*"))
        for _ in range(3):
            below.refresh()  # as after any message the list handles
            for footer in below.query("KeyFooter"):  # a layout of it: a footer changed
                footer.display = not footer.display
            for widget in widgets:
                widget.refresh()  # and a widget of its own: a footer key, a row
            for _ in range(5):
                await pilot.pause(0.02)
        assert asked == []
        for footer in below.query("KeyFooter"):
            footer.display = True
        # Shown again, the list is drawn whole.
        del top.refresh
        app.pop_screen()
        await pilot.pause()
        assert app.screen is below and not below.covered
        for _ in range(50):
            await pilot.pause(0.02)
            if "yes" in app.export_screenshot():  # the session's command, in the list
                break
        assert "yes" in app.export_screenshot()
