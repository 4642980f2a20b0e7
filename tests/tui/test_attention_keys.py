"""y / n in the list's footer only on a session that needs you (then n answers no
instead of starting a session), with real supervisors: one waiting at a [y/N]
prompt, one busy."""

from __future__ import annotations

import sys

from tests.agents.test_tui_attention import _pinned, _start, paths, until  # noqa: F401
from tests.support.tui_app import make_app


def footer(app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The footer's hints: key -> description."""
    return {k.key: k.description for k in app.screen.query("FooterKey")}


async def test_y_and_n_show_only_on_a_session_that_needs_you(paths) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    busy = await _start(paths, [sys.executable, "-c", "import time; time.sleep(60)"])
    asker = await _start(paths, ["bash", "-c", 'read -p "Ship it? [y/N] " x; sleep 60'])
    app = make_app(paths, background=True)
    async with app.run_test(size=(160, 36)) as pilot:
        await app.wait_idle()
        await until(pilot, lambda: app.state.row(asker.id).attention == "needs_you")
        app.state.select(busy.id)
        await until(pilot, lambda: footer(app).get("n") == "New")
        assert "y" not in footer(app)

        app.state.select(asker.id)
        await until(pilot, lambda: footer(app).get("y") == "Yes")
        assert footer(app)["n"] == "No"

        await pilot.press("n")  # answers no: the prompt is gone, no new-session modal
        await until(pilot, lambda: app.state.row(asker.id).attention != "needs_you")
        assert app.screen.__class__.__name__ == "SessionsScreen"
        await until(pilot, lambda: footer(app).get("n") == "New")
        assert "y" not in footer(app)
