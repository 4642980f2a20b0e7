"""Text a user, an imported file or another program put into a session is shown with
its control characters visible, never sent to the terminal as they are."""

from __future__ import annotations

from storage import open_store
from storage.text import visible
from tui.format import shown


def test_visible_shows_control_characters_and_keeps_everything_else() -> None:
    assert visible("plain name ✓") == "plain name ✓"
    assert visible("\x1b]52;c;aGk=\x07x") == "\\x1b]52;c;aGk=\\x07x"
    assert visible("a\nb") == "a\\x0ab"
    assert visible("a\nb\tc", multiline=True) == "a\nb\tc"
    assert visible("\x9b2J") == "\\x9b2J"  # a C1 CSI


async def test_shown_neutralises_every_text_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    evil = "\x1b]0;owned\x07"
    async with open_store(tmp_path / "t.db") as store:
        s = await store.sessions.create(
            ["echo", evil],
            cwd="/tmp/" + evil,
            name="n" + evil,
            tags=["t" + evil],
            env={"K": evil},
            resume_argv=["again", evil],
        )
        s = await store.sessions.update(s.id, notes="line1\n" + evil)
        clean = await store.sessions.create(["make"], cwd="/src", name="build")
    out = shown(s)
    fields = [out.name, out.command, out.cwd, out.notes]
    fields += [" ".join(out.tags), " ".join(out.env.values()), " ".join(out.resume_argv)]
    for text in fields:
        assert "\x1b" not in text and "\x07" not in text
        assert "\\x1b" in text
    assert out.notes.startswith("line1\n")  # notes keep their lines
    assert shown(clean) is clean  # nothing to do: the same object, no copy
