"""One session's supervisor: holds the lock, runs the command, records everything.

Life of a supervisor (``python -m runner``, detached, one per running session):

1. take the session's lock (liveness for everyone else) or give up;
2. install signal handlers, become a child subreaper (so what the command orphans
   stays within reach of ``stop``: runner/descendants.py), then spawn the command
   (before any thread exists);
3. open the database, start the run (the session becomes ``running``), serve the
   control socket, and tell the launcher it is up;
4. drain the command's output continuously into a bounded buffer, flushed in
   batches (``flush_interval`` or ``flush_bytes``, whichever comes first) without
   indexing, and index its own session's new chunks in the background;
5. when the command has exited and its output is drained: write the rest, end the
   run with exit code or signal and a final system line, finish indexing, release
   the lock, merge the index segments a burst left unmerged (runner/indexer.py), exit.

Anything unexpected is logged with its traceback to the supervisors' log, and the
session is marked failed rather than left ``running``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from storage import SessionNotFound, open_store

from . import descendants, log
from .buffer import Gap, OutputBuffer, Piece, SpillFile
from .child import Child, StartError, signal_name, spawn
from .errors import DB_ERRORS, ControlError, short_reason
from .indexer import Indexer
from .locations import SupervisorLock
from .server import ControlServer
from .spec import LaunchSpec
from .timefmt import format_duration

T = TypeVar("T")

READ_SIZE = 256 * 1024
FLUSH_MAX = 4 * 1024 * 1024  # bytes per write transaction at most
DB_CHECK_EVERY = 2.0  # seconds between checks that the database file is still there
QUIET_SPELL = 0.05  # no write for this long: new output is written at once
INDEX_BATCH = 2 * 1024 * 1024  # bytes indexed per step while the command runs
INDEX_EVERY = 1.0  # seconds between index steps while output keeps coming
INDEX_BACKLOG_MAX = 1024 * 1024  # no indexing while more than this waits to be written
IDLE_INDEX_AFTER = 0.3  # seconds without output before indexing
DRAIN_IDLE = 1.0  # after exit: stop waiting for EOF once output has been quiet this long
RETRY_FOR = 60.0  # seconds a final write keeps retrying before giving up


class Supervisor:
    def __init__(self, spec: LaunchSpec, report: Callable[[dict[str, Any]], None]) -> None:
        self.spec = spec
        self.sid = spec.session_id
        self.report = report  # tells the launcher once: started, or why not
        self.log_path = Path(spec.log)
        self.buffer = OutputBuffer(spec.buffer_limit)  # the spill is added in _run
        self.store: Any = None
        self.child: Child | None = None
        self.healthy = True  # the last write to the database worked
        self.last_db_error = ""
        self.paused = False
        self.ended_at: float | None = None
        self.final_status: str | None = None
        self.stop_reason: str | None = None  # "user" or the name of a signal we got
        self.killed = False
        self.stop_grace = spec.grace
        self.finished = asyncio.Event()  # the run's end is recorded
        self._exited = asyncio.Event()
        self._data = asyncio.Event()  # any output (or EOF) arrived
        self._big = asyncio.Event()  # a batch's worth arrived (or EOF)
        self._last_flush = 0.0  # monotonic time of the last write transaction
        self._eof = asyncio.Event()  # every output fd is closed
        self._open: dict[int, str] = {}  # output fds not at EOF
        self._reading_paused = False
        self._last_output = time.monotonic()
        self._backoff = 0.1
        self.indexer: Any = None  # made once the database is open
        self._stop_task: asyncio.Task[None] | None = None
        self._aborting = False
        self._db_gone = False  # the database file was removed: nothing can be recorded
        self._redactors: dict[str, Any] | None = None
        self._server: ControlServer | None = None
        self._dropped_logged = 0
        self._pending_input = bytearray()
        self._writer_on = False
        self._input_closed = False
        self._unhealthy_since: float | None = None

    # -- the whole life ---------------------------------------------------------------
    async def main(self) -> int:
        try:
            return await self._run()
        except BaseException as e:  # noqa: BLE001 - never die silently
            log.write_entry(self.log_path, f"supervisor crashed: {e!r}", session_id=self.sid, exc=e)
            await self._crashed(e)
            return 1

    async def _run(self) -> int:
        lock = SupervisorLock(Path(self.spec.lock))
        deadline = time.monotonic() + self.spec.lock_wait
        while not lock.acquire():
            if time.monotonic() > deadline:
                msg = f"another supervisor holds session #{self.sid}'s lock"
                log.write_entry(self.log_path, msg, session_id=self.sid)
                self.report({"ok": False, "error": msg})
                return 1
            await asyncio.sleep(0.05)

        loop = asyncio.get_running_loop()
        # Handlers first: the command then starts with default dispositions.
        loop.add_signal_handler(signal.SIGCHLD, self._on_sigchld)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        self._open_spill()
        if descendants.LINUX and not descendants.become_subreaper():
            log.write_entry(
                self.log_path,
                "cannot adopt orphans (prctl failed): processes that leave the command's "
                "process group will not be stopped with it",
                session_id=self.sid,
                level="WARN",
            )
        try:
            if self.spec.redact is not None:
                from storage.redact import Redactor

                try:
                    redactor = Redactor(self.spec.redact)
                except ValueError as e:
                    msg = f"could not start: a redaction pattern is unusable: {e}"
                    raise StartError(msg) from e
                self._redactors = {s: redactor.stream() for s in ("stdout", "stderr")}
            self.child = spawn(self.spec)
        except StartError as e:
            await self._record_start_failure(str(e))
            lock.release()  # before the report: the launcher may retry at once
            self.report({"ok": False, "error": str(e)})
            return 0
        for fd, stream in self.child.outputs.items():
            self._open[fd] = stream
            loop.add_reader(fd, self._on_readable, fd, stream)
        self._on_sigchld()  # it may have exited already

        self.store = await open_store(self.spec.db, create=False, actor="runner")
        db_identity = os.stat(self.spec.db)  # before anyone hears we started
        await self.store.db.execute(f"PRAGMA busy_timeout={int(self.spec.busy_timeout * 1000)}")
        self.indexer = Indexer(
            self.store, self.sid, self.log_path, defer_above=self.spec.defer_merge_above
        )
        child = self.child
        run = await self._retry(
            lambda: self.store.runs.start(
                self.sid, self.spec.argv, pid=child.pid, at=child.started_at
            ),
            "record the start",
            RETRY_FOR / 2,
        )
        self._server = ControlServer(self, Path(self.spec.socket))
        await self._server.start()
        self.report({"ok": True, "pid": child.pid, "run": run.number, "supervisor": os.getpid()})

        flusher = asyncio.create_task(self._flush_loop())
        watchdog = asyncio.create_task(self._watch_database(db_identity))
        await self._exited.wait()
        watchdog.cancel()
        await self._drain_after_exit()
        await self._wait_flusher(flusher)
        self._close_input()
        await self._finish()
        if self._stop_task is not None:
            await self._stop_task  # strays of a stopped command get their grace, then KILL
        await self._server.close()
        self.buffer.close()
        await self.indexer.rest(lambda: self._aborting, RETRY_FOR)
        # The run is recorded and indexed: a resume need not wait for merging.
        lock.release()
        await self.indexer.tidy_rest(lambda: self._aborting)
        await self.store.close()
        return 0

    def _open_spill(self) -> None:
        spec = self.spec
        if not spec.spill_dir or spec.spill_limit <= 0:
            return
        try:
            st = os.statvfs(spec.spill_dir)
            limit = min(spec.spill_limit, st.f_bavail * st.f_frsize // 4)
            if limit > spec.flush_bytes:
                self.buffer.spill = SpillFile(spec.spill_dir, limit)
        except OSError as e:
            log.write_entry(
                self.log_path,
                f"no spill file in {spec.spill_dir} ({e}); output waits in memory only",
                session_id=self.sid,
                level="WARN",
            )

    # -- output -----------------------------------------------------------------------
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
        if parts:
            self._take_output(stream, parts[0] if len(parts) == 1 else b"".join(parts))
        if eof:
            self._close_output(fd)

    def _take_output(self, stream: str, data: bytes) -> None:
        self._last_output = time.monotonic()
        if self._redactors is not None and stream in self._redactors:
            data = self._redactors[stream].feed(data)
        self._keep(stream, data)

    def _keep(self, stream: str, data: bytes) -> None:
        if not data:
            return
        dropped = self.buffer.add(stream, data, time.time(), may_drop=not self.healthy)
        if dropped and self.buffer.dropped - self._dropped_logged >= 1024 * 1024:
            self._dropped_logged = self.buffer.dropped
            log.write_entry(
                self.log_path,
                f"dropping output: {self.buffer.dropped} bytes so far ({self.last_db_error})",
                session_id=self.sid,
                level="WARN",
            )
        self._data.set()
        if self.buffer.pending >= self.spec.flush_bytes:
            self._big.set()
        if self.healthy and self.buffer.full:
            self._pause_reading()

    def _close_output(self, fd: int) -> None:
        stream = self._open.pop(fd, None)
        if stream is None:
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(fd)
        if self.child is not None and fd == self.child.input_fd:
            self._close_input()  # a pty: input and output are one fd
        os.close(fd)
        if self._redactors is not None and stream in self._redactors:
            self._keep(stream, self._redactors[stream].flush())
        if not self._open:
            self._eof.set()
            self._data.set()
            self._big.set()

    def _pause_reading(self) -> None:
        if not self._reading_paused:
            self._reading_paused = True
            loop = asyncio.get_running_loop()
            for fd in self._open:
                loop.remove_reader(fd)

    def _resume_reading(self) -> None:
        if self._reading_paused:
            self._reading_paused = False
            loop = asyncio.get_running_loop()
            for fd, stream in self._open.items():
                loop.add_reader(fd, self._on_readable, fd, stream)

    # -- input ------------------------------------------------------------------------
    def send_input(self, data: bytes) -> None:
        """Queue ``data`` for the command's stdin (or terminal). Raises ``ControlError``
        when the command cannot take input any more."""
        if self.child is None or self._exited.is_set():
            raise ControlError("the command has already exited")
        if self._input_closed or self.child.input_fd is None:
            raise ControlError("the command's input is closed")
        self._pending_input += data
        self._pump_input()
        if self._input_closed:
            raise ControlError("the command's input is closed (it stopped reading)")
        if self.child.mode == "pipe":
            self._keep("input", data)  # a terminal echoes input by itself

    def _pump_input(self) -> None:
        assert self.child is not None and self.child.input_fd is not None
        fd = self.child.input_fd
        while self._pending_input:
            try:
                n = os.write(fd, self._pending_input)
            except BlockingIOError:
                break
            except OSError:
                self._close_input()
                return
            del self._pending_input[:n]
        want = bool(self._pending_input)
        if want != self._writer_on:
            loop = asyncio.get_running_loop()
            if want:
                loop.add_writer(fd, self._pump_input)
            else:
                loop.remove_writer(fd)
            self._writer_on = want

    def _close_input(self) -> None:
        if self._input_closed or self.child is None or self.child.input_fd is None:
            return
        self._input_closed = True
        self._pending_input.clear()
        if self._writer_on:
            asyncio.get_running_loop().remove_writer(self.child.input_fd)
            self._writer_on = False
        if self.child.mode == "pipe":
            os.close(self.child.input_fd)

    async def _flush_loop(self) -> None:
        while True:
            if not self.buffer:
                if self._eof.is_set() and self._exited.is_set():
                    return
                self._data.clear()
                ix = self.indexer
                timeout = None
                if ix.due or ix.tidy_due:
                    if ix.busy:  # working through a backlog: on at once
                        await self._background_step()
                        continue
                    timeout = IDLE_INDEX_AFTER
                try:
                    await asyncio.wait_for(self._data.wait(), timeout)
                except TimeoutError:
                    await self._background_step()
                continue
            # Leading edge: output after a quiet spell is written at once (a prompt or a
            # log line shows up without delay); during a burst, at most one transaction
            # per flush_interval unless flush_bytes arrive first.
            since = time.monotonic() - self._last_flush
            wait = 0.0 if since >= QUIET_SPELL else self.spec.flush_interval - since
            if wait > 0 and self.buffer.pending < self.spec.flush_bytes and not self._eof.is_set():
                self._big.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._big.wait(), wait)
            await self._flush_once()
            self._last_flush = time.monotonic()
            ix = self.indexer
            if (
                (ix.due or ix.tidy_due)
                and time.monotonic() - ix.last >= INDEX_EVERY
                and self.buffer.pending < INDEX_BACKLOG_MAX  # readable first, searchable next
            ):
                await self._background_step()

    def _records(self, items: list[Piece | Gap]) -> list[tuple[int, str, bytes, float]]:
        out = []
        for item in items:
            if isinstance(item, Piece):
                out.append((self.sid, item.stream, bytes(item.data), item.at))
            else:
                text = item.describe(self.last_db_error or "unknown error")
                log.write_entry(self.log_path, text, session_id=self.sid)
                out.append((self.sid, "system", text.encode() + b"\n", item.last_at))
        return out

    async def _flush_once(self) -> bool:
        items = self.buffer.take(FLUSH_MAX)
        if not items:
            return True
        try:
            await self.store.output.append_many(self._records(items), index=False)
        except SessionNotFound:
            # The session was deleted while running: nothing left to record into.
            log.write_entry(
                self.log_path, "the session was deleted; stopping its command", session_id=self.sid
            )
            self._aborting = True
            self.request_stop("deleted", self.spec.grace)
            return True
        except DB_ERRORS as e:
            self.buffer.give_back(items)
            self.last_db_error = short_reason(e)
            if self.healthy:
                self.healthy = False
                self._unhealthy_since = time.monotonic()
                log.write_entry(
                    self.log_path,
                    f"cannot write output to the database ({self.last_db_error}); buffering up "
                    f"to {self.buffer.limit} bytes and retrying",
                    session_id=self.sid,
                    level="WARN",
                )
            self._resume_reading()  # never stall the command on the database
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, 2.0)
            return False
        self.indexer.wrote()
        if not self.healthy:
            self.healthy = True
            self._unhealthy_since = None
            self._backoff = 0.1
            log.write_entry(
                self.log_path, "the database is writable again", session_id=self.sid, level="INFO"
            )
        if self._reading_paused and self.buffer.drained_enough:
            self._resume_reading()
        return True

    async def _background_step(self) -> None:
        """Searchable next: one index step, or else one merge step (runner/indexer.py)."""
        if self.indexer.due:
            await self.indexer.step(INDEX_BATCH)
        elif self.indexer.tidy_due:
            await self.indexer.tidy()

    # -- the command's life -------------------------------------------------------------
    def _on_sigchld(self) -> None:
        if self.child is None:
            return
        descendants.reap_orphans(keep=self.child.pid)  # adopted ones (we are a subreaper)
        if self._exited.is_set():
            return
        if self.child.proc.poll() is not None:
            self.ended_at = time.time()
            self._exited.set()
            self._data.set()  # wake the flusher: it may be waiting for this

    async def _watch_database(self, first: os.stat_result) -> None:
        """A deleted or replaced database file records nothing anyone can read: stop
        the command instead of running on unseen and filling an unlinked file."""
        while not self._exited.is_set():
            await asyncio.sleep(DB_CHECK_EVERY)
            try:
                st = os.stat(self.spec.db)
                same = (st.st_dev, st.st_ino) == (first.st_dev, first.st_ino)
            except FileNotFoundError:
                same = False
            except OSError:
                continue  # unreadable for a moment is not gone
            if not same:
                log.write_entry(
                    self.log_path,
                    f"the database {self.spec.db} was removed or replaced; stopping the command",
                    session_id=self.sid,
                    level="ERROR",
                )
                self._aborting = True
                self._db_gone = True
                self.request_stop("database removed", self.spec.grace)
                return

    def _on_signal(self, sig: int) -> None:
        self.request_stop(signal_name(sig), self.spec.grace)
        if self.finished.is_set():
            self._aborting = True  # only indexing is left: leave it for later

    def request_stop(self, why: str, grace: float) -> None:
        if self._stop_task is None and not self._exited.is_set() and self.child is not None:
            self.stop_reason = why
            self.stop_grace = grace
            self._stop_task = asyncio.create_task(self._stop_command(grace))

    async def _stop_command(self, grace: float) -> None:
        assert self.child is not None
        deadline = time.monotonic() + grace
        group = self.child.pid
        if self.child.mode == "pty":
            self.child.signal_group(signal.SIGHUP)  # what closing a terminal does
        self.child.signal_group(signal.SIGTERM)
        self.child.signal_group(signal.SIGCONT)  # a paused command must wake up to end
        # and what it started that left its group (runner/descendants.py)
        strays = descendants.signal_escaped(group, signal.SIGTERM)
        descendants.signal_escaped(group, signal.SIGCONT)
        try:
            await asyncio.wait_for(self._exited.wait(), grace)
        except TimeoutError:
            self.killed = True
            self.child.signal_group(signal.SIGKILL)
        if strays:
            # No event tells when a process that is not our child ends: look in /proc.
            while descendants.escaped(group) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            descendants.signal_escaped(group, signal.SIGKILL)

    async def set_paused(self, paused: bool) -> None:
        assert self.child is not None
        if not paused:  # always: also wakes a command someone else stopped (kill -STOP)
            self.child.signal_group(signal.SIGCONT)
        if paused == self.paused:
            return
        if paused:
            self.child.signal_group(signal.SIGSTOP)
        self.paused = paused
        status = "paused" if paused else "running"
        await self._retry(
            lambda: self.store.sessions.set_status(self.sid, status), f"record {status}", 10.0
        )

    async def _drain_after_exit(self) -> None:
        """The command has exited; read what it left in the pipes. Something it started
        may keep them open: stop waiting once output has been quiet for a while."""
        while not self._eof.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._eof.wait(), 0.2)
            if self._reading_paused:
                continue
            if time.monotonic() - self._last_output >= DRAIN_IDLE:
                for fd in list(self._open):
                    self._close_output(fd)

    async def _wait_flusher(self, flusher: asyncio.Task[None]) -> None:
        """Let the flusher write everything; give up only after the database has been
        unwritable for ``RETRY_FOR`` seconds since the command exited."""
        while not flusher.done():
            await asyncio.wait({flusher}, timeout=0.5)
            since = self._unhealthy_since
            if since is not None and time.monotonic() - since > RETRY_FOR:
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
                return
        flusher.result()

    async def _finish(self) -> None:
        assert self.child is not None
        rc = self.child.proc.returncode
        end = self.ended_at or time.time()
        took = format_duration(end - self.child.started_at)
        code = rc if rc is not None and rc >= 0 else None
        sig = -rc if rc is not None and rc < 0 else None
        status: str | None = None
        if self.stop_reason == "user":
            status = "stopped"
            reason = f"stopped by user after {took}"
            if self.killed:
                reason += f" (killed with SIGKILL after the {self.stop_grace:g}s grace period)"
        elif self.stop_reason == "deleted":
            self.finished.set()
            return
        elif self.stop_reason is not None:
            status = "stopped"
            reason = f"stopped after {took}: tether's supervisor received {self.stop_reason}"
            if self.killed:
                reason += f" (killed with SIGKILL after the {self.stop_grace:g}s grace period)"
        elif sig is not None:
            reason = f"killed by {signal_name(sig)} after {took}"
        else:
            reason = f"exited with code {code} after {took}"
        if self.buffer:
            unsaved = self.buffer.pending
            log.write_entry(
                self.log_path, f"{unsaved} bytes of output could not be saved", session_id=self.sid
            )
            reason += f" ({unsaved} bytes of output could not be saved)"
        run = await self._retry(
            lambda: self.store.runs.finish(
                self.sid, exit_code=code, signal=sig, status=status, reason=reason, at=end
            ),
            "record the end",
            RETRY_FOR,
        )
        self.final_status = run.status
        self.finished.set()

    # -- failures -------------------------------------------------------------------------
    async def _retry(self, fn: Callable[[], Awaitable[T]], what: str, seconds: float) -> T:
        deadline = time.monotonic() + seconds
        delay, warned = 0.1, False
        while True:
            try:
                return await fn()
            except DB_ERRORS as e:
                if self._db_gone or time.monotonic() + delay > deadline:
                    raise
                if not warned:
                    warned = True
                    log.write_entry(
                        self.log_path,
                        f"could not {what} yet ({short_reason(e)}); retrying",
                        session_id=self.sid,
                        level="WARN",
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _flush_all(self) -> None:
        deadline = time.monotonic() + RETRY_FOR
        while self.buffer and not self._db_gone and time.monotonic() < deadline:
            await self._flush_once()

    async def _record_start_failure(self, message: str) -> None:
        try:
            async with open_store(self.spec.db, create=False, actor="runner") as store:
                session = await store.sessions.require(self.sid)
                if session.status != "pending":
                    await store.sessions.set_status(self.sid, "pending")
                await store.sessions.set_status(self.sid, "failed", reason=message)
        except Exception as e:  # noqa: BLE001
            log.write_entry(
                self.log_path,
                f"could not record that the command failed to start: {e!r}",
                session_id=self.sid,
                exc=e,
            )

    async def _crashed(self, exc: BaseException) -> None:
        """Last resort: end the command and mark the session failed, saying why."""
        self.report({"ok": False, "error": f"tether's supervisor failed: {exc!r}"})
        if self.child is not None and self.child.proc.returncode is None:
            self.child.signal_group(signal.SIGTERM)
            self.child.signal_group(signal.SIGCONT)
        reason = (
            f"tether's supervisor failed ({type(exc).__name__}: {exc}); the command was ended. "
            f"Details are in {self.log_path} (`tether doctor`)."
        )
        try:
            if self.store is None:
                self.store = await open_store(self.spec.db, create=False, actor="runner")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._flush_all(), 5)
            session = await self.store.sessions.require(self.sid)
            if session.status in ("running", "paused"):
                await self.store.runs.finish(self.sid, status="failed", reason=reason)
            elif session.status == "pending":
                await self.store.sessions.set_status(self.sid, "failed", reason=reason)
        except Exception as e:  # noqa: BLE001
            log.write_entry(
                self.log_path, f"could not mark the session failed: {e!r}", session_id=self.sid
            )
        finally:
            if self.store is not None:
                with contextlib.suppress(Exception):
                    await self.store.close()
        if self.child is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._exited.wait(), self.spec.grace)
            if self.child.proc.returncode is None:
                self.child.signal_group(signal.SIGKILL)
