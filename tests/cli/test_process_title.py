"""A supervisor is named after its session in ``ps`` and ``top``
(``tether: #42 make -j8``), not ``python3 -m runner``."""

from __future__ import annotations

import subprocess

from home.paths import resolve_paths
from runner.__main__ import process_title
from runner.locations import supervisor_pid


def test_a_supervisor_shows_its_session_in_ps(tether, tether_home):
    sid = tether.ok("run", "-n", "x", "--", "sh", "-c", "echo up; exec sleep 300").strip()
    tether.wait_output(sid, "up")
    pid = supervisor_pid(resolve_paths(env={"TETHER_HOME": str(tether_home)}), int(sid))
    assert pid is not None
    title = f"tether: #{sid} sh -c 'echo up; exec sleep 300'"
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0].decode() == title
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() == title[:15]  # the kernel keeps 15 bytes (top, pgrep)
    shown = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True)
    assert shown.stdout.strip() == title
    tether.ok("stop", sid)


def test_a_long_command_is_cut():
    title = process_title(7, ["echo", "x" * 500, "two\nlines"])
    assert title.startswith("tether: #7 echo xxx") and title.endswith("…")
    assert len(title) == len("tether: #7 ") + 200
    assert process_title(3, ["printf", "a\nb"]) == "tether: #3 printf 'a b'"
