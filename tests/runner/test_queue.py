"""The queue for real: limits, groups, --after, and kill -9 of supervisors and of the
process about to start the next session. Real supervisors, real commands, a real
database; every wait is for a state, with a deadline only against a broken build."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from runner import control, queue
from runner.locations import supervisor_pid
from storage.engine.queue import Limits
from tests.support.supervisors import eventually, system_lines, wait_ended

GATED = "while [ ! -e {gate} ]; do sleep 0.02; done; exit {code}"


@pytest.fixture(autouse=True)
def _gates_opened_after(tmp_path):  # type: ignore[no-untyped-def]
    """Every gated command ends with its test: one whose supervisor the test killed, or
    that a test left waiting, would otherwise loop on its gate file for ever."""
    yield
    for n in range(1, 33):
        (tmp_path / f"gate-{n}").touch()


class Gates:
    """Sessions that end when the test says: each waits for its own file."""

    def __init__(self, store, paths, tmp_path: Path) -> None:
        self.store, self.paths, self.dir = store, paths, tmp_path
        self.n = 0

    async def start(
        self, *, code: int = 0, limits: Limits | None = None, group: str = "", after=None
    ):
        self.n += 1
        gate = self.dir / f"gate-{self.n}"
        session = await control.start_session(
            self.store,
            self.paths,
            argv=["sh", "-c", GATED.format(gate=gate, code=code)],
            cwd=self.dir,
            name=f"gated-{self.n}",
            limits=limits,
            group=group,
            after=after,
            grace=1.0,
        )
        return session, gate


async def status_of(store, sid: int) -> str:
    return (await store.sessions.require(sid)).status


async def until_status(store, sid: int, *statuses: str, timeout: float = 30.0):
    async def probe():
        s = await store.sessions.require(sid)
        return s if s.status in statuses else None

    return await eventually(probe, timeout=timeout, what=f"#{sid} to be {'/'.join(statuses)}")


async def test_over_the_limit_sessions_wait_and_start_by_themselves_in_order(
    store, paths, tmp_path
):
    limits = Limits(max_parallel=1)
    gates = Gates(store, paths, tmp_path)
    (a, gate_a), (b, gate_b), (c, gate_c) = [await gates.start(limits=limits) for _ in range(3)]
    assert a.status == "running"
    assert (b.status, c.status) == ("pending", "pending")
    assert await store.queue.positions() == {b.id: 1, c.id: 2}

    gate_a.touch()  # a ends: its supervisor starts b, nobody else kicks
    await until_status(store, b.id, "running")
    assert await status_of(store, c.id) == "pending"
    assert await store.queue.positions() == {c.id: 1}
    gate_b.touch()
    await until_status(store, c.id, "running")
    gate_c.touch()
    await wait_ended(store, paths, c.id)
    runs = [(await store.runs.list(s.id))[0] for s in (a, b, c)]
    # one after the other: each started only once the one before had ended
    for before, after in zip(runs, runs[1:], strict=False):
        assert after.started_at >= before.ended_at


async def test_a_group_has_its_own_limit(store, paths, tmp_path):
    limits = Limits(groups={"build": 1})
    gates = Gates(store, paths, tmp_path)
    (b1, gate1), (b2, _) = [await gates.start(limits=limits, group="build") for _ in range(2)]
    other, _ = await gates.start(limits=limits, group="test")
    free, _ = await gates.start(limits=limits)
    assert (b1.status, b2.status) == ("running", "pending")
    assert (other.status, free.status) == ("running", "running")  # other groups go on
    assert await store.queue.groups([b1.id, b2.id, other.id, free.id]) == {
        b1.id: "build",
        b2.id: "build",
        other.id: "test",
    }
    gate1.touch()
    await until_status(store, b2.id, "running")


async def test_after_waits_for_success_and_gives_up_on_failure(store, paths, tmp_path):
    gates = Gates(store, paths, tmp_path)
    ok, gate_ok = await gates.start()
    bad, gate_bad = await gates.start(code=3)
    waits_ok, _ = await gates.start(after=ok.id)
    waits_bad, _ = await gates.start(after=bad.id)
    waits_waits_bad, _ = await gates.start(after=waits_bad.id)  # a chain fails in turn
    assert {s.id: s.status for s in (waits_ok, waits_bad, waits_waits_bad)} == dict.fromkeys(
        (waits_ok.id, waits_bad.id, waits_waits_bad.id), "pending"
    )
    gate_bad.touch()
    await wait_ended(store, paths, bad.id)  # its supervisor settles the queue as it ends
    for sid, waited in ((waits_bad.id, bad.id), (waits_waits_bad.id, waits_bad.id)):
        s = await until_status(store, sid, "failed")
        assert s.run_count == 0
        (line,) = await system_lines(store, sid)
        assert line == f"not started: #{waited}, which it waited for (--after), ended failed"
    assert await status_of(store, waits_ok.id) == "pending"
    gate_ok.touch()
    await until_status(store, waits_ok.id, "running")


async def test_move_start_now_and_cancel(store, paths, tmp_path):
    limits = Limits(max_parallel=1)
    gates = Gates(store, paths, tmp_path)
    (a, _), (b, _), (c, _), (d, _) = [await gates.start(limits=limits) for _ in range(4)]
    assert await store.queue.positions() == {b.id: 1, c.id: 2, d.id: 3}
    assert await queue.move(store, d.id, 1) == 2
    assert await queue.move(store, b.id, -5) == 3  # to the end, no further
    assert await store.queue.positions() == {d.id: 1, c.id: 2, b.id: 3}
    cancelled = await queue.cancel(store, d.id)
    assert cancelled.status == "stopped" and cancelled.run_count == 0
    assert await system_lines(store, d.id) == ["removed from the queue before it started"]
    started = await queue.start_now(store, paths, b.id)  # over the limit: the user said so
    assert started.status == "running"
    assert await store.queue.positions() == {c.id: 1}
    assert (await store.sessions.require(a.id)).status == "running"


async def test_kill_9_of_a_running_supervisor_frees_its_slot_at_the_next_kick(
    store, paths, tmp_path
):
    limits = Limits(max_parallel=1)
    gates = Gates(store, paths, tmp_path)
    (a, _), (b, _) = [await gates.start(limits=limits) for _ in range(2)]
    os.kill(supervisor_pid(paths, a.id), signal.SIGKILL)
    # what every tether command does first: reconcile (a becomes lost), then kick
    await eventually(lambda: control.reconcile(store, paths), what="a judged lost")
    started = await queue.kick(store, paths)
    assert [s.id for s in started] == [b.id]
    assert (await store.sessions.require(a.id)).status == "lost"
    assert (await store.sessions.require(b.id)).status == "running"


CLAIMER = """
import asyncio, os, sys
from home.paths import resolve_paths
from runner import queue
from runner.launch import launch
from storage import open_store

async def main():
    paths = resolve_paths(env={"TETHER_HOME": sys.argv[1]})
    async with open_store(paths.db) as store:
        claim = await store.queue.claim_next(queue.claimer())
        print(claim.session_id, flush=True)
        if sys.argv[2] == "launch":
            await launch(store, paths, claim.session_id, claim=claim.claim_id)
        await asyncio.sleep(60)

asyncio.run(main())
"""


async def _killed_claimer(paths, how: str, delay: float) -> int:
    """A process that claims the next queued session (and launches it, with ``how``
    "launch"), killed with SIGKILL ``delay`` seconds after its claim."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLAIMER,
        str(paths.db.parent),
        how,
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    sid = int(await proc.stdout.readline())
    await asyncio.sleep(delay)
    proc.kill()
    await proc.wait()
    return sid


async def test_a_killed_claimer_never_strands_a_session_nor_starts_it_twice(store, paths, tmp_path):
    """kill -9 of the process about to start the next session, at several moments:
    right after its claim, while its supervisor starts, after it started. The next
    kick gives the claim back when the session has not started; it runs exactly once."""
    gates = Gates(store, paths, tmp_path)
    blocker, gate = await gates.start(limits=Limits(max_parallel=1))
    cases = [("claim", 0.0), ("launch", 0.0), ("launch", 0.05), ("launch", 0.15), ("launch", 0.4)]
    waiting = [await gates.start(limits=Limits(max_parallel=1)) for _ in cases]
    for i, ((how, delay), (session, _)) in enumerate(zip(cases, waiting, strict=True)):
        await store.queue.set_limits(Limits(max_parallel=2 + i))  # one more slot: the next
        sid = await _killed_claimer(paths, how, delay)
        assert sid == session.id
        await queue.kick(store, paths)
        await until_status(store, sid, "running")
    for _, gate_n in waiting:
        gate_n.touch()
    for session, _ in waiting:
        s = await wait_ended(store, paths, session.id)
        assert s.status == "succeeded"
        assert len(await store.runs.list(session.id)) == 1  # never started twice
    gate.touch()
    await wait_ended(store, paths, blocker.id)


KICKER = """
import asyncio, sys
from home.paths import resolve_paths
from runner import queue
from storage import open_store

async def main():
    paths = resolve_paths(env={"TETHER_HOME": sys.argv[1]})
    async with open_store(paths.db) as store:
        while await store.queue.waiting() or await store.sessions.count(status="running"):
            await queue.kick(store, paths)
            await asyncio.sleep(0.05)

asyncio.run(main())
"""


async def test_concurrent_kickers_never_start_a_session_twice_nor_go_over_the_limit(
    store, paths, tmp_path
):
    """Four processes kick the queue as fast as they can while finishing supervisors
    kick it too: every session runs exactly once, never more than two at a time."""
    await store.queue.set_limits(Limits(max_parallel=2))
    ids = []
    for i in range(10):
        s = await store.sessions.create(["sh", "-c", "sleep 0.2"], tmp_path, name=f"job {i}")
        await store.queue.add(s.id, options={"grace": 1.0})
        ids.append(s.id)
    kickers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", KICKER, str(paths.db.parent), cwd=Path(__file__).parents[2]
        )
        for _ in range(4)
    ]
    for proc in kickers:
        assert await proc.wait() == 0
    for sid in ids:
        s = await wait_ended(store, paths, sid)
        assert s.status == "succeeded"
    runs = [r for sid in ids for r in await store.runs.list(sid)]
    assert sorted(r.session_id for r in runs) == ids  # each exactly once
    for r in runs:  # at each start, how many runs were under way
        under_way = [o for o in runs if o.started_at <= r.started_at < o.ended_at]
        assert len(under_way) <= 2
    # the head of the line first (claims are in order; two launches may finish either way)
    assert {r.session_id for r in sorted(runs, key=lambda r: r.started_at)[:2]} == set(ids[:2])


async def test_a_supervisor_whose_claim_was_given_back_never_runs_the_command(
    store, paths, tmp_path
):
    """The narrow case of a killed starter: its supervisor was on its way when the next
    kick gave the claim back. That supervisor must not run the command (the session is
    started once, by whoever claims it next)."""
    s = await store.sessions.create(["sh", "-c", "echo ran >> runs.txt"], tmp_path)
    await store.queue.add(s.id, options={"grace": 1.0})
    gone = await asyncio.create_subprocess_exec("true")  # a claimer that has died
    await gone.wait()
    dead = {**queue.claimer(), "id": "old", "pid": gone.pid}
    await store.queue.claim(s.id, dead)
    assert await queue.give_back_stale(store, paths) == [s.id]
    late = await control.launch(store, paths, s.id, claim="old", grace=1.0)
    assert late.status == "pending" and late.run_count == 0  # it let go, never ran
    assert await store.queue.positions() == {s.id: 1}
    (started,) = await queue.kick(store, paths)
    assert started.id == s.id
    await wait_ended(store, paths, s.id)
    assert (tmp_path / "runs.txt").read_text() == "ran\n"
    assert len(await store.runs.list(s.id)) == 1


async def test_a_command_whose_secrets_are_kept_out_cannot_be_queued(store, paths, tmp_path):
    from runner.errors import NotQueueable

    with pytest.raises(NotQueueable, match="cannot go through the queue"):
        await control.start_session(
            store,
            paths,
            argv=["echo", "token-hunter2"],
            cwd=tmp_path,
            redact=["hunter2"],
            limits=Limits(max_parallel=1),
        )
    assert await store.sessions.list() == []  # nothing created, nothing lost


async def test_kill_9_of_a_running_supervisor_starts_the_next_with_no_tether_command(
    store, paths, tmp_path
):
    """Its guardian ends the command, then kicks the queue: the next session starts
    although nothing else runs (no CLI, no app, no other supervisor)."""
    limits = Limits(max_parallel=1)
    gates = Gates(store, paths, tmp_path)
    (a, _), (b, gate_b) = [await gates.start(limits=limits) for _ in range(2)]
    os.kill(supervisor_pid(paths, a.id), signal.SIGKILL)
    started = await until_status(store, b.id, "running")
    assert started.run_count == 1
    assert (await store.sessions.require(a.id)).status == "lost"
    gate_b.touch()
    await wait_ended(store, paths, b.id)


async def _ended_with_a_gated_resume(store, paths, tmp_path, name: str, group: str = ""):
    """A session that has run once and ended, whose resume command waits for its gate."""
    gate = tmp_path / f"resume-gate-{name}"
    s = await control.start_session(
        store,
        paths,
        argv=["true"],
        resume_argv=["sh", "-c", GATED.format(gate=gate, code=0)],
        cwd=tmp_path,
        name=name,
        group=group,
        grace=1.0,
    )
    await wait_ended(store, paths, s.id)
    return s, gate


async def test_resume_waits_in_the_queue_when_the_slots_are_full(store, paths, tmp_path):
    """``tether resume`` under ``run.max_parallel`` queues as ``tether run`` does: the
    resumed session is pending with a place, and the supervisor that frees the slot
    starts its new run; once running it holds the slot (the next one waits)."""
    done, resume_gate = await _ended_with_a_gated_resume(store, paths, tmp_path, "done")
    limits = Limits(max_parallel=1)
    gates = Gates(store, paths, tmp_path)
    (busy, busy_gate) = await gates.start(limits=limits)
    assert busy.status == "running"

    resumed = await control.resume_run(store, paths, done.id, grace=1.0, limits=limits)
    assert (resumed.status, resumed.run_count) == ("pending", 1)
    assert await store.queue.positions() == {done.id: 1}
    waiting, waiting_gate = await gates.start(limits=limits)
    assert await store.queue.positions() == {done.id: 1, waiting.id: 2}

    busy_gate.touch()  # busy ends: its supervisor starts the resumed run, then nothing
    running = await until_status(store, done.id, "running")
    assert running.run_count == 2
    assert await store.queue.positions() == {waiting.id: 1}
    assert await queue.kick(store, paths) == []  # the resumed run holds the only slot
    assert await status_of(store, waiting.id) == "pending"
    resume_gate.touch()
    await until_status(store, waiting.id, "running")
    waiting_gate.touch()
    await wait_ended(store, paths, waiting.id)
    runs = await store.runs.list(done.id)
    assert [r.argv[0] for r in runs] == ["true", "sh"]  # the resume command ran, once
    assert (await store.sessions.require(done.id)).status == "succeeded"


async def test_resume_with_a_free_slot_starts_at_once_and_keeps_its_group(store, paths, tmp_path):
    done, resume_gate = await _ended_with_a_gated_resume(
        store, paths, tmp_path, "grouped", group="build"
    )
    limits = Limits(max_parallel=2, groups={"build": 1})
    resumed = await control.resume_run(store, paths, done.id, grace=1.0, limits=limits)
    assert (resumed.status, resumed.run_count) == ("running", 2)
    assert not await store.queue.waiting()  # nothing left claimed nor in line
    gates = Gates(store, paths, tmp_path)
    (same_group, gate) = await gates.start(limits=limits, group="build")
    assert same_group.status == "pending"  # the resumed run holds the group's slot
    resume_gate.touch()
    await until_status(store, same_group.id, "running")
    gate.touch()
    await wait_ended(store, paths, same_group.id)


async def test_a_direct_resume_leaves_no_claim_behind(store, paths, tmp_path):
    """Without limits a resume starts at once; a session that once went through the
    queue keeps its old claim in its row, which must not count as a slot in use."""
    gates = Gates(store, paths, tmp_path)
    (a, gate_a) = await gates.start(limits=Limits(max_parallel=1))
    gate_a.touch()
    await wait_ended(store, paths, a.id)
    s = await control.resume_run(store, paths, a.id, grace=1.0)
    assert s.run_count == 2
    await wait_ended(store, paths, a.id)
    assert not await store.queue.waiting()
    assert await store.queue.claims() == []
