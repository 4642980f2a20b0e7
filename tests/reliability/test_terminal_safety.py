"""Output that tries to act on the terminal is shown, never obeyed.

A real session prints lines carrying OSC 52 clipboard writes, title changes, cursor
movement, screen clears, a terminal reset, device queries (which make a terminal
answer as if typed), hyperlinks, DCS/APC strings, C1 controls (as UTF-8 and as raw
8-bit bytes), BEL and backspaces, with a marker word before and after each. Then:

- ``tether logs`` (to a pipe, and on a real terminal where colours are kept), with
  ``-t`` and ``-f``, and ``tether search``: no escape sequence except SGR colour on a
  terminal, no control character, and every marker word still there; ``--raw`` gives
  the stored bytes back unchanged (so the payload really reached the database);
- ``tether ls`` and ``show`` of a session whose name and command carry the same;
- the TUI: every segment every widget renders on the list, detail, live output and
  search screens is free of control characters, while the marker words are on screen.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from textual.geometry import Region

from storage import open_store
from tests.support.output_screen import open_output, output_app, paths_of, seed
from tests.support.reliability import run_in_pty
from tests.support.tether_cli import TETHER
from tui.screens.detail import DetailScreen
from tui.screens.search import SearchScreen

HOSTILE = [
    b"clipboard \x1b]52;c;ZWNobyBwd25lZA==\x07",
    b"clipboard-st \x1b]52;p;ZWNobw==\x1b\\",
    b"title \x1b]0;pwned\x07",
    b"title-st \x1b]2;pwned\x1b\\",
    b"move \x1b[10;10H\x1b[2A\x1b[5C\x1b7\x1b8",
    b"clear \x1b[2J\x1b[3J\x1b[H\x1b[K",
    b"reset \x1bc",
    b"alt-screen \x1b[?1049h\x1b[?25l",
    b"queries \x1b[6n\x1b[c\x1b[>c\x1b]10;?\x07",
    b"c1-utf8 \xc2\x9b2J \xc2\x9d0;t\xc2\x9c \xc2\x90q\xc2\x9c",
    b"c1-raw \x9b2J \x9d0;t\x07",
    b"dcs \x1bP1$r0m\x1b\\ apc \x1b_payload\x1b\\ pm \x1b^x\x1b\\ sos \x1bXy\x1b\\",
    b"link \x1b]8;;http://evil.example\x07here\x1b]8;;\x07",
    b"bell \x07\x07 backspace \x08\x08 del \x7f vt \x0b ff \x0c",
    b"charset \x1b(0lqk\x1b(B",
    b"unterminated-title \x1b]0;runs to the end of the line",
    b"colour \x1b[31mred\x1b[0m \x1b[38;5;208morange\x1b[0m",
]
WORDS = [f"s{i:02d}" for i in range(len(HOSTILE))], [f"e{i:02d}" for i in range(len(HOSTILE))]
PAYLOAD = b"".join(
    f"{a} ".encode() + line + f" {b}\n".encode() for a, b, line in zip(*WORDS, HOSTILE, strict=True)
)
NAME = "evil\x1b]52;c;bmFtZQ==\x07name\x1b[2J"
SGR = re.compile(r"\x1b\[[0-9;:]*m")


def unsafe(text: str, *, colour: bool = False) -> list[str]:
    """Characters that could act on a terminal: any ESC (but SGR when ``colour``), C0
    controls other than tab and newline, DEL and C1 controls."""
    if colour:
        text = SGR.sub("", text)
    return [repr(c) for c in text if (ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F]


def assert_safe(text: str, what: str, *, colour: bool = False, words: bool = True) -> None:
    bad = unsafe(text, colour=colour)
    assert not bad, f"{what}: {sorted(set(bad))} in {text[:400]!r}"
    if words:
        # (An unterminated OSC runs to the end of its line, as on a terminal: e15 goes.)
        missing = [w for w in WORDS[0] + WORDS[1] if w not in text and w != "e15"]
        assert not missing, f"{what}: the words {missing} are gone: {text[:400]!r}"


def _start(tether, tmp_path: Path) -> str:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(PAYLOAD)
    sid = tether.ok("run", "-n", NAME, "--", "cat", str(payload)).strip()
    tether.wait_status(sid, ("succeeded",))
    return sid


def test_logs_search_ls_and_show_neutralise_escapes(tether, tmp_path, figures):
    sid = _start(tether, tmp_path)
    raw = subprocess.run(
        [*TETHER, "logs", sid, "--raw", "--stream", "stdout"],
        env=tether.env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    # --raw is the control: the hostile bytes are really stored and printed as they are.
    assert (raw.returncode, raw.stdout) == (0, PAYLOAD)
    outputs = {
        "logs": tether.ok("logs", sid),
        "logs -t": tether.ok("logs", "-t", sid),
        "logs -f": tether.ok("logs", "-f", sid),
        "logs -n 100": tether.ok("logs", "-n", "100", sid),
    }
    for what, text in outputs.items():
        assert_safe(text, what)
    found = tether.ok("search", "s0* OR s1*")
    assert_safe(found, "search", words=False)
    assert "s03" in found and "e03" in found
    for what in ("ls", "show"):
        text = tether.ok(what, *([sid] if what == "show" else []))
        assert_safe(text, what, words=False)
        assert "evil" in text and "name" in text
    env = {**tether.env, "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    for args in (["logs", sid], ["search", "s0* OR s1*"], ["ls"], ["show", sid]):
        code, out = run_in_pty([*TETHER, *args], env, timeout=60)
        assert code == 0, (args, code, out[-500:])
        text = out.decode("utf-8", "replace").replace("\r\n", "\n")
        assert_safe(text, f"{' '.join(args)} on a terminal", colour=True, words=args[0] == "logs")
    coloured = run_in_pty([*TETHER, "logs", sid], env)[1]
    assert b"\x1b[31mred" in coloured, "colours are kept on a terminal"
    figures.add("terminal safety", trials=len(outputs) + 7, lines=len(HOSTILE), faults=len(HOSTILE))


def _all_segments(app) -> tuple[list[str], str]:
    """Every segment text every visible widget of the screen renders, and the screen's
    text (segments joined)."""
    texts: list[str] = []
    for widget in app.screen.walk_children(with_self=True):
        if not widget.display or not widget.size.area:
            continue
        region = Region(0, 0, widget.size.width, widget.size.height)
        for strip in widget.render_lines(region):
            texts += [segment.text for segment in strip]
    return texts, "".join(texts)


async def _seed_hostile(db: Path, *, metadata: bool) -> int:
    """A session with the hostile output; with ``metadata`` its name, command and notes
    carry escape sequences too."""
    if not metadata:
        return await seed(db, [("stdout", PAYLOAD)], name="plain", argv=("cat", "payload"))
    sid = await seed(db, [("stdout", PAYLOAD)], name=NAME, argv=("sh", "-c", COMMAND))
    async with open_store(db) as store:
        await store.sessions.update(sid, notes=NOTES)
    return sid


COMMAND = "\x1b]0;title\x07x"
NOTES = "notes \x1b]52;c;bm90ZXM=\x07 \x9b2J end"
# What must never reach the terminal from the TUI.
OSC_52 = (
    b"\x1b]52;c;ZWNobyBwd25lZA",
    b"\x1b]52;p;ZWNobw",
    b"\x1b]52;c;bmFtZQ",
    b"\x1b]52;c;bm90ZXM",
)
TITLES = (b"\x1b]0;pwned", b"\x1b]2;pwned", b"\x1b]0;title", b"\x1b]0;runs to the end")


def _real_tui(db: Path, until: bytes) -> bytes:
    """What a real ``tether`` writes to its terminal while showing the list (and the
    preview of the newest session), killed once ``until`` is on screen."""
    env = {**os.environ, "TETHER_HOME": str(paths_of(db).data_dir), "TERM": "xterm-256color"}
    env["TETHER_DB"] = str(db)
    code, out = run_in_pty(list(TETHER), env, timeout=60, size=(160, 50), until=until)
    assert code is None, f"the TUI exited ({code}): {out[-300:]!r}"
    assert until in out, "the TUI never showed the session"
    return out


async def _screens(
    app, pilot, sid: int, search: str, *, name: str, detail_shows: str = ""
) -> dict[str, tuple[list[str], str]]:
    """Segments and text of the list, detail, output and search screens, each taken
    once it shows what it is meant to (waited for, not slept on): the list its row
    (``name``) and the preview's last line, the detail ``detail_shows``."""
    shown = {}
    await app.wait_loaded()
    shown["session list"] = await _shown_when(
        app, pilot, lambda t: "e16" in t and name in t, "the row and the preview"
    )
    detail = DetailScreen(app.state, sid)
    app.push_screen(detail)
    shown["detail"] = await _shown_when(
        app,
        pilot,
        lambda t: app.screen is detail and detail.ready and detail_shows in t,
        "the detail",
    )
    await app.pop_screen()
    view = await open_output(pilot, sid)
    rows = range(view.scrollable_content_region.height)
    strips = [view.render_line(y) for y in rows]
    texts = [seg.text for strip in strips for seg in strip]
    shown["live output view"] = (texts, "\n".join("".join(s.text for s in st) for st in strips))
    shown["output screen"] = _all_segments(app)
    await app.pop_screen()
    app.push_screen(SearchScreen(search))
    shown["search"] = await _shown_when(app, pilot, lambda t: "e09" in t, "the search's hits")
    return shown


async def _shown_when(app, pilot, ready, what: str) -> tuple[list[str], str]:
    """The screen's segments once ``ready(text)`` holds (a deadline only bounds how long
    a broken build hangs)."""
    deadline = time.monotonic() + 60
    while True:
        await app.wait_idle()
        shown = _all_segments(app)
        if ready(shown[1]):
            return shown
        assert time.monotonic() < deadline, f"gave up waiting for {what}: {shown[1][-300:]!r}"
        await pilot.pause(0.02)


async def test_the_tui_shows_hostile_output_without_obeying_it(tmp_path, figures):
    db = tmp_path / "t.db"
    paths_of(db).ensure()
    sid = await _seed_hostile(db, metadata=False)
    app = output_app(db)
    async with app.run_test(size=(160, 50)) as pilot:
        shown = await _screens(app, pilot, sid, "s05 OR e09", name="plain")
    for what, (segments, _) in shown.items():
        assert_safe("\n".join(segments), what, words=False)
    assert_safe(shown["live output view"][1], "live output view")
    assert "e16" in shown["session list"][1], "the preview shows the last lines"
    assert "e09" in shown["search"][1], "the search found the hostile lines"
    out = _real_tui(db, until=b"e16")
    leaked = [seq for seq in OSC_52 + TITLES if seq in out]
    assert not leaked, f"the TUI wrote {leaked} to the terminal"
    figures.add("terminal safety", trials=len(shown) + 1, lines=len(HOSTILE), faults=len(HOSTILE))


async def test_the_tui_shows_hostile_names_commands_and_notes_without_obeying_them(
    tmp_path, figures
):
    db = tmp_path / "t.db"
    paths_of(db).ensure()
    sid = await _seed_hostile(db, metadata=True)
    figures.add("terminal safety", trials=1, faults=3)
    out = _real_tui(db, until=b"e16")
    leaked = [seq for seq in OSC_52 + TITLES if seq in out]
    app = output_app(db)
    async with app.run_test(size=(160, 50)) as pilot:
        shown = await _screens(app, pilot, sid, "s05 OR e09", name="evil", detail_shows="notes")
    for what, (segments, _) in shown.items():
        assert_safe("\n".join(segments), what, words=False)
    assert "evil" in shown["session list"][1] and "notes" in shown["detail"][1]
    assert not leaked, f"the TUI wrote {leaked} to the terminal"
