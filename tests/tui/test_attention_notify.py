"""The desktop notification when a session starts needing you (tui/desktop_notify.py,
``[notify] desktop``): the OSC 9/777 sequences, a real notify-send run (a script on
PATH that records its arguments), and the app sending one for a real supervised
session whose prompt needs you."""

from __future__ import annotations

import os
import stat

import pytest

from home.config import Config, General
from tests.agents.test_tui_attention import _pinned, _start, paths, until  # noqa: F401
from tests.support.tui_app import Clock
from tui.app import TetherApp
from tui.desktop_notify import DesktopNotifier, osc, resolve


@pytest.fixture
def fake_notify_send(tmp_path):  # type: ignore[no-untyped-def]
    """A notify-send that writes its arguments, one per line, to a file."""
    bin_dir, record = tmp_path / "bin", tmp_path / "notified"
    bin_dir.mkdir()
    script = bin_dir / "notify-send"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {record}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir, record


def test_the_osc_sequences_and_what_a_session_name_cannot_smuggle_in() -> None:
    assert osc("osc9", "tether", "#3 build needs you") == "\x1b]9;tether: #3 build needs you\x07"
    assert osc("osc777", "te;ther", "#3 needs you") == ("\x1b]777;notify;te,ther;#3 needs you\x07")
    evil = osc("osc777", "tether", "#4 \x1b]0;pwned\x07 needs you")
    assert evil.count("\x1b") == 1 and evil.count("\x07") == 1


def test_auto_is_notify_send_on_a_desktop_else_osc_777(fake_notify_send) -> None:
    bin_dir, _ = fake_notify_send
    assert resolve("auto", {"PATH": str(bin_dir), "DISPLAY": ":0"}) == "notify-send"
    assert resolve("auto", {"PATH": str(bin_dir)}) == "osc777"  # no desktop: a terminal's
    assert resolve("auto", {"PATH": "/nonexistent", "WAYLAND_DISPLAY": "w"}) == "osc777"
    assert resolve("off", {}) == "off"


async def test_notify_send_is_run_with_the_title_and_body(fake_notify_send) -> None:
    bin_dir, record = fake_notify_send
    written: list[str] = []
    notifier = DesktopNotifier("notify-send", written.append, env={"PATH": str(bin_dir)})
    notifier.send("tether", "#7 deploy\x1b[31m needs you")
    await notifier.settle()
    assert record.read_text().splitlines() == [
        "--app-name=tether",
        "tether",
        "#7 deploy [31m needs you",
    ]
    assert written == []
    DesktopNotifier("off", written.append).send("tether", "x")
    assert written == []


def _app(home, desktop: str) -> TetherApp:  # type: ignore[no-untyped-def]
    config = Config(general=General(), sections={"notify": {"desktop": desktop}})
    return TetherApp(home, config, clock=Clock(), background=True, cursor_blink=False)


async def test_the_app_notifies_the_desktop_when_a_session_starts_needing_you(
    paths,  # noqa: F811 - the fixture
    fake_notify_send,
    monkeypatch,
) -> None:  # type: ignore[no-untyped-def]
    bin_dir, record = fake_notify_send
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    app = _app(paths, "notify-send")
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_idle()
        asker = await _start(paths, ["bash", "-c", 'read -p "Ship it? [y/N] " x; sleep 60'])

        def notified() -> bool:
            """notify-send ran for the session"""
            return record.exists() and f"#{asker.id}" in record.read_text()

        await until(pilot, notified)
        lines = record.read_text().splitlines()
        assert lines[:2] == ["--app-name=tether", "tether"] and lines[2].endswith("needs you")


async def test_osc_777_goes_to_the_apps_terminal(paths) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    app = _app(paths, "osc777")
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_idle()
        written: list[str] = []
        app.attention_watch.desktop.write = written.append  # the terminal: headless here
        asker = await _start(paths, ["bash", "-c", 'read -p "Ship it? [y/N] " x; sleep 60'])
        await until(pilot, lambda: any(f"#{asker.id}" in w for w in written))
        [sent] = written
        assert sent.startswith("\x1b]777;notify;tether;#") and sent.endswith("needs you\x07")
