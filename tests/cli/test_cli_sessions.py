"""The session commands, run as a user would: real ``tether`` processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

from home.paths import resolve_paths
from runner.locations import supervisor_pid


def test_run_then_logs_then_exit_code_and_duration(tether, tmp_path):
    sid = tether.ok("run", "-n", "demo", "-t", "ci", "--", "sh", "-c", "echo hi; sleep 0.2; exit 4")
    sid = sid.strip()
    assert sid.isdigit()
    shown = tether.wait_status(sid, ("failed",))
    assert shown["exit_code"] == 4 and shown["name"] == "demo" and shown["tags"] == ["ci"]
    assert shown["ended_at"] - shown["started_at"] >= 0.2
    assert shown["runs"][0]["exit_code"] == 4
    out = tether.ok("logs", sid)
    assert out.startswith("hi\nexited with code 4 after ")
    listed = tether.ok("ls")
    header, row = listed.splitlines()
    assert header.split()[:3] == ["ID", "STATUS", "NAME"]
    assert row.split()[:3] == [f"#{sid}", "failed", "demo"] and row.split()[-2:] == ["4", "2"]


def test_run_json_and_follow_exit_with_the_commands_status(tether):
    done = tether("run", "--follow", "--", "sh", "-c", "echo one; echo two >&2; exit 3")
    assert done.returncode == 3
    lines = done.stdout.splitlines()
    assert lines[:3] == [lines[0], "one", "two"] and lines[0].isdigit()
    assert lines[3].startswith("exited with code 3")
    session = json.loads(tether.ok("run", "--json", "--", "true"))
    assert session["argv"] == ["true"] and session["status"] in ("running", "succeeded")


def test_pipe_mode_keeps_stdout_and_stderr_apart(tether):
    sid = tether.ok("run", "--", "sh", "-c", "echo to-out; echo to-err >&2").strip()
    tether.wait_status(sid, ("succeeded",))
    assert tether.ok("logs", sid, "--stream", "stdout") == "to-out\n"
    assert tether.ok("logs", sid, "--stream", "stderr") == "to-err\n"


def test_pty_mode_is_a_terminal(tether):
    sid = tether.ok("run", "--pty", "--", "sh", "-c", "[ -t 1 ] && echo yes-tty").strip()
    tether.wait_status(sid, ("succeeded",))
    assert "yes-tty" in tether.ok("logs", sid)


def test_logs_options_and_terminal_safety(tether):
    script = (
        r"printf 'plain\n\033]52;c;Y2xpcA==\007osc-gone\n\033[2Jcleared\n"
        r"\033[31mred\033[0m\n'; echo err-line >&2; seq 1 5"
    )
    sid = tether.ok("run", "--", "sh", "-c", script).strip()
    tether.wait_status(sid, ("succeeded",))
    out = tether.ok("logs", sid)
    assert "\x1b" not in out  # NO_COLOR and not a terminal: nothing escapes
    assert out.splitlines()[:4] == ["plain", "osc-gone", "cleared", "red"]
    raw = tether.ok("logs", sid, "--raw")
    assert "\x1b]52;c;Y2xpcA==\x07" in raw and "\x1b[2J" in raw
    all_lines = out.splitlines(keepends=True)
    assert tether.ok("logs", sid, "--tail", "3") == "".join(all_lines[-3:])
    assert tether.ok("logs", sid, "--tail", "2", "--stream", "stdout") == "4\n5\n"
    stamped = tether.ok("logs", sid, "--timestamps", "--stream", "stderr")
    date, clock, text = stamped.strip().split(" ", 2)
    assert text == "err-line" and len(date) == 10 and len(clock) == 12


def test_stop_pause_continue_send(tether):
    sid = tether.ok("run", "--", "sh", "-c", 'while read l; do echo "got $l"; done').strip()
    tether.ok("send", sid, "hello", "there")
    tether.wait_output(sid, "got hello there")
    # what was sent is marked as input, except in --raw and --stream input
    assert tether.ok("logs", sid).splitlines() == ["› hello there", "got hello there"]
    assert tether.ok("logs", sid, "--tail", "2").splitlines()[0] == "› hello there"
    assert tether.ok("logs", sid, "--raw") == "hello there\ngot hello there\n"
    assert tether.ok("logs", sid, "--stream", "input") == "hello there\n"
    assert tether.ok("pause", sid).strip() == f"#{sid} paused"
    assert tether.json("show", sid)["status"] == "paused"
    assert tether.ok("continue", sid).strip() == f"#{sid} running"
    out = tether.ok("stop", sid)
    assert out.startswith(f"#{sid} stopped: stopped by user after ")
    shown = tether.json("show", sid)
    assert shown["status"] == "stopped" and shown["signal"] == signal.SIGTERM
    again = tether("stop", sid)
    assert again.returncode == 1
    assert f"cannot stop session #{sid}: it is stopped" in again.stderr
    assert "Traceback" not in again.stderr


def test_resume_makes_a_second_run_after_a_separator(tether):
    sid = tether.ok("run", "--", "sh", "-c", "echo ran").strip()
    tether.wait_status(sid, ("succeeded",))
    assert tether.ok("resume", sid).strip() == sid
    shown = tether.wait_status(sid, ("succeeded",))
    assert [r["number"] for r in shown["runs"]] == [1, 2]
    lines = tether.ok("logs", sid).splitlines()
    assert lines[0] == "ran" and lines[2].startswith("── run 2 · ") and lines[3] == "ran"


def test_resume_refuses_a_running_session(tether):
    sid = tether.ok("run", "--", "sleep", "30").strip()
    done = tether("resume", sid)
    assert done.returncode == 1
    assert f"session #{sid} is running; stop it first" in done.stderr


def test_resume_of_an_imported_session_needs_yes(tether, tether_home):
    import asyncio

    from storage import open_store

    async def imported() -> int:
        async with open_store(resolve_paths().db) as store:
            s = await store.sessions.create(
                ["sh", "-c", "echo imported-ran"], cwd=str(tether_home), origin="imported"
            )
            await store.sessions.set_status(s.id, "running")
            await store.sessions.set_status(s.id, "succeeded", exit_code=0)
            return s.id

    sid = str(asyncio.run(imported()))
    refused = tether("resume", sid)
    assert refused.returncode == 1
    assert "sh -c 'echo imported-ran'" in refused.stderr and "--yes" in refused.stderr
    assert tether.json("show", sid)["run_count"] == 0
    tether.ok("resume", sid, "--yes")
    tether.wait_status(sid, ("succeeded",))
    assert "imported-ran" in tether.ok("logs", sid)


def test_kill_9_of_a_supervisor_is_lost_at_the_next_command(tether):
    sid = tether.ok("run", "--", "sh", "-c", "seq 1 2000; echo marker; exec sleep 30").strip()
    tether.wait_output(sid, "marker")
    paths = resolve_paths()
    pid = tether.json("show", sid)["pid"]
    os.kill(supervisor_pid(paths, int(sid)), signal.SIGKILL)
    try:
        deadline = time.monotonic() + 30
        while True:  # the next command (any) notices
            row = [r for r in tether.ok("ls").splitlines() if r.startswith(f"#{sid} ")]
            if row and row[0].split()[1] == "lost":
                break
            assert time.monotonic() < deadline, row
            time.sleep(0.1)
        lines = tether.ok("logs", sid).splitlines()
        assert lines[:2000] == [str(i) for i in range(1, 2001)] and lines[2000] == "marker"
        assert lines[-1].startswith("lost: tether's supervisor for this session is gone")
    finally:  # (its guardian has ended it already: the command dies with its supervisor)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def test_command_not_found_fails_and_run_exits_non_zero(tether):
    done = tether("run", "--", "no-such-command-abc")
    assert done.returncode == 1
    sid = done.stdout.strip()
    assert "command not found: no-such-command-abc" in done.stderr
    shown = tether.json("show", sid)
    assert shown["status"] == "failed"
    assert tether.ok("logs", sid) == "could not start: command not found: no-such-command-abc\n"
    missing_dir = tether("run", "-C", "/no/such/place", "--", "true")
    assert missing_dir.returncode == 1
    assert "the working directory /no/such/place does not exist" in missing_dir.stderr


def test_usage_errors_exit_2_and_missing_sessions_exit_1(tether):
    for args in (
        ["run"],
        ["run", "-e", "NOEQUALS", "--", "true"],
        ["ls", "--status", "nope"],
        ["logs"],
        ["frobnicate"],
    ):
        done = tether(*args)
        assert done.returncode == 2, args
        assert "usage:" in done.stderr, args
    for args in (["logs", "42"], ["show", "#42"], ["stop", "42"], ["rm", "42"]):
        done = tether(*args)
        assert done.returncode == 1, args
        assert done.stderr.strip() == "tether: no session #42", args


def test_rm_restore_and_purge(tether):
    sid = tether.ok("run", "--", "echo", "bye").strip()
    tether.wait_status(sid, ("succeeded",))
    tether.ok("rm", sid)
    assert f"#{sid} " not in tether.ok("ls")
    assert "(trash)" in tether.ok("ls", "--all")
    tether.ok("restore", sid)
    assert f"#{sid} " in tether.ok("ls")
    tether.ok("rm", "--purge", sid)
    assert tether("show", sid).returncode == 1
    running = tether.ok("run", "--", "sleep", "30").strip()
    refused = tether("rm", "--purge", running)  # trashing it is fine (test_trash_cli.py)
    assert refused.returncode == 1 and "stop it first" in refused.stderr


def test_ls_filters(tether):
    a = tether.ok("run", "-t", "alpha", "--", "true").strip()
    b = tether.ok("run", "--", "false").strip()
    tether.wait_status(a, ("succeeded",))
    tether.wait_status(b, ("failed",))
    assert [s["id"] for s in tether.json("ls", "--tag", "alpha")] == [int(a)]
    assert [s["id"] for s in tether.json("ls", "--status", "failed")] == [int(b)]
    both = tether.json("ls", "--status", "failed,succeeded")
    assert sorted(s["id"] for s in both) == sorted([int(a), int(b)])


def test_config_prints_paths_and_settings(tether, tether_home):
    data = tether.json("config")
    assert data["paths"]["database"] == str(tether_home / "tether.db")
    assert data["config"]["general"]["stop_grace"] == 1.0
    assert data["config_file_exists"] is True
    text = tether.ok("config")
    assert "stop_grace = 1.0" in text and str(tether_home) in text


def test_a_session_survives_the_shell_that_started_it(tether, tmp_path):
    """The launching shell runs in a terminal that goes away (hangup, then kill)."""
    import pty

    marker = tmp_path / "started"
    script = (
        f"{' '.join(_quote(a) for a in _tether_argv())} run -- sh -c "
        f"'sleep 1; echo survived' > {marker}; sleep 30"
    )
    master, slave = pty.openpty()
    shell = subprocess.Popen(
        ["sh", "-c", script],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=tether.env,
        start_new_session=True,
    )
    os.close(slave)
    try:
        deadline = time.monotonic() + 30
        while not (marker.exists() and marker.read_text().strip()):
            assert time.monotonic() < deadline, "the shell never started the session"
            time.sleep(0.05)
        sid = marker.read_text().strip()
        os.killpg(shell.pid, signal.SIGHUP)  # the terminal hangs up...
        os.killpg(shell.pid, signal.SIGKILL)  # ...and the shell is gone for good
        shell.wait()
    finally:
        os.close(master)
    tether.wait_status(sid, ("succeeded",))
    assert tether.ok("logs", sid).startswith("survived\n")


def _tether_argv() -> list[str]:
    from tests.support.tether_cli import TETHER

    return TETHER


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def test_commands_do_not_import_textual(tether):
    tether.ok("run", "--", "true")
    code = (
        "import sys\n"
        "from cli import main\n"
        "for args in (['ls'], ['config'], ['show', '1'], ['logs', '1'], ['run', '--', 'true'],\n"
        "             ['ls', '--json'], ['stop', '1']):\n"
        "    rc = main(args)\n"
        "    leaked = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "    assert not leaked, (args, leaked[:5])\n"
        "print('NO-TEXTUAL')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=tether.env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "NO-TEXTUAL" in done.stdout


def test_twenty_sessions_at_once_store_every_line_exactly_once(tether, tether_home):
    n, lines = 20, 50_000
    starts = [
        tether.popen(
            "run",
            "-t",
            "load",
            "--",
            "seq",
            "-f",
            f"s{k} line %.0f",
            "1",
            str(lines),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for k in range(n)
    ]
    ids = []
    for p in starts:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and err == "", err
        ids.append(out.strip())
    import asyncio

    from runner.control import is_alive
    from storage import open_store

    async def check() -> None:
        paths = resolve_paths()
        async with open_store(paths.db) as store:
            deadline = time.monotonic() + 120
            for sid in ids:
                while True:
                    s = await store.sessions.require(int(sid))
                    if s.ended and not is_alive(paths, s.id):
                        break
                    assert time.monotonic() < deadline, f"#{sid} is still {s.status}"
                    await asyncio.sleep(0.1)
                assert s.status == "succeeded"
            for sid in ids:
                s = await store.sessions.require(int(sid))
                k = s.argv[2].split()[0]  # "s7" from "s7 line %.0f"
                expected = "".join(f"{k} line {i}\n" for i in range(1, lines + 1)).encode()
                assert await store.output.read_bytes(s.id, "stdout") == expected
                assert s.output_lines == lines + 1  # and the final system line

    asyncio.run(check())
    errors = resolve_paths().supervisor_log
    assert not errors.exists() or errors.read_text() == ""


def test_logs_follow_waits_for_a_growing_line_and_ends_with_the_session(tether):
    script = "echo first; sleep 0.5; printf 'half'; sleep 0.5; echo ' and whole'; sleep 0.3"
    sid = tether.ok("run", "--", "sh", "-c", script).strip()
    follow = tether("logs", "-f", sid, timeout=60)
    assert follow.returncode == 0
    lines = follow.stdout.splitlines()
    assert lines[:2] == ["first", "half and whole"]
    assert lines[2].startswith("exited with code 0") and len(lines) == 3
    assert tether.json("show", sid)["status"] == "succeeded"
