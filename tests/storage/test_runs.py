"""``store.runs``: one row per start or resume, with times, exit codes and statuses."""

from __future__ import annotations

import pytest

from storage import IllegalTransition, Run, SessionNotFound


async def test_first_run(store):
    s = await store.sessions.create(["make"], cwd="/", created_at=100.0)
    run = await store.runs.start(s.id, pid=4321, at=105.0)
    assert isinstance(run, Run)
    assert run == Run(s.id, 1, ("make",), 4321, 105.0, None, None, None, None, 0)
    s = await store.sessions.get(s.id)
    assert (s.status, s.pid, s.run_count, s.started_at, s.ended_at) == (
        "running",
        4321,
        1,
        105.0,
        None,
    )
    assert await store.output.line_count(s.id) == 0  # no separator before the first run


async def test_finish_statuses(store):
    cases = [
        ({"exit_code": 0}, "succeeded"),
        ({"exit_code": 1}, "failed"),
        ({"exit_code": None, "signal": 9}, "failed"),
        ({"exit_code": 0, "signal": 15}, "failed"),
        ({"exit_code": 0, "status": "stopped"}, "stopped"),
        ({"status": "lost"}, "lost"),
        ({"exit_code": 1, "status": "failed"}, "failed"),
    ]
    for kwargs, expected in cases:
        s = await store.sessions.create(["x"], cwd="/")
        await store.runs.start(s.id, pid=10, at=s.created_at + 1)
        run = await store.runs.finish(s.id, at=s.created_at + 3, **kwargs)
        assert run.status == expected, kwargs
        assert (run.exit_code, run.signal) == (kwargs.get("exit_code"), kwargs.get("signal"))
        assert run.ended_at == s.created_at + 3 and run.duration(0) == 2.0
        after = await store.sessions.get(s.id)
        assert after.status == expected and after.pid is None
        assert after.exit_code == kwargs.get("exit_code") and after.signal == kwargs.get("signal")
        assert after.ended_at == s.created_at + 3


async def test_finish_rejects_a_non_final_status_and_illegal_moves(store):
    s = await store.sessions.create(["x"], cwd="/")
    with pytest.raises(ValueError, match="ends as"):
        await store.runs.finish(s.id, status="paused")
    # a pending session that never ran cannot have succeeded
    with pytest.raises(IllegalTransition):
        await store.runs.finish(s.id, exit_code=0)
    assert (await store.sessions.get(s.id)).status == "pending"
    # ...but it can have failed to start
    await store.runs.finish(s.id, exit_code=127, reason="could not start: no such file")
    lines = await store.output.read_lines(s.id, 0, 5)
    assert [ln.raw for ln in lines] == [b"could not start: no such file"]
    with pytest.raises(SessionNotFound):
        await store.runs.finish(999, exit_code=0)
    with pytest.raises(SessionNotFound):
        await store.runs.start(999)


async def test_resume_adds_a_separator_and_a_second_run(store):
    s = await store.sessions.create(["claude"], cwd="/", resume_argv=["claude", "--continue"])
    await store.runs.start(s.id, at=s.created_at + 1)
    await store.output.append(s.id, "stdout", b"hello\n")
    await store.runs.finish(s.id, exit_code=0, reason="exited 0", at=s.created_at + 2)
    run2 = await store.runs.start(s.id, ["claude", "--continue"], pid=55, at=s.created_at + 5)
    assert run2.number == 2 and run2.argv == ("claude", "--continue") and run2.pid == 55
    lines = await store.output.read_lines(s.id, 0, 10)
    assert [ln.stream for ln in lines] == ["stdout", "system", "system"]
    sep = lines[2].text
    assert sep.startswith("── run 2 · ") and "claude --continue" in sep
    # The command's output of run 2 starts after its separator; every line's run
    # agrees with the runs' first lines.
    assert run2.first_line == 3
    assert [ln.run for ln in lines] == [1, 1, 1]
    s2 = await store.sessions.get(s.id)
    assert (s2.status, s2.run_count, s2.exit_code, s2.ended_at) == ("running", 2, None, None)
    assert s2.started_at == s.created_at + 1  # the session's first start is kept
    await store.output.append(s.id, "stdout", b"again\n")
    assert (await store.output.read_lines(s.id, 3, 4))[0].run == 2
    runs = await store.runs.list(s.id)
    assert [r.number for r in runs] == [1, 2]
    assert runs[0].status == "succeeded" and runs[1].status is None
    assert await store.runs.latest(s.id) == runs[1] == await store.runs.get(s.id, 2)
    assert await store.runs.get(s.id, 3) is None
    assert await store.runs.latest(999) is None and await store.runs.list(999) == []


async def test_an_open_line_is_not_continued_by_the_next_run(store):
    s = await store.sessions.create(["x"], cwd="/")
    await store.runs.start(s.id)
    await store.output.append(s.id, "stdout", b"prompt> ")
    await store.runs.finish(s.id, status="lost")
    await store.runs.start(s.id)
    await store.output.append(s.id, "stdout", b"fresh\n")
    lines = await store.output.read_lines(s.id, 0, 10)
    assert [(ln.stream, ln.raw, ln.run, ln.terminated) for ln in lines] == [
        ("stdout", b"prompt> ", 1, False),
        ("system", lines[1].raw, 1, True),  # the separator of run 2
        ("stdout", b"fresh", 2, True),
    ]


async def test_set_pid_updates_session_and_current_run(store):
    s = await store.sessions.create(["x"], cwd="/")
    await store.runs.start(s.id)
    await store.runs.set_pid(s.id, 999)
    assert (await store.sessions.get(s.id)).pid == 999
    assert (await store.runs.latest(s.id)).pid == 999


async def test_start_from_every_status(store):
    # Every status may go to running (pending, paused, and the ended ones resume).
    for path in ([], ["running"], ["running", "paused"], ["failed"], ["running", "stopped"]):
        s = await store.sessions.create(["x"], cwd="/")
        for step in path:
            await store.sessions.set_status(s.id, step)
        run = await store.runs.start(s.id)
        assert (await store.sessions.get(s.id)).status == "running"
        assert run.number == 1


async def test_run_times_never_before_the_session_was_created(store):
    """A clock that stepped back (or a caller's stale ``at``) cannot start or end a
    session before it was created."""
    s = await store.sessions.create(["x"], cwd="/", created_at=1000.0)
    run = await store.runs.start(s.id, at=900.0)
    assert run.started_at == 1000.0
    done = await store.runs.finish(s.id, exit_code=0, at=950.0)
    assert done.ended_at == 1000.0
    got = await store.sessions.get(s.id)
    assert got.created_at <= got.started_at <= got.ended_at


async def test_a_lease_is_renewed_until_the_run_is_over(store):
    from storage import RunSuperseded

    s = await store.sessions.create(["agent"], cwd="/")
    with pytest.raises(ValueError, match="above 0"):
        await store.runs.start(s.id, supervisor="bot", lease=0)
    run = await store.runs.start(s.id, supervisor="bot", lease=30)
    first = run.lease_until
    renewed = await store.runs.renew(s.id, lease=60)
    assert renewed.lease == 60 and renewed.lease_until > first
    await store.runs.finish(s.id, status="lost", reason="lost: lease expired")
    with pytest.raises(RunSuperseded, match="run 1 is over"):
        await store.runs.renew(s.id)
    t = await store.sessions.create(["agent"], cwd="/")
    await store.runs.start(t.id, supervisor="bot")
    with pytest.raises(ValueError, match="has no lease"):
        await store.runs.renew(t.id)


async def test_finish_of_a_run_that_is_not_current_writes_nothing(store):
    from storage import RunSuperseded

    s = await store.sessions.create(["make"], cwd="/")
    await store.runs.start(s.id)
    await store.runs.finish(s.id, status="lost", reason="lost")
    await store.runs.start(s.id)  # resumed: run 2
    lines = await store.output.line_count(s.id)
    for number in (1, 3):
        with pytest.raises(RunSuperseded):
            await store.runs.finish(s.id, exit_code=0, reason="done", run=number)
    assert await store.output.line_count(s.id) == lines
    assert (await store.sessions.require(s.id)).status == "running"
    run = await store.runs.finish(s.id, exit_code=0, run=2)
    assert (run.number, run.status) == (2, "succeeded")
    with pytest.raises(RunSuperseded, match="is succeeded"):
        await store.runs.finish(s.id, exit_code=0, run=2)
