"""A flood of output reaches an attached client in a few big writes, not one write per
read of the command's output (runner/stream.py, ``WRITE_GAP``): every write wakes the
client, its terminal and what draws it, on the CPUs the command needs (issue 15's
capture throughput with two clients). What someone types still echoes at once. The
hub is real, on a real socket pair; the supervisor behind it is reduced to the few
calls a stream makes.

Observed in turns of the event loop and in what one read returns, never in time: the
gap is made long here (``GAP``) so that nothing can arrive early by chance.
"""

from __future__ import annotations

import asyncio
import socket

from runner import stream
from runner.stream import END, OUTPUT, SCREEN, FrameReader, StreamHub
from tests.support.streams import Terminal

GAP = 2.0


async def _frames(client: socket.socket, frames: FrameReader) -> list[tuple[bytes, bytes]]:
    """The frames of one read from the client's end."""
    data = await asyncio.get_running_loop().sock_recv(client, 1 << 20)
    assert data, "the stream closed"
    return frames.feed(data)


async def _soon(client: socket.socket, frames: FrameReader) -> list[tuple[bytes, bytes]]:
    """The frames that arrive within a few turns of the loop (far less than ``GAP``)."""
    for _ in range(50):
        await asyncio.sleep(0)
        try:
            data = client.recv(1 << 20)
        except BlockingIOError:
            continue
        return frames.feed(data)
    return []


async def test_output_in_quick_succession_goes_in_one_write(monkeypatch):
    monkeypatch.setattr(stream, "WRITE_GAP", GAP)
    hub = StreamHub(Terminal())
    feed = hub.output_hook(lambda stream_, data: None)
    ours, client = socket.socketpair()
    client.setblocking(False)
    reader, writer = await asyncio.open_unix_connection(sock=ours)
    serving = asyncio.create_task(
        hub.serve({"op": "attach", "cols": 80, "rows": 24}, reader, writer, None)
    )
    loop = asyncio.get_running_loop()
    try:
        hello = b""
        while not hello.endswith(b"\n"):
            hello += await loop.sock_recv(client, 1)
        frames = FrameReader()
        got = await _frames(client, frames)
        assert got == [(SCREEN, b"the screen")]  # at once: the first write

        feed("stdout", b"one ")
        assert await _soon(client, frames) == [], "output written again within the gap"
        feed("stdout", b"two ")
        feed("stdout", b"three")
        got = await _frames(client, frames)  # after the gap: all three, in one write
        assert got == [(OUTPUT, b"one "), (OUTPUT, b"two "), (OUTPUT, b"three")]

        # Someone types: the echo goes at once, within the gap, and so does the next
        # output for a moment (ECHO_WINDOW), however fast the keys come.
        hub.typed()
        for echo in (b"e", b"c", b"h", b"o"):
            feed("stdout", echo)
            assert await _soon(client, frames) == [(OUTPUT, echo)]

        hub.end("succeeded")  # the end is not held back by the gap
        got = await asyncio.wait_for(_frames(client, frames), GAP / 2)
        assert got == [(END, b'{"status": "succeeded"}')]
        await asyncio.wait_for(serving, GAP)
    finally:
        serving.cancel()
        client.close()
        writer.close()
