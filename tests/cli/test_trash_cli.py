"""``rm`` and ``restore`` say what they did to each session: one already in the trash
(or not in it) is an error naming it, exit 1; a running session goes to the trash and
keeps running, as the TUI's delete does."""

from __future__ import annotations

import re


def test_rm_twice_says_it_is_already_in_the_trash(tether):
    sid = tether.ok("run", "--", "true").strip()
    tether.wait_status(sid, ("succeeded",))
    assert tether.ok("rm", sid) == f"moved 1 session to the trash (tether restore {sid})\n"
    again = tether("rm", sid)
    assert again.returncode == 1
    assert again.stdout == ""
    assert again.stderr == f"tether: #{sid} is already in the trash\n"


def test_rm_of_several_names_each_one_already_in_the_trash(tether):
    a, b, c = (tether.ok("run", "--", "true").strip() for _ in range(3))
    for sid in (a, b, c):
        tether.wait_status(sid, ("succeeded",))
    tether.ok("rm", b)
    done = tether("rm", a, b, c)
    assert done.returncode == 1
    assert done.stdout == f"moved 2 sessions to the trash (tether restore {a} {c})\n"
    assert done.stderr == f"tether: #{b} is already in the trash\n"
    assert tether.json("show", a)["deleted_at"] and tether.json("show", c)["deleted_at"]


def test_restore_of_a_session_not_in_the_trash_says_so(tether):
    a, b = (tether.ok("run", "--", "true").strip() for _ in range(2))
    for sid in (a, b):
        tether.wait_status(sid, ("succeeded",))
    done = tether("restore", a)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == f"tether: #{a} is not in the trash\n"
    tether.ok("rm", b)
    done = tether("restore", a, b)
    assert done.returncode == 1
    assert done.stdout == f"restored 1 session from the trash: #{b}\n"
    assert done.stderr == f"tether: #{a} is not in the trash\n"
    assert tether.json("show", b)["deleted_at"] is None
    again = tether("restore", b, "--json")
    assert (again.returncode, again.stdout) == (1, "[]\n")


def test_rm_of_a_running_session_trashes_it_and_it_keeps_running(tether):
    sid = tether.ok("run", "--", "sh", "-c", "echo up; exec sleep 300").strip()
    tether.wait_output(sid, "up")
    done = tether("rm", sid)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"moved 1 session to the trash (tether restore {sid})\n"
    assert done.stderr == (
        f"tether: #{sid} is running: it keeps running until stopped (tether stop {sid})\n"
    )
    assert not re.search(r"restore\s*\)", done.stdout)
    shown = tether.json("show", sid)
    assert shown["status"] == "running" and shown["deleted_at"] is not None
    assert shown["supervisor_alive"] is True
    tether.ok("stop", sid)
    assert tether.wait_status(sid, ("stopped",))["deleted_at"] is not None


def test_rm_purge_json_prints_the_purged_sessions_as_json(tether):
    a, b = (tether.ok("run", "--", "true").strip() for _ in range(2))
    for sid in (a, b):
        tether.wait_status(sid, ("succeeded",))
    before = tether.json("show", a)
    purged = tether.json("rm", "--purge", "--json", a, b)
    assert [s["id"] for s in purged] == [int(a), int(b)]
    assert purged[0]["uid"] == before["uid"] and purged[0]["status"] == "succeeded"
    assert tether("show", a).returncode != 0  # gone for good
