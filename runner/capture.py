"""Capture: reading the command's output as fast as it comes, into the bounded buffer.

The command's output fds are read from the event loop, a big read at a time, so the
command is never slowed by the database. Each read is redacted (capture-time
redaction, when the session asked for it), shown to the session kind's ``on_output``
hook, and kept in the ``OutputBuffer`` (runner/buffer.py), where the writer
(runner/writer.py) takes it from. When the buffer is full and the database is
healthy, reading pauses (the pipe holds the command back; nothing is lost); while
the database is failing, reading goes on and what does not fit is dropped, counted.

The read loop is hot: per read it costs one call to the kind's hook and one to the
buffer, nothing per byte.

When the command exits, processes it started in the background may still hold its
output open (``cmd &`` in a shell). Closing our end would kill them with SIGPIPE (or
EIO on a terminal), so capture never does: ``settle_after_exit`` only waits for what
the command itself left, the supervisor then records the end and goes on recording
those writers (``lingering``) until they close the output, or it lets go and hands
the output over to a drain process (``hand_over``) that reads it to /dev/null.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import log
from .buffer import OutputBuffer, SpillFile
from .child import StartError
from .input import CommandInput

READ_SIZE = 256 * 1024
DRAIN_IDLE = 0.2  # after exit: what the command left is in once output is this quiet
RESERVE = 1024 * 1024  # disk space held back so the end of a run fits on a full disk
DRAIN_MAX = 1.0  # after exit: or after this long (background writers may never be quiet)
# Reads are paced: a small read that comes soon after the previous one is followed by a
# rest before the next read, so a command printing a line every few milliseconds
# costs one wake-up per rest, not one per line (an event-loop wake-up costs about as
# much CPU as the command spends printing the line). The first read after a quiet
# spell is never held back (an echo, a prompt), nor is a big one (a burst is read flat out),
# nor is anything soon after input went to the command: what someone types (an attached
# terminal) echoes at once, and a rest under way ends when a key comes (``input_sent``).
# 0.3 s (0.1 until issue 18's last figure: 50 supervisors of streams of 100 lines/s used
# 0.17 cores against their producers' 0.10-0.22, whose own CPU moves from run to run; at
# 0.2 s, 0.12 cores; at 0.3 s, 0.10. Readable lag with 50 sessions p50 1.05 -> 1.15 s: the
# paced writes set most of it. A live view's rests are WATCHED_REST).
READ_REST = 0.3  # seconds of rest after a small read that came soon after another
REST_SOON = 0.4  # "soon": the previous read was less than this ago
REST_BELOW = 4096  # "small": fewer bytes than this
# A rest after which the read finds its buffer (nearly) full held the command up: a pty
# holds about 17-20 KiB, a pipe 64 KiB, and a command printing faster blocks. Such a
# read starts a flood, read flat out (no rests, as ``script`` reads) while at least
# FLOOD_BYTES come in each REST_SOON (a pty burst was read at ~9 MB/s against 18 MB/s
# for ``script -q``).
FULL_AFTER_REST = 16 * 1024
FLOOD_BYTES = 64 * 1024
FLOOD_QUIET = 0.02  # no big read for this long: the flood is over
# While a live view watches the session (runner/stream.py), a rest is this short
# instead: the view is painted at most about sixty times a second, and a line the
# person is waiting for must not sit here for a tenth of a second (issue 14).
WATCHED_REST = 0.01


def _ignore(stream: str, data: bytes) -> None:
    pass


def _nobody() -> bool:
    return False


class Capture:
    """One session's output on its way from the command's fds to the buffer."""

    def __init__(
        self, *, session_id: int, log_path: Path, buffer_limit: int, flush_bytes: int
    ) -> None:
        self.sid = session_id
        self.log_path = log_path
        self.buffer = OutputBuffer(buffer_limit)  # the spill is added by open_spill
        self.flush_bytes = flush_bytes  # this much waiting: a batch's worth
        self.data = asyncio.Event()  # any output (or EOF) arrived
        self.big = asyncio.Event()  # a batch's worth arrived (or EOF)
        self.eof = asyncio.Event()  # every output fd is closed
        self.settled = asyncio.Event()  # EOF, or the command exited and its output is in
        self.last_output = time.monotonic()
        self.reading_paused = False
        self.may_drop = False  # the database is failing: drop what does not fit
        self._drop_reason = ""
        self._dropped_logged = 0
        self._open: dict[int, str] = {}  # output fds not at EOF
        self._redactors: dict[str, Any] | None = None
        self._on_output: Callable[[str, bytes], None] = _ignore
        self._input: CommandInput | None = None
        self._drains: list[subprocess.Popen[bytes]] = []  # see hand_over
        self._last_read: dict[int, float] = {}  # fd -> monotonic time of its last read
        self._full_read_at = -1.0  # monotonic time of the last read of FLOOD_BYTES or more
        self._settling = False  # settle_after_exit is under way: no rests
        self._resting: dict[int, asyncio.TimerHandle] = {}  # fd -> when it is read again
        self._rested_fd: int | None = None  # the read under way follows a rest of this fd
        self._floods: dict[int, tuple[float, int]] = {}  # fd -> (window start, bytes)
        self._input_at = -REST_SOON  # monotonic time input last went to the command
        self.watched: Callable[[], bool] = _nobody  # a live view watches (WATCHED_REST)
        self._reserve: int | None = None  # see open_spill

    # -- before the command starts ------------------------------------------------------
    def redact(self, patterns: list[str]) -> None:
        """Redact stdout and stderr as they are read. Raises ``StartError`` for a
        pattern that cannot be used."""
        from storage.redact import Redactor

        try:
            redactor = Redactor(patterns)
        except ValueError as e:
            msg = f"could not start: a redaction pattern is unusable: {e}"
            raise StartError(msg) from e
        self._redactors = {s: redactor.stream() for s in ("stdout", "stderr")}

    def open_spill(self, directory: str | None, limit: int) -> None:
        """Let bursts beyond memory go to a spill file in ``directory`` (at most
        ``limit`` bytes, and a quarter of the free space)."""
        if not directory:
            return
        self._reserve = _hold_space(directory, RESERVE)
        if limit <= 0:
            return
        try:
            st = os.statvfs(directory)
            limit = min(limit, st.f_bavail * st.f_frsize // 4)
            if limit > self.flush_bytes:
                self.buffer.spill = SpillFile(directory, limit)
        except OSError as e:
            log.write_entry(
                self.log_path,
                f"no spill file in {directory} ({e}); output waits in memory only",
                session_id=self.sid,
                level="WARN",
            )

    def start(
        self,
        outputs: dict[int, str],
        on_output: Callable[[str, bytes], None],
        command_input: CommandInput | None,
    ) -> None:
        """Read ``outputs`` (fd -> stream name) from now on, showing each read to
        ``on_output``. ``command_input`` is closed when its fd is an output that ends."""
        self._on_output = on_output
        self._input = command_input
        loop = asyncio.get_running_loop()
        for fd, stream in outputs.items():
            self._open[fd] = stream
            loop.add_reader(fd, self._on_readable, fd, stream)

    # -- reading ------------------------------------------------------------------------
    def _on_readable(self, fd: int, stream: str) -> None:
        # A pty hands out a few KiB per read: take all that is there in one go.
        parts: list[bytes] = []
        size = 0
        eof = False
        while size < READ_SIZE:
            try:
                part = os.read(fd, READ_SIZE - size)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno != errno.EIO:  # EIO: a pty whose other side is all closed
                    log.write_entry(
                        self.log_path, f"reading {stream} failed: {e}", session_id=self.sid
                    )
                eof = True
                break
            if not part:
                eof = True
                break
            parts.append(part)
            size += len(part)
            if len(part) >= 65536:  # a pipe: one big read is the usual case
                break
        if size >= FLOOD_BYTES:
            self._full_read_at = time.monotonic()
        if parts:
            self._take_output(stream, parts[0] if len(parts) == 1 else b"".join(parts))
        if eof:
            self.close_output(fd)
        elif size and not self.reading_paused:
            self._pace(fd, stream, size)

    def reading_flat_out(self, now: float) -> bool:
        """The command writes flat out: a read of ``FLOOD_BYTES`` or more came within
        the last ``FLOOD_QUIET`` seconds (runner/writer.py then writes less often; not
        ``_flooding``, the pacing's flood, which starts only after a rest)."""
        return now - self._full_read_at < FLOOD_QUIET

    def _pace(self, fd: int, stream: str, size: int) -> None:
        """After a read of ``size`` bytes: rest a moment if it was small and soon
        (see ``READ_REST``)."""
        now = time.monotonic()
        soon = now - self._last_read.get(fd, -REST_SOON) < REST_SOON
        self._last_read[fd] = now
        typing = now - self._input_at < REST_SOON
        if self._flooding(fd, size, now):
            return
        if (
            soon
            and size < REST_BELOW
            and fd not in self._resting
            and not typing
            and not self._settling
        ):
            loop = asyncio.get_running_loop()
            loop.remove_reader(fd)
            rest = WATCHED_REST if self.watched() else READ_REST
            self._resting[fd] = loop.call_later(rest, self._rested, fd, stream)

    def _flooding(self, fd: int, size: int, now: float) -> bool:
        """Whether ``fd`` floods (see ``FULL_AFTER_REST``), counting this read in."""
        if self._rested_fd == fd and size >= FULL_AFTER_REST:
            self._floods.setdefault(fd, (now, 0))
        flood = self._floods.get(fd)
        if flood is None:
            return False
        start, got = flood
        got += size
        if now - start < REST_SOON:
            self._floods[fd] = (start, got)
        elif got >= FLOOD_BYTES:
            self._floods[fd] = (now, 0)  # a window's worth: on with the next one
        else:
            del self._floods[fd]  # it slowed down: rests again
        return True

    def _rested(self, fd: int, stream: str) -> None:
        del self._resting[fd]
        if fd in self._open and not self.reading_paused:
            asyncio.get_running_loop().add_reader(fd, self._on_readable, fd, stream)
            self._rested_fd = fd
            try:
                self._on_readable(fd, stream)  # what came meanwhile, without another wake-up
            finally:
                self._rested_fd = None

    def input_sent(self) -> None:
        """Input went to the command: its echo is due, so reads rest no more for a
        moment and a rest under way ends now (see ``READ_REST``)."""
        self._input_at = time.monotonic()
        self.end_rests()

    def end_rests(self) -> None:
        """End every rest under way: what waits is read now."""
        for fd in list(self._resting):
            self._stop_resting(fd)
            if fd in self._open and not self.reading_paused:
                asyncio.get_running_loop().add_reader(fd, self._on_readable, fd, self._open[fd])

    def _stop_resting(self, fd: int) -> None:
        handle = self._resting.pop(fd, None)
        if handle is not None:
            handle.cancel()

    def _take_output(self, stream: str, data: bytes) -> None:
        self.last_output = time.monotonic()
        if self._redactors is not None and stream in self._redactors:
            data = self._redactors[stream].feed(data)
        self._on_output(stream, data)
        self.keep(stream, data)

    def keep(self, stream: str, data: bytes) -> None:
        """Put ``data`` in the buffer (pausing reading when it is full and nothing may
        be dropped)."""
        if not data:
            return
        buffer = self.buffer
        dropped = buffer.add(stream, data, time.time(), may_drop=self.may_drop)
        if dropped and buffer.dropped - self._dropped_logged >= 1024 * 1024:
            self._dropped_logged = buffer.dropped
            log.write_entry(
                self.log_path,
                f"dropping output: {buffer.dropped} bytes so far ({self._drop_reason})",
                session_id=self.sid,
                level="WARN",
            )
        self.data.set()
        if buffer.pending >= self.flush_bytes:
            self.big.set()
        if not self.may_drop and buffer.full:
            self._pause_reading()

    def close_output(self, fd: int) -> None:
        """Stop reading ``fd`` (at EOF, or given up on) and close it."""
        stream = self._open.pop(fd, None)
        if stream is None:
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(fd)
        self._stop_resting(fd)
        if self._input is not None and fd == self._input.fd:
            self._input.close()  # a pty: input and output are one fd
        os.close(fd)
        if self._redactors is not None and stream in self._redactors:
            rest = self._redactors[stream].flush()
            if rest:
                self._on_output(stream, rest)
            self.keep(stream, rest)
        if not self._open:
            self.eof.set()
            self.settled.set()
            self.data.set()
            self.big.set()

    def _pause_reading(self) -> None:
        if not self.reading_paused:
            self.reading_paused = True
            loop = asyncio.get_running_loop()
            for fd in self._open:
                loop.remove_reader(fd)
                self._stop_resting(fd)

    def resume_reading(self) -> None:
        if self.reading_paused:
            self.reading_paused = False
            loop = asyncio.get_running_loop()
            for fd, stream in self._open.items():
                loop.add_reader(fd, self._on_readable, fd, stream)

    # -- what the writer tells us -------------------------------------------------------
    def database_failing(self, reason: str) -> None:
        """Writes fail: keep reading (never stall the command), drop what does not fit."""
        self.may_drop = True
        self._drop_reason = reason
        self.resume_reading()

    def database_writable(self) -> None:
        """A write worked: hold the command back again rather than drop; read again
        once the buffer has room."""
        self.may_drop = False
        if self.reading_paused and self.buffer.drained_enough:
            self.resume_reading()

    # -- the end ------------------------------------------------------------------------
    async def settle_after_exit(self) -> bool:
        """The command has exited: wait for what it left in the pipes. Returns True at
        EOF; False when something it started still holds them open (then output has
        been quiet for a moment, or ``DRAIN_MAX`` passed). The fds stay open either
        way: closing them would break those writers."""
        deadline = time.monotonic() + DRAIN_MAX
        # No rests meanwhile: a rest (READ_REST) outlasts DRAIN_IDLE, and an EOF not read
        # because of one looked like a quiet pipe held open by something in the background.
        self._settling = True
        self.end_rests()
        try:
            while not self.eof.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.eof.wait(), 0.1)
                if self.reading_paused:
                    continue  # what it left is still in the pipe
                now = time.monotonic()
                if now - self.last_output >= DRAIN_IDLE or now > deadline:
                    break
        finally:
            self._settling = False
        self.settled.set()
        self.data.set()
        return self.eof.is_set()

    @property
    def lingering(self) -> bool:
        """Some output fd is still open (held by what the command started)."""
        return bool(self._open)

    def hand_over(self) -> int:
        """Stop reading the fds still open without breaking their writers: each goes
        to a drain process that reads it to /dev/null until they close it. Returns
        how many were handed over."""
        handed = 0
        for fd in list(self._open):
            try:
                os.set_blocking(fd, True)  # the drain's reads must wait, not fail
                self._drains.append(
                    subprocess.Popen(
                        ["cat"],
                        stdin=fd,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                        close_fds=True,
                    )
                )
                handed += 1
            except OSError as e:
                log.write_entry(
                    self.log_path,
                    f"could not hand the command's output over to a drain ({e}); "
                    "its remaining writers may get SIGPIPE",
                    session_id=self.sid,
                    level="WARN",
                )
            self.close_output(fd)
        return handed

    def release_reserve(self) -> None:
        """Give back the disk space held since the start (for the end of the run)."""
        if self._reserve is not None:
            with contextlib.suppress(OSError):
                os.close(self._reserve)
            self._reserve = None

    @property
    def spilled_bytes(self) -> int:
        return self.buffer.spill.data_bytes if self.buffer.spill else 0

    def close(self) -> None:
        self.buffer.close()
        self.release_reserve()


def _hold_space(directory: str, size: int) -> int | None:
    """An anonymous file of ``size`` bytes really allocated in ``directory`` (None if
    that cannot be had): closing it frees that much space on a full disk."""
    try:
        fd = os.open(directory, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except (OSError, AttributeError):
        return None
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError:
        os.close(fd)
        return None
    return fd
