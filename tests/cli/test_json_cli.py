"""``--json`` on logs (JSON lines) and on the control commands (the resulting session,
as ``show --json`` gives it); ``logs -f`` exits with the followed command's status."""

from __future__ import annotations

import json

from tests.support.database import json_lines

# what may differ between two looks at the same session a moment apart
# Live state that may change between two commands: the attention watcher records
# working/idle whenever the session's output starts or stops.
VOLATILE = {"updated_at", "supervisor_alive", "last_output_at", "attention", "attention_since"}


def _same_as_show(tether, printed: dict) -> None:
    shown = tether.json("show", str(printed["id"]))
    assert set(printed) == set(shown)
    assert {k: v for k, v in printed.items() if k not in VOLATILE} == {
        k: v for k, v in shown.items() if k not in VOLATILE
    }


def test_logs_json_is_one_object_per_line(tether):
    script = r"echo one; echo two >&2; printf 'red \033[31mhot\033[0m\n'; printf 'no end'"
    sid = tether.ok("run", "--", "sh", "-c", script).strip()
    tether.wait_status(sid, ("succeeded",))
    records = json_lines(tether.ok("logs", sid, "--json"))
    # stdout and stderr are two pipes: their relative order is the arrival order
    assert [r["line"] for r in records] == list(range(1, len(records) + 1))
    by_stream = {}
    for r in records:
        by_stream.setdefault(r["stream"], []).append(r["text"])
    assert by_stream["stdout"] == ["one", "red hot", "no end"]
    assert by_stream["stderr"] == ["two"]
    assert records[-1]["stream"] == "system" and "exited with code 0" in records[-1]["text"]
    for r in records:
        assert set(r) == {"line", "run", "stream", "at", "text"}
        assert r["run"] == 1 and isinstance(r["at"], float)
    raw = json_lines(tether.ok("logs", sid, "--json", "--raw"))
    assert "red \x1b[31mhot\x1b[0m" in [r["text"] for r in raw]
    stderr = [r for r in records if r["stream"] == "stderr"]
    assert json_lines(tether.ok("logs", sid, "--json", "--stream", "stderr")) == stderr
    assert json_lines(tether.ok("logs", sid, "--json", "--tail", "2")) == records[-2:]
    assert json_lines(tether.ok("logs", sid, "--json", "-f")) == records


def test_logs_follow_exits_with_the_commands_status(tether):
    sid = tether.ok("run", "--", "sh", "-c", "echo bye; exit 3").strip()
    tether.wait_status(sid, ("failed",))
    done = tether("logs", "-f", sid)
    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith("bye\nexited with code 3")
    assert tether("logs", sid).returncode == 0  # not following: the output was printed
    # followed while it runs, too
    sid = tether.ok("run", "--", "sh", "-c", "read line; exit 5").strip()
    follower = tether.popen("logs", "-f", sid, stdout=-1, stderr=-1)
    tether.ok("send", sid, "go")
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 5, err
    done = tether("logs", "-f", tether.ok("run", "--", "true").strip())
    assert done.returncode == 0


def test_control_commands_print_the_session_as_show_does(tether):
    sid = tether.ok("run", "--", "sh", "-c", 'while read l; do echo "got $l"; done').strip()
    tether.wait_status(sid, ("running",))

    sent = tether.json("send", sid, "hello")
    assert sent["id"] == int(sid) and sent["status"] == "running"
    tether.wait_output(sid, "got hello")

    paused = tether.json("pause", sid)
    assert paused["status"] == "paused" and paused["supervisor_alive"] is True
    _same_as_show(tether, paused)
    resumed = tether.json("continue", sid)
    assert resumed["status"] == "running"
    _same_as_show(tether, resumed)

    stopped = tether.json("stop", sid)
    assert stopped["status"] == "stopped" and stopped["runs"][0]["status"] == "stopped"
    tether.wait_status(sid, ("stopped",))
    _same_as_show(tether, stopped)

    again = json.loads(tether.ok("resume", "--json", sid))
    assert again["id"] == int(sid) and again["run_count"] == 2 and len(again["runs"]) == 2
    assert again["status"] in ("running", "pending")
    tether.ok("stop", sid)
    tether.wait_status(sid, ("stopped",))

    trashed = tether.json("rm", sid)
    assert [s["id"] for s in trashed] == [int(sid)] and trashed[0]["deleted_at"] is not None
    _same_as_show(tether, trashed[0])
    restored = tether.json("restore", sid)
    assert [s["id"] for s in restored] == [int(sid)] and restored[0]["deleted_at"] is None
    _same_as_show(tether, restored[0])
