"""The supervisor's streaming channel (runner/stream.py) with real supervisors: a client
that stops reading never slows the capture and gets a fresh screen instead of a
backlog; live views are woken only once the output is in the database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys

from runner import client, control
from runner.stream import END, OUTPUT, RESIZE, SCREEN, WAKE, FrameReader, frame, read_frame
from tests.support.supervisors import system_lines, wait_ended, wait_output

MB = 1024 * 1024
# 40 MB of numbered lines, then a marker; the line count makes the total exact.
WRITER = (
    "import sys\n"
    "w = sys.stdout.buffer.write\n"
    "for i in range(40 * 1024 * 1024 // 64):\n"
    "    w(b'%063d\\n' % i)\n"
    "w(b'ALL-WRITTEN\\n')\n"
    "sys.stdout.flush()\n"
    "input()\n"
    "print('BYE')\n"
)
TOTAL = 40 * MB + len(b"ALL-WRITTEN\n")


def _read_all(sock, frames: list[tuple[bytes, bytes]]) -> None:  # type: ignore[no-untyped-def]
    reader = FrameReader()
    while data := sock.recv(1 << 20):
        frames += reader.feed(data)


async def test_a_client_that_stops_reading_costs_the_capture_nothing(store, paths, tmp_path):
    s = await control.start_session(
        store, paths, argv=[sys.executable, "-c", "input()\n" + WRITER], cwd=tmp_path
    )
    sock, hello = await client.attach(store, paths, s.id, {"who": "a stopped client"})
    assert hello["terminal"] is False
    try:
        # The client now reads nothing while the command writes 40 MB.
        await control.send_input(store, paths, s.id, "go")
        await wait_output(store, s.id, b"ALL-WRITTEN\n", timeout=120)
        stored = await store.output.read_bytes(s.id, stream="stdout")
        assert len(stored) == TOTAL  # all of it captured and stored, nothing lost
        # It reads again: what it gets is not the 40 MB.
        frames: list[tuple[bytes, bytes]] = []
        reading = asyncio.create_task(asyncio.to_thread(_read_all, sock, frames))
        for _ in range(1200):  # a deadline for a broken build only
            if SCREEN in [k for k, _ in frames[1:]] or reading.done():
                break
            await asyncio.sleep(0.05)
        assert SCREEN in [k for k, _ in frames[1:]], "it should have had a fresh screen"
        await control.send_input(store, paths, s.id, "bye")
        await asyncio.wait_for(reading, 60)
        ended = await wait_ended(store, paths, s.id, timeout=60)
        assert ended.status == "succeeded"
    finally:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes the reading thread
        sock.close()
    kinds = [k for k, _ in frames]
    got = sum(len(p) for k, p in frames if k == OUTPUT)
    assert kinds[0] == SCREEN
    assert got < 8 * MB, "it was sent a backlog instead of a fresh screen"
    assert SCREEN in kinds[1:], "it fell behind and should have had a fresh screen"
    assert kinds[-1] == END and b"BYE" in b"".join(p for k, p in frames if k == OUTPUT)


async def test_live_views_are_woken_after_the_output_is_written(store, paths, tmp_path):
    # A burst's second write waits flush_interval (2 s) after the first: a wake-up
    # sent when the output is captured, not written, comes 2 s too early.
    s = await control.start_session(
        store,
        paths,
        argv=["sh", "-c", "while read l; do echo got:$l; done"],
        cwd=tmp_path,
        tuning={"flush_interval": 2.0},
    )
    reader, writer = await client.watch(store, paths, s.id)
    try:
        for n in range(3):
            await control.send_input(store, paths, s.id, f"a{n}")
            await control.send_input(store, paths, s.id, f"b{n}")
            while True:  # every wake-up; the one after the last write shows it
                got = await asyncio.wait_for(read_frame(reader), 10)
                assert got is not None and got[0] == WAKE
                if f"got:b{n}".encode() in await store.output.read_bytes(s.id):
                    break
        await control.stop(store, paths, s.id, grace=1)
        while (got := await asyncio.wait_for(read_frame(reader), 30)) is not None:
            if got[0] == END:
                assert json.loads(got[1])["status"] == "stopped"
                break
        else:
            raise AssertionError("no end frame")
    finally:
        writer.close()


async def test_the_last_to_type_sets_the_size(store, paths, tmp_path):
    s = await control.start_session(
        store, paths, argv=["sh"], cwd=tmp_path, mode="pty", size=(80, 24)
    )
    a, _ = await client.attach(store, paths, s.id, {"cols": 100, "rows": 30, "who": "a"})
    b, _ = await client.attach(store, paths, s.id, {"cols": 70, "rows": 20, "who": "b"})
    try:

        async def size():
            state = await control.screen(store, paths, s.id)
            return state["cols"], state["rows"]

        assert await size() == (70, 20)  # the last to attach
        a.sendall(frame(b"I", b"\n"))
        await _eventually_equal(size, (100, 30))
        a.sendall(frame(RESIZE, json.dumps({"cols": 90, "rows": 25}).encode()))
        await _eventually_equal(size, (90, 25))
        b.sendall(frame(RESIZE, json.dumps({"cols": 60, "rows": 15}).encode()))  # not its turn
        b.sendall(frame(b"I", b"\n"))
        await _eventually_equal(size, (60, 15))
    finally:
        a.close()
        b.close()
    lines = await _eventually_lines(store, s.id, "tether: detached: ", 2)
    assert any(line.startswith("tether: attached: a (pid ") for line in lines)
    await control.stop(store, paths, s.id, grace=1)


async def _eventually_equal(probe, want):  # type: ignore[no-untyped-def]
    for _ in range(600):
        if await probe() == want:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {want}: {await probe()}")


async def _eventually_lines(store, sid, prefix, count):  # type: ignore[no-untyped-def]
    for _ in range(600):
        lines = await system_lines(store, sid)
        if sum(line.startswith(prefix) for line in lines) >= count:
            return lines
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {count} lines {prefix!r}: {await system_lines(store, sid)}")
