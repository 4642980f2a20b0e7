"""stderr is told apart by a mark in the gutter, not painted as a failure: an HTTP
server's access log (all stderr) reads like any other output, in the output view and
in the list's preview; a theme chooses the mark and the text through tether's theme
variables ``stderr-mark`` and ``stderr-foreground``."""

from __future__ import annotations

from pathlib import Path

from rich.color import Color
from rich.style import Style
from textual.theme import Theme

from tests.support.output_screen import open_output, output_app, seed, utc

SIZE = (100, 20)
ACCESS = b'127.0.0.1 - - "GET / HTTP/1.1" 200 -\n'


def _segments(strip, text: str) -> list[Style]:  # type: ignore[no-untyped-def]
    return [seg.style for seg in strip if text in seg.text and seg.style is not None]


def _rgb(color: str):  # type: ignore[no-untyped-def]
    return Color.parse(color).get_truecolor()


async def test_stderr_is_marked_not_painted_as_an_error(tmp_path: Path) -> None:
    utc()
    db = tmp_path / "t.db"
    sid = await seed(db, [("stdout", b"Serving on :8000\n"), ("stderr", ACCESS)], status="running")
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_output(pilot, sid)
        variables = app.get_css_variables()
        out, err = view.render_line(0), view.render_line(1)
        assert err.text.startswith("▌ 127.0.0.1")
        text_style = _segments(err, "GET /")[0]
        plain_style = _segments(out, "Serving")[0]
        error = _rgb(variables["text-error"])
        assert text_style.color is not None and text_style.color.get_truecolor() != error
        assert text_style.color == plain_style.color  # reads like stdout
        mark = _segments(err, "▌")[0]
        assert mark.color is not None
        assert mark.color.get_truecolor() == _rgb(variables["stderr-mark"])
        assert mark.color.get_truecolor() not in (error, _rgb(variables["error"]))
        # The preview of the list does not paint it either.
        app.pop_screen()
        await app.wait_idle()
        preview = app.screen.query_one("SessionPreview")
        shown = preview.content
        line = next(part for part in shown.split("\n") if "GET /" in part.plain)
        colours = {Style.parse(str(span.style)).color for span in line.spans}
        assert colours and None not in colours
        assert {c.get_truecolor() for c in colours} == {_rgb(variables["stderr-foreground"])}
        assert Color.parse("red") not in colours


async def test_a_theme_chooses_the_stderr_mark_and_text(tmp_path: Path) -> None:
    utc()
    db = tmp_path / "t.db"
    sid = await seed(db, [("stderr", ACCESS)], status="running")
    app = output_app(db)
    async with app.run_test(size=SIZE) as pilot:
        app.register_theme(
            Theme(
                name="stderr-test",
                primary="#0178D4",
                dark=True,
                variables={"stderr-mark": "#d08770", "stderr-foreground": "#a3be8c"},
            )
        )
        app.theme = "stderr-test"
        view = await open_output(pilot, sid)
        strip = view.render_line(0)
        assert _segments(strip, "▌")[0].color.get_truecolor() == _rgb("#d08770")
        assert _segments(strip, "GET /")[0].color.get_truecolor() == _rgb("#a3be8c")
