"""The supervisor for real: real commands, real pipes and terminals, a real database."""

from __future__ import annotations

import os
import signal
import stat

import pytest

from runner import control
from runner.errors import NotRunning, SupervisorGone
from runner.locations import is_alive, supervisor_pid
from tests.support.supervisors import (
    eventually,
    kill_group,
    process_state,
    system_lines,
    wait_ended,
    wait_output,
)


async def test_run_records_output_exit_code_and_duration(store, paths, tmp_path):
    s = await control.start_session(
        store,
        paths,
        argv=["sh", "-c", "echo out; echo err >&2; sleep 0.2; exit 3"],
        cwd=tmp_path,
        name="demo",
        tags=["ci"],
    )
    assert s.status == "running" and s.pid
    assert is_alive(paths, s.id)
    s = await wait_ended(store, paths, s.id)
    assert (s.status, s.exit_code, s.signal) == ("failed", 3, None)
    assert s.duration(0) >= 0.2
    # pipe mode keeps the streams apart
    assert await store.output.read_bytes(s.id, stream="stdout") == b"out\n"
    assert await store.output.read_bytes(s.id, stream="stderr") == b"err\n"
    lines = await system_lines(store, s.id)
    assert len(lines) == 1 and lines[0].startswith("exited with code 3 after ")
    (run,) = await store.runs.list(s.id)
    assert (run.exit_code, run.status) == (3, "failed")
    assert run.ended_at is not None and run.ended_at - run.started_at >= 0.2
    assert s.name == "demo" and s.tags == ("ci",)


async def test_exit_zero_succeeds_and_output_becomes_searchable(store, paths, tmp_path):
    s = await control.start_session(
        store, paths, argv=["sh", "-c", "echo zebrafish-marker"], cwd=tmp_path
    )
    s = await wait_ended(store, paths, s.id)
    assert s.status == "succeeded" and s.exit_code == 0
    assert await store.output.unindexed_bytes(s.id) == 0
    hits = await store.search("zebrafish")
    assert [h.session_id for h in hits] == [s.id]


async def test_env_overrides_reach_the_command_and_only_they_are_stored(store, paths, tmp_path):
    s = await control.start_session(
        store,
        paths,
        argv=["sh", "-c", 'echo "$GREETING $HOME"'],
        cwd=tmp_path,
        env={"GREETING": "hi"},
    )
    s = await wait_ended(store, paths, s.id)
    assert await store.output.read_bytes(s.id, "stdout") == f"hi {os.environ['HOME']}\n".encode()
    assert s.env == {"GREETING": "hi"}


async def test_pty_mode_is_a_real_terminal(store, paths, tmp_path):
    script = (
        "[ -t 0 ] && [ -t 1 ] && echo is-a-tty; stty size; echo term=$TERM; "
        ": </dev/tty && echo has-controlling-tty"
    )
    s = await control.start_session(
        store, paths, argv=["sh", "-c", script], cwd=tmp_path, mode="pty", size=(100, 30)
    )
    s = await wait_ended(store, paths, s.id)
    out = (await store.output.read_bytes(s.id, "stdout")).decode()
    assert "is-a-tty" in out
    assert "30 100" in out
    assert "term=xterm-256color" in out
    assert "has-controlling-tty" in out
    assert s.status == "succeeded"


async def test_pty_resize_reaches_the_command(store, paths, tmp_path):
    script = "trap 'stty size' WINCH; echo ready; while :; do sleep 0.05; done"
    s = await control.start_session(
        store, paths, argv=["sh", "-c", script], cwd=tmp_path, mode="pty", size=(80, 24)
    )
    await wait_output(store, s.id, b"ready")
    await control.resize(store, paths, s.id, 132, 43)
    await wait_output(store, s.id, b"43 132")
    await control.stop(store, paths, s.id, grace=1)


@pytest.mark.parametrize(
    ("argv", "cwd", "expected"),
    [
        (["no-such-command-xyz"], None, "could not start: command not found: no-such-command-xyz"),
        (["sh"], "/no/such/dir", "could not start: the working directory /no/such/dir does not"),
        (["./not-executable"], None, "could not start: ./not-executable is not executable"),
    ],
)
async def test_a_command_that_cannot_start_fails_with_the_reason(
    store, paths, tmp_path, argv, cwd, expected
):
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    s = await control.start_session(store, paths, argv=argv, cwd=cwd or tmp_path)
    assert s.status == "failed"
    assert s.run_count == 0 and s.exit_code is None
    lines = await system_lines(store, s.id)
    assert len(lines) == 1 and lines[0].startswith(expected), lines
    assert not is_alive(paths, s.id)


async def test_stop_sends_sigterm_and_records_stopped(store, paths, tmp_path):
    s = await control.start_session(
        store, paths, argv=["sh", "-c", "echo up; exec sleep 60"], cwd=tmp_path
    )
    await wait_output(store, s.id, b"up")
    pid = s.pid
    s = await control.stop(store, paths, s.id, grace=5)
    assert s.status == "stopped" and s.signal == signal.SIGTERM
    lines = await system_lines(store, s.id)
    assert lines[-1].startswith("stopped by user after ")
    assert "SIGKILL" not in lines[-1]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_stop_kills_after_the_grace_period(store, paths, tmp_path):
    script = "trap '' TERM; echo stubborn; while :; do sleep 0.05; done"
    s = await control.start_session(store, paths, argv=["sh", "-c", script], cwd=tmp_path)
    await wait_output(store, s.id, b"stubborn")
    s = await control.stop(store, paths, s.id, grace=0.5)
    assert s.status == "stopped" and s.signal == signal.SIGKILL
    last = (await system_lines(store, s.id))[-1]
    assert "killed with SIGKILL after the 0.5s grace period" in last


async def test_pause_and_continue(store, paths, tmp_path):
    s = await control.start_session(
        store, paths, argv=["sh", "-c", "echo up; exec sleep 60"], cwd=tmp_path
    )
    await wait_output(store, s.id, b"up")
    s = await control.pause(store, paths, s.id)
    assert s.status == "paused"
    # the kernel stops a process asynchronously; it gets there
    await eventually(lambda: _async(process_state(s.pid) == "T"), what="state T")
    s = await control.continue_(store, paths, s.id)
    assert s.status == "running"
    await eventually(lambda: _async(process_state(s.pid) != "T"), what="not stopped")
    # a paused command can still be stopped
    await control.pause(store, paths, s.id)
    s = await control.stop(store, paths, s.id, grace=2)
    assert s.status == "stopped" and s.signal == signal.SIGTERM


@pytest.mark.parametrize("mode", ["pipe", "pty"])
async def test_send_a_line_to_the_command(store, paths, tmp_path, mode):
    script = 'read first; echo "got:$first"; read second; echo "got:$second"'
    s = await control.start_session(
        store, paths, argv=["sh", "-c", script], cwd=tmp_path, mode=mode
    )
    await control.send_input(store, paths, s.id, "hello there")
    await control.send_input(store, paths, s.id, "bye")
    s = await wait_ended(store, paths, s.id)
    out = await store.output.read_bytes(s.id, "stdout")
    assert b"got:hello there" in out and b"got:bye" in out
    assert s.status == "succeeded"
    if mode == "pipe":  # a terminal echoes input itself; a pipe's input is kept apart
        assert await store.output.read_bytes(s.id, "input") == b"hello there\nbye\n"


async def test_control_of_an_ended_session_is_refused_clearly(store, paths, tmp_path):
    s = await control.start_session(store, paths, argv=["true"], cwd=tmp_path)
    await wait_ended(store, paths, s.id)
    for call in (control.stop, control.pause, control.continue_):
        with pytest.raises(NotRunning, match=f"session #{s.id}: it is succeeded"):
            await call(store, paths, s.id)
    with pytest.raises(NotRunning):
        await control.send_input(store, paths, s.id, "x")


async def test_kill_9_of_the_supervisor_means_lost_with_output_kept(store, paths, tmp_path):
    script = "seq 1 3000; echo flushed-marker; exec sleep 60"
    s = await control.start_session(store, paths, argv=["sh", "-c", script], cwd=tmp_path)
    pid = s.pid
    try:
        await wait_output(store, s.id, b"flushed-marker")
        os.kill(supervisor_pid(paths, s.id), signal.SIGKILL)
        await eventually(lambda: _async(not is_alive(paths, s.id)), what="the lock to be released")
        lost = await control.reconcile(store, paths)
        assert lost == [s.id]
        s = await store.sessions.require(s.id)
        assert s.status == "lost"
        expected = "".join(f"{i}\n" for i in range(1, 3001)) + "flushed-marker\n"
        assert await store.output.read_bytes(s.id, "stdout") == expected.encode()
        assert (await system_lines(store, s.id))[-1].startswith(
            "lost: tether's supervisor for this session is gone"
        )
        assert await control.reconcile(store, paths) == []  # only once
        with pytest.raises(NotRunning):
            await control.stop(store, paths, s.id)
    finally:
        kill_group(pid)


async def test_a_dead_supervisor_gives_a_clear_error_not_a_traceback(store, paths, tmp_path):
    s = await control.start_session(store, paths, argv=["sleep", "60"], cwd=tmp_path)
    pid = s.pid
    try:
        os.kill(supervisor_pid(paths, s.id), signal.SIGKILL)
        await eventually(lambda: _async(not is_alive(paths, s.id)), what="the lock")
        with pytest.raises(SupervisorGone, match=f"session #{s.id}'s supervisor is gone"):
            await control.send_input(store, paths, s.id, "x")
        assert (await store.sessions.require(s.id)).status == "lost"
    finally:
        kill_group(pid)


async def test_sigterm_to_the_supervisor_stops_the_command_and_records(store, paths, tmp_path):
    s = await control.start_session(
        store, paths, argv=["sh", "-c", "echo up; exec sleep 60"], cwd=tmp_path, grace=2
    )
    await wait_output(store, s.id, b"up")
    os.kill(supervisor_pid(paths, s.id), signal.SIGTERM)
    s = await wait_ended(store, paths, s.id)
    assert s.status == "stopped"
    assert "tether's supervisor received SIGTERM" in (await system_lines(store, s.id))[-1]


async def test_the_command_outlives_nothing_it_should_not(store, paths, tmp_path):
    """The command runs in its own process group and session, apart from ours."""
    s = await control.start_session(store, paths, argv=["sleep", "60"], cwd=tmp_path)
    assert os.getpgid(s.pid) == s.pid and os.getsid(s.pid) == s.pid
    sup = supervisor_pid(paths, s.id)
    assert os.getsid(sup) != os.getsid(0) and os.getpgid(sup) != os.getpgid(0)
    await control.stop(store, paths, s.id, grace=1)


async def _async(value):
    return value


async def test_capture_time_redaction_keeps_secrets_off_disk(store, paths, tmp_path):
    (tmp_path / "out.txt").write_text("MY_API_KEY=abcd1234efgh5678\nplain\n")
    (tmp_path / "err.txt").write_text("the password is hunter2\n")
    script = "cat out.txt; cat err.txt >&2"
    s = await control.start_session(
        store, paths, argv=["sh", "-c", script], cwd=tmp_path, redact=[r"hunter\d"]
    )
    s = await wait_ended(store, paths, s.id)
    out = await store.output.read_bytes(s.id, "stdout")
    err = await store.output.read_bytes(s.id, "stderr")
    assert out == b"MY_API_KEY=[REDACTED:assignment]\nplain\n"
    assert err == b"the password is [REDACTED:custom]\n"
    for f in paths.db.parent.glob("tether.db*"):
        assert b"hunter2" not in f.read_bytes() and b"abcd1234efgh" not in f.read_bytes()
