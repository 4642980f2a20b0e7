"""``tether attach`` reaches the first screen without an event loop: the id is resolved
on a plain read-only connection and the supervisor's socket reached with a blocking
one (cli/attach.py, ``_connect_fast``). Checked by what the client loaded, in a real
terminal, not by timing (the times are in bench/cases/attach.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import sqlite3
import sys
import time

import pytest

from home.paths import resolve_paths
from runner.locations import supervisor_pid
from tests.support.attach import Pane, tether_command

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

# ``tether attach ID`` in this interpreter; what it loaded is written to the file named
# first (stdout is the terminal the attachment draws on).
_PROBE = (
    "import json, sys, threading\n"
    "from cli import main\n"
    "out = sys.argv.pop(1)\n"
    "rc = main(sys.argv[1:])\n"
    "report = {'rc': rc, 'modules': sorted(sys.modules),\n"
    "          'threads': [t.name for t in threading.enumerate()]}\n"
    "open(out, 'w').write(json.dumps(report))\n"
    "sys.exit(rc)\n"
)


def test_attach_draws_the_screen_with_no_event_loop_and_no_worker_thread(tether, tmp_path):
    sid = tether.ok("run", "--pty", "--", "bash", "--norc", "--noprofile", "-i").strip()
    tether.wait_status(sid, ("running",))
    tether.ok("send", sid, "echo first-$((6*7))")
    report_file = tmp_path / "report.json"
    args = [sys.executable, "-c", _PROBE, str(report_file), "attach", sid]
    pane = Pane(tether.home, shlex.join(args))
    try:
        pane.wait_for("first-42")  # the supervisor's screen, drawn by the client
        pane.keys("C-\\")
        assert "EXIT=0" in pane.wait_for("EXIT=")
    finally:
        pane.kill()
    report = json.loads(report_file.read_text())
    loaded = set(report["modules"])
    for heavy in ("asyncio", "aiosqlite", "textual", "runner.client", "runner.stream"):
        assert heavy not in loaded, heavy
    assert report["threads"] == ["MainThread"]
    assert tether.json("show", sid)["status"] == "running"


# The same, with what was loaded when the first screen was drawn: ``runner.attach._draw``
# is wrapped (it still draws) to note ``sys.modules`` the first time it gets a screen.
_PROBE_AT_SCREEN = (
    "import json, sys\n"
    "import runner.attach as attach\n"
    "from runner.frames import SCREEN\n"
    "seen = []\n"
    "draw = attach._draw\n"
    "def noting(got, *rest):\n"
    "    if not seen and any(kind == SCREEN for kind, _ in got):\n"
    "        seen.append(sorted(sys.modules))\n"
    "    return draw(got, *rest)\n"
    "attach._draw = noting\n"
    "from cli import main\n"
    "out = sys.argv.pop(1)\n"
    "rc = main(sys.argv[1:])\n"
    "open(out, 'w').write(json.dumps({'at_screen': seen[0], 'end': sorted(sys.modules)}))\n"
    "sys.exit(rc)\n"
)


def test_attach_builds_no_session_and_no_dataclass_before_the_first_screen(tether, tmp_path):
    """What ``tether attach``'s start costs is mostly imports: ``dataclasses`` (it
    imports ``inspect`` and ``ast``) and ``storage.models`` were a third of it. The
    first screen comes from plain rows; reconciling, which every command does first,
    runs once the screen is drawn (``runner.reconcile`` is there by the end). Without
    a config.toml: checking one builds the schema's dataclasses (``home.config``)."""
    (tether.home / "config.toml").unlink()
    sid = start_bash(tether)
    tether.ok("send", sid, "echo first-$((6*7))")
    report_file = tmp_path / "report.json"
    args = [sys.executable, "-c", _PROBE_AT_SCREEN, str(report_file), "attach", sid]
    pane = Pane(tether.home, shlex.join(args))
    try:
        pane.wait_for("first-42")
        pane.keys("C-\\")
        assert "EXIT=0" in pane.wait_for("EXIT=")
    finally:
        pane.kill()
    report = json.loads(report_file.read_text())
    at_screen = set(report["at_screen"])
    for heavy in (
        "dataclasses",
        "inspect",
        "storage.models",
        "runner.reconcile",
        "home.config",
        "socket",  # the C socket is enough (runner.connect.BlockingSocket)
    ):
        assert heavy not in at_screen, heavy
    assert "runner.reconcile" in report["end"]


def start_bash(tether) -> str:  # type: ignore[no-untyped-def]
    sid = tether.ok("run", "--pty", "--", "bash", "--norc", "--noprofile", "-i").strip()
    tether.wait_status(sid, ("running",))
    return sid


def attached(tether, sid: str) -> Pane:  # type: ignore[no-untyped-def]
    return Pane(tether.home, f"{tether_command()} attach {sid}")


def test_a_queued_session_in_a_terminal_says_so_and_exits_1(tether):
    first = start_bash(tether)
    queued = tether.ok("run", "--after", first, "--", "true").strip()
    pane = attached(tether, queued)
    try:
        shown = pane.wait_for("EXIT=")
    finally:
        pane.kill()
    assert f"session #{queued} is pending: there is nothing to attach to yet" in shown
    assert "EXIT=1" in shown


def test_a_supervisor_killed_before_attach_is_found_lost(tether):
    sid = start_bash(tether)
    os.kill(supervisor_pid(resolve_paths(), int(sid)), signal.SIGKILL)
    pane = attached(tether, sid)
    try:
        shown = pane.wait_for("EXIT=")
    finally:
        pane.kill()
    assert f"session #{sid} has ended (lost)" in shown and "EXIT=1" in shown


def test_a_supervisor_killed_while_attached_ends_the_attachment_with_its_status(tether):
    sid = start_bash(tether)
    tether.ok("send", sid, "echo up-$((1+1))")
    pane = attached(tether, sid)
    try:
        pane.wait_for("up-2")
        os.kill(supervisor_pid(resolve_paths(), int(sid)), signal.SIGKILL)
        shown = pane.wait_for("EXIT=")
    finally:
        pane.kill()
    assert f"session #{sid} ended (lost)" in shown and "EXIT=0" in shown


def _stored_status(session_id: str) -> str:
    """The status in the database as it is, read without reconciling first."""
    db = resolve_paths().db
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT status FROM sessions WHERE id = ?", (session_id,)).fetchone()[0]


def test_reconciling_waits_for_the_first_screen_but_happens(tether):
    """``tether attach`` reconciles once its first screen is drawn, not before: a
    session whose supervisor (and guardian, which would mark it itself) died with -9
    is marked lost while another one is attached."""
    from runner import control
    from runner.identity import start_time
    from storage import open_store

    sid = start_bash(tether)
    tether.ok("send", sid, "echo ready-$((2*3))")
    other = tether.ok("run", "--", "sleep", "300").strip()
    tether.wait_status(other, ("running",))
    paths = resolve_paths()

    async def status() -> dict:
        async with open_store(paths.db) as store:
            return await control.status(store, paths, int(other))

    info = asyncio.run(status())
    os.kill(info["guardian_pid"], signal.SIGKILL)
    os.kill(info["supervisor_pid"], signal.SIGKILL)
    _until(lambda: start_time(info["supervisor_pid"]) is None, "the supervisor to go")
    assert _stored_status(other) == "running"  # nothing has reconciled since
    pane = attached(tether, sid)
    try:
        pane.wait_for("ready-6")
        _until(lambda: _stored_status(other) == "lost", f"#{other} to be marked lost")
        pane.keys("C-\\")
        assert "EXIT=0" in pane.wait_for("EXIT=")
    finally:
        pane.kill()
        tether.ok("stop", other)  # the sleep its dead run left


def _until(condition, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Poll until ``condition()`` holds (a deadline that bounds a broken build's hang,
    not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)
