"""The output screen driving a real session: input, pause, stop and resume go through
the app's actions to a real supervisor, and their effects show up in the view."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from runner import control
from storage import open_store
from tests.support.output_screen import open_output, output_app, paths_of, settle
from tui.widgets.output_view import OutputView

SIZE = (120, 36)
ECHO = "import sys\nfor line in sys.stdin:\n    print('got', line.strip(), flush=True)\n"


def shown(view: OutputView) -> str:
    return "\n".join(view.row_text(y) for y in range(view.scrollable_content_region.height))


async def test_input_pause_stop_and_resume_from_the_output_screen(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    paths = paths_of(db)
    paths.ensure()
    async with open_store(db) as store:
        session = await control.start_session(
            store, paths, argv=[sys.executable, "-u", "-c", ECHO], cwd=tmp_path, name="echo"
        )
    sid = session.id
    app = output_app(db)
    try:
        async with app.run_test(size=SIZE) as pilot:
            view = await open_output(pilot, sid)
            assert view.status == "running"

            await pilot.press("i", *"hello there", "enter")
            view = await settle(pilot, lambda v: "got hello there" in shown(v))
            assert "› hello there" in shown(view)  # the input line itself, marked
            await pilot.press("escape")  # the input line stays open for more, until escape
            assert view.has_focus

            await pilot.press("p")
            view = await settle(pilot, lambda v: v.status == "paused")
            await pilot.press("p")
            view = await settle(pilot, lambda v: v.status == "running")

            await pilot.press("s")
            await pilot.pause()
            await pilot.press("y")  # the app's confirmation
            view = await settle(pilot, lambda v: v.status == "stopped")
            header = str(app.screen.query_one("#output-header").render())
            assert "stopped" in header

            await pilot.press("r")
            view = await settle(pilot, lambda v: v.status == "running" and "── run 2" in shown(v))
            await pilot.press("i", *"again", "enter")
            view = await settle(pilot, lambda v: "got again" in shown(v))
            assert view.follow
    finally:
        async with open_store(db) as store:
            with contextlib.suppress(Exception):
                await control.stop(store, paths, sid, grace=1)
