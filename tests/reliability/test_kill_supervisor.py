"""kill -9 of a supervisor at random moments while its command writes fast.

Each trial starts a real supervisor whose command writes numbered lines in odd-sized
pieces at about 2 MB/s, waits a seeded random delay, reads what the database already
holds, and kills the supervisor with SIGKILL. Afterwards:
- the database passes SQLite's and the full-text indexes' integrity checks;
- ``reconcile`` marks the session ``lost``, with a system line saying so;
- what was stored before the kill is still there, and the stored output is exactly
  lines 1..k in order, each once, then maybe the start of line k+1;
- line numbers are contiguous and the session's counters match its lines.
Trials share one database; every fourth one runs in a terminal (pty).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time

from runner.control import reconcile, start_session
from runner.locations import is_alive, supervisor_pid
from tests.support.reliability import check_numbered, producer
from tests.support.supervisors import kill_group

TRIALS = 20
SEED = 8_20_9
RATE = 2_000_000  # bytes a second


async def _wait_released(paths, sid: int) -> None:
    deadline = time.monotonic() + 30
    while is_alive(paths, sid):
        assert time.monotonic() < deadline, f"#{sid}: the lock outlived a SIGKILL"
        await asyncio.sleep(0.01)


async def test_kill_9_of_supervisors_during_heavy_output(store, paths, tmp_path, figures):
    rng = random.Random(SEED)
    plans = [(i, rng.uniform(0.05, 0.6), "pty" if i % 4 == 3 else "pipe") for i in range(TRIALS)]
    problems: list[str] = []
    lines_checked = 0

    async def trial(i: int, delay: float, mode: str) -> None:
        nonlocal lines_checked
        s = await start_session(
            store,
            paths,
            argv=producer("--seed", i, "--rate", RATE),
            cwd=tmp_path,
            name=f"trial-{i}",
            mode=mode,
            size=(200, 50),
        )
        assert s.status == "running", f"trial {i}: {s.status}"
        await asyncio.sleep(delay)
        before = await store.output.read_bytes(s.id, "stdout")
        pid = supervisor_pid(paths, s.id)
        assert pid, f"trial {i}: no supervisor"
        os.kill(pid, signal.SIGKILL)
        await _wait_released(paths, s.id)
        kill_group((await store.sessions.require(s.id)).pid)
        try:
            await reconcile(store, paths)
            report = await store.integrity_check()
            assert report.ok, f"integrity: {report.problems}"
            after = await store.sessions.require(s.id)
            assert after.status == "lost", f"status {after.status}"
            system = (await store.output.read_bytes(s.id, "system")).decode()
            assert "lost" in system.splitlines()[-1], system
            data = await store.output.read_bytes(s.id, "stdout")
            assert data.startswith(before), (
                f"{len(before)} bytes were stored before the kill; afterwards the output "
                f"({len(data)} bytes) does not start with them"
            )
            k, tail = check_numbered(data, crlf=mode == "pty")
            numbers = [line.number async for line in store.output.iter_lines(s.id)]
            assert numbers == list(range(len(numbers))), "line numbers are not contiguous"
            assert len(numbers) == after.output_lines
            stdout_lines = [line async for line in store.output.iter_lines(s.id, stream="stdout")]
            assert len(stdout_lines) == k + bool(tail)
            lines_checked += k
        except AssertionError as e:
            problems.append(f"trial {i} ({mode}, kill after {delay:.3f}s): {e}")

    for plan in plans:
        await trial(*plan)
    report = await store.integrity_check()
    figures.add("kill -9 supervisor", trials=TRIALS, lines=lines_checked, faults=TRIALS)
    assert report.ok, report.problems
    assert not problems, "\n".join(problems)
    # The trials are worth something only if the kills hit sessions that had written.
    assert lines_checked > TRIALS * 1000, lines_checked
