"""Fewer writes for chatty sessions (issue 18): the writer's quick-write tokens
(runner/pace.py), the capture's paced reads (runner/capture.py), and a real supervisor
batching a steady stream (a lone line after a quiet spell is still written at once:
tests/runner/test_flush_edge.py)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from runner import capture as capture_mod
from runner import control
from runner.capture import Capture
from runner.pace import Pace
from tests.support.supervisors import wait_ended


def test_quick_writes_are_rationed_and_earned_back() -> None:
    pace = Pace(rate=2.0, burst=3.0)
    t = 1000.0
    pace._at = t  # a fixed clock: every call below passes its own time
    for _ in range(3):  # the burst: written at once
        assert pace.delay(t) == 0.0
        pace.spend(t)
    assert pace.delay(t) == 0.5  # spent: the next token in 1 / rate
    assert pace.delay(t + 0.25) == 0.25
    assert pace.delay(t + 0.5) == 0.0
    pace.spend(t + 0.5)
    assert pace.delay(t + 10.0) == 0.0  # quiet: earned back, never beyond the burst
    for _ in range(3):
        pace.spend(t + 10.0)
    assert pace.delay(t + 10.0) == 0.5


def test_quick_writes_are_shared_by_the_running_sessions() -> None:
    from runner.pace import MIN_RATE, SHARED_RATE, shared_rate

    assert shared_rate(1) == SHARED_RATE  # alone: as often as before (every 0.1 s)
    assert shared_rate(4) == SHARED_RATE / 4
    assert shared_rate(50) == MIN_RATE  # many: never less than MIN_RATE each


async def _reads(capture: Capture, w: int, pieces: list[bytes]) -> list[bytes]:
    """Write ``pieces`` one by one, letting the event loop run between them (a capture
    that read on every wake-up would read each apart); the reads the capture made."""
    seen: list[bytes] = []
    capture._on_output = lambda stream, data: seen.append(data)
    for piece in pieces:
        os.write(w, piece)
        for _ in range(20):
            await asyncio.sleep(0)
    want = b"".join(pieces)
    while b"".join(seen) != want:  # the rest ends: the capture reads what came meanwhile
        assert len(b"".join(seen)) <= len(want), seen
        await asyncio.sleep(0.01)
    return seen


async def test_small_reads_in_quick_succession_rest_and_are_read_together(tmp_path: Path) -> None:
    r, w = os.pipe()
    os.set_blocking(r, False)
    cap = Capture(
        session_id=1, log_path=tmp_path / "log", buffer_limit=1 << 20, flush_bytes=1 << 16
    )
    cap.start({r: "stdout"}, lambda stream, data: None, None)
    try:
        pieces = [f"line {i}\n".encode() for i in range(12)]
        seen = await _reads(cap, w, pieces)
        # The first two are read as they come (the first after a quiet spell, the
        # second before any rest); the rest wait out a rest and come in a few reads.
        assert seen[:2] == pieces[:2]
        assert len(seen) <= 4, seen
        assert bytes(cap.buffer.take(1 << 20)[0].data) == b"".join(pieces)
    finally:
        os.close(w)
        cap.close_output(r)


async def test_the_first_read_after_a_quiet_spell_does_not_wait(tmp_path: Path) -> None:
    r, w = os.pipe()
    os.set_blocking(r, False)
    cap = Capture(
        session_id=1, log_path=tmp_path / "log", buffer_limit=1 << 20, flush_bytes=1 << 16
    )
    cap.start({r: "stdout"}, lambda stream, data: None, None)
    try:
        await _reads(cap, w, [b"a\n", b"b\n", b"c\n"])  # now resting, or just rested
        await asyncio.sleep(capture_mod.REST_SOON + capture_mod.READ_REST)  # the quiet spell
        seen: list[bytes] = []
        cap._on_output = lambda stream, data: seen.append(data)
        os.write(w, b"prompt> ")
        for _ in range(50):  # a few turns of the loop, far less than a rest
            await asyncio.sleep(0)
            if seen:
                break
        assert seen == [b"prompt> "]
    finally:
        os.close(w)
        cap.close_output(r)


# Once the file named by argv[1] exists: a line every 5 ms for 3 s, one write each.
STREAM = (
    "import os, sys, time\n"
    "while not os.path.exists(sys.argv[1]):\n"
    "    time.sleep(0.01)\n"
    "t0 = time.monotonic()\n"
    "for i in range(600):\n"
    "    time.sleep(max(0, t0 + i * 0.005 - time.monotonic()))\n"
    "    os.write(1, b'tick %d\\n' % i)\n"
)
SESSIONS = 4


async def test_steady_streams_are_written_in_batches(store, paths, tmp_path):  # type: ignore[no-untyped-def]
    from runner.pace import QUICK_BURST, shared_rate

    go = tmp_path / "go"
    sessions = [
        await control.start_session(
            store, paths, argv=[sys.executable, "-u", "-c", STREAM, str(go)], cwd="/"
        )
        for _ in range(SESSIONS)
    ]
    go.touch()  # all running: each supervisor counts them at its first write
    for session in sessions:
        final = await wait_ended(store, paths, session.id, timeout=60.0)
        assert final.status == "succeeded"
        lines = await store.output.read_lines(session.id, 0, 10_000, "stdout")
        assert [ln.text for ln in lines] == [f"tick {i}" for i in range(600)]
        chunks = await store.output.chunks(session.id, 0, 10_000, "stdout")
        # Each write of whole lines starts a new chunk, so chunks count the writes. At
        # one write per 0.1 s (before) each stream took about 30; now the burst of quick
        # writes, then one per token earned, the tokens shared by the running sessions
        # (and one more for the end).
        took = chunks[-1].last_at - chunks[0].first_at
        bound = QUICK_BURST + shared_rate(SESSIONS) * took + 2
        assert len(chunks) <= bound, (len(chunks), took)


def _capturing(tmp_path: Path) -> tuple[Capture, int, int, list[bytes]]:
    """A capture reading a pipe: (capture, read end, write end, the reads it made)."""
    r, w = os.pipe()
    os.set_blocking(r, False)
    cap = Capture(
        session_id=1, log_path=tmp_path / "log", buffer_limit=1 << 22, flush_bytes=1 << 16
    )
    cap.start({r: "stdout"}, lambda stream, data: None, None)
    seen: list[bytes] = []
    cap._on_output = lambda stream, data: seen.append(data)
    return cap, r, w, seen


async def _rest_over(cap: Capture, r: int) -> None:
    while r in cap._resting:
        await asyncio.sleep(0.005)


async def _read_one(cap: Capture, seen: list[bytes], w: int, data: bytes) -> None:
    """Write ``data`` and wait until the capture has read all that was written."""
    want = sum(len(d) for d in seen) + len(data)
    os.write(w, data)
    while sum(len(d) for d in seen) < want:
        await asyncio.sleep(0.005)


async def test_a_rest_that_finds_the_buffer_full_starts_a_flood_read_flat_out(
    tmp_path: Path, monkeypatch
) -> None:
    """A rest held the command up when the read after it finds the buffer full (a pty
    holds ~20 KiB): the output floods, and small reads are no longer held back while it
    does. Before, a pty burst was read at about half the speed ``script`` reads it."""
    monkeypatch.setattr(capture_mod, "REST_SOON", 60.0)  # (windows outlast a slow machine)
    cap, r, w, seen = _capturing(tmp_path)
    try:
        await _read_one(cap, seen, w, b"a\n")
        await _read_one(cap, seen, w, b"b\n")  # small and soon: a rest
        assert r in cap._resting
        os.write(w, b"x" * capture_mod.FULL_AFTER_REST)  # meanwhile the buffer fills
        await _rest_over(cap, r)
        assert seen[-1] == b"x" * capture_mod.FULL_AFTER_REST  # read in one go after it
        for _ in range(5):
            await _read_one(cap, seen, w, b"y" * 100)
            assert r not in cap._resting  # flooding: read as it comes
    finally:
        os.close(w)
        cap.close_output(r)


async def test_a_rest_that_finds_little_keeps_resting_and_a_flood_that_slows_ends(
    tmp_path: Path, monkeypatch
) -> None:
    cap, r, w, seen = _capturing(tmp_path)
    try:
        monkeypatch.setattr(capture_mod, "REST_SOON", 60.0)
        await _read_one(cap, seen, w, b"a\n")
        await _read_one(cap, seen, w, b"b\n")
        assert r in cap._resting
        os.write(w, b"c" * 2000)  # a trickle: the buffer far from full
        await _rest_over(cap, r)
        await _read_one(cap, seen, w, b"d\n")
        assert r in cap._resting  # no flood: small reads still rest
        await _rest_over(cap, r)
        # A flood...
        await _read_one(cap, seen, w, b"e\n")
        assert r in cap._resting
        os.write(w, b"x" * capture_mod.FULL_AFTER_REST)
        await _rest_over(cap, r)
        await _read_one(cap, seen, w, b"f\n")
        assert r not in cap._resting
        # ...that slows down: a window with less than FLOOD_BYTES ends it.
        monkeypatch.setattr(capture_mod, "REST_SOON", 0.05)
        await asyncio.sleep(0.1)
        await _read_one(cap, seen, w, b"g\n")  # ends the flood (a window went by)
        await _read_one(cap, seen, w, b"h\n")  # small and soon: a rest again
        assert r in cap._resting
    finally:
        os.close(w)
        cap.close_output(r)


async def test_while_the_command_floods_the_writer_leaves_the_loop_to_the_reader(
    tmp_path: Path,
) -> None:
    """A write's work runs on the event loop that reads the command's output: during a
    burst each write was time the command waited for its pipe (a 200 MB seq: 1.2-1.8x
    tee). While big reads keep coming, writes are held to one per FLOOD_WRITE_EVERY;
    not once the flood stops, nor for a live view, nor when the buffer must drain."""
    from runner import writer as writer_mod
    from runner.writer import Writer

    cap, r, w, seen = _capturing(tmp_path)
    writer = Writer(
        cap,
        session_id=1,
        log_path=tmp_path / "log",
        flush_interval=0.1,
        flush_bytes=1 << 16,
        exited=asyncio.Event(),
        give_up=lambda reason: None,
    )
    try:
        await _read_one(cap, seen, w, b"small\n")
        now = cap._last_read[r]
        writer._last_flush = now
        assert not writer._hold_for_flood(now)  # a small read: no flood
        await _read_one(cap, seen, w, b"x" * capture_mod.FLOOD_BYTES)
        now = cap._full_read_at  # (the time of that read: a loaded machine changes nothing)
        writer._last_flush = now
        assert writer._hold_for_flood(now)  # a big read: hold the write...
        assert not writer._hold_for_flood(now + capture_mod.FLOOD_QUIET + 1e-6)  # ...till it ends
        writer._last_flush = now - writer_mod.FLOOD_WRITE_EVERY
        assert not writer._hold_for_flood(now)  # one write per FLOOD_WRITE_EVERY still
        writer._last_flush = now
        writer.watched = lambda: True
        assert not writer._hold_for_flood(now)  # a live view shows what is stored
        writer.watched = lambda: False
        cap.buffer.limit = 1  # (no spill file here) the buffer must drain: write
        assert not writer._hold_for_flood(now)
    finally:
        os.close(w)
        cap.close_output(r)
    assert not writer._hold_for_flood(now)  # the output ended: everything is written


async def test_a_rest_under_way_when_the_command_exits_does_not_hide_its_eof(
    tmp_path: Path, monkeypatch
) -> None:
    """A rest (READ_REST) outlasts DRAIN_IDLE: an EOF not read because the capture was
    resting looked like a pipe held open by something in the background, and the run
    ended with the "processes it started still hold its output open" line (seen once in
    CI: twenty `seq` sessions at once). Settling ends the rest and takes no new one."""
    monkeypatch.setattr(capture_mod, "REST_SOON", 60.0)
    monkeypatch.setattr(capture_mod, "READ_REST", 30.0)  # far beyond DRAIN_IDLE
    cap, r, w, seen = _capturing(tmp_path)
    await _read_one(cap, seen, w, b"a\n")
    await _read_one(cap, seen, w, b"b\n")  # small and soon: a rest
    assert r in cap._resting
    os.write(w, b"last\n")
    os.close(w)  # the command exits: its last line, then EOF, wait in the pipe
    assert await cap.settle_after_exit()  # EOF, not "held open"
    assert b"".join(seen) == b"a\nb\nlast\n"
    assert not cap.lingering
