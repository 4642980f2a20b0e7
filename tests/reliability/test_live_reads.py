"""Reading a session while its supervisor writes it: every read is a clean prefix.

A command writes numbered lines in odd-sized pieces (so its newest line is often
unfinished and keeps growing, or moves to a new chunk). Meanwhile the test reads the
whole output many times, through the storage API (in pages of a few chunks) and
through ``tether logs``: each read must be lines 1..k in order, each once, then at
most the start of line k+1. (A read used to tear the growing line when a page of
chunks ended on it: "…86970\\n8697" + "86972\\n…".)
"""

from __future__ import annotations

import asyncio
import subprocess

from runner.control import start_session, stop
from tests.support.reliability import check_numbered, producer
from tests.support.tether_cli import TETHER

READS = 20


async def test_reads_of_a_live_session_never_tear_a_line(store, paths, tmp_path, tether, figures):
    s = await start_session(
        store, paths, argv=producer("--seed", 3, "--rate", 500_000), cwd=tmp_path
    )
    lines = 0
    problems = []
    try:
        for i in range(READS):
            await asyncio.sleep(0.05)
            if i % 3 == 2:
                done = await asyncio.to_thread(
                    subprocess.run,
                    [*TETHER, "logs", str(s.id), "--raw", "--stream", "stdout"],
                    env=tether.env,
                    capture_output=True,
                    stdin=subprocess.DEVNULL,
                )
                assert done.returncode == 0, done.stderr
                data, how = done.stdout, "tether logs"
            else:
                # Small pages, and a pause after an unfinished chunk: the writer gets
                # every chance to grow or move that line before the next page is read.
                parts = []
                async for c in store.output.iter_chunks(s.id, stream="stdout", batch=4):
                    parts.append(c.data)
                    if c.open_end:
                        await asyncio.sleep(0.06)  # about one flush interval
                data, how = b"".join(parts), "iter_chunks"
            try:
                k, _ = check_numbered(data)
                lines += k
            except AssertionError as e:
                problems.append(f"read {i} ({how}, {len(data)} bytes): {e}")
    finally:
        await stop(store, paths, s.id, grace=1)
    figures.add("live reads", trials=READS, lines=lines)
    assert not problems, "\n".join(problems)
    assert lines > READS * 1000, "the session was not written while it was read"
