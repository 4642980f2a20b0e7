"""One session's supervisor: holds the lock, runs the command, records its life.

Life of a supervisor (``python -m runner``, detached, one per running session):

1. take the session's lock (liveness for everyone else) or give up;
2. install signal handlers, become a child subreaper (so what the command orphans
   stays within reach of ``stop``: runner/descendants.py), then spawn the command as
   its session kind says (runner/kinds.py), before any thread exists, *held* before
   its exec (runner/child.py);
3. open the database, serve the control socket (runner/server.py), start the run
   (the session becomes ``running``); only then release the command, and tell the
   launcher it is up. If any of that fails, the held command exits without having
   run and the session is ``failed`` saying so;
4. meanwhile capture drains the command's output into a bounded buffer
   (runner/capture.py) and the writer writes it in batches and has it indexed
   (runner/writer.py, runner/indexer.py);
5. when the command has exited and its output is drained: write the rest, end the
   run with exit code or signal and a final system line, finish indexing, release
   the lock, merge the index segments a burst left unmerged, exit.

This module is the life itself: lock, spawn, stop, pause, the run's start and end,
and what the control server may ask (``Controllable``). Anything unexpected is
logged with its traceback to the supervisors' log, and the session is marked failed
rather than left ``running``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storage import LIVE, RunSuperseded, open_store
from storage.units import format_duration

from . import descendants, guardian, identity, log
from .attention import watch as watch_attention
from .capture import Capture
from .child import Child, StartError, signal_name
from .errors import ControlError
from .indexer import Indexer
from .input import CommandInput
from .kinds import kind_for
from .locations import SupervisorLock
from .queue import kick_command
from .server import ControlServer
from .spec import LaunchSpec
from .upkeep import keep_files
from .writer import END_RETRY, RETRY_FOR, Writer

REAP_AGAIN = 0.2  # s: the second look for an adopted orphan's zombie after a SIGCHLD


class Supervisor:
    """Runs one session's command and records it; a ``server.Controllable``."""

    def __init__(self, spec: LaunchSpec, report: Callable[[dict[str, Any]], None]) -> None:
        self.spec = spec
        self.sid = spec.session_id
        self.report = report  # tells the launcher once: started, or why not
        self._reap_again: asyncio.TimerHandle | None = None
        self.log_path = Path(spec.log)
        self.kind = kind_for(spec)
        self.capture = Capture(
            session_id=self.sid,
            log_path=self.log_path,
            buffer_limit=spec.buffer_limit,
            flush_bytes=spec.flush_bytes,
        )
        self._exited = asyncio.Event()
        self.writer = Writer(
            self.capture,
            session_id=self.sid,
            log_path=self.log_path,
            flush_interval=spec.flush_interval,
            flush_bytes=spec.flush_bytes,
            exited=self._exited,
            give_up=self._give_up,
            give_up_after=spec.give_up_after,
        )
        self.store: Any = None
        self.indexer: Indexer | None = None  # made once the database is open
        self.child: Child | None = None
        self.input: CommandInput | None = None
        self.paused = False
        self.last_input = 0.0  # wall clock of the latest input sent to the command
        self.ended_at: float | None = None
        self.final_status: str | None = None
        self.stop_reason: str | None = None  # "user" or the name of a signal we got
        self.killed = False
        self.stop_grace = spec.grace
        self.finished = asyncio.Event()  # the run's end is recorded
        self._stop_task: asyncio.Task[None] | None = None
        self._aborting = False  # no more indexing or merging: leave it for later
        self._let_go: str | None = None  # why recording background writers stopped
        self.guardian: guardian.Guardian | None = None  # ends the command if we die
        self._helpers: set[int] = set()  # our own processes: never the command's strays
        self.run_number: int | None = None  # our run: we write into no other

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
        self.capture.open_spill(self.spec.spill_dir, self.spec.spill_limit)
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
                self.capture.redact(self.spec.redact)
            self.child = self.kind.spawn()
        except StartError as e:
            await self._record_start_failure(str(e))
            lock.release()  # before the report: the launcher may retry at once
            self.report({"ok": False, "error": str(e)})
            return 0
        child = self.child
        # Still no threads: fork the guardian that ends the command if we die (kill -9).
        self.guardian = guardian.start(
            child.pid, self.spec.grace, self.kind.stop_signals, then=kick_command(self.spec)
        )
        self._helpers.add(self.guardian.pid)
        if child.input_fd is not None:
            self.input = CommandInput(child.input_fd, self.kind.close_input)
        # The command is held before exec (runner/child.py): everything that can fail
        # comes first, so a failure here means the command never ran.
        self.store = await open_store(self.spec.db, create=False, actor="runner")
        db_identity = os.stat(self.spec.db)  # before anyone hears we started
        await self.store.tune(busy_timeout=self.spec.busy_timeout)
        indexer = self.indexer = Indexer(
            self.store, self.sid, self.log_path, defer_above=self.spec.defer_merge_above
        )
        self.writer.attach(self.store, indexer)
        server = ControlServer(
            self,
            Path(self.spec.socket),
            log_path=self.log_path,
            session_id=self.sid,
            grace=self.spec.grace,
        )
        await server.start()
        if self.spec.claim and not await self.store.queue.holds(self.sid, self.spec.claim):
            # Started for a claim of the queue that was given back meanwhile (its starter
            # died): whoever claimed it since starts it. The command never runs here.
            child.abandon()
            if self.guardian is not None:
                self.guardian.stand_down()  # no supervisor died: nothing for it to do
            await server.close()
            await self.store.close()
            lock.release()
            self.report({"ok": False, "error": "its queue claim was given back", "requeued": True})
            return 0
        run = await self.writer.retry(
            lambda: self.store.runs.start(
                self.sid,
                self.spec.shown_argv or self.spec.argv,
                pid=child.pid,
                supervisor="tether",
                identity=identity.of_supervisor(child.pid, self.spec.socket),
            ),
            "record the start",
            RETRY_FOR / 2,
        )
        size = self.kind.size_line(self.spec.cols, self.spec.rows)
        if size is not None:  # before any output: a replay of the screen starts at it
            self.capture.keep("system", size)
        await self.kind.recording(self.store, run.number)  # a pty: its screen is stored
        # Attached terminals see each read after the emulator; live views are woken
        # once it is written (runner/stream.py).
        self.capture.start(
            child.outputs, server.streams.output_hook(self.kind.on_output), self.input
        )
        self.writer.on_written = server.streams.written
        # While a live view watches, reads rest less and writes go at once (issue 14).
        self.capture.watched = self.writer.watched = server.streams.watched
        try:
            await child.release(self.spec.argv, self.spec.cwd)
        except StartError as e:  # the exec itself failed (the program was there)
            await self._exec_failed(str(e))
            if self.guardian is not None:
                self.guardian.stand_down()  # the command never ran: nothing to end
            await server.close()
            lock.release()
            await self._kick_queue()  # its slot is free
            # Closed, or its thread keeps this process alive after main returns (a
            # supervisor of each such session stayed, stuck at exit, for good).
            await self.store.close()
            self.report({"ok": False, "error": str(e)})
            return 0
        self.run_number = run.number
        self._on_sigchld()  # it may have exited already
        self.report({"ok": True, "pid": child.pid, "run": run.number, "supervisor": os.getpid()})
        keeper = asyncio.create_task(
            keep_files(lock, server, self.log_path, self.sid, self.store)  # + metrics
        )

        flusher = asyncio.create_task(self.writer.run())
        watchdog = asyncio.create_task(self.writer.watch_database(self.spec.db, db_identity))
        attention = asyncio.create_task(watch_attention(self))  # runner/attention.py
        await self._exited.wait()
        attention.cancel()
        if self.guardian is not None:
            self.guardian.stand_down()  # it ended by itself: what it left running stays
        watchdog.cancel()
        await self.capture.settle_after_exit()
        await self.writer.wait(flusher)
        await self.kind.end_recording()  # the last of its screen, now its output is stored
        self._close_input()
        await self._finish()
        if self._stop_task is not None:
            await self._stop_task  # strays of a stopped command get their grace, then KILL
        # Our slot is free: start what waits in the queue (runner/queue.py).
        kick = asyncio.create_task(self._kick_queue())
        keeper.cancel()
        await server.close()
        if self.capture.lingering:
            await self._linger()
        self.capture.close()
        await indexer.rest(lambda: self._aborting, RETRY_FOR)
        # The run is recorded and indexed: a resume need not wait for merging.
        lock.release()
        await indexer.tidy_rest(lambda: self._aborting)
        await self.kind.tidy_rest(lambda: self._aborting)
        await kick
        await self.store.close()
        return 0

    # -- what the control server asks (server.Controllable) -----------------------------
    def status(self) -> dict[str, Any]:
        child = self.child
        buffer = self.capture.buffer
        return {
            "supervisor_pid": os.getpid(),
            "guardian_pid": self.guardian.pid if self.guardian else None,
            "pid": child.pid if child else None,
            **self.kind.status(),
            "paused": self.paused,
            "exited": self.ended_at is not None,
            "buffered_bytes": buffer.pending,
            "spilled_bytes": self.capture.spilled_bytes,
            "dropped_bytes": buffer.dropped,
            "database_ok": self.writer.healthy,
            "database_error": self.writer.last_error or None,
        }

    def send_input(self, text: str, *, eol: bool) -> None:
        """Queue ``text`` (and, with ``eol``, the kind's line end: Enter on a terminal)
        for the command. Raises ``ControlError`` when it cannot take input any more."""
        data = text.encode()
        if eol:
            data += self.kind.input_eol
        self.send_keys(data, record=False)

    def send_keys(self, data: bytes, *, record: bool) -> None:
        """Queue raw bytes for the command (what an attached client typed). Recorded as
        input where the kind records input (a pipe), or when ``record`` asks."""
        if self.child is None or self._exited.is_set():
            raise ControlError("the command has already exited")
        if self.input is None:
            raise ControlError("the command's input is closed")
        self.input.send(data)
        self.capture.input_sent()  # its echo is read at once, not after a rest
        self.last_input = time.time()  # an agent's own report of its state is older now
        if record or self.kind.records_input:
            self.capture.keep("input", data)

    def note(self, line: str) -> None:
        """A system line in the session (attached, detached), in order with the output."""
        self.capture.keep("system", line.encode() + b"\n")

    def resize(self, cols: int, rows: int) -> bool:
        if self.child is None:
            return False
        size = self.kind.size_line(cols, rows, resized=True)
        if not self.kind.resize(self.child, cols, rows):
            return False
        if size is not None:  # in order with the output: a replay resizes at the same point
            self.capture.keep("system", size)
        return True

    def screen(self, *, styled: bool, vt: bool) -> dict[str, Any]:
        return self.kind.screen_state(styled=styled, vt=vt)

    def request_stop(self, why: str, grace: float) -> None:
        """End the command: the kind's stop signals, SIGKILL after ``grace`` seconds."""
        if self._stop_task is None and not self._exited.is_set() and self.child is not None:
            self.stop_reason = why
            self.stop_grace = grace
            self._stop_task = asyncio.create_task(self._stop_command(grace))

    async def wait_finished(self) -> str | None:
        await self.finished.wait()
        return self.final_status

    async def set_paused(self, paused: bool) -> bool:
        """SIGSTOP or SIGCONT the command's group and record it; returns ``paused``."""
        if self.finished.is_set() or self.stop_reason is not None:
            raise ControlError("the command is ending")
        if self.ended_at is not None:
            raise ControlError("the command has already exited")
        assert self.child is not None
        if not paused:  # always: also wakes a command someone else stopped (kill -STOP)
            self.child.signal_group(signal.SIGCONT)
        if paused == self.paused:
            return self.paused
        if paused:
            self.child.signal_group(signal.SIGSTOP)
        self.paused = paused
        status = "paused" if paused else "running"
        await self.writer.retry(
            lambda: self.store.sessions.set_status(self.sid, status), f"record {status}", 10.0
        )
        return self.paused

    def _reap_late(self) -> None:
        self._reap_again = None
        if self.child is not None:
            descendants.reap_orphans(keep=self.child.pid)

    # -- the command's life -------------------------------------------------------------
    def _on_sigchld(self) -> None:
        if self.child is None:
            return
        descendants.reap_orphans(keep=self.child.pid)  # adopted ones (we are a subreaper)
        # The kernel signals a parent before it marks the child a zombie, so a scan run
        # at once can miss it (seen in CI, rarely, on a loaded machine): look once more.
        if self._reap_again is None:
            self._reap_again = asyncio.get_running_loop().call_later(REAP_AGAIN, self._reap_late)
        if self._exited.is_set():
            return
        if self.child.proc.poll() is not None:
            self.ended_at = time.time()
            self._exited.set()
            self.writer.wake()  # it may be waiting for this

    def _on_signal(self, sig: int) -> None:
        self.request_stop(signal_name(sig), self.spec.grace)
        if self.finished.is_set():
            self._aborting = True  # only indexing is left: leave it for later
            self._let_go = f"tether's supervisor received {signal_name(sig)}"

    async def _linger(self) -> None:
        """The run has ended, but what the command started still holds its output:
        record what it writes until it closes the output. Let go (hand the output
        over to a drain, runner/capture.py) when asked to (a signal: resume, stop of
        the supervisor, shutdown), when nothing was written for ``linger_quiet``
        seconds, or when there is nowhere to record it."""
        capture = self.capture
        if self._aborting:
            capture.hand_over()
            return
        capture.keep(
            "system",
            b"tether: the command has exited, but processes it started still hold its "
            b"output open; what they write is recorded below until they close it\n",
        )
        capture.settled.clear()
        quiet = self.spec.linger_quiet
        flusher = asyncio.create_task(self.writer.run())
        while not flusher.done() and not self._aborting:
            await asyncio.wait({flusher}, timeout=0.5)
            if time.monotonic() - capture.last_output > quiet:
                self._let_go = f"they wrote nothing for {format_duration(quiet)}"
                break
            if self.writer.unhealthy_for > RETRY_FOR:
                self._let_go = f"the database cannot be written: {self.writer.last_error}"
                break
        if flusher.done():
            flusher.result()
            return
        why = self._let_go or "there is nowhere to record it any more"
        capture.keep(
            "system",
            f"tether: stopped recording ({why}); what the processes the command started "
            f"write from now on goes to /dev/null\n".encode(),
        )
        capture.hand_over()  # EOF for the flusher: it ends once that line is written
        await self.writer.wait(flusher)

    async def _kick_queue(self) -> None:
        from .queue import after_run

        try:
            await after_run(self.store, self.spec)
        except Exception as e:  # noqa: BLE001 - the next kick (any tether command) retries
            log.write_entry(self.log_path, f"could not start the next queued session: {e!r}", exc=e)

    def _give_up(self, why: str) -> None:
        """Nothing can be recorded any more (the session or the database is gone)."""
        self._aborting = True
        self.request_stop(why, self.spec.grace)

    async def _stop_command(self, grace: float) -> None:
        assert self.child is not None
        deadline = time.monotonic() + grace
        group = self.child.pid
        for sig in self.kind.stop_signals:
            self.child.signal_group(sig)
        self.child.signal_group(signal.SIGCONT)  # a paused command must wake up to end
        # and what it started that left its group (runner/descendants.py)
        strays = descendants.signal_escaped(group, signal.SIGTERM, self._helpers)
        descendants.signal_escaped(group, signal.SIGCONT, self._helpers)
        try:
            await asyncio.wait_for(self._exited.wait(), grace)
        except TimeoutError:
            self.killed = True
            self.child.signal_group(signal.SIGKILL)
        if strays:
            # No event tells when a process that is not our child ends: look in /proc.
            while descendants.escaped(group, self._helpers) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            descendants.signal_escaped(group, signal.SIGKILL, self._helpers)

    def _close_input(self) -> None:
        if self.input is not None:
            self.input.close()

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
        # What is left in the buffer is lost when the writer gave up, or when the output
        # is closed (nothing more will be written). While something the command started
        # still holds the output, bytes in the buffer came in since the writer finished
        # (while the screen was stored, say): the lingering writer records them.
        gave_up = self.writer.gave_up or (bool(self.capture.buffer) and not self.capture.lingering)
        lost = self._lost_output(gave_up)
        if lost:
            reason += f"; {lost}"
            if gave_up and status is None:
                status = "failed"  # its output is incomplete, and not marked in place
        try:
            run = await self.writer.retry(
                lambda: self.store.runs.finish(
                    self.sid,
                    exit_code=code,
                    signal=sig,
                    status=status,
                    reason=reason,
                    at=end,
                    run=self.run_number,
                ),
                "record the end",
                END_RETRY if gave_up else RETRY_FOR,
            )
        except RunSuperseded as e:  # judged lost (and maybe resumed) meanwhile: not ours
            log.write_entry(
                self.log_path, f"the end was not recorded: {e}", session_id=self.sid, level="WARN"
            )
        else:
            self.final_status = run.status
        self.finished.set()

    def _lost_output(self, gave_up: bool) -> str:
        """What output was lost over the run, for its end line ("" when none). When the
        writer ``gave_up``, output still waiting will never be written: it is counted,
        and the spill file is closed so its disk space comes back for the end line."""
        buffer = self.capture.buffer
        unsaved = buffer.discard_all() if gave_up and buffer else 0
        if unsaved:
            self.capture.release_reserve()  # room for the end line on a full disk
            self._aborting = True  # indexing is left for later: the disk is full
        if not buffer.dropped:
            return ""
        why = self.writer.last_error or buffer.spill_error or "the database could not be written"
        text = f"{buffer.dropped} bytes of output could not be stored ({why})"
        if unsaved:
            text += f", {unsaved} of them still waiting when tether gave up"
        log.write_entry(self.log_path, text, session_id=self.sid, level="ERROR")
        return text

    # -- failures -------------------------------------------------------------------------
    async def _exec_failed(self, message: str) -> None:
        """The run was recorded but the program could not be executed: end it failed."""
        assert self.child is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._exited.wait(), self.spec.grace)
        for fd in list(self.child.outputs):
            self.capture.close_output(fd)
        await self.writer.flush_all()
        await self.writer.retry(
            lambda: self.store.runs.finish(self.sid, status="failed", reason=message),
            "record the end",
            RETRY_FOR,
        )
        self.finished.set()

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
        never_ran = self.child is not None and self.child.held
        if never_ran:
            assert self.child is not None
            self.child.abandon()  # it exits without exec
            what = "the command never ran"
        else:
            what = "the command was ended"
        self.report({"ok": False, "error": f"tether's supervisor failed: {exc!r}; {what}"})
        if self.child is not None and not never_ran and self.child.proc.returncode is None:
            self.child.signal_group(signal.SIGTERM)
            self.child.signal_group(signal.SIGCONT)
        reason = (
            f"tether's supervisor failed ({type(exc).__name__}: {exc}); {what}. "
            f"Details are in {self.log_path} (`tether doctor`)."
        )
        try:
            if self.store is None:
                self.store = await open_store(self.spec.db, create=False, actor="runner")
            if self.writer.store is None:
                self.writer.attach(self.store, self.indexer)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.flush_all(), 5)
            session = await self.store.sessions.require(self.sid)
            if session.status in LIVE:
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
