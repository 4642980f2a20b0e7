"""A session's processes and its status agree, whatever happens to its supervisor.

Each fault as a user meets it, with real processes, real kill -9 and real files:
- kill -9 of a supervisor whose command is quiet: the command dies with it (its
  guardian), also on a terminal and when the command ignores SIGHUP and SIGTERM;
- kill -9 of the supervisor *and* its guardian: the session is ``lost``, ``resume``
  refuses while the command lives (saying what runs and how to stop it), ``stop`` ends
  it (found by pid and start time), then ``resume`` starts one copy;
- the runtime directory removed while supervisors run (logind at logout, a tmp
  cleaner): nothing is shown lost, the supervisors put their lock files and sockets
  back, ``stop`` works, ``resume`` refuses;
- a supervisor judged lost that ends later never writes into the run;
- sessions supervised elsewhere: a second ``TETHER_HOME`` on the same database, and a
  program recording sessions through the ``storage`` library (with and without a
  lease, and ``pending`` ones) are left alone by ``tether ls``;
- ``logs -f`` and ``run -f`` end, saying so and exiting non-zero, when the supervisor
  is killed -9.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from runner import control, identity
from runner.locations import lock_is_held, socket_path, supervisor_pid
from storage import open_store
from tests.support.supervisors import system_lines, wait_ended

TRIALS = 3


def _wait(cond: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``cond`` until truthy (a deadline for a broken build, not a timing test)."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def _process(pid: int) -> tuple[int, int | None]:
    return pid, identity.start_time(pid)


def _lives(proc: tuple[int, int | None]) -> bool:
    pid, start = proc
    return start is not None and identity.start_time(pid) == start


async def _started(tether, store, sid: str) -> tuple[tuple[int, int | None], int]:
    """The command (pid, start time) and the supervisor's pid of a running session."""
    s = await store.sessions.require(int(sid))
    assert s.status == "running", s.status
    info = await control.status(store, tether.paths, s.id)
    return _process(info["pid"]), info["supervisor_pid"]


def _copies(marker: str) -> list[int]:
    """Processes running ``sleep marker``: copies of the session's command (not the
    supervisors and guardians, whose titles name it)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and identity.command_line(int(name)).split() == ["sleep", marker]:
            found.append(int(name))
    return found


@pytest.fixture
def tether(tether, paths):  # type: ignore[no-untyped-def]
    tether.paths = paths
    return tether


# -- 1. the command does not outlive its supervisor --------------------------------------


@pytest.mark.parametrize(
    ("mode", "script"),
    [
        ("pipe", "sleep 300"),
        ("pty", "sleep 300"),
        ("pty", "trap '' HUP TERM; sleep 300; :"),  # ignores the hangup and SIGTERM
    ],
)
async def test_the_command_dies_with_its_supervisor(tether, store, figures, mode, script):
    for _ in range(TRIALS):
        pty = ["--pty"] if mode == "pty" else []
        sid = tether.ok("run", *pty, "--", "sh", "-c", script).strip()
        command, sup = await _started(tether, store, sid)
        os.kill(sup, signal.SIGKILL)
        _wait(lambda command=command: not _lives(command), "the command to die with it")
        # The guardian's kick may be marking it lost right now, holding the lock: show
        # waits for that verdict (tests/runner/test_locks.py), never says "running".
        shown = tether.json("show", sid)
        assert shown["status"] == "lost", shown["status"]
        # and resume runs it once again: one copy
        tether.ok("resume", sid)
        command2, _ = await _started(tether, store, sid)
        assert _lives(command2) and not _lives(command)
        tether.ok("stop", sid)
    figures.add(f"kill -9 of a quiet session's supervisor ({mode})", trials=TRIALS, faults=TRIALS)


async def test_stop_ends_what_a_lost_run_left_and_resume_waits_for_it(tether, store, figures):
    for trial in range(TRIALS):
        marker = f"{4000 + trial}.{os.getpid()}"  # no other test's command has it
        sid = tether.ok("run", "--", "sleep", marker).strip()
        command, sup = await _started(tether, store, sid)
        info = await control.status(store, tether.paths, int(sid))
        # Both the supervisor and its guardian die at once (kill -9 of both).
        os.kill(info["guardian_pid"], signal.SIGKILL)
        os.kill(sup, signal.SIGKILL)
        _wait(lambda sup=sup: identity.start_time(sup) is None, "the supervisor to go")
        shown = tether.json("show", sid)
        assert shown["status"] == "lost" and _lives(command)
        assert f"pid {command[0]}" in (await system_lines(store, int(sid)))[-1]
        # resume refuses while the first copy runs, and says what runs and how to stop it
        refused = tether("resume", sid)
        assert refused.returncode != 0
        assert f"pid {command[0]}: sleep {marker}" in refused.stderr, refused.stderr
        assert f"tether stop {sid}" in refused.stderr
        assert _copies(marker) == [command[0]]
        out = tether.ok("stop", sid)
        assert "stopped what run 1 left running" in out and f"pid {command[0]}" in out
        assert not _lives(command)
        tether.ok("resume", sid)
        command2, _ = await _started(tether, store, sid)
        assert _copies(marker) == [command2[0]]
        tether.ok("stop", sid)
    figures.add("kill -9 of a supervisor and its guardian", trials=TRIALS, faults=TRIALS)


# -- 2. live sessions are never shown lost -----------------------------------------------


async def test_removing_the_runtime_directory_loses_no_live_session(tether, store, figures):
    paths = tether.paths
    sids = [tether.ok("run", "--", "sleep", "300").strip() for _ in range(4)]
    commands = {sid: (await _started(tether, store, sid))[0] for sid in sids}
    for _ in range(2):  # twice: the repaired files can be removed again
        shutil.rmtree(paths.runtime)
        listed = {str(s["id"]): s["status"] for s in tether.json("ls")}
        assert all(listed[sid] == "running" for sid in sids), listed
        # the supervisors put their lock files and sockets back
        for sid in sids:
            lock, sock = paths.lock_file(int(sid)), socket_path(paths, int(sid))
            _wait(lambda lock=lock: lock_is_held(lock), f"#{sid}'s lock file to be back")
            _wait(sock.exists, f"#{sid}'s socket to be back")
    refused = tether("resume", sids[0])
    assert refused.returncode != 0 and "running; stop it first" in refused.stderr
    # stop works at once after a removal, before anything is put back
    shutil.rmtree(paths.runtime)
    for sid in sids:
        assert tether.ok("stop", sid).startswith(f"#{sid} stopped")
        assert not _lives(commands[sid])
    figures.add("runtime directory removed under running supervisors", trials=8, faults=3)


async def test_a_supervisor_never_writes_into_a_run_that_is_not_its_own(tether, store, figures):
    for _ in range(TRIALS):
        sid = tether.ok("run", "--", "sleep", "300").strip()
        command, sup = await _started(tether, store, sid)
        # Someone judged it lost (an expired lease, a tether before v3...); tether will
        # not resume it while its command runs, but another program starts a run.
        await store.runs.finish(int(sid), status="lost", reason="lost: judged so")
        refused = tether("resume", sid)
        assert refused.returncode != 0 and "still runs" in refused.stderr
        await store.runs.start(int(sid), supervisor="elsewhere")
        os.kill(command[0], signal.SIGKILL)  # the command ends; its supervisor records...
        _wait(lambda sup=sup: identity.start_time(sup) is None, "the supervisor to go")
        s = await store.sessions.require(int(sid))
        assert (s.status, s.run_count) == ("running", 2)  # ...nothing into run 2
        assert (await system_lines(store, s.id))[-1].startswith("── run 2 · ")
        log = tether.paths.supervisor_log.read_text()
        assert f"session #{sid}'s run 1 is over" in log
        await store.runs.finish(s.id, status="stopped")
    figures.add("a supervisor whose run was judged lost ends later", trials=TRIALS, faults=TRIALS)


# -- 3. sessions supervised elsewhere ----------------------------------------------------


async def test_a_second_home_on_the_same_database_loses_nothing(tether, store, tmp_path, figures):
    other = tmp_path / "other-home"
    other.mkdir(mode=0o700)
    env = {**tether.env, "TETHER_HOME": str(other)}
    db = str(tether.paths.db)

    def there(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*tether_cmd(), "--db", db, *args], env=env, capture_output=True, text=True
        )

    for trial in range(TRIALS):
        gate = tmp_path / f"gate-{trial}"
        sid = tether.ok("run", "--", "sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.05; done")
        sid = sid.strip()
        done = there("ls", "--json")
        assert done.returncode == 0, done.stderr
        assert tether.json("show", sid)["status"] == "running"
        # it is reachable from there too (its socket is recorded in the run)
        assert there("send", sid, "hi").returncode == 0
        gate.touch()
        s = await wait_ended(store, tether.paths, int(sid))
        assert (s.status, s.exit_code) == ("succeeded", 0)
    assert "IllegalTransition" not in tether.paths.supervisor_log.read_text(errors="replace")
    figures.add("`tether ls` from a second TETHER_HOME on the same database", trials=TRIALS)


def tether_cmd() -> list[str]:
    from tests.support.tether_cli import TETHER

    return list(TETHER)


async def test_library_sessions_are_judged_by_their_lease_only(tether, paths, figures):
    async with open_store(paths.db) as lib:
        old = time.time() - control.PENDING_GRACE - 5
        pending = await lib.sessions.create(["agent"], cwd="/", created_at=old)
        free = await lib.sessions.create(["agent"], cwd="/")
        await lib.runs.start(free.id, supervisor="bot")  # no lease: never judged
        leased = await lib.sessions.create(["agent"], cwd="/")
        await lib.runs.start(leased.id, supervisor="bot", lease=2)
        for _ in range(3):  # renewals keep it alive beyond its first lease
            listed = {s["id"]: s["status"] for s in tether.json("ls")}
            assert listed[pending.id] == "pending"
            assert listed[free.id] == listed[leased.id] == "running"
            await lib.runs.renew(leased.id)
            await asyncio.sleep(1)  # a lease is time: let some of it pass
        # it stops renewing: once the lease has expired, it is lost, saying so
        until = (await lib.runs.latest(leased.id)).lease_until

        def judged() -> bool:
            return tether.json("show", str(leased.id))["status"] == "lost"

        _wait(judged, "the expired lease to be judged")
        assert time.time() > until
        lines = await system_lines(lib, leased.id)
        assert lines[-1].startswith("lost: bot stopped renewing its lease")
        with pytest.raises(Exception, match="is over"):
            await lib.runs.renew(leased.id)
        assert tether.json("show", str(free.id))["status"] == "running"
        assert tether.json("show", str(pending.id))["status"] == "pending"
    figures.add("library sessions (pending, unleased, leased) beside `tether ls`", trials=3)


# -- 4. followers notice a dead supervisor ------------------------------------------------


@pytest.mark.parametrize("how", ["logs", "run"])
async def test_a_follower_ends_when_the_supervisor_is_killed(tether, store, figures, how):
    for _ in range(TRIALS):
        script = "echo started; sleep 300"
        if how == "logs":
            sid = tether.ok("run", "--", "sh", "-c", script).strip()
            follower = tether.popen("logs", "-f", sid, stdout=subprocess.PIPE)
        else:
            follower = tether.popen("run", "-f", "--", "sh", "-c", script, stdout=subprocess.PIPE)
            assert follower.stdout is not None
            sid = follower.stdout.readline().strip()
        assert follower.stdout is not None
        # It printed the first line: it has looked at the session and follows it.
        assert follower.stdout.readline() == "started\n"
        sup = supervisor_pid(tether.paths, int(sid))
        os.kill(sup, signal.SIGKILL)
        out, _ = follower.communicate(timeout=30)  # bounds a broken build only
        assert follower.returncode != 0
        lines = out.splitlines()
        assert lines[-1].startswith("lost: tether's supervisor for this session is gone")
    figures.add(f"`{how} -f` while its supervisor is killed -9", trials=TRIALS, faults=TRIALS)
